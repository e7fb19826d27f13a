"""The stream task's parts on their own: the partition group's merge and idle wait, the timer
queue."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.worker.task import PartitionGroup, TimerQueue

INPUTS = ("orders", "reports")


def test_the_group_hands_out_the_smallest_timestamp_first() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=5.0)
    group.add("reports", 10.0, "r10")
    group.add("reports", 30.0, "r30")
    group.add("orders", 20.0, "o20")
    popped = [group.pop(set(INPUTS), 0.0) for _ in range(3)]
    assert [p[2] for p in popped if p] == ["r10", "o20", "r30"]
    assert group.pop(set(INPUTS), 0.0) is None


def test_equal_timestamps_go_in_the_inputs_order() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=5.0)
    group.add("reports", 10.0, "r")
    group.add("orders", 10.0, "o")
    assert [group.pop(set(INPUTS), 0.0), group.pop(set(INPUTS), 0.0)] == [
        ("orders", 10.0, "o"), ("reports", 10.0, "r")]


def test_an_empty_input_not_caught_up_holds_the_others_for_the_idle_wait_only() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=5.0)
    group.add("reports", 10.0, "r")
    assert group.pop({"reports"}, now=100.0) is None  # orders may still come
    assert group.pop({"reports"}, now=104.9) is None
    assert group.pop({"reports"}, now=105.0) == ("reports", 10.0, "r")


def test_an_empty_input_caught_up_holds_nothing_back() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=5.0)
    group.add("reports", 10.0, "r")
    assert group.pop(set(INPUTS), now=0.0) == ("reports", 10.0, "r")


def test_the_idle_wait_starts_again_once_the_input_had_data() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=5.0)
    group.add("reports", 10.0, "r1")
    assert group.pop({"reports"}, now=0.0) is None
    group.add("orders", 5.0, "o")
    assert group.pop({"reports"}, now=1.0) == ("orders", 5.0, "o")
    assert group.pop({"reports"}, now=1.0) is None  # waiting afresh from 1.0
    assert group.pop({"reports"}, now=6.0) == ("reports", 10.0, "r1")


streams_of = st.lists(st.floats(0, 1000), max_size=20)


@given(streams_of, streams_of)
def test_with_every_input_present_the_merge_keeps_each_input_s_order(
    orders: list[float], reports: list[float]
) -> None:
    group: PartitionGroup[tuple[str, int]] = PartitionGroup(INPUTS, max_idle_seconds=1e9)
    for i, ts in enumerate(orders):
        group.add("orders", ts, ("orders", i))
    for i, ts in enumerate(reports):
        group.add("reports", ts, ("reports", i))
    merged = []
    while (popped := group.pop(set(INPUTS), 0.0)) is not None:
        merged.append(popped[2])
    assert len(merged) == len(orders) + len(reports)
    for name in INPUTS:
        indices = [i for n, i in merged if n == name]
        assert indices == sorted(indices)


def test_timers_fire_in_time_order_and_a_rescheduled_one_only_at_its_new_time() -> None:
    timers = TimerQueue()
    timers.schedule("a", 30.0)
    timers.schedule("b", 10.0)
    timers.schedule("a", 20.0)  # replaces 30
    timers.schedule("c", 15.0)
    timers.schedule("c", None)  # cancelled
    assert timers.pop_due(25.0) == (10.0, "b")
    assert timers.pop_due(25.0) == (20.0, "a")
    assert timers.pop_due(100.0) is None
    assert len(timers) == 0


def test_a_deadline_at_the_bound_fires_only_when_inclusive() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    assert timers.pop_due(10.0, inclusive=False) is None
    assert timers.pop_due(10.0) == (10.0, "a")
