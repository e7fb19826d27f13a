"""The worker's stream tasks in-process over a fake Kafka log: what each test produces is in
"Kafka" at once; what it delivers reaches the tasks in the batches it chooses, and an input
partition is caught up once everything produced to it was delivered, as the real consumer
reports it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from streams.config import Settings
from streams.domain.alert_model import AlertEvent
from streams.domain.alert_rules import AlertRules
from streams.domain.points import PointInfo
from streams.kafka import topics
from streams.sinks.kafka_outputs import OutputMessage
from streams.worker.checkpoint import Destinations
from streams.worker.components import build_pipeline
from streams.worker.metrics import PipelineMetrics
from streams.worker.partition_scope import OneProcessScope
from streams.worker.point_directory import PointDirectory

T0 = datetime(2026, 1, 10, 6, 0, tzinfo=UTC).timestamp()
POINTS = ("kyiv-001", "kyiv-002", "lviv-003")

Input = tuple[str, int]  # (topic, partition)


class FakeSink:
    """Takes every row (the database refuses nothing here)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, Mapping[str, Any]]] = []

    async def write(self, topic: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self.rows.extend((topic, row) for row in rows)
        return len(rows)


class Worker:
    """One worker's stream tasks over a fake Kafka log (``log``, shared by a restarted one)."""

    def __init__(
        self,
        extra: Mapping[str, PointInfo] | None = None,
        log: dict[Input, list[dict[str, Any]]] | None = None,
        **settings: Any,
    ) -> None:
        self.published: list[OutputMessage] = []
        self.table: dict[str, Any] = {}
        self.events: list[AlertEvent] = []  # as offered to Alertmanager
        self.sink = FakeSink()
        self.log: dict[Input, list[dict[str, Any]]] = log if log is not None else {}
        self.delivered: dict[Input, int] = {}  # next offset to deliver
        self.committed: dict[Input, int] = {}  # next offset after the acknowledged ones
        self.clock = 0.0  # monotonic seconds, for the idle waits
        self.wall = T0
        self.metrics = PipelineMetrics(CollectorRegistry())
        directory = PointDirectory(
            {
                p: PointInfo(p, f"Point {p}", "permanent", "Kyivska", capacity_people=50,
                             fuel_tank_l=200.0)
                for p in POINTS
            } | dict(extra or {})
        )

        async def publish(messages: list[OutputMessage]) -> None:
            self.published.extend(messages)

        self.pipeline = build_pipeline(
            Settings(**{"clock": "event", "max_task_idle_seconds": 0.0, **settings}),
            AlertRules(), directory,
            Destinations(sink=self.sink, publish=publish, offer_alert=self.events.append,
                         metrics=self.metrics, deadletter_topic="points.deadletter"),
            self.table, OneProcessScope(),
        )

    # --- Kafka ------------------------------------------------------------------------------

    def produce(self, topic: str, messages: Sequence[dict[str, Any]], partition: int = 0) -> None:
        """Append ``messages`` to the partition's log (not delivered yet)."""
        self.log.setdefault((topic, partition), []).extend(messages)

    def deliver(self, topic: str, n: int | None = None, partition: int = 0) -> None:
        """Deliver the partition's next ``n`` messages (all: None) as one batch, then run."""
        key = (topic, partition)
        start = self.delivered.get(key, self.committed.get(key, 0))
        end = len(self.log.get(key, [])) if n is None else min(start + n,
                                                                 len(self.log.get(key, [])))
        for offset in range(start, end):
            self.pipeline.offer(topic, self.log[key][offset], partition, (key, offset),
                                self.clock)
        self.delivered[key] = end
        self.run()

    def deliver_all(self) -> None:
        """Deliver whatever is left of every partition."""
        for key in list(self.log):
            self.deliver(key[0], None, key[1])

    def caught_up(self, topic: str, partition: int) -> bool:
        key = (topic, partition)
        return self.delivered.get(key, self.committed.get(key, 0)) >= len(self.log.get(key, []))

    def run(self) -> None:
        """One cycle: the tasks process what they can, the checkpoint is flushed, the
        processed messages are acknowledged."""
        checkpoint = self.pipeline.checkpoint()

        def failed(ack: Any, topic: str, exc: Exception) -> None:
            raise exc

        acks = self.pipeline.run(checkpoint, self.caught_up, self.clock, self.wall, failed)
        asyncio.run(checkpoint.flush())
        for key, offset in acks:
            assert offset == self.committed.get(key, 0), "acknowledged out of order"
            self.committed[key] = offset + 1

    # --- live-style helpers ------------------------------------------------------------------

    def feed(self, batches: Sequence[Sequence[dict[str, Any]]], partition: int = 0) -> None:
        """Telemetry produced and delivered batch by batch (read as it comes)."""
        for batch in batches:
            self.process(topics.TELEMETRY, batch, partition)

    def process(self, topic: str, batch: Sequence[dict[str, Any]], partition: int = 0) -> None:
        """Produce ``batch`` and deliver it at once."""
        self.produce(topic, batch, partition)
        self.deliver(topic, None, partition)

    def restarted(self) -> Worker:
        """A new worker that knows only what the state table holds (read back as JSON) and
        reads the log again from the committed offsets."""
        other = Worker(log=self.log)
        other.table.update(json.loads(json.dumps(self.table)))
        other.committed = dict(self.committed)
        other.events.extend(self.events)  # what was offered before the restart
        other.sink.rows.extend(self.sink.rows)
        other.published.extend(self.published)
        return other

    # --- what came out ----------------------------------------------------------------------

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The offered events as the ``alerts`` topic carries them."""
        return [event.to_message() for event in self.events]

    def history(self) -> list[tuple[str, str, str, str, str, str | None]]:
        return [
            (a["point_id"], a["alertname"], a["status"], a["ts"], a["starts_at"], a["ends_at"])
            for a in self.alerts
        ]

    def rows(self, topic: str) -> list[Mapping[str, Any]]:
        return [row for t, row in self.sink.rows if t == topic]


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


def order(point_id: str, ts: float, action: str = "activate") -> dict[str, Any]:
    """An activation order as validated."""
    return {"point_id": point_id, "ts": datetime.fromtimestamp(ts, UTC).isoformat(), "_ts": ts,
            "action": action, "requested_by": "oblast-hub"}


def visit(point_id: str, ts: float, kind: str, people: int, event_id: str) -> dict[str, Any]:
    """A visit (arrival or departure) as validated."""
    return {"point_id": point_id, "ts": datetime.fromtimestamp(ts, UTC).isoformat(), "_ts": ts,
            "kind": kind, "people": people, "event_id": event_id}
