"""The Kafka side of the simulator: fast, keyed, batched publishing with aiokafka.

Tens of thousands of messages per second do not fit through ``await producer.send()`` one
message at a time (a coroutine, a partitioner call and a future per message). The
:class:`Publisher` instead appends each record to aiokafka's :class:`BatchBuilder` for its
(topic, partition) — a C record builder — and hands full batches to ``send_batch`` without
waiting for delivery; :meth:`Publisher.flush` waits for every outstanding batch.

The partition of a key is what aiokafka's :class:`DefaultPartitioner` computes (murmur2, the
Java client's default for keyed records), cached per key, so a Faust worker reading by key
sees each point on one partition whatever produced its messages.

Settings: ``acks=all`` with idempotence (a batch is acknowledged once ``min.insync.replicas``
brokers hold it, and a batch re-sent after a leader change is written once: on a cluster, a
broker dying mid-stream neither loses nor duplicates what the simulator produced), no
compression (on loopback it only costs CPU; see docs/simulator.md), batches of up to
:data:`MAX_BATCH_BYTES`. Record timestamps are the wall
clock at production (CreateTime); the event time is the payload's ``ts``, which may lie in the
past, and the broker's retention keys on record timestamps.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

MAX_BATCH_BYTES = 512 * 1024
LINGER_MS = 20
ACKS = "all"
MAX_IN_FLIGHT_BATCHES = 256  # beyond this, wait for the oldest delivery before sending more
PARTIAL_BATCH_S = 0.25  # send a non-full batch when it is this old (wall seconds)

_STOPS = (KeyboardInterrupt, asyncio.CancelledError)
_Batch = Any  # aiokafka.producer.message_accumulator.BatchBuilder (untyped upstream)
_PARTITIONER = DefaultPartitioner()


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """Kafka's default partition of a keyed record: murmur2 of the key, as the Java client."""
    partition: int = _PARTITIONER(key, partitions, partitions)
    return partition


class Publisher:
    """Keyed records into Kafka, batched per partition; use as ``async with Publisher(...)``."""

    def __init__(
        self,
        client: Mapping[str, Any],
        topics: Iterable[str],
        client_id: str = "nezlam-simulate",
    ):
        """``client``: connection settings, see :func:`streams.kafka.client.client_kwargs`."""
        self._producer = AIOKafkaProducer(
            **client,
            client_id=client_id,
            acks=ACKS,
            enable_idempotence=True,
            linger_ms=LINGER_MS,
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=4 * MAX_BATCH_BYTES,
            compression_type=None,
        )
        self._topics = tuple(topics)
        self._partitions: dict[str, list[int]] = {}
        self._partition_of: dict[tuple[str, bytes], int] = {}
        self._open: dict[tuple[str, int], _Batch] = {}
        self._full: list[tuple[str, int, _Batch]] = []
        self._in_flight: deque[asyncio.Future[Any]] = deque()

    async def __aenter__(self) -> Publisher:
        try:
            await self._producer.start()
            for topic in self._topics:
                self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        except BaseException:
            await self._producer.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # On Ctrl-C, what was produced still goes out; on an error, there is no point.
            if exc_type is None or issubclass(exc_type, _STOPS):
                await self.flush()
        finally:
            await self._producer.stop()

    def partition(self, topic: str, key: bytes) -> int:
        """The partition ``key`` goes to on ``topic`` (murmur2, as the Java client does)."""
        cached = self._partition_of.get((topic, key))
        if cached is None:
            cached = self._partition_of[(topic, key)] = partition_for(key, self._partitions[topic])
        return cached

    def add(self, topic: str, key: bytes, value: bytes) -> None:
        """Queue one record; it leaves with its batch at the next :meth:`pump` or :meth:`flush`."""
        partition = self.partition(topic, key)
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._producer.create_batch()
        if batch.append(timestamp=None, key=key, value=value) is None:
            # Full: it goes as it is, and the record starts the next batch of this partition.
            self._full.append((topic, partition, batch))
            batch = self._open[slot] = self._producer.create_batch()
            if batch.append(timestamp=None, key=key, value=value) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit in a batch")

    async def pump(self, *, partial: bool = False) -> None:
        """Send the full batches (and, with ``partial``, the others) without awaiting delivery."""
        ready, self._full = self._full, []
        if partial:
            ready.extend((topic, partition, b) for (topic, partition), b in self._open.items())
            self._open.clear()
        for topic, partition, batch in ready:
            future = await self._producer.send_batch(batch, topic, partition=partition)
            self._in_flight.append(future)
        await self._settle(MAX_IN_FLIGHT_BATCHES)

    async def flush(self) -> None:
        """Send everything queued and wait until the broker acknowledged all of it."""
        await self.pump(partial=True)
        await self._settle(0)

    async def _settle(self, keep: int) -> None:
        """Collect finished deliveries (raising their errors); wait while more than ``keep``."""
        in_flight = self._in_flight
        while in_flight and (len(in_flight) > keep or in_flight[0].done()):
            await in_flight.popleft()
