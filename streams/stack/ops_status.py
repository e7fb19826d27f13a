"""What the local operations stack holds, for ``nezlam run``'s live view: the alerts in
Alertmanager (firing, silenced, inhibited), the Prometheus rules that fire, and the
notifications Alertmanager delivered to the local webhook receiver."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from streams.stack.alerting import notifications_file
from streams.stack.settings import StackSettings
from streams.stack.webhook_log import read_notifications


@dataclass(frozen=True)
class OpsSnapshot:
    """One look at Alertmanager, Prometheus and the delivered notifications."""

    alertmanager_states: Counter[str] = field(default_factory=Counter)
    alertmanager_top: list[tuple[str, str, int]] = field(default_factory=list)
    prometheus_alerts: list[tuple[str, str]] = field(default_factory=list)
    prometheus_rules: int = 0
    notifications: int = 0
    last_notifications: list[tuple[str, str, str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


def read_ops(settings: StackSettings) -> OpsSnapshot:
    """Read the three sources; an unreachable one is named in ``errors``."""
    errors: list[str] = []
    states: Counter[str] = Counter()
    by_name: Counter[tuple[str, str]] = Counter()
    try:
        for alert in _get_json(f"{settings.alertmanager_url}/api/v2/alerts"):
            status = alert.get("status", {})
            if status.get("silencedBy"):
                states["silenced"] += 1
            elif status.get("inhibitedBy"):
                states["inhibited"] += 1
            else:
                states[str(status.get("state", "unknown"))] += 1
            labels = alert.get("labels", {})
            by_name[(labels.get("alertname", "?"), labels.get("severity", ""))] += 1
    except OSError as exc:
        errors.append(f"Alertmanager at {settings.alertmanager_url} ({exc})")
    prometheus_alerts: list[tuple[str, str]] = []
    rules = 0
    try:
        groups = _get_json(f"{settings.prometheus_url}/api/v1/rules")["data"]["groups"]
        for group in groups:
            for rule in group["rules"]:
                rules += 1
                if rule.get("state") in ("firing", "pending"):
                    prometheus_alerts.append((rule["name"], rule["state"]))
    except (OSError, KeyError) as exc:
        errors.append(f"Prometheus at {settings.prometheus_url} ({exc})")
    count, last = read_notifications(notifications_file(settings))
    delivered = [(line["received_at"], line["receiver"],
                  line["notification"].get("groupLabels", {}).get("alertname", "?"),
                  len(line["notification"].get("alerts", []))) for line in last]
    return OpsSnapshot(
        alertmanager_states=states,
        alertmanager_top=[(name, severity, n) for (name, severity), n in by_name.most_common(8)],
        prometheus_alerts=prometheus_alerts,
        prometheus_rules=rules,
        notifications=count,
        last_notifications=delivered,
        errors=errors,
    )


async def read_ops_async(settings: StackSettings) -> OpsSnapshot:
    """:func:`read_ops` off the event loop."""
    return await asyncio.to_thread(read_ops, settings)
