"""Alerts judged in event time: the same reports give the same alert events, however they are
split into batches and interleaved with other points' reports (in-process, in-memory tables)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from streams.alerting.outbox import DeliveryPolicy, Outbox
from streams.config import Settings
from streams.domain.alert_model import AlertEvent
from streams.domain.alert_rules import AlertRules
from streams.domain.points import PointInfo
from streams.domain.staleness import StalenessConfig
from streams.domain.timestamps import iso
from streams.kafka import topics
from streams.sinks.kafka_outputs import OutputMessage
from streams.worker.checkpoint import Destinations
from streams.worker.components import build_pipeline
from streams.worker.metrics import PipelineMetrics
from streams.worker.point_directory import PointDirectory
from streams.worker.point_states import OneProcessScope

T0 = datetime(2026, 1, 10, 6, 0, tzinfo=UTC).timestamp()
POINTS = ("kyiv-001", "kyiv-002", "lviv-003")


class FakeSink:
    """Takes every row (the database refuses nothing here)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, Mapping[str, Any]]] = []

    async def write(self, topic: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self.rows.extend((topic, row) for row in rows)
        return len(rows)


class Worker:
    """The worker's computations over plain dicts for tables, with a fake sink and publisher."""

    def __init__(self, extra: Mapping[str, PointInfo] | None = None) -> None:
        self.published: list[OutputMessage] = []
        self.table: dict[str, Any] = {}
        self.events: list[AlertEvent] = []  # as offered to Alertmanager
        directory = PointDirectory(
            {
                p: PointInfo(p, f"Point {p}", "permanent", "Kyivska", capacity_people=50,
                             fuel_tank_l=200.0)
                for p in POINTS
            } | dict(extra or {})
        )

        async def publish(messages: list[OutputMessage]) -> None:
            self.published.extend(messages)

        # Wired by the code the worker runs (build_pipeline), in event-clock mode.
        self.pipeline = build_pipeline(
            Settings(clock="event"), AlertRules(), directory,
            Destinations(
                sink=FakeSink(),
                publish=publish,
                offer_alert=self.events.append,
                metrics=PipelineMetrics(CollectorRegistry()),
                deadletter_topic="points.deadletter",
            ),
            self.table, OneProcessScope(),
        )

    def feed(self, batches: Sequence[Sequence[dict[str, Any]]], partition: int = 0) -> None:
        for batch in batches:
            self.process(topics.TELEMETRY, batch, [partition] * len(batch))

    def process(self, topic: str, batch: Sequence[dict[str, Any]], partitions: list[int]) -> None:
        """One batch through the computations and its checkpoint, as the ingestor runs it."""
        checkpoint = self.pipeline.checkpoint()
        self.pipeline.process(topic, batch, partitions, checkpoint)
        asyncio.run(checkpoint.flush())

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The offered events as the ``alerts`` topic carries them."""
        return [event.to_message() for event in self.events]

    def history(self) -> list[tuple[str, str, str, str, str, str | None]]:
        return [
            (a["point_id"], a["alertname"], a["status"], a["ts"], a["starts_at"], a["ends_at"])
            for a in self.alerts
        ]


def telemetry_partitions(offsets: dict[int, int]) -> dict[tuple[str, int], int]:
    """Offsets of telemetry partitions, keyed as the timer's judgement takes them."""
    return {(topics.TELEMETRY, partition): offset for partition, offset in offsets.items()}


def report(point_id: str, ts: float, **fields: Any) -> dict[str, Any]:
    """A telemetry message as the contract's validation returns it (``_ts`` set)."""
    message = {
        "point_id": point_id,
        "ts": datetime.fromtimestamp(ts, UTC).isoformat(),
        "_ts": ts,
        "status": "open",
        "power": "grid",
        "generator_running": False,
        "fuel_level_l": None,
        "heating_on": True,
        "internet_up": True,
        "indoor_temp_c": 19.0,
        "headcount": None,
    }
    message.update(fields)
    return message


def batches_of(
    messages: Sequence[dict[str, Any]], cuts: Sequence[int]
) -> list[list[dict[str, Any]]]:
    bounds = sorted({c % (len(messages) + 1) for c in cuts} | {0, len(messages)})
    return [list(messages[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


# Reports every 30-60 s, sometimes a long gap (a silence), power lost and back, fuel burning.
_step = st.tuples(
    st.one_of(st.integers(30, 60), st.integers(30, 60), st.integers(30, 60),
              st.integers(400, 2400)),
    st.sampled_from(["grid", "grid", "generator", "none"]),
    st.booleans(),
)


@st.composite
def point_reports(draw: st.DrawFn, point_id: str) -> list[dict[str, Any]]:
    steps = draw(st.lists(_step, min_size=1, max_size=60))
    ts, fuel, out = T0, draw(st.floats(20.0, 200.0)), []
    for gap, power, internet in steps:
        ts += gap
        running = power == "generator"
        fuel = max(0.0, fuel - (gap / 3600.0) * 8.0 if running else fuel)
        out.append(report(point_id, ts, power=power, generator_running=running,
                          fuel_level_l=round(fuel, 1), internet_up=internet))
    return out


def _interleave(per_point: Mapping[str, list[dict[str, Any]]], order: Sequence[int]) -> Iterator[
    dict[str, Any]
]:
    queues = {p: list(ms) for p, ms in per_point.items()}
    names = sorted(queues)
    for pick in order:
        live = [p for p in names if queues[p]]
        if not live:
            return
        yield queues[live[pick % len(live)]].pop(0)
    for p in names:
        yield from queues[p]


@settings(max_examples=40, deadline=None)
@given(
    per_point=st.fixed_dictionaries({p: point_reports(p) for p in POINTS}),
    order=st.lists(st.integers(0, 10), max_size=200),
    cuts=st.lists(st.integers(0, 400), max_size=12),
    restart_at=st.integers(0, 12),
)
def test_any_split_interleaving_and_restart_gives_the_same_alert_events(
    per_point: dict[str, list[dict[str, Any]]], order: list[int], cuts: list[int],
    restart_at: int,
) -> None:
    one_by_one = Worker()
    one_by_one.feed([[m] for p in POINTS for m in per_point[p]])
    shuffled = list(_interleave(per_point, order))
    batches = batches_of(shuffled, cuts)
    batched = Worker()
    batched.feed(batches[:restart_at])
    # A restart: a new worker that knows only what the state table holds (read back as JSON).
    restarted = Worker()
    restarted.table.update(json.loads(json.dumps(batched.table)))
    restarted.events.extend(batched.events)  # what was offered before the restart
    restarted.feed(batches[restart_at:])
    batched = restarted

    def by_point(history: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
        grouped: dict[str, list[tuple[Any, ...]]] = {}
        for entry in history:
            grouped.setdefault(entry[0], []).append(entry)
        return grouped

    assert by_point(batched.history()) == by_point(one_by_one.history())


def test_a_gap_in_one_batch_is_a_silence_from_threshold_to_the_next_report() -> None:
    worker = Worker()
    times = [T0, T0 + 30, T0 + 60, T0 + 60 + 2400, T0 + 60 + 2430]
    worker.feed([[report("kyiv-001", t) for t in times]])  # one batch: a backlog
    silent = [a for a in worker.alerts if a["alertname"] == "point_silent"]
    assert [a["status"] for a in silent] == ["firing", "resolved"]
    threshold = StalenessConfig().silence_threshold("permanent")
    started = datetime.fromisoformat(silent[0]["starts_at"]).timestamp()
    ended = datetime.fromisoformat(silent[1]["ends_at"]).timestamp()
    assert started == T0 + 60 + threshold
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


def test_reports_out_of_order_in_a_batch_count_in_event_time_order() -> None:
    ordered, reversed_ = Worker(), Worker()
    msgs = [report("kyiv-001", T0 + 60 * m, power="none" if 5 <= m < 20 else "grid")
            for m in range(0, 30)]
    ordered.feed([msgs])
    reversed_.feed([list(reversed(msgs))])
    assert reversed_.history() == ordered.history()
    assert ordered.history()  # the scenario does raise an alert


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
    threshold = StalenessConfig().silence_threshold("permanent")
    assert datetime.fromisoformat(alert["startsAt"]).timestamp() == T0 + 30 + threshold
    assert datetime.fromisoformat(alert["endsAt"]).timestamp() == T0 + 3000  # nobody is woken
    stored = [a["status"] for a in worker.alerts]
    assert stored == ["firing", "resolved"]  # the history (alerts topic, alert_events) is whole


def _silence_scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    before = [report("kyiv-001", T0 + t) for t in (0, 30, 60)] + [
        report("kyiv-002", T0 + t) for t in range(0, 1230, 30)
    ]
    after = [report("kyiv-001", T0 + 1500)]
    return before, after


def test_the_timer_finds_an_ongoing_silence_at_its_event_time() -> None:
    before, after = _silence_scenario()
    timed = Worker()
    timed.feed([before])
    asyncio.run(timed.pipeline.judge(
        telemetry_partitions({0: 100}),
        telemetry_partitions({0: 100})))  # caught up: judged on event time
    silent = [a for a in timed.alerts if a["alertname"] == "point_silent"]
    assert [(a["point_id"], a["status"]) for a in silent] == [("kyiv-001", "firing")]
    threshold = StalenessConfig().silence_threshold("permanent")
    assert datetime.fromisoformat(silent[0]["starts_at"]).timestamp() == T0 + 60 + threshold
    timed.feed([after])
    # The same history as when the gap is found between reports, with no timer at all.
    untimed = Worker()
    untimed.feed([before + after])
    assert timed.history() == untimed.history()


def test_the_timer_judges_no_point_beyond_a_partition_still_being_read() -> None:
    before, _ = _silence_scenario()
    worker = Worker()
    worker.feed([[m for m in before if m["point_id"] == "kyiv-002"]], partition=0)
    worker.feed([[m for m in before if m["point_id"] == "kyiv-001"]], partition=1)
    # Partition 0 is caught up at T0 + 1200; partition 1 (kyiv-001) still has a backlog.
    asyncio.run(worker.pipeline.judge(
        telemetry_partitions({0: 100, 1: 5000}),
        telemetry_partitions({0: 100, 1: 3})))
    assert [a for a in worker.alerts if a["alertname"] == "point_silent"] == []
    asyncio.run(worker.pipeline.judge(
        telemetry_partitions({0: 100, 1: 5000}),
        telemetry_partitions({0: 100, 1: 5000})))  # now caught up
    # Its reports were heard when stream time stood at T0 + 1200: not silent yet ...
    assert [a for a in worker.alerts if a["alertname"] == "point_silent"] == []
    worker.feed([[report("kyiv-002", T0 + t) for t in range(1230, 1560, 30)]], partition=0)
    asyncio.run(worker.pipeline.judge(
        telemetry_partitions({0: 100, 1: 5000}),
        telemetry_partitions({0: 100, 1: 5000})))
    # ... but once unheard for its threshold of stream time, it is.
    assert [a["point_id"] for a in worker.alerts if a["alertname"] == "point_silent"] == [
        "kyiv-001"
    ]


def _activation(point_id: str, ts: float) -> dict[str, Any]:
    return {"point_id": point_id, "ts": datetime.fromtimestamp(ts, UTC).isoformat(), "_ts": ts,
            "action": "activate", "requested_by": "oblast-hub"}


def test_a_late_opening_is_overdue_at_the_deadline_whichever_topic_is_read_first() -> None:
    opens_at = T0 + 3 * 3600
    reports = [
        report("kyiv-001", T0 + t, status="open" if T0 + t >= opens_at else "standby")
        for t in range(60, 3 * 3600 + 600, 60)
    ]
    order = [_activation("kyiv-001", T0)]

    def run(reports_before_the_order: int) -> list[tuple[Any, ...]]:
        worker = Worker()
        worker.feed([reports[:reports_before_the_order]])
        worker.process(topics.ACTIVATIONS, order, [0])
        worker.feed([reports[reports_before_the_order:]])
        return [h for h in worker.history() if h[1] == "activation_overdue"]

    first = run(0)
    assert [h[2] for h in first] == ["firing", "resolved"]
    deadline = datetime.fromtimestamp(T0 + 2 * 3600, UTC)
    assert datetime.fromisoformat(first[0][4]) == deadline
    assert datetime.fromisoformat(str(first[1][5])) == datetime.fromtimestamp(opens_at, UTC)
    assert run(len(reports)) == first  # the order is read after every report (a backlog)
    # ... or after the reports that passed its deadline, before those that show the opening
    assert run(150) == first


def test_a_registry_batch_feeds_no_computation_and_raises_nothing() -> None:
    worker = Worker()
    entry = {"point_id": "kyiv-001", "name": "Point", "kind": "permanent", "oblast": "Kyivska",
             "hromada": "Kyivska", "lat": 50.45, "lon": 30.52, "capacity_people": 50,
             "fuel_tank_l": 200.0}  # no ts, no _ts: the registry has no event time
    worker.process(topics.REGISTRY, [entry], [0])
    assert worker.published == [] and worker.alerts == []


@settings(max_examples=60, deadline=None)
@given(
    ordered_at=st.integers(0, 120),  # minutes after the first report
    opens_after=st.integers(1, 240),  # minutes after the order (the deadline is 120)
    read_after=st.integers(0, 400),  # reports read before the order (the topics' interleaving)
    cut=st.integers(1, 400),  # batch size of the rest
)
def test_an_order_read_anywhere_among_the_reports_gives_the_same_alerts(
    ordered_at: int, opens_after: int, read_after: int, cut: int
) -> None:
    opens_at = T0 + (ordered_at + opens_after) * 60
    reports = [report("kyiv-001", T0 + m * 60, status="open" if T0 + m * 60 >= opens_at
                      else "standby") for m in range(400)]
    order = [_activation("kyiv-001", T0 + ordered_at * 60)]

    live = Worker()  # the order read when event time reaches it, one report at a time
    live.feed([[m] for m in reports if m["_ts"] < T0 + ordered_at * 60])
    live.process(topics.ACTIVATIONS, order, [0])
    live.feed([[m] for m in reports if m["_ts"] >= T0 + ordered_at * 60])

    backlog = Worker()
    backlog.feed([reports[:read_after]])
    backlog.process(topics.ACTIVATIONS, order, [0])
    rest = reports[read_after:]
    backlog.feed([rest[i:i + cut] for i in range(0, len(rest), cut)])

    assert backlog.history() == live.history()


def _stand_down(point_id: str, ts: float) -> dict[str, Any]:
    return {**_activation(point_id, ts), "action": "stand_down"}


def _overdue(worker: Worker) -> list[tuple[str, str | None, str | None]]:
    return [(h[2], h[4], h[5]) for h in worker.history() if h[1] == "activation_overdue"]


def test_a_stand_down_after_the_deadline_resolves_activation_overdue_at_its_ts() -> None:
    stood_down_at = T0 + 3 * 3600
    reports = [report("kyiv-001", T0 + t, status="standby") for t in range(60, 4 * 3600, 60)]

    live = Worker()  # every message read when event time reaches it
    live.process(topics.ACTIVATIONS, [_activation("kyiv-001", T0)], [0])
    live.feed([[m] for m in reports if m["_ts"] < stood_down_at])
    live.process(topics.ACTIVATIONS, [_stand_down("kyiv-001", stood_down_at)], [0])
    live.feed([[m] for m in reports if m["_ts"] >= stood_down_at])

    deadline, ended = T0 + 2 * 3600, stood_down_at
    assert _overdue(live) == [
        ("firing", iso(deadline), None),
        ("resolved", iso(deadline),
         iso(ended)),
    ]
    firing = firing_on_kyiv_001(live)
    assert "activation_overdue" not in firing  # nothing stays firing after the stand-down

    backlog = Worker()  # both orders read before the reports
    backlog.process(topics.ACTIVATIONS, [_activation("kyiv-001", T0),
                                         _stand_down("kyiv-001", stood_down_at)], [0, 0])
    backlog.feed([reports])
    assert _overdue(backlog) == _overdue(live)


def test_a_stand_down_before_the_deadline_raises_nothing() -> None:
    worker = Worker()
    worker.process(topics.ACTIVATIONS, [_activation("kyiv-001", T0),
                                        _stand_down("kyiv-001", T0 + 3600)], [0, 0])
    worker.feed([[report("kyiv-001", T0 + t, status="standby") for t in range(60, 4 * 3600, 60)]])
    assert _overdue(worker) == []


def test_a_deadline_waits_for_the_orders_still_queued_on_its_partition() -> None:
    worker = Worker()
    worker.process(topics.ACTIVATIONS, [_activation("kyiv-001", T0)], [0])
    worker.feed([[report("kyiv-001", T0 + t, status="standby") for t in range(60, 3600, 60)]])
    # Another partition's reports carry stream time past kyiv-001's deadline ...
    worker.feed([[report("kyiv-002", T0 + t) for t in range(60, 3 * 3600, 60)]], partition=1)
    # ... while kyiv-001's stand-down (at 1 h) still waits in its partition's activations.
    highwaters = {(topics.TELEMETRY, 0): 59, (topics.TELEMETRY, 1): 179,
                  (topics.ACTIVATIONS, 0): 2}
    behind = {**highwaters, (topics.ACTIVATIONS, 0): 1}
    asyncio.run(worker.pipeline.judge(highwaters, behind))
    assert _overdue(worker) == []

    worker.process(topics.ACTIVATIONS, [_stand_down("kyiv-001", T0 + 3600)], [0])
    asyncio.run(worker.pipeline.judge(highwaters, highwaters))
    assert _overdue(worker) == []
    # The task that is caught up is judged meanwhile: kyiv-002 is in no way held back.
    assert worker.pipeline.now() == T0 + 3 * 3600 - 60


def test_a_point_that_opened_on_time_and_closed_again_is_not_overdue() -> None:
    ordered_at = T0 + 600
    statuses = {m: "open" if 30 <= m < 60 else "standby" for m in range(0, 240)}
    reports = [report("kyiv-001", T0 + m * 60, status=s) for m, s in statuses.items()]
    worker = Worker()
    worker.feed([reports])  # the order is read after the point opened and closed again
    worker.process(topics.ACTIVATIONS, [_activation("kyiv-001", ordered_at)], [0])
    asyncio.run(worker.pipeline.judge(
        telemetry_partitions({0: 100}),
        telemetry_partitions({0: 100})))
    assert _overdue(worker) == []


def test_an_order_with_no_report_is_tracked_from_its_ts_and_overdue_at_its_deadline() -> None:
    worker = Worker()
    worker.process(topics.ACTIVATIONS, [_activation("kyiv-001", T0)], [0])
    # Other points move stream time on; kyiv-001 never reports.
    worker.feed([[report("kyiv-002", T0 + t) for t in range(60, 2 * 3600 + 600, 60)]])
    asyncio.run(worker.pipeline.judge(
        telemetry_partitions({0: 100}),
        telemetry_partitions({0: 100})))
    [fired] = _overdue(worker)
    assert fired == ("firing", iso(T0 + 2 * 3600), None)
    worker.process(topics.ACTIVATIONS, [_stand_down("kyiv-001", T0 + 3 * 3600)], [0])
    assert [status for status, _, _ in _overdue(worker)] == ["firing", "resolved"]


def test_points_read_after_newer_data_of_other_points_are_not_silent() -> None:
    points = [f"late-{i:03d}" for i in range(200)]
    directory_points = {p: PointInfo(p, f"Point {p}", "permanent", "Kyivska") for p in points}
    worker = Worker(extra=directory_points)
    minutes = range(0, 60)
    # Other points' newer data is read first: stream time runs an hour ahead.
    worker.feed([[report("kyiv-002", T0 + m * 60) for m in minutes]])
    asyncio.run(worker.pipeline.judge(
        telemetry_partitions({0: 100}),
        telemetry_partitions({0: 100})))
    # Then the 200 points' reports, every minute with no gap, a few minutes per batch, with
    # the timer running between batches.
    for start in range(0, 60, 5):
        worker.feed([[report(p, T0 + m * 60) for m in range(start, start + 5) for p in points]])
        asyncio.run(worker.pipeline.judge(
            telemetry_partitions({0: 100}),
            telemetry_partitions({0: 100})))
    assert [a for a in worker.alerts
            if a["alertname"] == "point_silent" and a["point_id"] in directory_points] == []


def firing_on_kyiv_001(worker: Worker) -> set[str]:
    """The alertnames firing on kyiv-001 in its stored record."""
    stored = worker.table["kyiv-001"]["alerts"]["alerts"]
    return {name for name, s in stored.items() if s["phase"] == "firing"}

