"""A refuel seen in the telemetry closes the planned stop: ``dispatch_deliveries``.

The worker's fuel forecast marks a refuel (the level jumped up); the planner, before each
re-plan, matches every such refuel of a point with a planned stop to the newest plan that had
made that stop before the refuel, and records the stop as delivered, with the litres the
readings rose by. Idempotent: a refuel is recorded once (its point and time are the key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

# Stops of plans made within the lookback, each with the first refuel its point showed after
# the plan was made (the (point_id, ts) primary key of fuel_forecast serves the lateral look-up),
# the level before that refuel, and no delivery recorded for that refuel yet.
_FIND = """
WITH stops AS (
    SELECT DISTINCT ON (point_id) oblast, computed_at, truck_id, depot, point_id, litres
    FROM dispatch_stops
    WHERE computed_at > now() - make_interval(secs => %(lookback)s * 3600)
    ORDER BY point_id, computed_at DESC
)
SELECT s.point_id, r.ts, s.oblast, s.computed_at, s.truck_id, s.depot, s.litres,
       r.fuel_level_l - b.fuel_level_l
FROM stops AS s
CROSS JOIN LATERAL (
    SELECT f.ts, f.fuel_level_l FROM fuel_forecast AS f
    WHERE f.point_id = s.point_id AND f.ts >= s.computed_at AND f.refuel_detected
    ORDER BY f.ts LIMIT 1
) AS r
LEFT JOIN LATERAL (
    SELECT f.fuel_level_l FROM fuel_forecast AS f
    WHERE f.point_id = s.point_id AND f.ts < r.ts AND f.fuel_level_l IS NOT NULL
    ORDER BY f.ts DESC LIMIT 1
) AS b ON true
WHERE NOT EXISTS (SELECT 1 FROM dispatch_deliveries AS d
                  WHERE d.point_id = s.point_id AND d.delivered_at = r.ts)
"""

_INSERT = """
INSERT INTO dispatch_deliveries (point_id, delivered_at, oblast, planned_at, truck_id, depot,
                                 planned_litres, litres_seen)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A planned stop a refuel closed."""

    point_id: str
    delivered_at: datetime
    oblast: str
    planned_at: datetime
    truck_id: str
    depot: str
    planned_litres: float
    litres_seen: float | None


def record_deliveries(conn: psycopg.Connection[Any], lookback_hours: float = 24.0
                      ) -> list[Delivery]:
    """Record every planned stop closed by a refuel since its plan (plans of the last
    ``lookback_hours``); returns the deliveries recorded now."""
    with conn.transaction():
        found = [Delivery(*row) for row in
                 conn.execute(_FIND, {"lookback": lookback_hours}).fetchall()]
        for d in found:
            conn.execute(_INSERT, [d.point_id, d.delivered_at, d.oblast, d.planned_at,
                                   d.truck_id, d.depot, d.planned_litres, d.litres_seen])
    return found
