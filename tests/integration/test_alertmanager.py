"""Alerts end to end through a real Alertmanager: rules -> notifier -> Alertmanager -> webhook.

The shipped rules (``config/alert_rules.yaml``) judge a point in event time that lies in the
past (hours are compressed into a few calls); the notifier and Alertmanager run on the wall
clock. Alertmanager uses the shipped grouping and inhibition (``deploy/alertmanager``) with a
webhook receiver inside the test, so each assertion is about what on-call staff would get.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.alerting.alertmanager import AlertmanagerNotifier
from streams.alerting.outbox import DeliveryPolicy
from streams.alerting.rules_file import load_alert_rules
from streams.config import Settings
from streams.domain import staleness
from streams.domain.alert_lifecycle import AlertState, evaluate_alerts
from streams.domain.alert_model import AlertEvent, PointInputs, Report
from streams.domain.alert_rules import AlertRules
from streams.domain.fuel_forecast import Forecast
from streams.domain.points import PointInfo
from tests.integration.alertmanager_harness import (
    SHIPPED_CONFIG,
    AlertmanagerProcess,
    Notification,
    WebhookReceiver,
    binary,
)

pytestmark = pytest.mark.integration

# Second-scale delivery so a test takes seconds; the production defaults are 60 s / 300 s.
FAST = DeliveryPolicy(
    resend_seconds=1.0,
    resolved_resend_seconds=3.0,
    backoff_initial_seconds=0.2,
    backoff_max_seconds=1.0,
)
QUIET_SECONDS = 3.0  # how long to keep listening to be sure nothing else arrives


def point(point_id: str, oblast: str = "Київська область") -> PointInfo:
    return PointInfo(point_id, f"School {point_id}", "permanent", oblast, "Бучанська", 100, 200.0)


@pytest.fixture(scope="module")
def rules() -> AlertRules:
    return load_alert_rules(Settings().alert_rules_file)


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture()
def start_alertmanager(
    tmp_path: Path, receiver: WebhookReceiver
) -> Iterator[Callable[[str], AlertmanagerProcess]]:
    """Starts an Alertmanager whose webhook posts to ``receiver`` at the given path."""
    started: list[AlertmanagerProcess] = []

    def start(path: str) -> AlertmanagerProcess:
        am = AlertmanagerProcess(tmp_path / path.strip("/"), receiver.url(path))
        am.start()
        started.append(am)
        return am

    yield start
    for am in started:
        am.stop()


class Point:
    """One point judged by the rules; every event is offered to the notifier."""

    def __init__(self, info: PointInfo, rules: AlertRules, notifier: AlertmanagerNotifier):
        self.info, self.rules, self.notifier = info, rules, notifier
        self.state: AlertState | None = None
        self.events: list[AlertEvent] = []

    def judge(self, now: float, **inputs: Any) -> list[AlertEvent]:
        self.state, events = evaluate_alerts(
            self.state, PointInputs(self.info, **inputs), now, self.rules)
        for event in events:
            self.notifier.offer(event, time.time())
        self.events.extend(events)
        return events


def fuel(hours: float, ts: float, *, refuel: bool = False) -> Forecast:
    return Forecast(ts, True, hours * 8, 8.0, hours, ts + hours * 3600, 0.9, refuel, False)


def liveness(last_report: float, now: float) -> staleness.PointLiveness:
    state = staleness.on_registry(staleness.LivenessState(), "permanent", last_report)
    state, _ = staleness.on_report(state, last_report, "open", processed_at=last_report)
    return staleness.liveness_at(state, now, staleness.StalenessConfig())


def report(ts: float, **overrides: Any) -> Report:
    values = {
        "ts": ts,
        "status": "open",
        "power": "grid",
        "generator_running": False,
        "heating_on": True,
        "internet_up": True,
        "indoor_temp_c": 19.0,
        **overrides,
    }
    return Report(**values)


def what(notification: Notification) -> list[tuple[str, str, str]]:
    """(alertname, point_id, status) of each alert in one notification."""
    return sorted(
        (a["labels"]["alertname"], a["labels"]["point_id"], a["status"])
        for a in notification["alerts"]
    )


async def pump(
    notifier: AlertmanagerNotifier, condition: Callable[[], bool], what: str, within: float = 20
) -> None:
    """Deliver until ``condition`` holds; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await notifier.deliver_due(time.time())
        await asyncio.sleep(0.05)


async def keep_delivering(notifier: AlertmanagerNotifier, seconds: float = QUIET_SECONDS) -> None:
    """Go on re-sending for a while, as the worker would, so a stray notification shows up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await notifier.deliver_due(time.time())
        await asyncio.sleep(0.05)


async def closing(notifier: AlertmanagerNotifier, scenario: Coroutine[Any, Any, None]) -> None:
    """Run ``scenario``, then close the notifier's HTTP session whatever happened."""
    try:
        await scenario
    finally:
        await notifier.close()


def test_fuel_low_escalates_to_critical_and_a_refuel_resolves_both(
    rules: AlertRules, receiver: WebhookReceiver, start_alertmanager: Any
) -> None:
    am = start_alertmanager("/am")
    notifier = AlertmanagerNotifier([am.url], FAST)
    generator = Point(point("UA-IT-FUEL-1"), rules, notifier)
    base = time.time() - 3 * 3600

    def got() -> list[Notification]:
        return receiver.received("/am")

    async def scenario() -> None:
        for minute in range(0, 6):  # 11 h left: below 2 x 6 h for the 5-minute pending time
            generator.judge(base + 60 * minute, forecast=fuel(11.0, base + 60 * minute))
        assert [(e.alertname, e.status) for e in generator.events] == [("fuel_low", "firing")]
        await pump(notifier, lambda: len(got()) >= 1, "the fuel_low notification")

        for minute in range(60, 66):  # 5.5 h left: below the 6 h lead time
            generator.judge(base + 60 * minute, forecast=fuel(5.5, base + 60 * minute))
        # (fuel_low was updated on the way down too: 5.5 h is news after 11 h)
        assert [(e.alertname, e.status) for e in generator.events[-2:]] == [
            ("fuel_critical", "firing"),
            ("fuel_low", "updated"),
        ]
        assert generator.events[-1].annotations["escalated_to"] == "fuel_critical"
        await pump(notifier, lambda: len(got()) >= 2, "the fuel_critical notification")
        await keep_delivering(notifier)  # fuel_low, still firing and updated, stays muted

        generator.judge(base + 7200, forecast=fuel(40.0, base + 7200, refuel=True))
        await pump(notifier, lambda: len(got()) >= 4, "both resolutions")
        await keep_delivering(notifier)  # resolutions are re-sent: no repeated notification

    asyncio.run(closing(notifier, scenario()))
    notifications = got()
    point_id = "UA-IT-FUEL-1"
    assert [what(n) for n in notifications[:2]] == [
        [("fuel_low", point_id, "firing")],
        [("fuel_critical", point_id, "firing")],
    ], am.log_tail()
    assert sorted(what(n) for n in notifications[2:]) == [
        [("fuel_critical", point_id, "resolved")],
        [("fuel_low", point_id, "resolved")],
    ]
    critical = notifications[1]["alerts"][0]
    assert critical["labels"] == {
        "alertname": "fuel_critical",
        "severity": "critical",
        "point_id": point_id,
        "oblast": "Київська область",
        "point_kind": "permanent",
    }
    assert "send fuel now" in critical["annotations"]["summary"]
    assert critical["annotations"]["hours_to_empty"] == "5.5"
    assert critical["annotations"]["runbook_url"].endswith("#fuel_critical")
    assert {"empty_at", "summary", "runbook_url"} <= critical["annotations"].keys()
    resolved = next(a for n in notifications[2:] for a in n["alerts"])
    assert "refuelled" in resolved["annotations"]["summary"]


def test_a_silent_point_fires_mutes_its_other_alerts_and_resolves_when_it_reports(
    rules: AlertRules, receiver: WebhookReceiver, start_alertmanager: Any
) -> None:
    am = start_alertmanager("/am")
    notifier = AlertmanagerNotifier([am.url], FAST)
    tent = Point(point("UA-IT-SILENT-1"), rules, notifier)
    base = time.time() - 3 * 3600

    def got() -> list[Notification]:
        return receiver.received("/am")

    async def scenario() -> None:
        for minute in range(0, 16):  # internet down for 15 minutes: internet_down fires
            now = base + 60 * minute
            tent.judge(now, report=report(now, internet_up=False), liveness=liveness(now, now))
        await pump(notifier, lambda: len(got()) >= 1, "the internet_down notification")

        last = base + 15 * 60
        for minute in range(16, 30):  # then it goes quiet
            now = base + 60 * minute
            tent.judge(now, report=report(last, internet_up=False), liveness=liveness(last, now))
        await pump(notifier, lambda: len(got()) >= 2, "the point_silent notification")
        await keep_delivering(notifier)

        now = base + 40 * 60
        tent.judge(now, report=report(now, internet_up=False), liveness=liveness(now, now))
        await pump(notifier, lambda: len(got()) >= 3, "the point_silent resolution")
        await keep_delivering(notifier)

    asyncio.run(closing(notifier, scenario()))
    point_id = "UA-IT-SILENT-1"
    assert [what(n) for n in got()] == [
        [("internet_down", point_id, "firing")],
        [("point_silent", point_id, "firing")],  # internet_down muted meanwhile
        [("point_silent", point_id, "resolved")],
    ], am.log_tail()
    assert [(e.alertname, e.status) for e in tent.events] == [
        ("internet_down", "firing"),
        ("point_silent", "firing"),
        ("point_silent", "resolved"),
    ]


def test_nothing_is_lost_while_alertmanager_is_down(
    rules: AlertRules, receiver: WebhookReceiver, start_alertmanager: Any
) -> None:
    am = start_alertmanager("/am")
    notifier = AlertmanagerNotifier([am.url], FAST)
    kyiv = Point(point("UA-IT-DOWN-1"), rules, notifier)
    odesa = Point(point("UA-IT-DOWN-2", "Одеська область"), rules, notifier)
    base = time.time() - 3 * 3600

    def got() -> list[Notification]:
        return receiver.received("/am")

    async def scenario() -> None:
        kyiv.judge(base + 600, liveness=liveness(base, base + 600))  # silent
        await pump(notifier, lambda: len(got()) >= 1, "the first silence")
        am.stop()
        kyiv.judge(base + 900, liveness=liveness(base + 900, base + 900))  # reports again
        odesa.judge(base + 900, liveness=liveness(base, base + 900))  # goes silent
        await keep_delivering(notifier, 3.0)  # Alertmanager is down meanwhile
        [outbox] = notifier.outboxes.values()
        assert outbox.failures >= 3 and len(outbox) == 2
        am.start()
        await pump(notifier, lambda: len(got()) >= 3, "what happened while it was down")
        await keep_delivering(notifier)

    asyncio.run(closing(notifier, scenario()))
    notifications = [what(n) for n in got()]
    assert notifications[0] == [("point_silent", "UA-IT-DOWN-1", "firing")]
    assert sorted(notifications[1:]) == [
        [("point_silent", "UA-IT-DOWN-1", "resolved")],
        [("point_silent", "UA-IT-DOWN-2", "firing")],
    ], am.log_tail()


def test_every_alertmanager_gets_every_alert(
    rules: AlertRules, receiver: WebhookReceiver, start_alertmanager: Any
) -> None:
    first, second = start_alertmanager("/am-1"), start_alertmanager("/am-2")
    notifier = AlertmanagerNotifier([first.url, second.url], FAST)
    school = Point(point("UA-IT-HA-1"), rules, notifier)
    base = time.time() - 3600

    async def scenario() -> None:
        school.judge(base, liveness=liveness(base - 600, base))
        await pump(
            notifier,
            lambda: all(len(receiver.received(p)) >= 1 for p in ("/am-1", "/am-2")),
            "a notification from each instance",
        )
        second.stop()
        school.judge(base + 60, liveness=liveness(base + 60, base + 60))
        await pump(notifier, lambda: len(receiver.received("/am-1")) >= 2, "resolution on am-1")
        second.start()
        await pump(notifier, lambda: len(receiver.received("/am-2")) >= 2, "resolution on am-2")

    asyncio.run(closing(notifier, scenario()))
    for path in ("/am-1", "/am-2"):
        assert [what(n) for n in receiver.received(path)] == [
            [("point_silent", "UA-IT-HA-1", "firing")],
            [("point_silent", "UA-IT-HA-1", "resolved")],
        ]


def test_a_noisy_sensor_hovering_at_the_threshold_does_not_flap(
    rules: AlertRules, receiver: WebhookReceiver, start_alertmanager: Any
) -> None:
    am = start_alertmanager("/am")
    notifier = AlertmanagerNotifier([am.url], FAST)
    generator = Point(point("UA-IT-NOISY-1"), rules, notifier)
    base = time.time() - 3 * 3600
    # Every minute for 2 h, a tank slowly going from 12.6 h to 11.4 h of fuel, seen through a
    # sensor whose noise (+-0.5 h) keeps crossing the 12 h fuel_low threshold both ways.
    noise = random.Random(7)
    wobble = [12.6 - 1.2 * i / 120 + noise.uniform(-0.5, 0.5) for i in range(120)]
    assert sum(1 for a, b in itertools.pairwise(wobble) if (a < 12) != (b < 12)) > 20

    async def scenario() -> None:
        for i, hours in enumerate(wobble):
            generator.judge(base + 60 * i, forecast=fuel(hours, base + 60 * i))
            await notifier.deliver_due(time.time())  # each version reaches Alertmanager
            await asyncio.sleep(0.02)
        await keep_delivering(notifier)

    asyncio.run(closing(notifier, scenario()))
    statuses = [e.status for e in generator.events]
    assert statuses[0] == "firing" and "resolved" not in statuses, statuses
    assert [what(n) for n in receiver.received("/am")] == [
        [("fuel_low", "UA-IT-NOISY-1", "firing")]
    ], am.log_tail()


def test_the_shipped_configuration_passes_amtool_and_routes_as_documented(
    tmp_path: Path,
) -> None:
    amtool = binary("amtool")
    check = subprocess.run(
        [amtool, "check-config", str(SHIPPED_CONFIG)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    routes = {
        ("severity=critical", "oblast=Київська область", "alertname=fuel_critical"): "oncall",
        ("severity=critical", "oblast=Харківська область", "alertname=no_power"): (
            "oncall-frontline"
        ),
        ("severity=warning", "oblast=Одеська область", "alertname=fuel_low"): "logistics",
        ("severity=critical", "oblast=Київська область", "alertname=fuel_unreachable"): (
            "logistics"
        ),
        ("severity=critical", "oblast=Херсонська область", "alertname=fuel_unreachable"): (
            "logistics-frontline"
        ),
        ("severity=warning", "oblast=Донецька область", "alertname=fuel_low"): (
            "logistics-frontline"
        ),
        ("severity=info", "oblast=Київська область", "alertname=internet_down"): (
            "operations-board"
        ),
        ("severity=critical", "component=pipeline", "alertname=NezlamWorkersDown"): (
            "platform-oncall"
        ),
    }
    for labels, receiver_name in routes.items():
        found = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={SHIPPED_CONFIG}", *labels],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert found.stdout.strip() == receiver_name, (labels, found.stdout, found.stderr)
    # the configuration the tests run with keeps the shipped grouping and inhibition
    test_config = AlertmanagerProcess(tmp_path, "http://127.0.0.1:9/hook").config_file
    derived = yaml.safe_load(test_config.read_text(encoding="utf-8"))
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    assert derived["inhibit_rules"] == shipped["inhibit_rules"]
    check = subprocess.run(
        [amtool, "check-config", str(test_config)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
