"""Ingest: validate each input message, dead-letter what is refused, write the rest in batches.

:class:`Ingestor` holds the per-batch logic and knows nothing of Faust;
:mod:`streams.worker.faust_app` runs one agent per input topic that hands it every message
without acknowledging it. A message is acknowledged only once it is written or dead-lettered
(the dead letter acknowledged by Kafka) and its stream task has processed it in a flushed
checkpoint, so its offset is committed only after all that (at-least-once; replays are
idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from streams.contract import Contract, Rejection, dead_letter, internal_error, unknown_point
from streams.kafka import topics
from streams.sinks.database import TABLES
from streams.worker.checkpoint import Checkpoint
from streams.worker.computations import CaughtUp, OnError
from streams.worker.metrics import PipelineMetrics
from streams.worker.point_directory import PointDirectory


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A consumed record, detached from Faust so the handler is testable on its own."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone
    ack: Callable[[], object] = _nothing  # lets the consumer commit past it


class InputSink(Protocol):
    """Where the accepted input rows go (:class:`~streams.sinks.database.DatabaseSink`)."""

    async def write(self, topic: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert the batch in one go; raises when the database refuses a row."""

    async def write_each(
        self, topic: str, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[int, list[tuple[int, str]]]:
        """Insert row by row; returns (rows new, [(index, error)] of the refused ones)."""


class Registry(Protocol):
    """The registry as this worker follows it (a
    :class:`~streams.worker.point_directory.RegistryFollower`)."""

    directory: PointDirectory  # the points known so far

    async def catch_up(self) -> bool:
        """Read the registry to its end."""


class Computations(Protocol):
    """What accepted messages feed (:class:`~streams.worker.computations.Pipeline`)."""

    exclusive: asyncio.Lock  # held from a cycle's first step until its checkpoint is flushed

    @property
    def buffered(self) -> int:
        """Messages offered and not processed yet."""

    def buffered_by_input(self) -> dict[tuple[str, int], int]:
        """Messages offered and not processed yet, per (input topic, partition)."""

    def checkpoint(self) -> Checkpoint:
        """A checkpoint for one cycle."""

    def offer(self, topic: str, message: dict[str, Any], partition: int, ack: Any,
              now: float) -> None:
        """Hand over an accepted message of a task input (``now``: monotonic seconds)."""

    def run(self, checkpoint: Checkpoint, caught_up: CaughtUp, now: float, wall: float,
            on_error: OnError) -> list[Any]:
        """Process what can be processed now; the acks of the messages processed."""

    def observe(self) -> None:
        """Set the gauges."""


log = logging.getLogger(__name__)

Pair = tuple[InboundMessage, dict[str, Any]]  # a consumed record and its validated message


class Ingestor:
    """Validates, dead-letters and writes the input messages, then feeds them to the tasks.

    Messages arrive one by one (:meth:`receive`) and are handled in batches (:meth:`drain`,
    when ``batch_size`` have arrived or on the worker's timer). A message is acknowledged
    once it is written, retired or dead-lettered *and* its task has processed it and the
    checkpoint of that cycle is flushed: a message a task holds back for the event-time merge
    stays unacknowledged, so its offset is not committed.
    """

    def __init__(
        self,
        contract: Contract,
        sink: InputSink,
        registry: Registry,
        metrics: PipelineMetrics,
        computations: Computations,
        *,
        batch_size: int = 1000,
        caught_up: CaughtUp = lambda topic, partition: True,
    ) -> None:
        self._contract = contract
        self._sink = sink
        self._registry = registry
        self._metrics = metrics
        self._computations = computations
        self._batch_size = batch_size
        self.caught_up = caught_up  # set by the Faust shell, which knows the consumer
        # (topic, partition) -> the next offset to hand to the tasks: everything before it has
        # been written, dead-lettered or offered to its task.
        self.positions: dict[tuple[str, int], int] = {}
        self._inbox: list[InboundMessage] = []
        self._cycles_in_flight = 0

    @property
    def idle(self) -> bool:
        """Whether no cycle is running and nothing waits to be handled."""
        return self._cycles_in_flight == 0 and not self._inbox

    async def receive(self, message: InboundMessage) -> None:
        """Take one consumed message; handles a batch once ``batch_size`` have arrived."""
        self._inbox.append(message)
        if len(self._inbox) >= self._batch_size:
            await self.drain()

    def held_back(self, limit: int) -> set[tuple[str, int]]:
        """The input partitions of which the tasks hold more than ``limit`` messages back for
        the merge: their fetching should pause until the other inputs catch up."""
        return {key for key, n in self._computations.buffered_by_input().items() if n > limit}

    def forget(self, partitions: set[tuple[str, int]]) -> None:
        """Partitions taken away by a rebalance: what arrived of them and was not handled yet is
        dropped (their next owner reads it again from the committed offsets)."""
        self._inbox = [m for m in self._inbox if (m.topic, m.partition) not in partitions]
        for key in partitions:
            self.positions.pop(key, None)

    async def drain(self) -> None:
        """Handle what has arrived, and let every task process what it can."""
        batch, self._inbox = self._inbox, []
        await self.handle(batch)

    async def handle(self, batch: Sequence[InboundMessage]) -> None:
        """Handle one batch of any input topics, then run the tasks.

        Every message is written, retired (a registry tombstone) or dead-lettered, and the
        cycle's checkpoint is flushed (dead letters acknowledged by Kafka), before the messages
        it settled are acknowledged.
        """
        self._cycles_in_flight += 1
        try:
            async with self._computations.exclusive:
                await self._cycle(batch)
        finally:
            self._cycles_in_flight -= 1

    async def _cycle(self, batch: Sequence[InboundMessage]) -> None:
        now = time.time()
        checkpoint = self._computations.checkpoint()
        settled: list[InboundMessage] = []
        by_topic: dict[str, list[InboundMessage]] = {}
        for message in batch:
            by_topic.setdefault(message.topic, []).append(message)
        for topic, messages in by_topic.items():
            for message, msg in await self._accept(checkpoint, topic, messages, settled, now):
                self._computations.offer(topic, msg, message.partition, message,
                                         time.monotonic())
            for message in messages:
                self.positions[(topic, message.partition)] = message.offset + 1

        def failed(message: InboundMessage, topic: str, exc: Exception) -> None:
            # A bug in a computation must not lose the message: its row is stored, and it is
            # dead-lettered with the error so it can be replayed once fixed.
            log.error("computations failed on a %s message; dead-lettering it", topic,
                      exc_info=exc)
            self._reject(checkpoint, message, internal_error(topic, exc), now)

        processed = self._computations.run(checkpoint, self.caught_up, time.monotonic(), now,
                                           failed)
        await checkpoint.flush()
        for message in [*settled, *processed]:
            message.ack()

    async def _accept(
        self, checkpoint: Checkpoint, topic: str, batch: Sequence[InboundMessage],
        settled: list[InboundMessage], now: float,
    ) -> list[Pair]:
        """Validate and write one topic's messages; returns those its task must process (the
        others are settled: refused, retired or registry records)."""
        self._metrics.messages_in.labels(topic).inc(len(batch))
        valid: list[Pair] = []
        for message in batch:
            if message.value is None and topic == topics.REGISTRY:
                self._metrics.retirements.inc()  # the follower takes the point out of use
                settled.append(message)
                continue
            result = self._contract.accept(topic, message.key, message.value or b"", now=now)
            if isinstance(result, Rejection):
                self._reject(checkpoint, message, result, now)
                settled.append(message)
            else:
                valid.append((message, result))
        if topic != topics.REGISTRY:
            valid, unknown = await self._split_unknown(valid)
            for message, msg in unknown:
                self._reject(checkpoint, message, unknown_point(topic, msg["point_id"]), now)
                settled.append(message)
        written = await self._write(checkpoint, topic, valid, now)
        delay = self._metrics.event_delay.labels(topic)
        for _, msg in written:
            if "_ts" in msg:
                delay.observe(max(now - msg["_ts"], 0.0))
        kept = {id(message) for message, _ in written}
        settled.extend(message for message, _ in valid if id(message) not in kept)
        if topic == topics.REGISTRY:
            settled.extend(message for message, _ in written)
            return []
        return written

    async def _split_unknown(self, valid: list[Pair]) -> tuple[list[Pair], list[Pair]]:
        directory = self._registry.directory
        if any(msg["point_id"] not in directory for _, msg in valid):
            # The point may have been registered a moment ago: read the registry to its end first.
            await self._registry.catch_up()
            directory = self._registry.directory
        known = [pair for pair in valid if pair[1]["point_id"] in directory]
        unknown = [pair for pair in valid if pair[1]["point_id"] not in directory]
        return known, unknown

    async def _write(
        self, checkpoint: Checkpoint, topic: str, valid: list[Pair], now: float
    ) -> list[Pair]:
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
                self._reject(checkpoint, valid[index][0], _database_refused(topic, error), now)
            refused_at = {index for index, _ in refused}
            valid = [pair for index, pair in enumerate(valid) if index not in refused_at]
        self._metrics.write_seconds.labels(table).observe(time.perf_counter() - started)
        self._metrics.batch_rows.labels(table).observe(len(rows))
        self._metrics.rows.labels(table, "written").inc(written)
        self._metrics.rows.labels(table, "duplicate").inc(max(len(valid) - written, 0))
        return valid

    def _reject(
        self, checkpoint: Checkpoint, message: InboundMessage, rejection: Rejection, now: float
    ) -> None:
        record = dead_letter(
            message.topic, message.partition, message.offset, message.key,
            message.value or b"", rejection, now=now,
        )
        checkpoint.dead_letter(message.key or b"", record)
        self._metrics.rejects.labels(message.topic, rejection.reason).inc()


def _database_refused(topic: str, error: str) -> Rejection:
    return Rejection(
        reason="database_rejected",
        field=None,
        value=None,
        rule=None,
        message=f"{topic}: the database refused this message: {error}",
    )

