"""Every worker's view of the point registry, followed from the compacted ``points.registry`` topic.

Each worker reads all partitions of the registry itself (as a global table would), outside the
consumer group, because a message for point P may land on a worker that does not own P's registry
partition. A point counts as known once its registry message has been read; when a report names a
point not yet known, the caller can :meth:`RegistryFollower.catch_up` to the topic's current end
before calling it unknown, which closes the race between a producer that registers a point and
then reports from it at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.contract import Contract, Rejection
from streams.domain.points import PointInfo
from streams.kafka import topics

log = logging.getLogger(__name__)


class PointDirectory(dict[str, PointInfo]):
    """point_id -> PointInfo."""


class RegistryFollower:
    """Keeps a :class:`PointDirectory` current from the registry topic."""

    def __init__(
        self,
        client: Mapping[str, Any],
        contract: Contract,
        directory: PointDirectory,
        *,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._contract = contract
        self.directory = directory
        self._on_change = on_change
        self._consumer: AIOKafkaConsumer | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._progress = asyncio.Condition()

    async def run(self) -> None:
        """Read the registry from the beginning and follow it until cancelled."""
        # Without a group id the consumer is assigned every partition of the topic, starting from
        # the beginning: the compacted registry is read whole.
        consumer = AIOKafkaConsumer(
            topics.REGISTRY,
            **self._client,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._consumer = consumer
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self._apply(record.key, record.value)
                for tp in consumer.assignment():
                    self._positions[tp] = await consumer.position(tp)
                if self._on_change is not None:
                    self._on_change(len(self.directory))
                async with self._progress:
                    self._progress.notify_all()
        finally:
            self._consumer = None
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # a tombstone retires the point
            if key is not None:
                self.directory.pop(key.decode("utf-8", "replace"), None)
            return
        msg = self._contract.accept(topics.REGISTRY, key, value, now=time.time())
        if isinstance(msg, Rejection):
            return  # the ingest agent dead-letters it; the directory only holds valid points
        self.directory[msg["point_id"]] = PointInfo.from_registry(msg)

    async def catch_up(self, wait_seconds: float = 30.0) -> bool:
        """Wait until every registry message produced so far has been read; False on timeout."""
        deadline = time.monotonic() + wait_seconds
        while self._consumer is None or not self._consumer.assignment():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        consumer = self._consumer
        assigned = list(consumer.assignment())
        ends = await consumer.end_offsets(assigned)

        def caught_up() -> bool:
            return all(self._positions.get(tp, 0) >= end for tp, end in ends.items())

        try:
            async with self._progress:
                await asyncio.wait_for(
                    self._progress.wait_for(caught_up), max(deadline - time.monotonic(), 0.01)
                )
        except TimeoutError:
            return False
        return True
