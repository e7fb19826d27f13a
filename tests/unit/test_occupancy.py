"""Rolling occupancy: people inside, visit windows, headcounts, lateness, replays, roll-up."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.occupancy import (
    Applied,
    OccupancyConfig,
    OccupancyState,
    Visit,
    VisitKind,
    apply_headcount,
    apply_visit,
    snapshot,
)

CFG = OccupancyConfig()  # 4 h dwell, 5 min cohorts, 10 min lateness
T0 = 1_736_900_000.0 - 1_736_900_000.0 % 3600  # an hour boundary: cohort and bucket edges
H = 3600.0

_ids = iter(range(10**9))


def arrival(ts: float, people: int = 1, event_id: str | None = None) -> Visit:
    return Visit(event_id or f"e{next(_ids)}", ts, "arrival", people)


def departure(ts: float, people: int = 1, event_id: str | None = None) -> Visit:
    return Visit(event_id or f"e{next(_ids)}", ts, "departure", people)


def inside(state: OccupancyState, at: float) -> int:
    return snapshot(state, at, None, CFG).people_inside


# --- people inside ------------------------------------------------------------------------


def test_arrivals_minus_departures() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 5), CFG)
    apply_visit(state, departure(T0 + 60, 2), CFG)
    apply_visit(state, arrival(T0 + 120), CFG)
    assert inside(state, T0 + 120) == 4


def test_departures_never_drive_the_count_below_zero() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 2), CFG)
    outcome = apply_visit(state, departure(T0 + 10, 5), CFG)
    assert outcome.result is Applied.APPLIED
    assert outcome.unmatched_people == 3
    assert inside(state, T0 + 10) == 0
    apply_visit(state, arrival(T0 + 20), CFG)
    assert inside(state, T0 + 20) == 1  # the missing three are not owed


def test_an_arrival_without_departure_stops_counting_after_max_dwell() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0 + 60), CFG)  # cohort [T0, T0 + 300)
    assert inside(state, T0 + 60 + CFG.max_dwell_seconds) == 1  # never earlier than max dwell
    cohort_end = T0 + CFG.cohort_seconds
    assert inside(state, cohort_end + CFG.max_dwell_seconds - 0.001) == 1
    assert inside(state, cohort_end + CFG.max_dwell_seconds) == 0


def test_departures_leave_from_the_oldest_cohort_first() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 2), CFG)
    apply_visit(state, arrival(T0 + H, 3), CFG)
    apply_visit(state, departure(T0 + H + 60, 2), CFG)
    # The T0 cohort left; the later cohort still counts after T0's would have expired.
    assert inside(state, T0 + CFG.max_dwell_seconds + CFG.cohort_seconds) == 3
    assert inside(state, T0 + H + CFG.max_dwell_seconds + CFG.cohort_seconds) == 0


def test_expired_cohorts_are_not_matched_by_departures() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 4), CFG)
    later = T0 + CFG.max_dwell_seconds + CFG.cohort_seconds
    apply_visit(state, arrival(later), CFG)
    outcome = apply_visit(state, departure(later + 1, 2), CFG)
    assert outcome.unmatched_people == 1
    assert inside(state, later + 1) == 0


# --- headcount --------------------------------------------------------------------------


def test_a_headcount_overrides_the_running_count() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 10), CFG)
    assert apply_headcount(state, 3, T0 + 60, CFG) is Applied.APPLIED
    assert inside(state, T0 + 60) == 3
    apply_visit(state, arrival(T0 + 120, 2), CFG)
    apply_visit(state, departure(T0 + 180), CFG)
    assert inside(state, T0 + 180) == 4
    snap = snapshot(state, T0 + 180, 10, CFG)
    assert snap.headcount_ts == T0 + 60
    assert snap.visits_15m == 12  # a headcount does not touch visits


def test_a_zero_headcount_empties_the_point() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 10), CFG)
    apply_headcount(state, 0, T0 + 60, CFG)
    assert inside(state, T0 + 60) == 0
    assert state.cohorts == {}


def test_visits_older_than_the_headcount_are_already_in_it() -> None:
    state = OccupancyState()
    apply_headcount(state, 7, T0 + 300, CFG)
    late_arrival = apply_visit(state, arrival(T0 + 240, 2), CFG)
    late_departure = apply_visit(state, departure(T0 + 250), CFG)
    assert late_arrival.result is Applied.APPLIED
    assert late_departure.unmatched_people == 1
    snap = snapshot(state, T0 + 300, None, CFG)
    assert snap.people_inside == 7
    assert snap.visits_15m == 2


def test_an_older_or_repeated_headcount_is_stale() -> None:
    state = OccupancyState()
    apply_headcount(state, 7, T0 + 300, CFG)
    assert apply_headcount(state, 9, T0 + 300, CFG) is Applied.STALE
    assert apply_headcount(state, 9, T0 + 200, CFG) is Applied.STALE
    assert inside(state, T0 + 300) == 7


def test_a_headcount_expires_after_max_dwell_if_not_renewed() -> None:
    state = OccupancyState()
    apply_headcount(state, 7, T0, CFG)
    assert inside(state, T0 + CFG.max_dwell_seconds) == 7
    assert inside(state, T0 + CFG.cohort_seconds + CFG.max_dwell_seconds) == 0


def test_negative_headcount_and_empty_visits_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="negative"):
        apply_headcount(OccupancyState(), -1, T0, CFG)
    with pytest.raises(ValueError, match="at least one"):
        apply_visit(OccupancyState(), Visit("x", T0, "arrival", 0), CFG)


# --- event time ------------------------------------------------------------------------------


def test_out_of_order_events_within_the_bound_land_in_their_own_bucket() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0 + 1200), CFG)
    late = apply_visit(state, arrival(T0 + 1200 - 590, 4), CFG)  # 9 min 50 s late
    assert late.result is Applied.APPLIED
    snap = snapshot(state, T0 + 1200 + 400, None, CFG)
    # At T0+1600 the late arrival (T0+610) is 16.5 min old: out of 15 min, inside 1 h.
    assert (snap.visits_15m, snap.visits_1h, snap.people_inside) == (1, 5, 5)
    assert list(state.minute_arrivals) == sorted(state.minute_arrivals)
    assert list(state.cohorts) == sorted(state.cohorts)


def test_events_older_than_the_bound_are_refused_and_change_nothing() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0 + 1200, 3), CFG)
    before = state.to_dict()
    too_old = T0 + 1200 - CFG.allowed_lateness_seconds - 0.5
    assert apply_visit(state, arrival(too_old), CFG).result is Applied.TOO_LATE
    assert apply_visit(state, departure(too_old), CFG).result is Applied.TOO_LATE
    assert apply_headcount(state, 0, too_old, CFG) is Applied.TOO_LATE
    assert state.to_dict() == before
    exactly_at_bound = T0 + 1200 - CFG.allowed_lateness_seconds
    assert apply_visit(state, arrival(exactly_at_bound), CFG).result is Applied.APPLIED


# --- replays ---------------------------------------------------------------------------------


def test_a_replayed_event_id_is_not_counted_twice() -> None:
    state = OccupancyState()
    visit = arrival(T0, 3, event_id="gate-1:42")
    assert apply_visit(state, visit, CFG).result is Applied.APPLIED
    before = state.to_dict()
    assert apply_visit(state, visit, CFG).result is Applied.DUPLICATE
    assert state.to_dict() == before


def test_a_replay_older_than_the_bound_is_refused_as_late_once_its_id_is_forgotten() -> None:
    state = OccupancyState()
    visit = arrival(T0, 3, event_id="old")
    apply_visit(state, visit, CFG)
    apply_visit(state, arrival(T0 + CFG.allowed_lateness_seconds + 1), CFG)
    assert "old" not in state.recent_event_ids
    assert apply_visit(state, visit, CFG).result is Applied.TOO_LATE
    assert snapshot(state, T0 + 700, None, CFG).visits_15m == 4


def test_the_dedup_memory_is_capped() -> None:
    small = OccupancyConfig(dedup_capacity=3)
    state = OccupancyState()
    for i in range(5):
        apply_visit(state, arrival(T0 + i, event_id=f"id{i}"), small)
    assert list(state.recent_event_ids) == ["id2", "id3", "id4"]


# --- windows ---------------------------------------------------------------------------------


def test_window_edges_have_bucket_resolution() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0 + 30), CFG)  # minute bucket [T0, T0+60), quarter [T0, T0+900)
    at_15m_edge = T0 + 30 + 900
    assert snapshot(state, at_15m_edge, None, CFG).visits_15m == 1  # exactly 15 min old
    assert snapshot(state, T0 + 60 + 900 - 0.001, None, CFG).visits_15m == 1  # within 1 min
    assert snapshot(state, T0 + 60 + 900, None, CFG).visits_15m == 0
    assert snapshot(state, T0 + 60 + H, None, CFG).visits_1h == 0
    assert snapshot(state, T0 + 900 + 24 * H - 0.001, None, CFG).visits_24h == 1
    assert snapshot(state, T0 + 900 + 24 * H, None, CFG).visits_24h == 0


def test_departures_are_not_visits() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 2), CFG)
    apply_visit(state, departure(T0 + 5, 2), CFG)
    snap = snapshot(state, T0 + 5, None, CFG)
    assert (snap.visits_15m, snap.visits_1h, snap.visits_24h) == (2, 2, 2)


def test_state_stays_bounded_over_days_of_traffic() -> None:
    state = OccupancyState()
    for minute in range(3 * 24 * 60):  # three days, 3 arrivals and 2 departures a minute
        ts = T0 + minute * 60.0
        apply_visit(state, arrival(ts, 3), CFG)
        apply_visit(state, departure(ts + 30, 2), CFG)
    assert len(state.cohorts) <= CFG.max_dwell_seconds / CFG.cohort_seconds + 2
    assert len(state.minute_arrivals) <= 62
    assert len(state.quarter_arrivals) <= 98
    assert len(state.recent_event_ids) <= 2 * (CFG.allowed_lateness_seconds / 60 + 2)
    snap = snapshot(state, state.high_ts or 0.0, None, CFG)
    # Exact counts plus at most one more bucket at the old edge of each window.
    assert 45 <= snap.visits_15m <= 45 + 3
    assert 180 <= snap.visits_1h <= 180 + 3
    assert 24 * 180 <= snap.visits_24h <= 24 * 180 + 15 * 3


# --- utilisation, serialisation, roll-up ----------------------------------------------------


def test_utilisation_against_capacity() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0, 150), CFG)
    assert snapshot(state, T0, 100, CFG).utilisation == 1.5
    assert snapshot(state, T0, None, CFG).utilisation is None
    assert snapshot(state, T0, 0, CFG).utilisation is None


def test_state_round_trips_through_json() -> None:
    state = OccupancyState()
    apply_visit(state, arrival(T0 + 600, 2), CFG)
    apply_visit(state, arrival(T0 + 30, 1), CFG)  # out of order
    apply_visit(state, departure(T0 + 700), CFG)
    apply_headcount(state, 4, T0 + 650, CFG)
    restored = OccupancyState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    assert list(restored.minute_arrivals) == list(state.minute_arrivals)
    assert OccupancyState.from_dict({}) == OccupancyState()


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        OccupancyConfig(max_dwell_seconds=0)
    with pytest.raises(ValueError):
        OccupancyConfig(allowed_lateness_seconds=5 * H)
    with pytest.raises(ValueError):
        OccupancyConfig(dedup_capacity=0)


@dataclass(frozen=True)
class Op:
    """One step of a generated history: a visit, a headcount, or a replay of an earlier id."""

    kind: str  # "arrival" | "departure" | "headcount" | "replay" | "tick" (clock only)
    offset: float  # seconds after the previous step's clock (may be negative: out of order)
    people: int


ops = st.lists(
    st.builds(
        Op,
        kind=st.sampled_from(["arrival", "arrival", "departure", "headcount", "replay"]),
        offset=st.one_of(
            st.floats(-900, 900), st.floats(0, 3 * H), st.sampled_from([0.0, 300.0, -600.0])
        ),
        people=st.integers(0, 20),
    ),
    max_size=80,
)


@dataclass
class Run:
    """The state after a generated history plus what a brute-force model needs to check it."""

    state: OccupancyState
    applied_arrivals: list[Visit]
    headcounts: int
    clock: float


def run(history: list[Op], *, with_headcounts: bool = True) -> Run:
    state = OccupancyState()
    clock = T0
    seen: list[Visit] = []
    applied: list[Visit] = []
    headcounts = 0
    for i, op in enumerate(history):
        clock += op.offset
        if op.kind == "headcount" and with_headcounts:
            headcounts += apply_headcount(state, op.people, clock, CFG) is Applied.APPLIED
            continue
        if op.kind == "tick" or (op.kind == "replay" and not seen):
            continue
        if op.kind == "replay":
            visit = seen[op.people % len(seen)]
        else:
            kind: VisitKind = "departure" if op.kind == "departure" else "arrival"
            visit = Visit(f"v{i}", clock, kind, max(1, op.people))
        outcome = apply_visit(state, visit, CFG)
        seen.append(visit)
        if outcome.result is Applied.APPLIED and visit.kind == "arrival":
            applied.append(visit)
    return Run(state, applied, headcounts, clock)


def counting_at(arrivals: list[Visit], at: float) -> int:
    """Arrivals a perfect model still counts at ``at`` (cohort end + max dwell rule)."""
    return sum(
        v.people
        for v in arrivals
        if (v.ts // CFG.cohort_seconds) * CFG.cohort_seconds
        + CFG.cohort_seconds
        + CFG.max_dwell_seconds
        > at
    )


@settings(max_examples=300)
@given(ops, st.floats(0, 30 * H))
def test_people_inside_is_never_negative_and_windows_are_nested(
    history: list[Op], later: float
) -> None:
    result = run(history)
    for at in (result.clock, (result.state.high_ts or T0) + later):
        snap = snapshot(result.state, at, 50, CFG)
        assert snap.people_inside >= 0
        assert 0 <= snap.visits_15m <= snap.visits_1h <= snap.visits_24h


@settings(max_examples=300)
@given(ops, st.floats(0, 30 * H))
def test_without_headcounts_people_inside_never_exceeds_arrivals_in_the_dwell_window(
    history: list[Op], later: float
) -> None:
    result = run(history, with_headcounts=False)
    for at in (result.state.high_ts or T0, (result.state.high_ts or T0) + later):
        assert snapshot(result.state, at, None, CFG).people_inside <= counting_at(
            result.applied_arrivals, at
        )


@settings(max_examples=200)
@given(ops)
def test_without_departures_people_inside_is_exactly_the_arrivals_in_the_dwell_window(
    history: list[Op],
) -> None:
    arrivals_only = [op for op in history if op.kind in ("arrival", "replay")]
    result = run(arrivals_only)
    at = result.state.high_ts or T0
    assert snapshot(result.state, at, None, CFG).people_inside == counting_at(
        result.applied_arrivals, at
    )


@settings(max_examples=300)
@given(ops)
def test_visit_windows_match_a_brute_force_count_within_one_bucket(history: list[Op]) -> None:
    result = run(history)
    at = result.state.high_ts or T0
    snap = snapshot(result.state, at, None, CFG)
    for got, window, width in (
        (snap.visits_15m, 900.0, 60.0),
        (snap.visits_1h, H, 60.0),
        (snap.visits_24h, 24 * H, 900.0),
    ):
        exact = sum(v.people for v in result.applied_arrivals if at - window < v.ts)
        widest = sum(v.people for v in result.applied_arrivals if at - window - width < v.ts)
        assert exact <= got <= widest


@settings(max_examples=300)
@given(ops)
def test_replaying_any_event_changes_nothing(history: list[Op]) -> None:
    # The same history with every replay turned into a mere clock step.
    baseline = run([op if op.kind != "replay" else Op("tick", op.offset, 0) for op in history])
    assert run(history).state.to_dict() == baseline.state.to_dict()


@settings(max_examples=200)
@given(ops, st.integers(0, 500), st.floats(0.001, 600))
def test_a_headcount_sets_people_inside(history: list[Op], headcount: int, after: float) -> None:
    result = run(history)
    ts = (result.state.high_ts or T0) + after
    assert apply_headcount(result.state, headcount, ts, CFG) is Applied.APPLIED
    assert snapshot(result.state, ts, None, CFG).people_inside == headcount


@settings(max_examples=200)
@given(ops)
def test_everyone_expires_after_max_dwell_past_the_last_event(history: list[Op]) -> None:
    result = run(history)
    end = (result.state.high_ts or T0) + CFG.max_dwell_seconds + CFG.cohort_seconds
    assert snapshot(result.state, end, None, CFG).people_inside == 0


@settings(max_examples=200)
@given(ops)
def test_state_is_bounded_and_json_serialisable(history: list[Op]) -> None:
    state = run(history).state
    assert state == OccupancyState.from_dict(json.loads(json.dumps(state.to_dict())))
    span = CFG.max_dwell_seconds + CFG.allowed_lateness_seconds
    assert len(state.cohorts) <= span / CFG.cohort_seconds + 2
    assert len(state.minute_arrivals) <= (H + CFG.allowed_lateness_seconds) / 60 + 2
    assert len(state.quarter_arrivals) <= 24 * 4 + 2
