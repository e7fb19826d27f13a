"""What alert rules judge and what they produce: inputs, verdicts, settings, events.

The vocabulary shared by the rules (:mod:`streams.domain.alert_rules`) and the lifecycle that
runs them (:mod:`streams.domain.alert_lifecycle`). Pure data, no clock, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from streams.domain.fuel_forecast import Forecast
from streams.domain.occupancy import OccupancySnapshot
from streams.domain.points import PointInfo
from streams.domain.staleness import PointLiveness
from streams.domain.timestamps import iso

Severity = Literal["info", "warning", "critical"]
EventStatus = Literal["firing", "updated", "resolved"]
Phase = Literal["pending", "firing"]

SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
PointKind = Literal["permanent", "standby", "mobile"]
KINDS: tuple[PointKind, ...] = ("permanent", "standby", "mobile")


class Verdict(Enum):
    """What a rule makes of the inputs at one evaluation."""

    FIRE = "fire"
    CLEAR = "clear"
    HOLD = "hold"



@dataclass(frozen=True, slots=True)
class RuleSpec:
    """How one rule alerts: its severity and its pending and clearing periods (seconds)."""

    severity: Severity
    pending_seconds: float
    clear_seconds: float
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The thresholds of one (point kind, oblast); see ``config/alert_rules.yaml``."""

    fuel_lead_time_hours: float = 6.0  # how long a fuel delivery takes, order to tank
    fuel_low_factor: float = 2.0  # fuel_low below this many lead times of fuel
    fuel_critical_factor: float = 1.0  # fuel_critical below this many lead times
    fuel_clear_margin: float = 0.1  # fuel alerts clear this share above their threshold
    fuel_min_confidence: float = 0.3  # a forecast less sure than this neither fires nor clears
    over_capacity_utilisation: float = 1.0  # fires above this utilisation
    over_capacity_clear_utilisation: float = 0.9  # clears below this one
    cold_below_c: float = 12.0  # heating_off fires below this indoor temperature
    warm_above_c: float = 14.0  # ... and clears at or above this one

    @property
    def fuel_low_hours(self) -> float:
        """Hours of fuel below which fuel_low fires."""
        return self.fuel_lead_time_hours * self.fuel_low_factor

    @property
    def fuel_critical_hours(self) -> float:
        """Hours of fuel below which fuel_critical fires."""
        return self.fuel_lead_time_hours * self.fuel_critical_factor

    def problems(self) -> list[str]:
        """What is inconsistent in these thresholds, one sentence each (empty: none)."""
        found = [
            f"{name} must be greater than 0 (got {value})"
            for name, value in (
                ("fuel_lead_time_hours", self.fuel_lead_time_hours),
                ("fuel_critical_factor", self.fuel_critical_factor),
                ("over_capacity_utilisation", self.over_capacity_utilisation),
            )
            if not value > 0
        ]
        if not self.fuel_low_factor > self.fuel_critical_factor:
            found.append(
                f"fuel_low_factor ({self.fuel_low_factor}) must be greater than "
                f"fuel_critical_factor ({self.fuel_critical_factor}): fuel_low warns first"
            )
        if not 0 <= self.fuel_clear_margin <= 1:
            found.append(f"fuel_clear_margin must be within 0..1 (got {self.fuel_clear_margin})")
        if not 0 <= self.fuel_min_confidence <= 1:
            found.append(
                f"fuel_min_confidence must be within 0..1 (got {self.fuel_min_confidence})"
            )
        if not 0 < self.over_capacity_clear_utilisation <= self.over_capacity_utilisation:
            found.append(
                f"over_capacity_clear_utilisation ({self.over_capacity_clear_utilisation}) "
                f"must be above 0 and at most over_capacity_utilisation "
                f"({self.over_capacity_utilisation})"
            )
        if not self.cold_below_c <= self.warm_above_c:
            found.append(
                f"warm_above_c ({self.warm_above_c}) must be at least cold_below_c "
                f"({self.cold_below_c})"
            )
        return found


@dataclass(frozen=True, slots=True)
class Report:
    """A point's latest telemetry report (``ts`` in epoch seconds)."""

    ts: float
    status: str
    power: str
    generator_running: bool
    heating_on: bool | None = None
    internet_up: bool | None = None
    indoor_temp_c: float | None = None
    headcount: int | None = None

    @classmethod
    def from_telemetry(cls, message: Mapping[str, Any]) -> Report:
        """From a ``points.telemetry`` message as ``Contract.validate`` returns it (``_ts`` set)."""
        return cls(
            ts=float(message["_ts"]),
            status=message["status"],
            power=message["power"],
            generator_running=bool(message["generator_running"]),
            heating_on=message.get("heating_on"),
            internet_up=message.get("internet_up"),
            indoor_temp_c=message.get("indoor_temp_c"),
            headcount=message.get("headcount"),
        )


@dataclass(frozen=True, slots=True)
class PlannedRefuel:
    """What the current dispatch plan says about one point: the truck that comes (its depot,
    arrival in epoch seconds and litres at arrival), or, with ``truck`` None, why none can;
    with ``in_plan`` False, that its oblast's current plan does not need to reach it (its tank
    lasts beyond the plan's horizon)."""

    truck: str | None = None
    depot: str | None = None
    arrive_at: float | None = None
    litres: float | None = None
    unreachable_reason: str | None = None  # in words: "quickest truck arrives 2 h too late"
    in_plan: bool = True


@dataclass(frozen=True, slots=True)
class PointInputs:
    """The latest of everything known about one point; any part may be missing (None).

    A missing part makes the rules that need it HOLD: they neither fire nor resolve.
    """

    point: PointInfo
    report: Report | None = None
    forecast: Forecast | None = None  # the latest fuel forecast of the point's generator
    liveness: PointLiveness | None = None  # staleness.liveness_at the same time
    occupancy: OccupancySnapshot | None = None
    plan: PlannedRefuel | None = None  # the point in the current dispatch plan


# --- events -----------------------------------------------------------------------------


def fingerprint(alertname: str, point_id: str) -> str:
    """The stable id of one alertname on one point: 16 hex digits of a SHA-1."""
    return hashlib.sha1(f"{alertname}\x00{point_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One state change of one alert: what the ``alerts`` topic carries (times in epoch s)."""

    fingerprint: str
    alertname: str
    status: EventStatus
    severity: Severity
    point_id: str
    oblast: str
    point_kind: str
    ts: float
    starts_at: float
    ends_at: float | None
    summary: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    def to_message(self) -> dict[str, Any]:
        """The ``alerts`` topic message (``schemas/alerts.schema.json``): :meth:`to_dict` with
        RFC 3339 times."""
        message = self.to_dict()
        message["ts"] = iso(self.ts)
        message["starts_at"] = iso(self.starts_at)
        message["ends_at"] = None if self.ends_at is None else iso(self.ends_at)
        return message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy with epoch-second times (for the state table)."""
        return {
            "fingerprint": self.fingerprint,
            "alertname": self.alertname,
            "status": self.status,
            "severity": self.severity,
            "point_id": self.point_id,
            "oblast": self.oblast,
            "point_kind": self.point_kind,
            "ts": self.ts,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "summary": self.summary,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvent:
        """Inverse of :meth:`to_dict`."""
        return cls(
            **{**data, "labels": dict(data["labels"]), "annotations": dict(data["annotations"])}
        )


@dataclass(frozen=True, slots=True)
class RuleState:
    """One alert of one point that is pending or firing (inactive alerts are not stored).

    ``since``: when the condition began (pending) or the alert's ``starts_at`` (firing);
    ``clear_since``: since when a firing alert's condition has been clear; ``event``: the
    last event sent for a firing alert (what an update is compared with, and re-sent).
    """

    phase: Phase
    since: float
    clear_since: float | None = None
    event: AlertEvent | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy."""
        return {
            "phase": self.phase,
            "since": self.since,
            "clear_since": self.clear_since,
            "event": None if self.event is None else self.event.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleState:
        """Inverse of :meth:`to_dict`."""
        event = data.get("event")
        return cls(
            phase=data["phase"],
            since=float(data["since"]),
            clear_since=data.get("clear_since"),
            event=None if event is None else AlertEvent.from_dict(event),
        )
