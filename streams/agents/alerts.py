"""Alert lifecycle per point over the pure rules in ``streams.domain.alert_rules``.

Each point's alert state lives in a Faust table. Rules are evaluated when a report arrives
(with the report, its fuel forecast, occupancy and liveness) and on the liveness timer (silence
and activation deadlines, which no message announces). Every firing, updated and resolved event
goes to the ``alerts`` topic and the ``alert_events`` table; delivery to Alertmanager follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from streams import topics
from streams.agents.outputs import Outputs
from streams.domain.alert_rules import (
    ACTIVATION_OVERDUE,
    AlertRules,
    AlertState,
    PointInputs,
    Report,
    evaluate,
    past_episode,
)
from streams.domain.fuel_forecast import Forecast
from streams.domain.occupancy import OccupancySnapshot
from streams.domain.report_timeline import ReportStep, advance, judged_steps
from streams.domain.staleness import LivenessState, PointLiveness, StalenessConfig
from streams.point_directory import PointDirectory

_PARTITIONER = DefaultPartitioner()


class AlertProcessor:
    """Evaluates the alert rules per point and emits their events."""

    def __init__(
        self,
        table: MutableMapping[str, Any],
        directory: PointDirectory,
        rules: AlertRules,
        partitions: int,
    ) -> None:
        self._table = table
        self._directory = directory
        self._rules = rules
        self._partitions = list(range(partitions))

    def on_reports(
        self,
        messages: Sequence[dict[str, Any]],
        forecasts: Sequence[Forecast | None],
        occupancy: Callable[[str, float], OccupancySnapshot | None],
        liveness: Sequence[tuple[LivenessState, LivenessState]],
        config: StalenessConfig,
        out: Outputs,
    ) -> None:
        """Advance each point's alerts by every report of a telemetry batch, in the order given
        (event time per point), with the deadlines passed between reports; ``forecasts`` and
        ``liveness`` are aligned with ``messages``. Each point's state is written once."""
        states: dict[str, AlertState | None] = {}
        loaded: dict[str, AlertState | None] = {}
        for msg, forecast, (before, after) in zip(messages, forecasts, liveness, strict=True):
            point_id = msg["point_id"]
            info = self._directory.get(point_id)
            if info is None:
                continue
            if point_id not in states:
                stored = self._table.get(point_id)
                loaded[point_id] = None if stored is None else AlertState.from_dict(stored)
                states[point_id] = loaded[point_id]
            step = ReportStep(
                Report.from_telemetry(msg), before, after, forecast, occupancy(point_id, msg["_ts"])
            )
            states[point_id], events = advance(states[point_id], info, step, config, self._rules)
            for event in events:
                out.emit(topics.ALERTS, point_id, event.to_message(), store=True)
        for point_id, state in states.items():
            previous = loaded[point_id]
            # Only what the rules remember goes to the changelog: a batch that changed no
            # alert of the point writes nothing (the evaluation time alone need not be kept).
            if state is not None and (previous is None or state.alerts != previous.alerts):
                self._table[point_id] = state.to_dict()

    def on_late_openings(
        self, found: Sequence[tuple[str, PointLiveness, float]], out: Outputs
    ) -> None:
        """Store and send activation_overdue episodes that were over when their order was read
        (overdue at the deadline, resolved when the point opened)."""
        for point_id, verdict, opened_at in found:
            info = self._directory.get(point_id)
            stored = self._table.get(point_id)
            if info is None or verdict.reference_ts is None:
                continue
            state = None if stored is None else AlertState.from_dict(stored)
            for event in past_episode(
                state, PointInputs(info, liveness=verdict), ACTIVATION_OVERDUE,
                verdict.reference_ts, opened_at, self._rules,
            ):
                out.emit(topics.ALERTS, point_id, event.to_message(), store=True)

    def on_judgement(
        self,
        verdicts: Mapping[str, PointLiveness],
        reference: float,
        scope: Callable[[int], AbstractContextManager[None]],
        out: Outputs,
    ) -> None:
        """Evaluate silence and activation deadlines on the liveness timer."""
        for point_id, verdict in verdicts.items():
            info = self._directory.get(point_id)
            if info is None:
                continue
            partition = _PARTITIONER(point_id.encode(), self._partitions, self._partitions)
            try:
                with scope(partition):
                    for at, judged in judged_steps(verdict):
                        self._evaluate(point_id, PointInputs(info, liveness=judged), at, out)
            except KeyError:
                continue  # nothing consumed from that partition yet: judged after its first batch

    def firing(self) -> list[dict[str, Any]]:
        """The ``alerts`` message of every alert firing on this worker's points."""
        return [
            event.to_message()
            for stored in list(self._table.values())
            for event in AlertState.from_dict(stored).firing()
        ]

    def _evaluate(self, point_id: str, inputs: PointInputs, now: float, out: Outputs) -> None:
        stored = self._table.get(point_id)
        state = None if stored is None else AlertState.from_dict(stored)
        new_state, events = evaluate(state, inputs, now, self._rules)
        if state is None or new_state.alerts != state.alerts:
            # Only what the rules remember goes to the changelog; the time of an evaluation
            # that changed nothing need not be kept (a later one never goes back before it).
            self._table[point_id] = new_state.to_dict()
        for event in events:
            out.emit(topics.ALERTS, point_id, event.to_message(), store=True)
