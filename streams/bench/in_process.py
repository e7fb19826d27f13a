"""The worker's own code over the backlog in one process, without Kafka, PostgreSQL or Faust.

``make bench`` prints it beside the Faust no-op: what validating the messages and computing
them (fuel, occupancy, liveness, alert rules, and each batch's checkpoint: records encoded to
JSON as the state table stores them, output rows and messages) costs per 1,000 events when no
framework, broker or database is involved. It is the floor of the worker's cost on top of
Faust's, so it shows which targets a Python worker on Faust can reach.

The backlog is the simulator's (same seed and start as the benchmark's), in batches of
``NEZLAM_SINK_BATCH_SIZE`` in the order it was sent, through the stream tasks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from streams.alerting.rules_file import load_alert_rules
from streams.config import Settings
from streams.contract import Rejection
from streams.domain.points import PointInfo
from streams.kafka.topics import REGISTRY
from streams.simulate.producer import partition_for
from streams.simulate.registry import build_registry
from streams.simulate.world import Scenario, Simulation
from streams.sinks.kafka_outputs import OutputMessage
from streams.worker.checkpoint import Destinations
from streams.worker.components import build_contract, build_pipeline
from streams.worker.metrics import PipelineMetrics
from streams.worker.partition_scope import OneProcessScope
from streams.worker.point_directory import PointDirectory
from streams.worker.startup import tune_garbage_collection

Raw = tuple[str, bytes, bytes]  # topic, key, value


@dataclass(frozen=True)
class InProcessCost:
    """CPU-milliseconds per 1,000 events of the worker's own code, by step."""

    events: int
    validation_ms_per_1000: float
    computations_ms_per_1000: float

    @property
    def total_ms_per_1000(self) -> float:
        """Both steps."""
        return self.validation_ms_per_1000 + self.computations_ms_per_1000


class _JsonTable(MutableMapping[Any, Any]):
    """A dict that keeps values as JSON bytes, as Faust's table keeps them in RocksDB."""

    def __init__(self) -> None:
        self._data: dict[Any, bytes] = {}

    def __getitem__(self, key: Any) -> Any:
        return orjson.loads(self._data[key])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[key] = orjson.dumps(value)

    def __delitem__(self, key: Any) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class _NoRows:
    async def write(self, topic: str, rows: Any) -> int:
        return len(rows)


async def _no_send(messages: list[OutputMessage]) -> None:
    return None


def backlog(minutes: float, seed: int, start: float) -> list[Raw]:
    """``minutes`` of the full network from ``start``, serialised as the simulator sends it."""
    registry = build_registry(seed)
    simulation = Simulation(registry, seed, datetime.fromtimestamp(start, UTC), Scenario())
    raw: list[Raw] = [(REGISTRY, e["point_id"].encode(), orjson.dumps(e)) for e in registry]
    raw.extend((topic, key.encode(), orjson.dumps(value))
               for topic, key, value in simulation.advance_to(start + minutes * 60))
    return raw


async def measure(settings: Settings, minutes: float, seed: int, start: float) -> InProcessCost:
    """Validate and compute ``minutes`` of the full network from ``start`` (epoch seconds);
    the CPU each step took."""
    tune_garbage_collection()  # as the worker does
    raw = backlog(minutes, seed, start)
    contract = build_contract(settings)
    partitions = list(range(settings.topic_partitions))
    now = time.time()

    began = time.process_time()
    accepted: list[tuple[str, int, dict[str, Any]]] = []  # in the order they were sent
    for topic, key, value in raw:
        message = contract.accept(topic, key, value, now=now)
        if not isinstance(message, Rejection):
            accepted.append((topic, partition_for(key, partitions), message))
    validation = time.process_time() - began

    directory = PointDirectory({m["point_id"]: PointInfo.from_registry(m)
                                for topic, _, m in accepted if topic == REGISTRY})
    inputs = [entry for entry in accepted if entry[0] != REGISTRY]
    destinations = Destinations(sink=_NoRows(), publish=_no_send, offer_alert=lambda e: None,
                                metrics=PipelineMetrics(CollectorRegistry()),
                                deadletter_topic=settings.deadletter_topic)
    # A backlog is judged on event time whatever the clock: its inputs are never caught up.
    pipeline = build_pipeline(settings.model_copy(update={"clock": "event"}),
                              load_alert_rules(settings.alert_rules_file), directory,
                              destinations, _JsonTable(), OneProcessScope())

    def failed(ack: Any, topic: str, exc: Exception) -> None:
        raise exc

    began = time.process_time()
    size = settings.sink_batch_size
    for first in range(0, len(inputs), size):
        checkpoint = pipeline.checkpoint()
        for topic, partition, message in inputs[first:first + size]:
            pipeline.offer(topic, message, partition, None, 0.0)
        pipeline.run(checkpoint, lambda topic, partition: True, time.monotonic(), now, failed)
        await checkpoint.flush()
    computations = time.process_time() - began
    events = len(raw)
    return InProcessCost(events, 1e6 * validation / events, 1e6 * computations / events)
