"""Ingest: validate each input message, dead-letter what is refused, write the rest in batches.

:class:`Ingestor` holds the per-batch logic and knows nothing of Faust;
:mod:`streams.worker.faust_app` runs one agent per input topic over it. Offsets are acknowledged
by ``take_events`` only after the batch handler returns, and every dead letter is acknowledged
by Kafka before that, so every message is written or dead-lettered before its offset is
committed (at-least-once; replays are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from streams.contract import Contract, Rejection, dead_letter, internal_error, unknown_point
from streams.kafka import topics
from streams.sinks.database import TABLES
from streams.worker.checkpoint import Checkpoint
from streams.worker.metrics import PipelineMetrics
from streams.worker.point_directory import PointDirectory
from streams.worker.point_states import PointStates


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A consumed record, detached from Faust so the handler is testable on its own."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone


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

    exclusive: asyncio.Lock  # held from computing a batch until its checkpoint is flushed

    def checkpoint(self) -> Checkpoint:
        """A checkpoint for one batch."""

    def states(self) -> PointStates:
        """A fresh working copy of the per-point records."""

    def process(self, topic: str, accepted: Sequence[dict[str, Any]],
                partitions: Sequence[int], checkpoint: Checkpoint) -> None:
        """Feed an accepted batch; outputs go to ``checkpoint``."""


log = logging.getLogger(__name__)

Pair = tuple[InboundMessage, dict[str, Any]]  # a consumed record and its validated message


class Ingestor:
    """Validates, dead-letters and writes batches of the input topics, then feeds them on."""

    def __init__(
        self,
        contract: Contract,
        sink: InputSink,
        registry: Registry,
        metrics: PipelineMetrics,
        computations: Computations,
    ) -> None:
        self._contract = contract
        self._sink = sink
        self._registry = registry
        self._metrics = metrics
        self._computations = computations
        self.positions: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset
        self._batches_in_flight = 0

    @property
    def idle(self) -> bool:
        """Whether no batch is being handled now."""
        return self._batches_in_flight == 0

    async def handle(self, topic: str, batch: Sequence[InboundMessage]) -> None:
        """Process one batch of ``topic`` and feed what it accepts to the computations.

        Every message is written, retired (a registry tombstone) or dead-lettered, and the
        batch's checkpoint is flushed (dead letters acknowledged by Kafka), before this returns
        and the offsets can be committed.
        """
        self._batches_in_flight += 1
        try:
            await self._handle(topic, batch)
        finally:
            self._batches_in_flight -= 1

    async def _handle(self, topic: str, batch: Sequence[InboundMessage]) -> None:
        now = time.time()
        checkpoint = self._computations.checkpoint()
        self._metrics.messages_in.labels(topic).inc(len(batch))
        valid: list[Pair] = []
        for message in batch:
            if message.value is None and topic == topics.REGISTRY:
                self._metrics.retirements.inc()  # the follower takes the point out of use
                continue
            result = self._contract.accept(topic, message.key, message.value or b"", now=now)
            if isinstance(result, Rejection):
                self._reject(checkpoint, message, result, now)
            else:
                valid.append((message, result))
        if topic != topics.REGISTRY:
            valid, unknown = await self._split_unknown(valid)
            for message, msg in unknown:
                self._reject(checkpoint, message, unknown_point(topic, msg["point_id"]), now)
        valid = await self._write(checkpoint, topic, valid, now)
        accepted = [msg for _, msg in valid]
        async with self._computations.exclusive:
            try:
                if accepted:
                    self._computations.process(
                        topic, accepted, [message.partition for message, _ in valid], checkpoint
                    )
                await checkpoint.flush()
            except Exception as exc:
                # A bug in a computation must not lose the batch: its rows are stored, and the
                # messages are dead-lettered with the error so they can be replayed once fixed.
                log.exception("computations failed on a %s batch; dead-lettering it", topic)
                checkpoint.drop_computations(self._computations.states())
                for message, _ in valid:
                    self._reject(checkpoint, message, internal_error(topic, exc), now)
                await checkpoint.flush()
        for message in batch:
            self.positions[(topic, message.partition)] = message.offset + 1
        delay = self._metrics.event_delay.labels(topic)
        for msg in accepted:
            if "_ts" in msg:
                delay.observe(max(now - msg["_ts"], 0.0))

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
