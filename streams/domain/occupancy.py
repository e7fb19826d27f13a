"""Rolling occupancy of one point: people inside, visits in the last 15 min / 1 h / 24 h.

The state of one point is small and bounded whatever the traffic, and JSON-serialisable
(:meth:`OccupancyState.to_dict`), so it can live in a table keyed by ``point_id``:

* people inside: arrivals grouped into *cohorts* (``cohort_seconds`` wide, default 5 min).
  A cohort stops counting ``max_dwell_seconds`` after its end, because departures are often
  missed; departures take people out of the oldest cohorts first. A reported headcount
  replaces the cohorts by one cohort holding the headcount.
* visits: arrivals summed into minute buckets (the 15 min and 1 h windows) and quarter-hour
  buckets (the 24 h window). A window includes every bucket that overlaps it, so it may count
  up to one bucket (1 min, or 15 min for 24 h) of arrivals older than its nominal length.
* event time: each message's ``ts``. An event may be up to ``allowed_lateness_seconds`` older
  than the newest event applied to the point; older ones are refused with ``TOO_LATE``.
* replays: the ids of recently applied visits are kept (at most ``dedup_capacity``, and only
  while within the lateness bound, after which a replay is refused as too late anyway).

:func:`apply_visit` and :func:`apply_headcount` update the state *in place*: copying the maps
on every message would cost time proportional to the state, not O(1). Callers write the state
back to their table afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

MINUTE = 60
QUARTER_HOUR = 900
WINDOW_15M = 15 * MINUTE
WINDOW_1H = 60 * MINUTE
WINDOW_24H = 24 * 60 * MINUTE

VisitKind = Literal["arrival", "departure"]


@dataclass(frozen=True, slots=True)
class OccupancyConfig:
    """Tunable bounds of the occupancy computation (all durations in seconds)."""

    max_dwell_seconds: float = 4 * 3600.0
    cohort_seconds: int = 300
    allowed_lateness_seconds: float = 600.0
    dedup_capacity: int = 4096

    def __post_init__(self) -> None:
        if self.max_dwell_seconds <= 0 or self.cohort_seconds <= 0:
            raise ValueError("max_dwell_seconds and cohort_seconds must be positive")
        if not 0 <= self.allowed_lateness_seconds < self.max_dwell_seconds:
            raise ValueError("allowed_lateness_seconds must be in [0, max_dwell_seconds)")
        if self.dedup_capacity < 1:
            raise ValueError("dedup_capacity must be at least 1")


@dataclass(frozen=True, slots=True)
class Visit:
    """One message of ``points.visits``: ``people`` (>= 1) arriving or leaving at ``ts``."""

    event_id: str
    ts: float
    kind: VisitKind
    people: int


class Applied(StrEnum):
    """What became of an event offered to the occupancy state."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this event_id was applied already (at-least-once replay)
    TOO_LATE = "too_late"  # older than the lateness bound; the state is unchanged
    STALE = "stale"  # a headcount not newer than the headcount already applied


@dataclass(frozen=True, slots=True)
class VisitOutcome:
    """The result of :func:`apply_visit`.

    ``unmatched_people``: people in a departure who were not counted inside (their arrival
    was missed, had expired, or is covered by a headcount); they were dropped, since the count
    never goes below zero.
    """

    result: Applied
    unmatched_people: int = 0


@dataclass(slots=True)
class OccupancyState:
    """Occupancy of one point; every map is keyed by a bucket start in epoch seconds.

    The maps keep their keys in ascending order: expiry and "oldest cohort first" read them
    from the front.
    """

    high_ts: float | None = None  # newest event ts applied (visit or headcount)
    baseline_ts: float | None = None  # ts of the headcount the cohorts were re-based on
    cohorts: dict[int, int] = field(default_factory=dict)  # cohort start -> people inside
    minute_arrivals: dict[int, int] = field(default_factory=dict)
    quarter_arrivals: dict[int, int] = field(default_factory=dict)
    recent_event_ids: dict[str, float] = field(default_factory=dict)  # event_id -> ts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy of the state (maps as ordered ``[key, value]`` pairs)."""
        return {
            "high_ts": self.high_ts,
            "baseline_ts": self.baseline_ts,
            "cohorts": [[k, v] for k, v in self.cohorts.items()],
            "minute_arrivals": [[k, v] for k, v in self.minute_arrivals.items()],
            "quarter_arrivals": [[k, v] for k, v in self.quarter_arrivals.items()],
            "recent_event_ids": [[k, v] for k, v in self.recent_event_ids.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OccupancyState:
        """Rebuild a state from :meth:`to_dict` output (after a JSON round trip)."""
        return cls(
            high_ts=_opt_float(data.get("high_ts")),
            baseline_ts=_opt_float(data.get("baseline_ts")),
            cohorts={int(k): int(v) for k, v in data.get("cohorts", [])},
            minute_arrivals={int(k): int(v) for k, v in data.get("minute_arrivals", [])},
            quarter_arrivals={int(k): int(v) for k, v in data.get("quarter_arrivals", [])},
            recent_event_ids={str(k): float(v) for k, v in data.get("recent_event_ids", [])},
        )


@dataclass(frozen=True, slots=True)
class OccupancySnapshot:
    """Occupancy of one point as of ``at_ts``; what ``points.occupancy`` carries."""

    at_ts: float
    people_inside: int
    visits_15m: int
    visits_1h: int
    visits_24h: int
    capacity_people: int | None
    utilisation: float | None  # people_inside / capacity_people; None without a capacity
    last_event_ts: float | None
    headcount_ts: float | None  # when the count was last re-based on a reported headcount


def apply_visit(state: OccupancyState, visit: Visit, config: OccupancyConfig) -> VisitOutcome:
    """Apply one arrival or departure to ``state`` (in place).

    Every applied arrival counts as a visit. It changes people inside only if it is not
    older than the last headcount, which already includes it.
    """
    if visit.people < 1:
        raise ValueError(f"a visit moves at least one person, got {visit.people}")
    if visit.event_id in state.recent_event_ids:
        return VisitOutcome(Applied.DUPLICATE)
    if _too_late(state, visit.ts, config):
        return VisitOutcome(Applied.TOO_LATE)
    _advance(state, visit.ts, config)
    _remember_event(state, visit.event_id, visit.ts, config)
    covered_by_headcount = state.baseline_ts is not None and visit.ts < state.baseline_ts
    if visit.kind == "arrival":
        _add(state.minute_arrivals, _bucket(visit.ts, MINUTE), visit.people)
        _add(state.quarter_arrivals, _bucket(visit.ts, QUARTER_HOUR), visit.people)
        if not covered_by_headcount:
            _add(state.cohorts, _bucket(visit.ts, config.cohort_seconds), visit.people)
        return VisitOutcome(Applied.APPLIED)
    if covered_by_headcount:
        return VisitOutcome(Applied.APPLIED, unmatched_people=visit.people)
    return VisitOutcome(Applied.APPLIED, _take_oldest_first(state.cohorts, visit.people))


def apply_headcount(
    state: OccupancyState, headcount: int, ts: float, config: OccupancyConfig
) -> Applied:
    """Re-base people inside on a headcount reported at ``ts`` (in place).

    The count becomes ``headcount`` in a single cohort starting at ``ts``. Arrivals and
    departures already applied with a later ts are dropped with the old cohorts: the next
    headcount, 30-60 s later, includes them again.
    """
    if headcount < 0:
        raise ValueError(f"a headcount cannot be negative, got {headcount}")
    if state.baseline_ts is not None and ts <= state.baseline_ts:
        return Applied.STALE
    if _too_late(state, ts, config):
        return Applied.TOO_LATE
    _advance(state, ts, config)
    state.cohorts.clear()
    if headcount:
        state.cohorts[_bucket(ts, config.cohort_seconds)] = headcount
    state.baseline_ts = ts
    return Applied.APPLIED


def snapshot(
    state: OccupancyState, at_ts: float, capacity_people: int | None, config: OccupancyConfig
) -> OccupancySnapshot:
    """Occupancy as of ``at_ts`` without changing ``state``.

    ``at_ts`` is the point's newest event time when emitting after a message, or the lag
    guard's reference time (see ``clock.reference_time``) when emitting on a timer, so that
    cohorts expire and windows slide while a point is quiet.
    """
    people = sum(n for start, n in state.cohorts.items() if _cohort_counts(start, at_ts, config))
    return OccupancySnapshot(
        at_ts=at_ts,
        people_inside=people,
        visits_15m=_window_sum(state.minute_arrivals, MINUTE, at_ts, WINDOW_15M),
        visits_1h=_window_sum(state.minute_arrivals, MINUTE, at_ts, WINDOW_1H),
        visits_24h=_window_sum(state.quarter_arrivals, QUARTER_HOUR, at_ts, WINDOW_24H),
        capacity_people=capacity_people,
        utilisation=people / capacity_people if capacity_people and capacity_people > 0 else None,
        last_event_ts=state.high_ts,
        headcount_ts=state.baseline_ts,
    )


def _too_late(state: OccupancyState, ts: float, config: OccupancyConfig) -> bool:
    return state.high_ts is not None and ts < state.high_ts - config.allowed_lateness_seconds


def _advance(state: OccupancyState, ts: float, config: OccupancyConfig) -> None:
    """Move the point's event time to ``ts`` if newer, dropping what can no longer count."""
    if state.high_ts is not None and ts <= state.high_ts:
        return
    state.high_ts = ts
    _drop_through(state.cohorts, ts - config.cohort_seconds - config.max_dwell_seconds)
    _drop_through(state.minute_arrivals, ts - WINDOW_1H - MINUTE)
    _drop_through(state.quarter_arrivals, ts - WINDOW_24H - QUARTER_HOUR)
    ids = state.recent_event_ids
    # A replay older than the lateness bound is refused as too late, so its id can go.
    horizon = ts - config.allowed_lateness_seconds
    while ids and next(iter(ids.values())) < horizon:
        del ids[next(iter(ids))]


def _remember_event(
    state: OccupancyState, event_id: str, ts: float, config: OccupancyConfig
) -> None:
    ids = state.recent_event_ids
    ids[event_id] = ts
    while len(ids) > config.dedup_capacity:
        del ids[next(iter(ids))]


def _cohort_counts(start: int, at_ts: float, config: OccupancyConfig) -> bool:
    """A cohort counts until ``max_dwell_seconds`` after its *end*: never too early."""
    return start + config.cohort_seconds + config.max_dwell_seconds > at_ts


def _window_sum(buckets: Mapping[int, int], width: int, at_ts: float, window: int) -> int:
    """Arrivals in every bucket that overlaps ``(at_ts - window, at_ts]`` or is newer."""
    oldest = at_ts - window - width
    return sum(n for start, n in buckets.items() if start > oldest)


def _bucket(ts: float, width: int) -> int:
    return int(ts // width) * width


def _add(buckets: dict[int, int], key: int, n: int) -> None:
    """Add ``n`` to bucket ``key``, keeping keys ascending (a late event may open an old one)."""
    if key in buckets:
        buckets[key] += n
        return
    out_of_order = bool(buckets) and key < next(reversed(buckets))
    buckets[key] = n
    if out_of_order:
        ordered = sorted(buckets.items())
        buckets.clear()
        buckets.update(ordered)


def _drop_through(buckets: dict[int, int], bound: float) -> None:
    """Drop the buckets whose key is at most ``bound`` (they are at the front)."""
    while buckets:
        first = next(iter(buckets))
        if first > bound:
            return
        del buckets[first]


def _take_oldest_first(cohorts: dict[int, int], people: int) -> int:
    """Remove ``people`` from the oldest cohorts; return how many found nobody to remove."""
    remaining = people
    while remaining and cohorts:
        oldest = next(iter(cohorts))
        if cohorts[oldest] > remaining:
            cohorts[oldest] -= remaining
            return 0
        remaining -= cohorts.pop(oldest)
    return remaining


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
