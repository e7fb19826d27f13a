"""The computations behind ingest: what each accepted batch feeds, and the periodic judgement.

The ingest agent hands every accepted batch here in-process (no second consumer, no
re-serialisation). Each point's state is one record in the worker's state table keyed by
point_id (:mod:`streams.domain.point_state`), filed in the changelog partition of the same number
as its input partition, so it moves with it on a rebalance; a batch reads each record once and
writes each changed one once (:class:`~streams.agents.point_states.PointStates`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import orjson

from streams import topics
from streams.agents.alerts import AlertProcessor
from streams.agents.fuel import FuelProcessor
from streams.agents.liveness import LivenessProcessor
from streams.agents.occupancy import OccupancyProcessor
from streams.agents.outputs import Outputs
from streams.agents.point_states import PartitionScope, PointStates
from streams.domain.clock import LagGuardConfig, PartitionProgress, pipeline_health, reference_time
from streams.metrics import PipelineMetrics
from streams.sinks.database import TABLES, DatabaseSink
from streams.sinks.kafka_outputs import OutputMessage

Publish = Callable[[list[OutputMessage]], Awaitable[None]]  # returns once all are acknowledged
_EVENT_TIME_GUARD = LagGuardConfig(max_backlog_messages=0, max_watermark_delay_seconds=0.0)


class Pipeline:
    """Routes accepted messages to the processors, then publishes and stores their outputs."""

    def __init__(
        self,
        *,
        fuel: FuelProcessor,
        occupancy: OccupancyProcessor,
        liveness: LivenessProcessor,
        alerts: AlertProcessor,
        on_alert: Callable[[dict[str, Any]], None],
        sink: DatabaseSink,
        publish: Publish,
        metrics: PipelineMetrics,
        lag_guard: LagGuardConfig,
        event_clock: bool,
        table: MutableMapping[Any, Any],
        scope: PartitionScope,
    ) -> None:
        self._fuel = fuel
        self._occupancy = occupancy
        self._liveness = liveness
        self._alerts = alerts
        self._on_alert = on_alert
        self._sink = sink
        self._publish = publish
        self._metrics = metrics
        self._lag_guard = lag_guard
        self._event_clock = event_clock
        self._table = table
        self._scope = scope
        self._watermark = 0.0  # newest event ts seen: the clock when event_clock is on
        self.progress: dict[int, float] = {}  # telemetry partition -> newest ts processed

    def now(self) -> float:
        """Wall clock, or in event-clock mode the newest telemetry ts this worker has seen."""
        return self._watermark if self._event_clock else time.time()

    async def process(
        self, topic: str, accepted: Sequence[dict[str, Any]], partitions: Sequence[int]
    ) -> None:
        """Feed one accepted batch (``partitions[i]`` is where ``accepted[i]`` came from)."""
        if topic == topics.REGISTRY:
            return  # no event time, no computation: the point directory follows the registry
        out = Outputs()
        states = self.states()
        if topic == topics.TELEMETRY:
            self._track(accepted, partitions)
        for msg, partition in zip(accepted, partitions, strict=True):
            states.of(msg["point_id"], partition)
        # Per point, reports count in event-time order, whatever order they arrived in (a
        # stable sort keeps the arrival order of equal times).
        self._feed(topic, sorted(accepted, key=_event_time), states, out)
        await self.flush(out, states)

    def states(self) -> PointStates:
        """A fresh working copy of the per-point records (one per batch or judgement)."""
        return PointStates(self._table, self._scope)

    def _feed(
        self, topic: str, messages: list[dict[str, Any]], states: PointStates, out: Outputs
    ) -> None:
        if topic == topics.TELEMETRY:
            forecasts = self._fuel.on_telemetry(messages, states, out)
            self._metrics.forecasts.inc(sum(f is not None for f in forecasts))
            occupancy = self._occupancy.on_headcounts(messages, states, out)
            liveness = self._liveness.on_telemetry(messages, states, self.now())
            self._alerts.on_reports(
                messages, forecasts, occupancy, liveness, self._liveness.config, states, out
            )
        elif topic == topics.VISITS:
            self._occupancy.on_visits(messages, states, out)
        elif topic == topics.ACTIVATIONS:
            late = self._liveness.on_activations(messages, states, self.now())
            self._alerts.on_late_openings(late, states, out)

    async def judge(self, highwaters: Mapping[int, int], positions: Mapping[int, int]) -> None:
        """Judge silence and deadlines for this worker's points (called by a timer)."""
        now = self.now()
        health = pipeline_health(self._partition_progress(highwaters, positions))
        # In event time no point is judged beyond the event time reached on a partition that
        # is still being read (its points' reports may be queued there); caught-up partitions
        # do not hold it back, so a network that truly goes quiet is still judged.
        guard = _EVENT_TIME_GUARD if self._event_clock else self._lag_guard
        reference = reference_time(now, health, guard)
        out = Outputs()
        states = self.states()
        counts, verdicts = self._liveness.judge(
            now, reference, states, out, event_time=self._event_clock
        )
        if reference is not None:
            self._alerts.on_judgement(verdicts, reference, states, out)
        for state in ("open", "standby", "closed", "silent", "unknown"):
            self._metrics.points_by_state.labels(state).set(getattr(counts, state))
        self._metrics.activation_overdue.set(counts.activation_overdue)
        self._metrics.consumer_lag.labels(topics.TELEMETRY).set(health.backlog_messages)
        await self.flush(out, states)

    def firing(self) -> list[dict[str, Any]]:
        """The ``alerts`` message of every alert firing on this worker's points."""
        return [event.to_message() for state in self.states().alerts()
                for event in state.firing()]

    async def flush(self, out: Outputs, states: PointStates) -> None:
        """Publish the output messages, write the output rows, then the changed records (all
        before the batch is acknowledged)."""
        await self._publish(
            [(topic, key.encode(), orjson.dumps(message)) for topic, key, message in out.messages]
        )
        for topic, n in Counter(topic for topic, _, _ in out.messages).items():
            self._metrics.messages_out.labels(topic).inc(n)
        for topic, rows in out.rows.items():
            written = await self._sink.write(topic, rows)
            table = TABLES[topic].table
            self._metrics.rows.labels(table, "written").inc(written)
            self._metrics.rows.labels(table, "duplicate").inc(len(rows) - written)
        states.flush()
        # Offered to Alertmanager last, once the alerts are in Kafka and the database.
        for topic, _, message in out.messages:
            if topic == topics.ALERTS:
                self._on_alert(message)

    def _track(self, accepted: Sequence[dict[str, Any]], partitions: Sequence[int]) -> None:
        for msg, partition in zip(accepted, partitions, strict=True):
            ts = msg["_ts"]
            if ts > self.progress.get(partition, 0.0):
                self.progress[partition] = ts
            if ts > self._watermark:
                self._watermark = ts

    def _partition_progress(
        self, highwaters: Mapping[int, int], positions: Mapping[int, int]
    ) -> Iterable[PartitionProgress]:
        for partition, high in highwaters.items():
            yield PartitionProgress(
                partition, self.progress.get(partition), max(high - positions.get(partition, 0), 0)
            )


def _event_time(message: dict[str, Any]) -> float:
    return float(message["_ts"])
