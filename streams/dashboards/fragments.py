"""SQL pieces several panels share: the point filter, a point's state now, its latest
occupancy and fuel forecast.

These are Grafana query texts assembled from constants of this package and of the domain (no
value from outside ever enters them); Grafana sends them to the database as they are.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from streams.domain.staleness import DEFAULT_SILENCE_AFTER_SECONDS, StalenessConfig

# The dashboard variables, on a relation aliased p with columns oblast and kind.
POINT_FILTER = "p.oblast IN ($oblast) AND p.kind IN ($kind)"
# The same on a per-oblast rollup (occupancy_oblast_hourly), which carries oblast and kind.
ROLLUP_FILTER = "oblast IN ($oblast) AND kind IN ($kind)"

# The states a point can be in, in the order the dashboards list them. "unknown": registered
# but never reported.
STATES = ("open", "standby", "closed", "silent", "unknown")
STATE_COLOURS = {
    "open": "green",
    "standby": "blue",
    "closed": "orange",
    "silent": "red",
    "unknown": "text",
}

# Latest readings older than this are not "now" any more.
OCCUPANCY_FRESH = "INTERVAL '1 hour'"
FORECAST_FRESH = "INTERVAL '1 day'"


def silence_threshold(
    by_kind: Mapping[str, float] = DEFAULT_SILENCE_AFTER_SECONDS,
    default_seconds: float = StalenessConfig().default_silence_seconds,
) -> str:
    """An interval expression: how long a point of kind ``p.kind`` may stay quiet.

    The same thresholds as the stream processor's (``streams.domain.staleness``), so the map
    and the ``point_silent`` alerts agree.
    """
    cases = " ".join(
        f"WHEN '{kind}' THEN INTERVAL '{seconds:g} seconds'" for kind, seconds in by_kind.items()
    )
    return f"CASE p.kind {cases} ELSE INTERVAL '{default_seconds:g} seconds' END"


def point_state() -> str:
    """A text expression on ``point_status AS p``: open, standby, closed, silent or unknown."""
    return (
        "CASE WHEN p.last_seen IS NULL THEN 'unknown'"
        f" WHEN p.last_seen < now() - {silence_threshold()} THEN 'silent'"
        " ELSE p.status END"
    )


def points_now() -> str:
    """A query: every point of the selected oblasts and kinds with its state and latest
    report, its people inside now (0 without a fresh occupancy report) and utilisation.
    Both latest rows come from the current-state tables (migration 013): one row per point,
    no lookup in the history."""
    return _clean(f"""
        SELECT
            p.point_id, p.name, p.kind, p.oblast, p.hromada, p.lat, p.lon, p.capacity_people,
            p.last_seen, p.power, p.generator_running, p.fuel_level_l, p.headcount,
            {point_state()} AS state,
            coalesce(o.people_inside, 0) AS people_inside,
            o.utilisation
        FROM point_status AS p
        LEFT JOIN occupancy_now AS o
            ON o.point_id = p.point_id AND o.ts > now() - {OCCUPANCY_FRESH}
        WHERE {POINT_FILTER}
    """)


def latest_forecasts() -> str:
    """A query: each selected point's latest fuel forecast of the last day."""
    return _clean(f"""
        SELECT
            p.point_id, p.name, p.oblast, p.hromada, p.kind, p.fuel_tank_l,
            f.ts, f.fuel_level_l, f.burn_rate_lph, f.hours_to_empty, f.empty_at,
            f.confidence, f.generator_running
        FROM points AS p
        JOIN fuel_forecast_now AS f
            ON f.point_id = p.point_id AND f.ts > now() - {FORECAST_FRESH}
        WHERE {POINT_FILTER}
    """)


def with_cte(name: str, body: str, query: str) -> str:
    """``WITH name AS (body) query``, laid out to read well in Grafana's editor."""
    return f"WITH {name} AS (\n{textwrap.indent(body, '    ')}\n)\n{_clean(query)}"


def _clean(sql: str) -> str:
    return textwrap.dedent(sql).strip()
