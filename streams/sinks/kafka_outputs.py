"""Output messages to Kafka in record batches, one batch per topic partition.

Faust's producer path costs a buffer entry, a future and a send call per message; profiling the
worker showed it as its largest single cost. The outputs of a processed batch are instead
appended to aiokafka record batches (one per topic partition, filled by aiokafka's compiled
builder) and sent with ``send_batch``; the caller awaits their delivery before its input batch
is acknowledged, which keeps delivery at-least-once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from streams.kafka.outage import OutageLog, report

OutputMessage = tuple[str, bytes, bytes]  # topic, key, value

MAX_BATCH_BYTES = 1024 * 1024


class BatchProducer:
    """Sends many keyed messages at once, partitioned as Kafka's default partitioner does."""

    def __init__(
        self,
        client: Mapping[str, Any],
        *,
        on_retry: Callable[[set[str]], None] | None = None,
        outage: OutageLog | None = None,
    ) -> None:
        self._client = client
        self._on_retry = on_retry  # called with the topics of a send that failed and is retried
        self._outage = outage or OutageLog("Kafka")
        self._producer: AIOKafkaProducer | None = None  # made in run(): it needs the event loop
        self._partition_counts: dict[str, int] = {}
        # murmur2 is pure Python in aiokafka: remember each key's partition (keys are point ids,
        # a bounded set).
        self._partition_of: dict[tuple[int, bytes], int] = {}
        self._started = asyncio.Event()

    async def run(self) -> None:
        """Connect, serve :meth:`send_all` until cancelled, then flush and disconnect."""
        # Idempotence: a batch the client re-sends after a lost acknowledgement (a leader
        # change, a timeout) is written once. acks=all: a message is acknowledged once
        # min.insync.replicas brokers hold it; while fewer are in sync (NotEnoughReplicas) the
        # send fails, send_all retries it, and the caller's batch (and its commit) waits.
        producer = AIOKafkaProducer(
            **self._client, acks="all", enable_idempotence=True,
            max_batch_size=MAX_BATCH_BYTES, linger_ms=0,
        )
        await producer.start()
        self._producer = producer
        self._started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await producer.stop()

    async def send_all(self, messages: Sequence[OutputMessage]) -> None:
        """Send ``messages`` and return once the brokers have acknowledged every one.

        While Kafka is unreachable the send is retried until it passes (at-least-once: a retry
        may repeat messages a broker took before the failure); the caller's batch waits.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(KafkaError),
            wait=wait_exponential(multiplier=0.5, max=10),
            before_sleep=lambda state: self._retrying(messages, state),
            reraise=True,
        )
        await retrying(self._send_all, messages)

    def _retrying(self, messages: Sequence[OutputMessage], state: RetryCallState) -> None:
        error = None if state.outcome is None else state.outcome.exception()
        report(self._outage.failed(time.monotonic(), repr(error)))
        if self._on_retry is not None:
            self._on_retry({topic for topic, _, _ in messages})

    async def _send_all(self, messages: Sequence[OutputMessage]) -> None:
        await self._started.wait()
        producer = self._producer
        assert producer is not None  # set before _started
        for topic in {topic for topic, _, _ in messages} - self._partition_counts.keys():
            self._partition_counts[topic] = len(await producer.partitions_for(topic))
        open_batches: dict[tuple[str, int], BatchBuilder] = {}
        sent: list[asyncio.Future[Any]] = []
        for topic, key, value in messages:
            partition = self._partition(topic, key)
            batch = open_batches.get((topic, partition))
            if batch is None:
                batch = open_batches[(topic, partition)] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it
                sent.append(await producer.send_batch(batch, topic, partition=partition))
                batch = open_batches[(topic, partition)] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a {topic} message of {len(value)} bytes exceeds "
                                     f"the {MAX_BATCH_BYTES}-byte batch limit")
        for (topic, partition), batch in open_batches.items():
            sent.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*sent)
        report(self._outage.recovered(time.monotonic()), logging.INFO)

    def _partition(self, topic: str, key: bytes) -> int:
        count = self._partition_counts[topic]
        partition = self._partition_of.get((count, key))
        if partition is None:
            partition = self._partition_of[(count, key)] = (murmur2(key) & 0x7FFFFFFF) % count
        return partition
