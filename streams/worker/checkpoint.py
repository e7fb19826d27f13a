"""What one cycle produces, held until the cycle ends and then flushed in a fixed order.

A cycle (a batch handed to the stream tasks, or the tasks run on the timer) collects output
messages, output rows, dead letters, changed per-point records and alerts to offer in one
:class:`Checkpoint`. :meth:`Checkpoint.flush` sends them in this order, and only then are the
messages the cycle processed acknowledged, so their offsets can be committed:

1. the output rows to the database, every table at once;
2. the output messages and the dead letters to Kafka, in one send, acknowledged by the brokers;
3. the changed per-point records to the state table (Faust sends their changelog records before
   it commits the offsets);
4. the alerts, offered to Alertmanager once they are stored and published.

A crash anywhere before the commit replays the batch, and every step is idempotent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from streams.domain.alert_model import AlertEvent
from streams.sinks.database import TABLES
from streams.sinks.kafka_outputs import OutputMessage
from streams.worker.metrics import PipelineMetrics
from streams.worker.outputs import Outputs

Publish = Callable[[list[OutputMessage]], Awaitable[None]]  # returns once all are acknowledged


class RowSink(Protocol):
    """Where output rows go (:class:`~streams.sinks.database.DatabaseSink`)."""

    async def write(self, topic: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows shaped like ``topic`` messages; returns how many were new."""


@dataclass(frozen=True, slots=True)
class Destinations:
    """Where a checkpoint's contents go."""

    sink: RowSink
    publish: Publish
    offer_alert: Callable[[AlertEvent], None]
    metrics: PipelineMetrics
    deadletter_topic: str


class Checkpoint:
    """One batch's outputs, dead letters, changed records and alert offers."""

    def __init__(self, destinations: Destinations, write_records: Callable[[], None]) -> None:
        self._to = destinations
        self._write_records = write_records
        self.out = Outputs()
        self._dead_letters: list[OutputMessage] = []

    def dead_letter(self, key: bytes, record: bytes) -> None:
        """Queue a dead-letter record (see :func:`streams.contract.dead_letter`)."""
        self._dead_letters.append((self._to.deadletter_topic, key, record))

    async def flush(self) -> None:
        """Flush everything, in the order the module describes."""
        metrics = self._to.metrics
        self.out.settle()
        # The tables are written at once, each on a connection of the pool, not one after
        # another: a batch waits for the slowest write, not for their sum.
        batches = list(self.out.rows.items())
        counts = await asyncio.gather(*(self._to.sink.write(topic, rows)
                                        for topic, rows in batches))
        for (topic, rows), written in zip(batches, counts, strict=True):
            table = TABLES[topic].table
            metrics.rows.labels(table, "written").inc(written)
            metrics.rows.labels(table, "duplicate").inc(len(rows) - written)
        messages = [(topic, key.encode(), orjson.dumps(message))
                    for topic, key, message in self.out.messages]
        if messages or self._dead_letters:
            await self._to.publish([*messages, *self._dead_letters])
        for topic, n in Counter(topic for topic, _, _ in self.out.messages).items():
            metrics.messages_out.labels(topic).inc(n)
        self._write_records()
        for event in self.out.alerts:
            self._to.offer_alert(event)
        self.out = Outputs()
        self._dead_letters = []
