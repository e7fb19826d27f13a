"""The computations behind ingest: one stream task per partition number, and its lifecycle.

The ingestor offers every accepted message of telemetry, visits and activations to the task of
its partition number (:mod:`streams.worker.task`), which applies them to its points in
event-time order. Each point's state is one record in the worker's state table keyed by
point_id (:mod:`streams.domain.point_state`), filed in the changelog partition of the same
number, so it moves with its task on a rebalance.

This class is the one owner of the tasks' lifecycle: a task is built, with its points'
records read from the table and their deadlines in its timer queue, the first time this worker
processes its partition after a start or a rebalance, and every task is dropped at the next
rebalance (what it buffered is not acknowledged: the next owner reads it again). What the
tasks produce goes to a :class:`~streams.worker.checkpoint.Checkpoint`; the changed records are
written to the table when it is flushed, before any offset is committed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection, MutableMapping
from typing import Any

from streams.domain.alert_lifecycle import AlertState
from streams.domain.alert_model import AlertEvent
from streams.domain.alert_rules import AlertRules
from streams.domain.dispatch_alerts import PlanBook
from streams.domain.occupancy import OccupancyConfig
from streams.domain.point import InputKind, PointOutputs, PointSetup
from streams.domain.point_state import PointState
from streams.domain.staleness import StalenessConfig
from streams.kafka import topics
from streams.worker.checkpoint import Checkpoint, Destinations
from streams.worker.outputs import Outputs
from streams.worker.partition_scope import PartitionScope
from streams.worker.point_directory import PointDirectory
from streams.worker.task import StreamTask

#: The inputs a task merges, in the order that breaks ties of equal timestamps: an order or a
#: visit at the same second as a report is applied before it.
TASK_INPUTS: dict[str, InputKind] = {
    topics.ACTIVATIONS: "activation",
    topics.VISITS: "visit",
    topics.TELEMETRY: "telemetry",
}

CaughtUp = Callable[[str, int], bool]  # (input topic, partition): everything Kafka has is read
OnError = Callable[[Any, str, Exception], None]  # (the message's ack, topic, error)


class Pipeline:
    """The stream tasks of the partitions this worker owns."""

    def __init__(
        self,
        *,
        directory: PointDirectory,
        rules: AlertRules,
        staleness: StalenessConfig,
        occupancy: OccupancyConfig,
        destinations: Destinations,
        event_clock: bool,
        lateness_seconds: float,
        max_idle_seconds: float,
        table: MutableMapping[Any, Any],
        scope: PartitionScope,
        plans: Callable[[], PlanBook] = PlanBook,
    ) -> None:
        self._directory = directory
        self._rules = rules
        self._staleness = staleness
        self._occupancy = occupancy
        self._to = destinations
        self._metrics = destinations.metrics
        self._event_clock = event_clock
        self._lateness = lateness_seconds
        self._max_idle = max_idle_seconds
        self._table = table
        self._scope = scope
        self._plans = plans
        self._plan_book = plans()
        # Tasks run one cycle at a time: a cycle changes records and its checkpoint writes them
        # after awaiting the database and Kafka.
        self.exclusive = asyncio.Lock()
        self._tasks: dict[int, StreamTask] = {}
        self._generation = scope.generation()

    # --- lifecycle --------------------------------------------------------------------------

    def _task(self, partition: int) -> StreamTask:
        self._follow_rebalances()
        task = self._tasks.get(partition)
        if task is None:
            wanted = ({partition} | set(self._scope.assigned())) - set(self._tasks)
            records = self._read_records(wanted)
            for number in wanted:
                self._tasks[number] = StreamTask(
                    number, list(TASK_INPUTS), records.get(number, {}), self._setup, self._load,
                    lateness_seconds=self._lateness, max_idle_seconds=self._max_idle)
            task = self._tasks[partition]
        return task

    def _follow_rebalances(self) -> None:
        generation = self._scope.generation()
        if generation != self._generation:
            # The table may hold other versions of the records now, and Kafka delivers again
            # from the committed offsets whatever the tasks had buffered.
            for task in self._tasks.values():
                task.drop()
            self._tasks.clear()
            self._generation = generation

    def _read_records(self, partitions: Collection[int]) -> dict[int, dict[str, PointState]]:
        found: dict[int, dict[str, PointState]] = {}
        for key, stored in list(self._table.items()):
            if stored.get("partition") in partitions:
                point_id = key.decode() if isinstance(key, bytes) else key  # raw table keys
                found.setdefault(stored["partition"], {})[point_id] = PointState.from_dict(stored)
        return found

    def _load(self, point_id: str) -> PointState | None:
        stored = self._table.get(point_id)
        return None if stored is None else PointState.from_dict(stored)

    def _setup(self, point_id: str) -> PointSetup | None:
        info = self._directory.get(point_id)
        if info is None:
            return None
        return PointSetup(info, self._rules, self._staleness, self._occupancy,
                          self._plan_book.lookup(point_id, info.oblast))

    # --- processing --------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint:
        """A checkpoint for one cycle; it writes the changed records when flushed."""
        return Checkpoint(self._to, self._write_records)

    def offer(self, topic: str, message: dict[str, Any], partition: int, ack: Any,
              now: float) -> None:
        """Hand an accepted message of a task input to its task (``ack``: what :meth:`run`
        returns once it is processed; ``now``: monotonic seconds)."""
        self._task(partition).offer(topic, TASK_INPUTS[topic], message, ack, now)

    def run(
        self, checkpoint: Checkpoint, caught_up: CaughtUp, now: float, wall: float,
        on_error: OnError,
    ) -> list[Any]:
        """Process what every task can process now (``now``: monotonic, for the idle waits;
        ``wall``: the wall clock); returns the acks of the messages processed."""
        self._follow_rebalances()
        self._plan_book = self._plans()
        out = checkpoint.out
        acks: list[Any] = []

        def emit(point_id: str, produced: PointOutputs) -> None:
            _to_outputs(point_id, produced, out)
            self._metrics.forecasts.inc(len(produced.forecasts))

        def late(topic: str) -> None:
            self._metrics.late_events.labels(topic).inc()

        ready = {partition: {topic for topic in TASK_INPUTS if caught_up(topic, partition)}
                 for partition in self._tasks}
        for partition, task in self._tasks.items():
            acks.extend(task.run(ready[partition], now, emit, late,
                                 lambda name, inbound, exc: on_error(inbound.ack, name, exc)))
        if not self._event_clock:
            # A task read to its end follows the wall clock. In event-clock mode only its own
            # messages move it: another partition's time is never this one's.
            for partition, task in self._tasks.items():
                task.move_to(wall, ready[partition], emit)
        return acks

    def observe(self) -> None:
        """Set the gauges of points by state and of the tasks."""
        categories: Counter[str] = Counter()
        overdue = 0
        for task in self._tasks.values():
            for category, late in task.shown(self._staleness):
                categories[category] += 1
                overdue += late
        for state in ("open", "standby", "closed", "silent", "unknown"):
            self._metrics.points_by_state.labels(state).set(categories[state])
        self._metrics.activation_overdue.set(overdue)
        for partition, task in self._tasks.items():
            if task.time is not None:
                self._metrics.stream_time.labels(str(partition)).set(task.time)
            self._metrics.task_buffered.labels(str(partition)).set(task.buffered)

    @property
    def buffered(self) -> int:
        """Messages the tasks hold back for the merge."""
        return sum(task.buffered for task in self._tasks.values())

    def buffered_by_input(self) -> dict[tuple[str, int], int]:
        """Messages held back per (input topic, partition)."""
        return {(topic, partition): n for partition, task in self._tasks.items()
                for topic, n in task.buffered_by_input().items()}

    def firing(self) -> list[AlertEvent]:
        """Every alert firing on this worker's points."""
        return [event for _, stored in list(self._table.items())
                if (alerts := stored.get("alerts")) is not None
                for event in AlertState.from_dict(alerts).firing()]

    def _write_records(self) -> None:
        """Write every changed record once, in its partition's scope. A task whose partition
        this worker no longer owns writes nothing: the new owner restored them already."""
        for partition, task in self._tasks.items():
            if not task.changed:
                continue
            if self._scope.covers(partition):
                with self._scope(partition):
                    for point_id in task.changed:
                        self._table[point_id] = task.records[point_id].to_dict()
            task.changed.clear()


def _to_outputs(point_id: str, produced: PointOutputs, out: Outputs) -> None:
    # Every forecast and occupancy figure is a row (the history, whatever the batching); each
    # topic gets each point's newest of the cycle (the same thing at the live rate, where a
    # cycle holds one report per point at most).
    for topic, produced_messages in ((topics.FUEL_FORECAST, produced.forecasts),
                                     (topics.OCCUPANCY, produced.occupancy)):
        for message in produced_messages:
            out.store(topic, message)
        if produced_messages:
            out.latest(topic, point_id, produced_messages[-1])
    for change in produced.state_changes:
        out.emit(topics.POINT_STATE, point_id, change)
    for event in produced.alerts:
        out.alert(event)
