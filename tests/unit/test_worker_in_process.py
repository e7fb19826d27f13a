"""The worker layer in-process: raw records through the ingestor, the computations and the
checkpoint, with an in-memory state table, a fake database and a fake Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams.config import Settings
from streams.contract import Contract
from streams.domain.alert_model import AlertEvent
from streams.domain.alert_rules import AlertRules
from streams.domain.point_state import PointState
from streams.domain.points import PointInfo
from streams.kafka import topics
from streams.sinks.kafka_outputs import OutputMessage
from streams.worker import task
from streams.worker.checkpoint import Destinations
from streams.worker.components import build_pipeline
from streams.worker.ingest import InboundMessage, Ingestor
from streams.worker.metrics import PipelineMetrics
from streams.worker.partition_scope import OneProcessScope
from streams.worker.point_directory import PointDirectory

DEADLETTERS = "points.deadletter"
POINTS = ("kyiv-001", "kyiv-002")
SILENCE = 300.0  # permanent points' default threshold
REFUSED_TEMPERATURE = 45.0  # valid by the contract, refused by the fake database


class Journal:
    """Everything the fakes were asked to do, in order."""

    def __init__(self) -> None:
        self.steps: list[str] = []


class FakeDatabase:
    """Takes rows; refuses telemetry rows of one indoor temperature (as a CHECK would)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.rows: dict[str, list[Mapping[str, Any]]] = {}

    async def write(self, topic: str, rows: Sequence[Mapping[str, Any]]) -> int:
        await asyncio.sleep(0)  # a real write awaits the server: other batches run meanwhile
        if any(row.get("indoor_temp_c") == REFUSED_TEMPERATURE for row in rows):
            raise ValueError("check constraint violated")
        self.journal.steps.append(f"rows {topic}")
        self.rows.setdefault(topic, []).extend(rows)
        return len(rows)

    async def write_each(
        self, topic: str, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[int, list[tuple[int, str]]]:
        refused = [(i, "check constraint violated") for i, row in enumerate(rows)
                   if row.get("indoor_temp_c") == REFUSED_TEMPERATURE]
        kept = [row for i, row in enumerate(rows) if i not in dict(refused)]
        await self.write(topic, kept)
        return len(kept), refused


class FakeKafka:
    """Records every acknowledged send."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.sent: list[OutputMessage] = []

    async def send_all(self, messages: list[OutputMessage]) -> None:
        await asyncio.sleep(0)  # waiting for the brokers' acknowledgement
        self.journal.steps.append("publish " + ",".join(sorted({t for t, _, _ in messages})))
        self.sent.extend(messages)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(value) for t, _, value in self.sent if t == topic]


class StateTable(dict[str, Any]):
    """The state table, journaling its writes."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def __setitem__(self, key: str, value: Any) -> None:
        self.journal.steps.append(f"state {key}")
        super().__setitem__(key, value)


class StaticRegistry:
    def __init__(self) -> None:
        self.directory = PointDirectory({
            p: PointInfo(p, f"Point {p}", "permanent", "Kyivska", capacity_people=50,
                         fuel_tank_l=200.0)
            for p in POINTS
        })

    async def catch_up(self) -> bool:
        return True


class Worker:
    """The worker layer of one process, with fakes at its edges."""

    def __init__(self) -> None:
        self.journal = Journal()
        self.database = FakeDatabase(self.journal)
        self.kafka = FakeKafka(self.journal)
        self.table = StateTable(self.journal)
        self.offered: list[AlertEvent] = []
        registry = StaticRegistry()
        directory = registry.directory
        self.metrics = PipelineMetrics(CollectorRegistry())

        def offer(event: AlertEvent) -> None:
            self.journal.steps.append("offer")
            self.offered.append(event)

        # Wired by the code the worker runs (build_pipeline), in event-clock mode.
        self.pipeline = build_pipeline(
            Settings(clock="event", max_task_idle_seconds=0.0), AlertRules(), directory,
            Destinations(self.database, self.kafka.send_all, offer, self.metrics, DEADLETTERS),
            self.table, OneProcessScope(),
        )
        self.behind: set[str] = set()  # input topics Kafka holds more of than was consumed
        self.ingestor = Ingestor(
            Contract(max_future_skew_seconds=300), self.database, registry, self.metrics,
            self.pipeline, caught_up=lambda topic, partition: topic not in self.behind,
        )
        self.offset = 0
        self.acked: list[int] = []

    def consume(self, topic: str, messages: Sequence[dict[str, Any]], partition: int = 0) -> None:
        asyncio.run(self.ingestor.handle(self.batch(topic, messages, partition)))

    def batch(self, topic: str, messages: Sequence[dict[str, Any]], partition: int = 0
              ) -> list[InboundMessage]:
        batch = []
        for message in messages:
            offset = self.offset
            batch.append(InboundMessage(topic, partition, offset, message["point_id"].encode(),
                                        orjson.dumps(message),
                                        lambda at=offset: self.acked.append(at)))
            self.offset += 1
        return batch

    def alert_history(self) -> list[tuple[str, str, str]]:
        return [(a["point_id"], a["alertname"], a["status"]) for a in self.kafka.on(topics.ALERTS)]


T0 = time.time() - 6 * 3600  # six hours ago: inside the contract's accepted window


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def report(point_id: str, ts: float, **fields: Any) -> dict[str, Any]:
    return {
        "point_id": point_id, "ts": iso(ts), "status": "open", "power": "generator",
        "generator_running": True, "fuel_level_l": 150.0, "heating_on": True,
        "internet_up": True, "indoor_temp_c": 19.0, "headcount": None, **fields,
    }


def test_a_batch_flushes_rows_then_kafka_then_state_then_alert_offers() -> None:
    worker = Worker()
    # Power lost for 15 minutes, a report a minute: no_power fires once its pending period
    # has passed in event time.
    worker.consume(topics.TELEMETRY, [report("kyiv-001", T0 + 60 * i, power="none",
                                             generator_running=False) for i in range(16)])

    steps = worker.journal.steps
    assert steps[0] == "rows points.telemetry"  # the input rows, before any computation
    publish = next(i for i, step in enumerate(steps) if step.startswith("publish"))
    state = steps.index("state kyiv-001")
    assert all(step.startswith("rows") for step in steps[:publish])
    assert publish < state < steps.index("offer")
    assert steps.count("state kyiv-001") == 1  # one record per point per batch
    assert ("kyiv-001", "no_power", "firing") in worker.alert_history()


def test_a_message_is_acknowledged_once_processed_and_not_while_held_for_the_merge() -> None:
    worker = Worker()
    worker.behind.add(topics.ACTIVATIONS)  # an order may still come: reports wait for it
    worker.consume(topics.TELEMETRY, [report("kyiv-001", T0), report("kyiv-002", T0 + 60)])
    assert worker.acked == [] and worker.pipeline.buffered == 2
    assert "kyiv-001" not in worker.table
    worker.behind.clear()  # the order's partition is read to its end
    asyncio.run(worker.ingestor.drain())
    assert worker.acked == [0, 1]
    assert "state kyiv-001" in worker.journal.steps  # written before the acknowledgement


def test_a_row_the_database_refuses_is_dead_lettered_and_feeds_no_computation() -> None:
    worker = Worker()
    worker.consume(topics.TELEMETRY, [report("kyiv-001", T0, indoor_temp_c=REFUSED_TEMPERATURE),
                                      report("kyiv-002", T0)])

    letters = worker.kafka.on(DEADLETTERS)
    assert [letter["reason"] for letter in letters] == ["database_rejected"]
    assert [row["point_id"] for row in worker.database.rows[topics.TELEMETRY]] == ["kyiv-002"]
    assert "kyiv-001" not in worker.table  # no state from a report that was not stored
    assert "kyiv-002" in worker.table


def test_a_failing_computation_dead_letters_its_message_and_keeps_its_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = Worker()
    real_step = task.step

    def broken(record: PointState, kind: str, message: dict[str, Any], *args: Any) -> Any:
        if message["point_id"] == "kyiv-001":
            raise RuntimeError("a bug")
        return real_step(record, kind, message, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(task, "step", broken)
    worker.consume(topics.TELEMETRY, [report("kyiv-001", T0), report("kyiv-002", T0)])

    assert [letter["reason"] for letter in worker.kafka.on(DEADLETTERS)] == ["internal_error"]
    assert len(worker.database.rows[topics.TELEMETRY]) == 2
    assert "kyiv-002" in worker.table and "kyiv-001" not in worker.table
    assert worker.acked == [0, 1]  # both are done with


def test_stream_time_finds_a_silence_writes_the_record_and_offers_the_alert() -> None:
    worker = Worker()
    worker.consume(topics.TELEMETRY, [report("kyiv-001", T0), report("kyiv-002", T0)])
    worker.journal.steps.clear()
    # Another point of the same task carries stream time past kyiv-001's threshold.
    worker.consume(topics.TELEMETRY, [report("kyiv-002", T0 + SILENCE + 400)])

    assert ("kyiv-001", "point_silent", "firing") in worker.alert_history()
    silent = next(a for a in worker.offered if a.alertname == "point_silent")
    assert silent.starts_at == pytest.approx(T0 + SILENCE, abs=0.001)
    assert "state kyiv-001" in worker.journal.steps
    assert worker.journal.steps[-1] == "offer"


def test_batches_of_two_topics_at_once_lose_neither_one_s_changes_to_a_point() -> None:
    worker = Worker()
    order = {"point_id": "kyiv-001", "ts": iso(T0), "action": "activate",
             "requested_by": "ДСНС"}

    async def both_agents() -> None:
        # The report's batch computes first, then awaits its writes while the order's batch
        # computes from the record as it was.
        await asyncio.gather(
            worker.ingestor.handle(worker.batch(
                topics.TELEMETRY, [report("kyiv-001", T0 + 60, status="standby")])),
            worker.ingestor.handle(worker.batch(topics.ACTIVATIONS, [order])),
        )

    asyncio.run(both_agents())

    liveness = PointState.from_dict(worker.table["kyiv-001"]).liveness
    assert liveness is not None
    assert liveness.activation_requested_at == pytest.approx(T0, abs=0.001)
    assert liveness.last_seen_ts == pytest.approx(T0 + 60, abs=0.001)


def test_an_order_read_before_any_report_is_seen_at_its_own_time() -> None:
    worker = Worker()
    order = {"point_id": "kyiv-001", "ts": iso(T0), "action": "activate",
             "requested_by": "ДСНС"}
    worker.consume(topics.ACTIVATIONS, [order])  # the event clock has seen no report yet

    liveness = PointState.from_dict(worker.table["kyiv-001"]).liveness
    assert liveness is not None and liveness.tracked_since == pytest.approx(T0, abs=0.001)
