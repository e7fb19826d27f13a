"""What the registry says about a point: the facts computations, alerts and views share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PointInfo:
    """The registry's facts about a point that alerts show and route on."""

    point_id: str
    name: str
    kind: str
    oblast: str
    hromada: str | None = None
    capacity_people: int | None = None
    fuel_tank_l: float | None = None

    @classmethod
    def from_registry(cls, message: Mapping[str, Any]) -> PointInfo:
        """From a validated ``points.registry`` message."""
        return cls(
            point_id=message["point_id"],
            name=message["name"],
            kind=message["kind"],
            oblast=message["oblast"],
            hromada=message.get("hromada"),
            capacity_people=message.get("capacity_people"),
            fuel_tank_l=message.get("fuel_tank_l"),
        )
