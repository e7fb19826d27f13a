"""Alerts judged on each task's stream time: a point's messages give the same alert events,
rows and outputs however the input topics interleave on arrival, however they are split into
batches, and across restarts (in-process, over a fake Kafka log; see ``task_harness``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.alerting.outbox import DeliveryPolicy, Outbox
from streams.domain.points import PointInfo
from streams.domain.staleness import StalenessConfig
from streams.domain.timestamps import iso
from streams.kafka import topics
from tests.unit.task_harness import T0, Worker, order, report, visit

H = 3600.0
THRESHOLD = StalenessConfig().silence_threshold("permanent")
INPUTS = (topics.TELEMETRY, topics.VISITS, topics.ACTIVATIONS)


# --- the property: any interleaving of the topics, any batch split, any restart --------------

_gap = st.one_of(st.integers(30, 60), st.integers(30, 60), st.integers(30, 60),
                 st.integers(400, 2400))
_report = st.tuples(_gap, st.sampled_from(["grid", "grid", "generator", "none"]),
                    st.sampled_from(["open", "open", "standby", "closed"]),
                    st.none() | st.integers(0, 80))


@st.composite
def point_messages(draw: st.DrawFn, point_id: str) -> dict[str, list[dict[str, Any]]]:
    """One point's telemetry, visits and orders, each topic in its own ts order."""
    ts, fuel = T0, draw(st.floats(20.0, 200.0))
    reports = []
    for gap, power, status, headcount in draw(st.lists(_report, min_size=1, max_size=40)):
        ts += gap
        running = power == "generator"
        fuel = max(0.0, fuel - (gap / 3600.0) * 8.0 if running else fuel)
        reports.append(report(point_id, ts, power=power, generator_running=running,
                              fuel_level_l=round(fuel, 1), status=status,
                              headcount=headcount))
    span = max(ts - T0, 60.0)
    visit_times = sorted(draw(st.lists(st.floats(0, span), max_size=12)))
    visits = [visit(point_id, T0 + t, draw(st.sampled_from(["arrival", "departure"])),
                    draw(st.integers(1, 30)), f"{point_id}-{i}")
              for i, t in enumerate(visit_times)]
    order_times = sorted(draw(st.lists(st.floats(0, span), max_size=4)))
    orders = [order(point_id, T0 + t, draw(st.sampled_from(["activate", "stand_down"])))
              for t in order_times]
    return {topics.TELEMETRY: reports, topics.VISITS: visits, topics.ACTIVATIONS: orders}


def _outputs(worker: Worker) -> dict[str, Any]:
    """What must not depend on arrival or batching: alert events, forecast and occupancy rows,
    ``points.state`` messages."""
    states = [(key, value) for topic, key, value in worker.published
              if topic == topics.POINT_STATE]
    return {
        "alerts": sorted(worker.history()),
        "forecasts": sorted(repr(sorted(row.items())) for row in
                             worker.rows(topics.FUEL_FORECAST)),
        "occupancy": sorted(repr(sorted(row.items())) for row in worker.rows(topics.OCCUPANCY)),
        "states": sorted(states),
    }


@settings(max_examples=60, deadline=None)
@given(
    per_point=st.fixed_dictionaries({p: point_messages(p) for p in ("kyiv-001", "kyiv-002")}),
    picks=st.lists(st.tuples(st.sampled_from(INPUTS), st.integers(1, 40)), max_size=40),
    restart_at=st.integers(0, 40),
)
def test_any_interleaving_of_the_topics_batch_split_and_restart_gives_the_same_outputs(
    per_point: dict[str, dict[str, list[dict[str, Any]]]],
    picks: list[tuple[str, int]], restart_at: int,
) -> None:
    def produced(worker: Worker) -> None:
        for topic in INPUTS:  # both points on one partition: one task, one stream time
            worker.produce(topic, sorted((m for p in per_point.values() for m in p[topic]),
                                         key=lambda m: m["_ts"]))

    one_by_one = Worker()  # every message delivered alone, in event-time order
    produced(one_by_one)
    merged = sorted((m["_ts"], INPUTS.index(topic), topic) for p in per_point.values()
                     for topic in INPUTS for m in p[topic])
    for _, _, topic in merged:
        one_by_one.deliver(topic, 1)
    one_by_one.deliver_all()

    arrived = Worker()  # topics arriving in any interleaving, in batches of any size
    produced(arrived)
    for i, (topic, n) in enumerate(picks):
        if i == restart_at:
            arrived = arrived.restarted()
        arrived.deliver(topic, n)
    arrived.deliver_all()

    assert _outputs(arrived) == _outputs(one_by_one)


# --- the partition group: merge order and the idle wait -------------------------------------


def test_a_deadline_waits_for_the_orders_still_queued_on_its_partition() -> None:
    worker = Worker()
    worker.produce(topics.ACTIVATIONS, [order("kyiv-001", T0),
                                        order("kyiv-001", T0 + H, "stand_down")])
    worker.produce(topics.TELEMETRY, [report("kyiv-001", T0 + t, status="standby")
                                      for t in range(60, 3 * 3600, 60)])
    worker.deliver(topics.ACTIVATIONS, 1)  # the stand-down is still in Kafka
    worker.deliver(topics.TELEMETRY)  # reports past the deadline: held back for the merge
    assert worker.pipeline.buffered > 0 and _overdue(worker) == []
    worker.deliver(topics.ACTIVATIONS)
    assert worker.pipeline.buffered == 0 and _overdue(worker) == []


def test_an_input_read_to_its_end_holds_the_task_back_only_for_the_idle_wait() -> None:
    worker = Worker(max_task_idle_seconds=2.0)
    worker.produce(topics.TELEMETRY, [report("kyiv-001", T0 + t) for t in (60, 120)])
    worker.deliver(topics.TELEMETRY)
    assert worker.pipeline.buffered == 2  # an order may be being produced right now
    worker.clock += 1.9
    worker.run()
    assert worker.pipeline.buffered == 2
    worker.clock += 0.2  # the idle wait is over: stream time moves on without the orders
    worker.run()
    assert worker.pipeline.buffered == 0


def test_a_report_at_its_deadline_is_in_time_whichever_topic_is_read_first() -> None:
    worker = Worker()
    worker.produce(topics.TELEMETRY, [report("kyiv-001", T0 + 7200, status="open")])
    worker.produce(topics.ACTIVATIONS, [order("kyiv-001", T0)])
    worker.deliver(topics.TELEMETRY)
    worker.deliver(topics.ACTIVATIONS)
    assert _overdue(worker) == []  # opened exactly at its deadline: on time


# --- stream time, deadlines and late data ------------------------------------------------


def test_a_gap_in_one_batch_is_a_silence_from_threshold_to_the_next_report() -> None:
    worker = Worker()
    times = [T0, T0 + 30, T0 + 60, T0 + 60 + 2400, T0 + 60 + 2430]
    worker.feed([[report("kyiv-001", t) for t in times]])  # one batch: a backlog
    silent = [a for a in worker.alerts if a["alertname"] == "point_silent"]
    assert [a["status"] for a in silent] == ["firing", "resolved"]
    started = datetime.fromisoformat(silent[0]["starts_at"]).timestamp()
    ended = datetime.fromisoformat(silent[1]["ends_at"]).timestamp()
    assert started == T0 + 60 + THRESHOLD
    assert ended == T0 + 60 + 2400
    assert silent[0]["ts"] == silent[0]["starts_at"]  # stored with its true firing time


def test_a_condition_inside_a_batch_fires_and_resolves_at_its_event_times() -> None:
    worker = Worker()
    # No power from minute 10 to minute 30 (pending 5 min, clearing 5 min), all in one batch.
    msgs = [
        report("kyiv-001", T0 + 60 * m, power="none" if 10 <= m < 30 else "grid")
        for m in range(0, 45)
    ]
    worker.feed([msgs])
    no_power = [a for a in worker.alerts if a["alertname"] == "no_power"]
    assert [a["status"] for a in no_power] == ["firing", "resolved"]
    assert datetime.fromisoformat(no_power[0]["starts_at"]).timestamp() == T0 + 600
    assert datetime.fromisoformat(no_power[1]["ends_at"]).timestamp() == T0 + 1800


def test_a_message_later_than_the_allowed_lateness_is_counted_and_rewrites_no_history() -> None:
    worker = Worker()
    worker.feed([[report("kyiv-001", T0 + 60 * m) for m in range(0, 30)]])
    before = worker.history(), dict(worker.table)
    # 29 minutes behind stream time (the lateness allowed is 10): a power loss long over.
    worker.feed([[report("kyiv-001", T0 + 60, power="none")]])
    assert (worker.history(), dict(worker.table)) == before
    assert worker.metrics.late_events.labels(topics.TELEMETRY)._value.get() == 1
    # Within the lateness, it is applied (its point's record takes it).
    worker.feed([[report("kyiv-002", T0 + 60 * 25)]])
    assert "kyiv-002" in worker.table
    assert worker.metrics.late_events.labels(topics.TELEMETRY)._value.get() == 1


def test_an_episode_over_when_found_pages_as_resolved_with_its_true_times() -> None:
    worker = Worker()
    outbox = Outbox(DeliveryPolicy())
    times = [T0, T0 + 30, T0 + 3000, T0 + 3030]  # a silence found in a backlog
    worker.feed([[report("kyiv-001", t) for t in times]])
    for event in worker.events:
        outbox.offer(event, now=T0 + 10_000)
    batch = outbox.due(T0 + 10_000)
    assert batch is not None
    [alert] = batch.alerts
    assert alert["labels"]["alertname"] == "point_silent"
    assert datetime.fromisoformat(alert["startsAt"]).timestamp() == T0 + 30 + THRESHOLD
    assert datetime.fromisoformat(alert["endsAt"]).timestamp() == T0 + 3000  # nobody is woken
    assert [a["status"] for a in worker.alerts] == ["firing", "resolved"]


def test_stream_time_finds_an_ongoing_silence_at_its_event_time() -> None:
    worker = Worker()
    worker.feed([[report("kyiv-001", T0 + t) for t in (0, 30, 60)]
                 + [report("kyiv-002", T0 + t) for t in range(0, 1230, 30)]])
    silent = [a for a in worker.alerts if a["alertname"] == "point_silent"]
    assert [(a["point_id"], a["status"]) for a in silent] == [("kyiv-001", "firing")]
    assert datetime.fromisoformat(silent[0]["starts_at"]).timestamp() == T0 + 60 + THRESHOLD
    worker.feed([[report("kyiv-001", T0 + 1500)]])
    assert [a["status"] for a in worker.alerts if a["alertname"] == "point_silent"] == [
        "firing", "resolved"]


def test_another_partition_running_ahead_makes_no_point_silent() -> None:
    worker = Worker()
    worker.produce(topics.TELEMETRY, [report("kyiv-001", T0 + t) for t in range(0, 3 * 3600, 30)],
                   partition=1)
    worker.deliver(topics.TELEMETRY, 3, partition=1)  # the rest of partition 1 is still in Kafka
    worker.feed([[report("kyiv-002", T0 + t) for t in range(0, 3 * 3600, 30)]], partition=0)
    assert [a for a in worker.alerts if a["alertname"] == "point_silent"] == []
    worker.deliver_all()
    assert [a for a in worker.alerts if a["alertname"] == "point_silent"] == []


def test_in_event_time_a_partition_with_nothing_more_to_read_stands_still() -> None:
    worker = Worker()
    worker.feed([[report("kyiv-001", T0 + t) for t in (0, 30, 60)]], partition=1)
    worker.feed([[report("kyiv-002", T0 + t) for t in range(0, 3600, 30)]], partition=0)
    # Only its own messages move a task in event time (the wall clock would, in production).
    assert [a for a in worker.alerts if a["alertname"] == "point_silent"] == []


def test_the_wall_clock_moves_a_caught_up_task_and_no_other() -> None:
    worker = Worker(clock="wall")
    worker.wall = T0 + 60
    worker.feed([[report("kyiv-001", T0 + t) for t in (0, 30, 60)]], partition=1)
    worker.produce(topics.TELEMETRY, [report("kyiv-002", T0)], partition=0)  # not delivered
    worker.deliver(topics.TELEMETRY, 0, partition=0)
    worker.wall = T0 + 3600
    worker.run()
    silent = [a["point_id"] for a in worker.alerts if a["alertname"] == "point_silent"]
    assert silent == ["kyiv-001"]  # its task is caught up: the network truly went quiet


def test_points_read_after_newer_data_of_other_points_get_one_episode_at_most() -> None:
    points = [f"late-{i:03d}" for i in range(20)]
    directory_points = {p: PointInfo(p, f"Point {p}", "permanent", "Kyivska") for p in points}
    worker = Worker(extra=directory_points)
    # Minutes 0-9 of everyone; then a gateway's points upload minutes 10-39 only after the
    # others' minutes 10-39 were read (the same partition).
    worker.feed([[report(p, T0 + m * 60) for p in (*points, "kyiv-002")] for m in range(10)])
    worker.feed([[report("kyiv-002", T0 + m * 60)] for m in range(10, 40)])
    worker.feed([[report(p, T0 + m * 60) for p in points] for m in range(10, 40)])
    for p in points:
        events = [(a["status"], a["ts"]) for a in worker.alerts
                  if a["alertname"] == "point_silent" and a["point_id"] == p]
        assert [status for status, _ in events] == ["firing", "resolved"]
        assert events[0][1] != events[1][1]  # never fired and resolved at the same instant
    assert [a for a in worker.alerts if a["point_id"] == "kyiv-002"] == []


# --- activation orders ----------------------------------------------------------------------


def _overdue(worker: Worker) -> list[tuple[str, str | None, str | None]]:
    return [(h[2], h[4], h[5]) for h in worker.history() if h[1] == "activation_overdue"]


def _deliveries(worker: Worker, orders_first: bool, cut: int) -> None:
    if orders_first:
        worker.deliver(topics.ACTIVATIONS)
    worker.deliver(topics.TELEMETRY, cut)
    worker.deliver(topics.ACTIVATIONS)
    worker.deliver_all()


def _standby_reports(until: float, opens_at: float | None = None,
                     closes_at: float | None = None) -> list[dict[str, Any]]:
    def status(ts: float) -> str:
        is_open = opens_at is not None and ts >= opens_at and (closes_at is None or ts < closes_at)
        return "open" if is_open else "standby"

    return [report("kyiv-001", T0 + t, status=status(T0 + t)) for t in range(60, int(until), 60)]


@settings(max_examples=40, deadline=None)
@given(st.booleans(), st.integers(0, 300))
def test_a_late_opening_is_overdue_at_the_deadline_whichever_topic_is_read_first(
    orders_first: bool, cut: int,
) -> None:
    opens_at = T0 + 3 * H
    worker = Worker()
    worker.produce(topics.ACTIVATIONS, [order("kyiv-001", T0)])
    worker.produce(topics.TELEMETRY, _standby_reports(4 * H, opens_at))
    _deliveries(worker, orders_first, cut)
    assert _overdue(worker) == [("firing", iso(T0 + 2 * H), None),
                                ("resolved", iso(T0 + 2 * H), iso(opens_at))]


@settings(max_examples=40, deadline=None)
@given(st.booleans(), st.integers(0, 300))
def test_a_stand_down_after_the_deadline_resolves_activation_overdue_at_its_ts(
    orders_first: bool, cut: int,
) -> None:
    stood_down_at = T0 + 3 * H
    worker = Worker()
    worker.produce(topics.ACTIVATIONS, [order("kyiv-001", T0),
                                        order("kyiv-001", stood_down_at, "stand_down")])
    worker.produce(topics.TELEMETRY, _standby_reports(4 * H))
    _deliveries(worker, orders_first, cut)
    assert _overdue(worker) == [("firing", iso(T0 + 2 * H), None),
                                ("resolved", iso(T0 + 2 * H), iso(stood_down_at))]
    assert "activation_overdue" not in _firing(worker, "kyiv-001")


def test_a_stand_down_before_the_deadline_raises_nothing() -> None:
    worker = Worker()
    worker.produce(topics.ACTIVATIONS, [order("kyiv-001", T0),
                                        order("kyiv-001", T0 + H, "stand_down")])
    worker.produce(topics.TELEMETRY, _standby_reports(4 * H))
    _deliveries(worker, orders_first=False, cut=200)
    assert _overdue(worker) == []


def test_a_point_that_opened_on_time_and_closed_again_is_not_overdue() -> None:
    worker = Worker()
    worker.produce(topics.ACTIVATIONS, [order("kyiv-001", T0 + 600)])
    worker.produce(topics.TELEMETRY, _standby_reports(4 * H, T0 + 30 * 60, T0 + H))
    _deliveries(worker, orders_first=False, cut=1000)  # every report delivered first
    assert _overdue(worker) == []


def test_an_order_with_no_report_is_tracked_from_its_ts_and_overdue_at_its_deadline() -> None:
    worker = Worker()
    worker.process(topics.ACTIVATIONS, [order("lviv-003", T0)])
    # Other points move stream time on; lviv-003 never reports.
    worker.feed([[report("kyiv-002", T0 + t) for t in range(60, 2 * 3600 + 600, 60)]])
    history = [(h[1], h[2], h[4]) for h in worker.history() if h[0] == "lviv-003"]
    assert sorted(history) == [("activation_overdue", "firing", iso(T0 + 2 * H)),
                               ("point_silent", "firing", iso(T0 + THRESHOLD))]
    worker.process(topics.ACTIVATIONS, [order("lviv-003", T0 + 2 * H + 300, "stand_down")])
    assert [status for status, _, _ in _overdue(worker)] == ["firing", "resolved"]


def _firing(worker: Worker, point_id: str) -> set[str]:
    """The alertnames firing on the point in its stored record."""
    stored = worker.table[point_id]["alerts"]["alerts"]
    return {name for name, s in stored.items() if s["phase"] == "firing"}
