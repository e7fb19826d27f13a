"""The computations behind ingest: what each accepted batch feeds, and the periodic judgement.

The ingest agent hands every accepted batch here in-process (no second consumer, no
re-serialisation). Each point's state is one record in the worker's state table keyed by
point_id (:mod:`streams.domain.point_state`), filed in the changelog partition of the same number
as its input partition, so it moves with it on a rebalance; a batch reads each record once and
writes each changed one once (:class:`~streams.worker.point_states.PointStates`). What a batch
produces goes to its :class:`~streams.worker.checkpoint.Checkpoint`, flushed when it ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from streams.domain.alert_model import AlertEvent
from streams.domain.lag_guard import (
    LagGuardConfig,
    PartitionProgress,
    pipeline_health,
    reference_time,
)
from streams.domain.staleness import StateCounts, sum_counts
from streams.kafka import topics
from streams.worker.alerts import AlertProcessor
from streams.worker.checkpoint import Checkpoint, Destinations
from streams.worker.fuel import FuelProcessor
from streams.worker.liveness import LivenessProcessor
from streams.worker.liveness_index import LivenessIndex
from streams.worker.occupancy import OccupancyProcessor
from streams.worker.point_states import DecodedRecords, PartitionScope, PointStates

Input = tuple[str, int]  # (input topic, partition)

_EVENT_TIME_GUARD = LagGuardConfig(max_backlog_messages=0, max_watermark_delay_seconds=0.0)


class Pipeline:
    """Routes accepted messages to the processors; judges silence and deadlines on a timer."""

    def __init__(
        self,
        *,
        fuel: FuelProcessor,
        occupancy: OccupancyProcessor,
        liveness: LivenessProcessor,
        alerts: AlertProcessor,
        destinations: Destinations,
        lag_guard: LagGuardConfig,
        event_clock: bool,
        table: MutableMapping[Any, Any],
        scope: PartitionScope,
    ) -> None:
        self._fuel = fuel
        self._occupancy = occupancy
        self._liveness = liveness
        self._alerts = alerts
        self._to = destinations
        self._metrics = destinations.metrics
        self._lag_guard = lag_guard
        self._event_clock = event_clock
        self._table = table
        self._scope = scope
        # The agents of the input topics and the timer each work on their own copy of the
        # records they touch, and write them back when their checkpoint is flushed, after
        # awaiting the database and Kafka: one at a time, or one would overwrite the other's
        # changes to a point (an activation order and a report of the same point, say).
        self.exclusive = asyncio.Lock()
        self._liveness_index = LivenessIndex()
        self._decoded = DecodedRecords()
        self._watermark = 0.0  # newest event ts seen: the clock when event_clock is on
        # (input topic, partition) -> newest event ts processed there
        self.progress: dict[tuple[str, int], float] = {}

    def now(self) -> float:
        """Wall clock, or in event-clock mode the newest event ts this worker has seen."""
        return self._watermark if self._event_clock else time.time()

    def checkpoint(self) -> Checkpoint:
        """A checkpoint for one batch, over a fresh working copy of the records."""
        return Checkpoint(self._to, self.states())

    def states(self) -> PointStates:
        """A fresh working copy of the per-point records."""
        return PointStates(self._table, self._scope, on_write=self._liveness_index.written,
                           decoded=self._decoded)

    def process(
        self,
        topic: str,
        accepted: Sequence[dict[str, Any]],
        partitions: Sequence[int],
        checkpoint: Checkpoint,
    ) -> None:
        """Feed one accepted batch (``partitions[i]`` is where ``accepted[i]`` came from); what
        it produces goes to ``checkpoint``."""
        if topic == topics.REGISTRY:
            return  # no event time, no computation: the point directory follows the registry
        states = checkpoint.states
        # A report counts as heard at the time the worker reached when it processed it: the
        # wall clock, or in event time the newest ts processed so far (this one included).
        heard_from = self._watermark
        # Orders and visits carry event time too: the event clock must not stand at 0 when an
        # order is read before any report (its point would be "seen" at 0).
        self._track(topic, accepted, partitions)
        for msg, partition in zip(accepted, partitions, strict=True):
            states.of(msg["point_id"], partition)
        # Per point, reports count in event-time order, whatever order they arrived in (a
        # stable sort keeps the arrival order of equal times).
        self._feed(topic, sorted(accepted, key=_event_time), checkpoint, heard_from)

    def _feed(
        self, topic: str, messages: list[dict[str, Any]], checkpoint: Checkpoint,
        heard_from: float,
    ) -> None:
        states, out = checkpoint.states, checkpoint.out
        if topic == topics.TELEMETRY:
            forecasts = self._fuel.on_telemetry(messages, states, out)
            self._metrics.forecasts.inc(sum(f is not None for f in forecasts))
            occupancy = self._occupancy.on_headcounts(messages, states, out)
            now = self.now()
            handled_at: Callable[[float], float] = (
                (lambda ts: max(heard_from, ts)) if self._event_clock else (lambda ts: now))
            liveness = self._liveness.on_telemetry(messages, states, handled_at)
            self._alerts.on_reports(
                messages, forecasts, occupancy, liveness, self._liveness.config, states, out
            )
        elif topic == topics.VISITS:
            self._occupancy.on_visits(messages, states, out)
        elif topic == topics.ACTIVATIONS:
            ended = self._liveness.on_activations(messages, states)
            self._alerts.on_ended_orders(ended, states, out)

    async def judge(self, highwaters: Mapping[Input, int], positions: Mapping[Input, int]) -> None:
        """Judge silence and deadlines for this worker's points (called by a timer);
        ``highwaters`` has an entry per (input topic, partition) this worker owns, ``positions``
        the next offset to process there."""
        async with self.exclusive:
            await self._judge(highwaters, positions)

    async def _judge(self, highwaters: Mapping[Input, int], positions: Mapping[Input, int]) -> None:
        now = self.now()
        # Each partition number is a task: its points are judged no later than the event time
        # every one of its inputs has reached while that input still has messages to read (a
        # report, or the order that ends a deadline, may be queued there). Caught-up inputs do
        # not hold it back, so a network that truly goes quiet is still judged; another task's
        # backlog never holds it back.
        guard = _EVENT_TIME_GUARD if self._event_clock else self._lag_guard
        tasks = sorted({partition for _, partition in highwaters})
        checkpoint = self.checkpoint()
        self._liveness_index.cover(frozenset(tasks), self._scope.generation(), checkpoint.states)
        points = self._liveness_index.by_partition()
        counts: list[StateCounts] = []
        backlog = 0
        for task in tasks:
            health = pipeline_health(self._task_progress(task, highwaters, positions))
            backlog += health.backlog_messages
            reference = reference_time(now, health, guard)
            task_counts, verdicts = self._liveness.judge(
                now, reference, points.get(task, ()), checkpoint.out,
                event_time=self._event_clock,
            )
            counts.append(task_counts)
            if reference is not None:
                self._alerts.on_judgement(verdicts, reference, checkpoint.states, checkpoint.out)
        total = sum_counts(counts)
        for state in ("open", "standby", "closed", "silent", "unknown"):
            self._metrics.points_by_state.labels(state).set(getattr(total, state))
        self._metrics.activation_overdue.set(total.activation_overdue)
        self._metrics.consumer_lag.labels(topics.TELEMETRY).set(sum(
            max(high - positions.get((topic, partition), 0), 0)
            for (topic, partition), high in highwaters.items() if topic == topics.TELEMETRY))
        await checkpoint.flush()

    def firing(self) -> list[AlertEvent]:
        """Every alert firing on this worker's points."""
        return [event for state in self.states().alerts()
                for event in state.firing()]

    def _track(self, topic: str, accepted: Sequence[dict[str, Any]],
               partitions: Sequence[int]) -> None:
        for msg, partition in zip(accepted, partitions, strict=True):
            ts = _event_time(msg)
            if ts > self.progress.get((topic, partition), 0.0):
                self.progress[(topic, partition)] = ts
            if ts > self._watermark:
                self._watermark = ts

    def _task_progress(
        self, task: int, highwaters: Mapping[Input, int], positions: Mapping[Input, int]
    ) -> Iterable[PartitionProgress]:
        for (topic, partition), high in highwaters.items():
            if partition == task:
                yield PartitionProgress(partition, self.progress.get((topic, partition)),
                                        max(high - positions.get((topic, partition), 0), 0))


def _event_time(message: dict[str, Any]) -> float:
    return float(message["_ts"])
