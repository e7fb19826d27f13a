"""The stream task's parts on their own: the partition group's merge and idle wait, the timer
queue."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.worker.task import PartitionGroup, TimerQueue

INPUTS = ("orders", "reports")


def test_the_group_hands_out_the_smallest_timestamp_first() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=0.0)
    group.add("reports", 10.0, "r10", 0.0)
    group.add("reports", 30.0, "r30", 0.0)
    group.add("orders", 20.0, "o20", 0.0)
    popped = [group.pop(set(INPUTS), 0.0) for _ in range(3)]
    assert [p[2] for p in popped if p] == ["r10", "o20", "r30"]
    assert group.pop(set(INPUTS), 0.0) is None


def test_equal_timestamps_go_in_the_inputs_order() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=0.0)
    group.add("reports", 10.0, "r", 0.0)
    group.add("orders", 10.0, "o", 0.0)
    assert [group.pop(set(INPUTS), 0.0), group.pop(set(INPUTS), 0.0)] == [
        ("orders", 10.0, "o"), ("reports", 10.0, "r")]


def test_an_empty_input_kafka_holds_more_of_is_always_waited_for() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=5.0)
    group.add("reports", 10.0, "r", 100.0)
    assert group.pop({"reports"}, now=100.0) is None  # orders are on their way
    assert group.pop({"reports"}, now=10_000.0) is None
    assert group.pop(set(INPUTS), now=10_000.0) == ("reports", 10.0, "r")


def test_a_message_waits_the_idle_time_for_an_input_read_to_its_end() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=5.0)
    group.add("reports", 10.0, "r", 100.0)
    assert group.pop(set(INPUTS), now=104.9) is None  # an order may be being produced
    group.add("orders", 5.0, "o", 104.9)  # ... and here it is: it goes first
    assert group.pop(set(INPUTS), now=104.9) == ("orders", 5.0, "o")
    assert group.pop(set(INPUTS), now=104.9) is None
    assert group.pop(set(INPUTS), now=105.0) == ("reports", 10.0, "r")


def test_an_empty_input_read_to_its_end_holds_nothing_back_without_an_idle_wait() -> None:
    group: PartitionGroup[str] = PartitionGroup(INPUTS, max_idle_seconds=0.0)
    group.add("reports", 10.0, "r", 0.0)
    assert group.pop(set(INPUTS), now=0.0) == ("reports", 10.0, "r")


streams_of = st.lists(st.floats(0, 1000), max_size=20)


@given(streams_of, streams_of)
def test_with_every_input_present_the_merge_keeps_each_input_s_order(
    orders: list[float], reports: list[float]
) -> None:
    group: PartitionGroup[tuple[str, int]] = PartitionGroup(INPUTS, max_idle_seconds=0.0)
    for i, ts in enumerate(orders):
        group.add("orders", ts, ("orders", i), 0.0)
    for i, ts in enumerate(reports):
        group.add("reports", ts, ("reports", i), 0.0)
    merged = []
    while (popped := group.pop(set(INPUTS), 0.0)) is not None:
        merged.append(popped[2])
    assert len(merged) == len(orders) + len(reports)
    for name in INPUTS:
        indices = [i for n, i in merged if n == name]
        assert indices == sorted(indices)


def test_timers_fire_in_time_order_and_an_earlier_deadline_replaces_a_later_one() -> None:
    timers = TimerQueue()
    timers.schedule("a", 30.0)
    timers.schedule("b", 10.0)
    timers.schedule("a", 20.0)  # earlier: replaces 30
    timers.schedule("c", 15.0)
    timers.schedule("c", None)  # cancelled
    assert timers.pop_due(25.0) == (10.0, "b")
    assert timers.pop_due(25.0) == (20.0, "a")
    assert timers.pop_due(100.0) is None
    assert len(timers) == 0


def test_a_deadline_moved_later_keeps_the_earlier_entry_for_its_owner_to_renew() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    timers.schedule("a", 40.0)  # a report moved the silence on: no new heap entry
    assert timers.pop_due(15.0) == (10.0, "a")  # the owner finds nothing due and renews it
    timers.schedule("a", 40.0)
    assert timers.pop_due(39.0) is None
    assert timers.pop_due(40.0) == (40.0, "a")


def test_a_deadline_at_the_bound_fires_only_when_inclusive() -> None:
    timers = TimerQueue()
    timers.schedule("a", 10.0)
    assert timers.pop_due(10.0, inclusive=False) is None
    assert timers.pop_due(10.0) == (10.0, "a")
