"""Everything the worker remembers of one point, as one versioned record.

The fuel forecaster, occupancy, liveness and the alert lifecycle of a point advance together,
report by report; keeping them in one record means one table read and at most one changelog
record per point per batch (four tables wrote four).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.domain.alert_lifecycle import AlertState
from streams.domain.fuel_forecast import FuelState
from streams.domain.occupancy import OccupancyState
from streams.domain.staleness import LivenessState

#: Version of the record's layout; :meth:`PointState.from_dict` refuses any other.
POINT_STATE_VERSION = 1


@dataclass(slots=True)
class PointState:
    """One point's state. ``partition`` is the input partition its messages arrive on (where
    the record is filed), so the timer can write the record without recomputing it."""

    partition: int | None = None
    fuel: FuelState | None = None
    occupancy: OccupancyState | None = None
    liveness: LivenessState | None = None
    alerts: AlertState | None = None
    # The stream time the point was last stepped or advanced to: its deadlines up to there
    # have been judged.
    judged_at: float | None = None
    # The (category, activation overdue) last published on ``points.state``.
    published: tuple[str, bool] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy; absent parts are left out."""
        data: dict[str, Any] = {"v": POINT_STATE_VERSION, "partition": self.partition}
        if self.fuel is not None:
            data["fuel"] = self.fuel.to_dict()
        if self.occupancy is not None:
            data["occupancy"] = self.occupancy.to_dict()
        if self.liveness is not None:
            data["liveness"] = self.liveness.to_dict()
        if self.alerts is not None:
            data["alerts"] = self.alerts.to_dict()
        if self.judged_at is not None:
            data["judged_at"] = self.judged_at
        if self.published is not None:
            data["published"] = list(self.published)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PointState:
        """Inverse of :meth:`to_dict`; ``ValueError`` for a record of another version."""
        if data.get("v") != POINT_STATE_VERSION:
            raise ValueError(f"unsupported point state version: {data.get('v')!r}")
        fuel, occupancy = data.get("fuel"), data.get("occupancy")
        liveness, alerts = data.get("liveness"), data.get("alerts")
        return cls(
            partition=data.get("partition"),
            fuel=None if fuel is None else FuelState.from_dict(fuel),
            occupancy=None if occupancy is None else OccupancyState.from_dict(occupancy),
            liveness=None if liveness is None else LivenessState.from_dict(liveness),
            alerts=None if alerts is None else AlertState.from_dict(alerts),
            judged_at=data.get("judged_at"),
            published=None if (shown := data.get("published")) is None
            else (str(shown[0]), bool(shown[1])),
        )
