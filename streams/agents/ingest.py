"""Ingest: validate each input message, dead-letter what is refused, write the rest in batches.

:class:`Ingestor` holds the per-batch logic and knows nothing of Faust; :func:`register` wires one
agent per input topic. Offsets are acknowledged by ``take_events`` only after the batch handler
returns, and Faust flushes the producer (dead letters) before it commits, so every message is
written or dead-lettered before its offset is committed (at-least-once; replays are idempotent).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import faust
from faust.streams import _current_event  # see PartitionEvents

from streams import topics
from streams.contract import Contract, Rejection, dead_letter, internal_error, unknown_point
from streams.metrics import PipelineMetrics
from streams.point_directory import PointDirectory, RegistryFollower
from streams.sinks.database import TABLES, DatabaseSink

# Sends a batch's dead letters (key, record) and returns once Kafka has acknowledged them all.
SendDeadLetters = Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
# topic, accepted messages, the partition each came from
Downstream = Callable[[str, Sequence[dict[str, Any]], Sequence[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A consumed record, detached from Faust so the handler is testable on its own."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone


log = logging.getLogger(__name__)

Pair = tuple[InboundMessage, dict[str, Any]]  # a consumed record and its validated message


class Ingestor:
    """Validates, dead-letters and writes batches of one input topic."""

    def __init__(
        self,
        contract: Contract,
        sink: DatabaseSink,
        follower: RegistryFollower,
        send_deadletters: SendDeadLetters,
        metrics: PipelineMetrics,
        downstream: Downstream | None = None,
    ) -> None:
        self._contract = contract
        self._sink = sink
        self._follower = follower
        self._send_deadletters = send_deadletters
        self._dead_letters: list[tuple[bytes, bytes]] = []
        self._metrics = metrics
        self._downstream = downstream
        self.positions: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset

    @property
    def directory(self) -> PointDirectory:
        """The registry as this worker knows it."""
        return self._follower.directory

    async def handle(self, topic: str, batch: Sequence[InboundMessage]) -> None:
        """Process one batch of ``topic`` and feed what it accepts to the computations.

        Every message is written, retired (a registry tombstone) or dead-lettered, and the dead
        letters are acknowledged by Kafka, before this returns and the offsets can be committed.
        """
        now = time.time()
        self._metrics.messages_in.labels(topic).inc(len(batch))
        valid: list[Pair] = []
        for message in batch:
            if message.value is None and topic == topics.REGISTRY:
                self._metrics.retirements.inc()  # the follower takes the point out of use
                continue
            result = self._contract.accept(topic, message.key, message.value or b"", now=now)
            if isinstance(result, Rejection):
                self._reject(message, result, now)
            else:
                valid.append((message, result))
        if topic != topics.REGISTRY:
            valid, unknown = await self._split_unknown(valid)
            for message, msg in unknown:
                self._reject(message, unknown_point(topic, msg["point_id"]), now)
        valid = await self._write(topic, valid, now)
        accepted = [msg for _, msg in valid]
        if self._downstream is not None and accepted:
            try:
                await self._downstream(
                    topic, accepted, [message.partition for message, _ in valid]
                )
            except Exception as exc:
                # A bug in a computation must not lose the batch: its rows are stored, and the
                # messages are dead-lettered with the error so they can be replayed once fixed.
                log.exception("computations failed on a %s batch; dead-lettering it", topic)
                for message, _ in valid:
                    self._reject(message, internal_error(topic, exc), now)
        await self._flush_dead_letters()
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

    async def _write(self, topic: str, valid: list[Pair], now: float) -> list[Pair]:
        """Write the batch's rows; return the pairs the database took (refused ones feed no
        computation: they are dead-lettered instead)."""
        if not valid:
            return valid
        table = TABLES[topic].table
        rows = [msg for _, msg in valid]
        started = time.perf_counter()
        try:
            written = await self._sink.write(topic, rows)
        except Exception:  # a row the database refuses: isolate it, keep the rest
            written, refused = await self._sink.write_each(topic, rows)
            for index, error in refused:
                self._reject(valid[index][0], _database_refused(topic, error), now)
            refused_at = {index for index, _ in refused}
            valid = [pair for index, pair in enumerate(valid) if index not in refused_at]
        self._metrics.write_seconds.labels(table).observe(time.perf_counter() - started)
        self._metrics.batch_rows.labels(table).observe(len(rows))
        self._metrics.rows.labels(table, "written").inc(written)
        self._metrics.rows.labels(table, "duplicate").inc(max(len(valid) - written, 0))
        return valid

    def _reject(self, message: InboundMessage, rejection: Rejection, now: float) -> None:
        record = dead_letter(
            message.topic, message.partition, message.offset, message.key,
            message.value or b"", rejection, now=now,
        )
        self._dead_letters.append((message.key or b"", record))
        self._metrics.rejects.labels(message.topic, rejection.reason).inc()

    async def _flush_dead_letters(self) -> None:
        # Sent with acknowledgements (retried while Kafka is away) before the batch ends, so
        # offsets are never committed past a message that was neither stored nor dead-lettered.
        if self._dead_letters:
            letters, self._dead_letters = self._dead_letters, []
            await self._send_deadletters(letters)


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
    run inside ``scope(P)``, which makes P's latest event current.
    """

    def __init__(self) -> None:
        self._events: dict[int, faust.EventT[bytes]] = {}

    def record(self, event: faust.EventT[bytes]) -> None:
        """Remember ``event`` as its partition's latest."""
        self._events[event.message.partition] = event

    def covers(self, partition: int) -> bool:
        """Whether an event of ``partition`` has been consumed (its records can be written)."""
        return partition in self._events

    @contextmanager
    def __call__(self, partition: int) -> Iterator[None]:
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
                    event.message.value,
                )
                for event in events
            ]
            await ingestor.handle(topic_name, batch)

    app.agent(channel, name=f"ingest.{topic_name}")(ingest)
