"""Stale status: silence per kind, activation deadlines, the lag guard, network counts."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.lag_guard import (
    LagGuardConfig,
    PartitionProgress,
    PipelineHealth,
    is_behind,
    pipeline_health,
    reference_time,
)
from streams.domain.staleness import (
    MAX_OPEN_RUNS,
    ActivationAction,
    ActivationResolved,
    LivenessState,
    PointLiveness,
    ReportStatus,
    StalenessConfig,
    count_states,
    judge_liveness,
    on_activation,
    on_registry,
    on_report,
)

CFG = StalenessConfig()
GUARD = LagGuardConfig()
T0 = 1_736_900_000.0
H = 3600.0
CAUGHT_UP = PipelineHealth(backlog_messages=0, watermark=None)


def reported(kind: str, *reports: tuple[float, ReportStatus]) -> LivenessState:
    """A point of ``kind`` whose reports were handled the moment they were sent."""
    state = on_registry(LivenessState(), kind, T0)
    for ts, status in reports:
        state, _ = on_report(state, ts, status, processed_at=ts)
    return state


def judge(state: LivenessState, now: float, health: PipelineHealth = CAUGHT_UP) -> PointLiveness:
    return judge_liveness(state, now, reference_time(now, health, GUARD), CFG)


# --- silence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "threshold"),
    [("permanent", 300.0), ("mobile", 600.0), ("standby", 900.0), ("pop-up", 900.0)],
)
def test_silence_threshold_depends_on_kind(kind: str, threshold: float) -> None:
    state = reported(kind, (T0, "open"))
    at_threshold = judge(state, T0 + threshold)
    assert at_threshold.liveness == "ok"
    assert at_threshold.silence_threshold_seconds == threshold
    past = judge(state, T0 + threshold + 0.5)
    assert (past.liveness, past.category, past.since) == ("silent", "silent", T0)
    assert past.age_seconds == threshold + 0.5


def test_thresholds_are_configurable_and_an_unregistered_point_gets_the_default() -> None:
    config = StalenessConfig(silence_after_seconds={"permanent": 60.0}, default_silence_seconds=120)
    state, _ = on_report(LivenessState(), T0, "open", T0)
    assert judge_liveness(state, T0 + 100, T0 + 100, config).liveness == "ok"
    assert judge_liveness(state, T0 + 121, T0 + 121, config).liveness == "silent"
    registered = on_registry(state, "permanent", T0)
    assert judge_liveness(registered, T0 + 61, T0 + 61, config).liveness == "silent"


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


# --- the lag guard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backlog", "watermark", "expected"),
    [
        (0, None, T0),  # caught up: the wall clock
        (0, T0 - 5000, T0),  # a stale watermark without backlog means nothing
        (10, T0 - 30, T0),  # small, fresh backlog: normal batching
        (10, T0 - 60, T0),  # exactly at the delay limit
        (10, T0 - 61, T0 - 61),  # backlog and the watermark trails: behind
        (5001, T0 - 1, T0 - 1),  # a large backlog is behind even if fresh
        (5000, T0 - 1, T0),  # exactly at the backlog limit
        (10, None, None),  # behind with no progress yet: do not judge
        (10, T0 + 100, T0),  # a watermark ahead of the clock (fast point clocks) is capped
        (6000, T0 + 100, T0),
    ],
)
def test_reference_time_table(
    backlog: int, watermark: float | None, expected: float | None
) -> None:
    assert reference_time(T0, PipelineHealth(backlog, watermark), GUARD) == expected


def test_pipeline_health_ignores_caught_up_partitions() -> None:
    health = pipeline_health(
        [
            PartitionProgress(0, T0 - 10, 0),  # idle and caught up: must not hold things back
            PartitionProgress(1, T0 - 600, 40),
            PartitionProgress(2, T0 - 900, 2),
            PartitionProgress(3, None, 0),
        ]
    )
    assert health == PipelineHealth(backlog_messages=42, watermark=T0 - 900)
    assert pipeline_health([PartitionProgress(0, T0 - 10, 0)]) == CAUGHT_UP
    assert pipeline_health([]) == CAUGHT_UP
    unknown = pipeline_health([PartitionProgress(0, None, 7), PartitionProgress(1, T0, 3)])
    assert unknown == PipelineHealth(backlog_messages=10, watermark=None)


def test_a_lagging_pipeline_does_not_report_false_silences() -> None:
    # 100 points reported until T0; the pipeline then stalled for 40 minutes and has
    # worked through the backlog up to T0 - 120.
    points = [reported("permanent", (T0 - 120, "open")) for _ in range(100)]
    now = T0 + 40 * 60
    behind = PipelineHealth(backlog_messages=2_000_000, watermark=T0 - 120)
    assert is_behind(now, behind, GUARD)
    counts = count_states(judge(p, now, behind) for p in points)
    assert (counts.silent, counts.open) == (0, 100)


def test_a_network_that_truly_goes_quiet_is_reported() -> None:
    points = [reported("permanent", (T0, "open")) for _ in range(100)]
    counts = count_states(judge(p, T0 + 301, CAUGHT_UP) for p in points)
    assert (counts.silent, counts.total) == (100, 100)


def test_only_points_quiet_on_the_watermark_are_silent_while_behind() -> None:
    quiet = reported("permanent", (T0 - 1000, "open"))
    busy = reported("permanent", (T0 - 10, "open"))
    behind = PipelineHealth(backlog_messages=10_000, watermark=T0)
    assert judge(quiet, T0 + 3600, behind).liveness == "silent"
    assert judge(busy, T0 + 3600, behind).liveness == "ok"


def test_judgement_is_suspended_without_a_reference() -> None:
    state, _ = on_activation(reported("standby", (T0, "standby")), "activate", T0)
    verdict = judge_liveness(state, T0 + 10 * H, None, CFG)
    assert (verdict.liveness, verdict.category) == ("unknown", "standby")
    assert not verdict.activation_overdue
    assert verdict.age_seconds is None


healths = st.builds(
    PipelineHealth,
    backlog_messages=st.integers(0, 10_000_000),
    watermark=st.none() | st.floats(T0 - 10 * H, T0 + 600),
)


@given(healths, st.floats(T0 - H, T0 + H))
def test_the_guard_only_holds_the_clock_back_while_backlog_remains(
    health: PipelineHealth, now: float
) -> None:
    reference = reference_time(now, health, GUARD)
    if health.backlog_messages == 0:
        assert reference == now
    if reference is None or reference < now:
        assert health.backlog_messages > 0
    assert reference is None or reference <= now
    if reference is not None and reference != now:
        assert reference == health.watermark


@given(st.integers(1, 10_000_000), st.floats(T0 - 10 * H, T0), st.floats(0, H))
def test_reference_time_never_decreases_as_the_watermark_advances(
    backlog: int, watermark: float, step: float
) -> None:
    now = T0
    before = reference_time(now, PipelineHealth(backlog, watermark), GUARD)
    after = reference_time(now, PipelineHealth(backlog, min(now, watermark + step)), GUARD)
    assert before is not None and after is not None
    assert after >= before


# --- activation ------------------------------------------------------------------------------


def test_an_activation_not_opened_within_two_hours_is_overdue() -> None:
    state = reported("standby", (T0, "standby"))
    state, resolved = on_activation(state, "activate", T0)
    assert resolved is None
    for ts in range(60, int(2 * H) + 1, 60):  # keeps reporting standby
        state, _ = on_report(state, T0 + ts, "standby", T0 + ts)
    in_time = judge(state, T0 + 2 * H)
    assert not in_time.activation_overdue
    assert in_time.activation_deadline_ts == T0 + 2 * H
    late = judge(state, T0 + 2 * H + 1)
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


def test_the_activation_deadline_is_judged_on_the_guarded_reference() -> None:
    state, _ = on_activation(reported("standby", (T0, "standby")), "activate", T0)
    now = T0 + 3 * H
    behind = PipelineHealth(backlog_messages=100_000, watermark=T0 + H)
    assert not judge(state, now, behind).activation_overdue
    assert judge(state, now).activation_overdue


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
@given(events, times, st.floats(0, 10 * H), st.floats(0, 10 * H), st.floats(0, 10 * H))
def test_verdicts_only_worsen_as_time_passes_without_news(
    history: list[Report | Order], start: float, wall_step: float, ref_step: float, lag: float
) -> None:
    state = replay_events(history)
    now = start + lag
    first = judge_liveness(state, now, start, CFG)
    later = judge_liveness(state, now + wall_step, start + ref_step, CFG)
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
    verdict = judge_liveness(state, T0 + 10 * H, T0 + 10 * H, CFG)
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
