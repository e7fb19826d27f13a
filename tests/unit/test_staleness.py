"""Stale status: silence per kind on stream time, activation deadlines, network counts."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.staleness import (
    MAX_OPEN_RUNS,
    ActivationAction,
    ActivationResolved,
    LivenessState,
    PointLiveness,
    ReportStatus,
    StalenessConfig,
    count_states,
    liveness_at,
    on_activation,
    on_registry,
    on_report,
)

CFG = StalenessConfig()
T0 = 1_736_900_000.0
H = 3600.0


def reported(kind: str, *reports: tuple[float, ReportStatus]) -> LivenessState:
    """A point of ``kind`` whose reports were handled the moment they were sent."""
    state = on_registry(LivenessState(), kind, T0)
    for ts, status in reports:
        state, _ = on_report(state, ts, status, processed_at=ts)
    return state


def judge(state: LivenessState, now: float) -> PointLiveness:
    return liveness_at(state, now, CFG)


# --- silence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "threshold"),
    [("permanent", 300.0), ("mobile", 600.0), ("standby", 900.0), ("pop-up", 900.0)],
)
def test_silence_threshold_depends_on_kind(kind: str, threshold: float) -> None:
    state = reported(kind, (T0, "open"))
    before = judge(state, T0 + threshold - 0.5)
    assert before.liveness == "ok"
    assert before.silence_threshold_seconds == threshold
    at_threshold = judge(state, T0 + threshold)  # the episode starts at the threshold itself
    assert (at_threshold.liveness, at_threshold.category, at_threshold.since) == (
        "silent", "silent", T0)
    assert at_threshold.age_seconds == threshold


def test_thresholds_are_configurable_and_an_unregistered_point_gets_the_default() -> None:
    config = StalenessConfig(silence_after_seconds={"permanent": 60.0}, default_silence_seconds=120)
    state, _ = on_report(LivenessState(), T0, "open", T0)
    assert liveness_at(state, T0 + 100, config).liveness == "ok"
    assert liveness_at(state, T0 + 121, config).liveness == "silent"
    registered = on_registry(state, "permanent", T0)
    assert liveness_at(registered, T0 + 61, config).liveness == "silent"


def test_a_point_that_never_reported_is_unknown_then_silent() -> None:
    state = on_registry(LivenessState(), "permanent", processed_at=T0)
    early = judge(state, T0 + 10)
    assert (early.liveness, early.category, early.since) == ("unknown", "unknown", T0)
    assert judge(state, T0 + 301).liveness == "silent"


def test_a_report_brings_a_silent_point_back() -> None:
    state = reported("permanent", (T0, "standby"))
    assert judge(state, T0 + 1000).liveness == "silent"
    state, _ = on_report(state, T0 + 1000, "open", T0 + 1000)
    verdict = judge(state, T0 + 1001)
    assert (verdict.liveness, verdict.category) == ("ok", "open")


def test_late_reports_do_not_move_last_seen_back_or_change_the_status() -> None:
    state = reported("permanent", (T0 + 100, "closed"))
    state, _ = on_report(state, T0, "open", T0 + 101)  # an older report, arriving late
    assert (state.last_seen_ts, state.last_status) == (T0 + 100, "closed")
    assert state.last_processed_at == T0 + 101


def test_a_point_with_a_slow_clock_is_not_silent_while_its_reports_keep_arriving() -> None:
    state = on_registry(LivenessState(), "permanent", T0)
    for i in range(10):  # stamped 20 min behind the clock, handled on time
        state, _ = on_report(state, T0 + i * 30 - 1200, "open", processed_at=T0 + i * 30)
    assert judge(state, T0 + 300).liveness == "ok"
    assert judge(state, T0 + 270 + 301).liveness == "silent"  # once they stop, it is


def test_a_network_that_truly_goes_quiet_is_reported() -> None:
    points = [reported("permanent", (T0, "open")) for _ in range(100)]
    counts = count_states(judge(p, T0 + 300) for p in points)
    assert (counts.silent, counts.total) == (100, 100)


# --- activation ------------------------------------------------------------------------------


def test_an_activation_not_opened_within_two_hours_is_overdue() -> None:
    state = reported("standby", (T0, "standby"))
    state, resolved = on_activation(state, "activate", T0)
    assert resolved is None
    for ts in range(60, int(2 * H) + 1, 60):  # keeps reporting standby
        state, _ = on_report(state, T0 + ts, "standby", T0 + ts)
    in_time = judge(state, T0 + 2 * H - 1)
    assert not in_time.activation_overdue
    assert in_time.activation_deadline_ts == T0 + 2 * H
    late = judge(state, T0 + 2 * H)  # overdue from the deadline itself
    assert late.activation_overdue
    assert late.liveness == "ok"  # reporting, just not open


def test_an_open_report_ends_the_wait_and_records_the_time_to_open() -> None:
    state = reported("standby", (T0, "standby"))
    state, _ = on_activation(state, "activate", T0 + 60)
    state, early = on_report(state, T0 + 50, "open", T0 + 3000)  # sent before the order
    assert early is None
    state, resolved = on_report(state, T0 + 60 + 2400, "open", T0 + 60 + 2400)
    assert resolved == ActivationResolved(T0 + 60, "opened", T0 + 2460, 2400.0)
    assert state.activation_requested_at is None
    assert not judge(state, T0 + 10 * H).activation_overdue


def test_an_opening_after_the_deadline_clears_overdue_and_is_recorded() -> None:
    state = reported("standby", (T0, "standby"))
    state, _ = on_activation(state, "activate", T0)
    assert judge(state, T0 + 3 * H).activation_overdue
    state, resolved = on_report(state, T0 + 3 * H, "open", T0 + 3 * H)
    assert resolved is not None and resolved.time_to_open_seconds == 3 * H
    assert not judge(state, T0 + 3 * H).activation_overdue


def test_a_stand_down_cancels_the_activation() -> None:
    state, _ = on_activation(reported("standby", (T0, "standby")), "activate", T0)
    state, resolved = on_activation(state, "stand_down", T0 + 600)
    assert resolved == ActivationResolved(T0, "stood_down", T0 + 600, None)
    assert not judge(state, T0 + 5 * H).activation_overdue
    state, again = on_activation(state, "activate", T0)  # the order, replayed
    assert again is None and state.activation_requested_at is None


def test_a_stand_down_older_than_the_activation_does_not_cancel_it() -> None:
    state, _ = on_activation(reported("standby"), "activate", T0)
    state, resolved = on_activation(state, "stand_down", T0 - 60)
    assert resolved is None
    assert state.activation_requested_at == T0


def test_an_activation_older_than_a_stand_down_handled_earlier_is_ignored() -> None:
    state, _ = on_activation(reported("standby"), "stand_down", T0)
    state, _ = on_activation(state, "activate", T0 - 60)
    assert state.activation_requested_at is None
    state, _ = on_activation(state, "activate", T0 + 60)
    assert state.activation_requested_at == T0 + 60


def test_a_repeated_order_does_not_push_the_deadline_back() -> None:
    state, _ = on_activation(reported("standby"), "activate", T0)
    state, _ = on_activation(state, "activate", T0 + H)
    assert judge(state, T0 + 2 * H + 1).activation_overdue


def test_an_order_handled_after_the_point_already_opened_is_settled_at_once() -> None:
    # Reports and orders travel on different topics: the order may be handled later.
    state = reported("standby", (T0, "standby"), (T0 + 600, "open"), (T0 + 660, "open"))
    state, resolved = on_activation(state, "activate", T0 + 300)
    assert resolved == ActivationResolved(T0 + 300, "opened", T0 + 600, 300.0)
    assert state.activation_requested_at is None
    # Already open before it was asked: opened at once.
    state = reported("permanent", (T0, "open"), (T0 + 600, "open"))
    _, resolved = on_activation(state, "activate", T0 + 300)
    assert resolved == ActivationResolved(T0 + 300, "opened", T0 + 300, 0.0)


# --- properties ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    ts: float
    status: ReportStatus


@dataclass(frozen=True)
class Order:
    ts: float
    action: ActivationAction


statuses: st.SearchStrategy[ReportStatus] = st.sampled_from(["open", "standby", "closed"])
actions: st.SearchStrategy[ActivationAction] = st.sampled_from(["activate", "stand_down"])
times = st.floats(T0 - 2 * H, T0 + 2 * H)
events = st.lists(
    st.one_of(st.builds(Report, times, statuses), st.builds(Order, times, actions)), max_size=30
)


def apply_event(
    state: LivenessState, event: Report | Order, handled: float
) -> tuple[LivenessState, ActivationResolved | None]:
    if isinstance(event, Report):
        return on_report(state, event.ts, event.status, handled)
    return on_activation(state, event.action, event.ts)


def replay_events(history: list[Report | Order]) -> LivenessState:
    state = on_registry(LivenessState(), "standby", T0 - 3 * H)
    for i, event in enumerate(history):
        state, _ = apply_event(state, event, T0 - 2 * H + i)
    return state


@settings(max_examples=300)
@given(events, times, st.floats(0, 10 * H))
def test_verdicts_only_worsen_as_time_passes_without_news(
    history: list[Report | Order], start: float, ref_step: float
) -> None:
    state = replay_events(history)
    first = liveness_at(state, start, CFG)
    later = liveness_at(state, start + ref_step, CFG)
    if first.liveness == "silent":
        assert later.liveness == "silent"
    if first.activation_overdue:
        assert later.activation_overdue
    if first.age_seconds is not None and later.age_seconds is not None:
        assert later.age_seconds >= first.age_seconds


@settings(max_examples=300)
@given(st.lists(st.tuples(times, statuses), min_size=1, max_size=20, unique_by=lambda r: r[0]))
def test_reports_merge_the_same_in_any_order(reports: list[tuple[float, ReportStatus]]) -> None:
    forward = reported("permanent", *reports)
    backward = reported("permanent", *reversed(reports))
    newest_ts, newest_status = max(reports)
    for state in (forward, backward):
        assert (state.last_seen_ts, state.last_status) == (newest_ts, newest_status)


@settings(max_examples=300)
@given(events)
def test_overdue_needs_a_pending_order_past_its_deadline(
    history: list[Report | Order],
) -> None:
    state = replay_events(history)
    verdict = liveness_at(state, T0 + 10 * H, CFG)
    assert verdict.activation_overdue == (state.activation_requested_at is not None)
    assert verdict.activation_requested_at is None or verdict.activation_requested_at <= T0 + 2 * H


@settings(max_examples=300)
@given(events)
def test_time_to_open_is_never_negative(history: list[Report | Order]) -> None:
    state = on_registry(LivenessState(), "standby", T0 - 3 * H)
    for event in history:
        state, resolved = apply_event(state, event, T0)
        if resolved is not None and resolved.time_to_open_seconds is not None:
            assert resolved.time_to_open_seconds >= 0
            assert resolved.resolved_at >= resolved.requested_at


# --- counts, serialisation, clocks -----------------------------------------------------------


def test_network_counts_by_category() -> None:
    now = T0 + 400
    states = [
        reported("permanent", (T0 + 350, "open")),
        reported("permanent", (T0 + 350, "open")),
        reported("standby", (T0 + 350, "standby")),
        reported("permanent", (T0 + 350, "closed")),
        reported("permanent", (T0, "open")),  # silent: 400 s > 300 s
        on_registry(LivenessState(), "mobile", T0 + 390),  # never reported yet
    ]
    pending, _ = on_activation(
        reported("standby", (T0 + 399, "standby")), "activate", T0 - 3 * H)
    verdicts = [judge(s, now) for s in [*states, pending]]
    counts = count_states(verdicts)
    assert (counts.total, counts.open, counts.standby, counts.closed) == (7, 2, 2, 1)
    assert (counts.silent, counts.unknown, counts.activation_overdue) == (1, 1, 1)
    assert count_states([]).total == 0


def test_state_round_trips_through_json() -> None:
    state, _ = on_activation(reported("standby", (T0, "open")), "activate", T0 + 5)
    restored = LivenessState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    assert LivenessState.from_dict({"kind": "mobile", "future_field": 1}).kind == "mobile"




def test_open_runs_survive_a_restart_and_stay_bounded() -> None:
    state = LivenessState()
    for i in range(20):  # open for a minute every ten minutes
        state, _ = on_report(state, T0 + i * 600, "open", processed_at=T0 + i * 600)
        state, _ = on_report(state, T0 + i * 600 + 60, "closed", processed_at=T0 + i * 600 + 60)
    assert len(state.open_runs) == MAX_OPEN_RUNS
    assert state.open_runs[-1] == (T0 + 19 * 600, T0 + 19 * 600 + 60)
    restored = LivenessState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
