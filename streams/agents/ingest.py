"""Ingest: validate each input message, dead-letter what is refused, write the rest in batches.

:class:`Ingestor` holds the per-batch logic and knows nothing of Faust; :func:`register` wires one
agent per input topic. Offsets are acknowledged by ``take_events`` only after the batch handler
returns, and Faust flushes the producer (dead letters) before it commits, so every message is
written or dead-lettered before its offset is committed (at-least-once; replays are idempotent).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import faust
from faust.streams import _current_event  # see PartitionEvents

from streams import topics
from streams.contract import Contract, Rejection, dead_letter, unknown_point
from streams.metrics import PipelineMetrics
from streams.point_directory import PointDirectory, RegistryFollower
from streams.sinks.database import TABLES, DatabaseSink

SendDeadLetter = Callable[[bytes | None, bytes], Awaitable[None]]
# topic, accepted messages, the partition each came from
Downstream = Callable[[str, Sequence[dict[str, Any]], Sequence[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A consumed record, detached from Faust so the handler is testable on its own."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


Pair = tuple[InboundMessage, dict[str, Any]]  # a consumed record and its validated message


class Ingestor:
    """Validates, dead-letters and writes batches of one input topic."""

    def __init__(
        self,
        contract: Contract,
        sink: DatabaseSink,
        follower: RegistryFollower,
        send_deadletter: SendDeadLetter,
        metrics: PipelineMetrics,
        downstream: Downstream | None = None,
    ) -> None:
        self._contract = contract
        self._sink = sink
        self._follower = follower
        self._send_deadletter = send_deadletter
        self._metrics = metrics
        self._downstream = downstream
        self.positions: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset

    @property
    def directory(self) -> PointDirectory:
        """The registry as this worker knows it."""
        return self._follower.directory

    async def handle(self, topic: str, batch: Sequence[InboundMessage]) -> None:
        """Process one batch of ``topic`` and feed what it accepts to the computations."""
        now = time.time()
        self._metrics.messages_in.labels(topic).inc(len(batch))
        valid: list[Pair] = []
        for message in batch:
            result = self._contract.validate(topic, message.value, now=now)
            if isinstance(result, Rejection):
                await self._reject(message, result, now)
            else:
                valid.append((message, result))
        if topic != topics.REGISTRY:
            valid, unknown = await self._split_unknown(valid)
            for message, msg in unknown:
                await self._reject(message, unknown_point(topic, msg["point_id"]), now)
        accepted = [msg for _, msg in valid]
        await self._write(topic, valid, now)
        if self._downstream is not None and accepted:
            await self._downstream(topic, accepted, [message.partition for message, _ in valid])
        for message in batch:
            self.positions[(topic, message.partition)] = message.offset + 1
        delay = self._metrics.event_delay.labels(topic)
        for msg in accepted:
            if "_ts" in msg:
                delay.observe(max(now - msg["_ts"], 0.0))

    async def _split_unknown(self, valid: list[Pair]) -> tuple[list[Pair], list[Pair]]:
        directory = self.directory
        if any(msg["point_id"] not in directory for _, msg in valid):
            # The point may have been registered a moment ago: read the registry to its end first.
            await self._follower.catch_up()
        known = [pair for pair in valid if pair[1]["point_id"] in directory]
        unknown = [pair for pair in valid if pair[1]["point_id"] not in directory]
        return known, unknown

    async def _write(self, topic: str, valid: list[Pair], now: float) -> None:
        if not valid:
            return
        table = TABLES[topic].table
        rows = [msg for _, msg in valid]
        started = time.perf_counter()
        try:
            written = await self._sink.write(topic, rows)
        except Exception:  # a row the database refuses: isolate it, keep the rest
            written, refused = await self._sink.write_each(topic, rows)
            for index, error in refused:
                await self._reject(valid[index][0], _database_refused(topic, error), now)
        self._metrics.write_seconds.labels(table).observe(time.perf_counter() - started)
        self._metrics.batch_rows.labels(table).observe(len(rows))
        self._metrics.rows.labels(table, "written").inc(written)
        self._metrics.rows.labels(table, "duplicate").inc(max(len(rows) - written, 0))

    async def _reject(self, message: InboundMessage, rejection: Rejection, now: float) -> None:
        record = dead_letter(
            message.topic, message.partition, message.offset, message.key, message.value,
            rejection, now=now,
        )
        await self._send_deadletter(message.key, record)
        self._metrics.rejects.labels(message.topic, rejection.reason).inc()


def _database_refused(topic: str, error: str) -> Rejection:
    return Rejection(
        reason="database_rejected",
        field=None,
        value=None,
        rule=None,
        message=f"{topic}: the database refused this message: {error}",
    )


class PartitionEvents:
    """The latest consumed event of each partition number.

    Faust's RocksDB store files a table key under the partition of the event being processed.
    Batches (``take_events``) have no single current event, so table writes for partition P
    run inside :meth:`scope` (P), which makes P's latest event current.
    """

    def __init__(self) -> None:
        self._events: dict[int, faust.EventT[bytes]] = {}

    def record(self, event: faust.EventT[bytes]) -> None:
        """Remember ``event`` as its partition's latest."""
        self._events[event.message.partition] = event

    @contextmanager
    def scope(self, partition: int) -> Iterator[None]:
        """Run the block as if processing partition ``partition``'s latest event."""
        token = _current_event.set(weakref.ref(self._events[partition]))
        try:
            yield
        finally:
            _current_event.reset(token)


def register(
    app: faust.App,
    ingestor: Ingestor,
    events: PartitionEvents,
    *,
    batch_size: int,
    within: float,
) -> None:
    """Create one ingest agent per input topic on ``app``."""
    for spec in topics.INPUT_TOPICS:
        _register_one(app, ingestor, events, spec.name, batch_size=batch_size, within=within)


def _register_one(
    app: faust.App,
    ingestor: Ingestor,
    partition_events: PartitionEvents,
    topic_name: str,
    *,
    batch_size: int,
    within: float,
) -> None:
    channel = app.topic(topic_name, key_type=bytes, value_type=bytes)

    async def ingest(stream: faust.StreamT[bytes]) -> None:
        assert isinstance(stream, faust.Stream)  # take_events is not on the StreamT protocol
        async for events in stream.take_events(batch_size, within=within):
            for event in events:
                partition_events.record(event)
            batch = [
                InboundMessage(
                    topic_name,
                    event.message.partition,
                    event.message.offset,
                    event.message.key,
                    event.message.value or b"",  # a null value is refused as invalid JSON
                )
                for event in events
            ]
            await ingestor.handle(topic_name, batch)

    app.agent(channel, name=f"ingest.{topic_name}")(ingest)
