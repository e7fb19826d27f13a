"""Silence and activation deadlines per point, over ``streams.domain.staleness``.

Reports and activation orders update each point's state as they arrive; a timer on every
worker then judges the points of the partitions it owns and publishes each change of state on
``points.state``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from streams.domain.staleness import (
    LivenessState,
    PointLiveness,
    StalenessConfig,
    StateCounts,
    count_states,
    judge_liveness,
    on_activation,
    on_registry,
    on_report,
)
from streams.domain.timestamps import iso
from streams.kafka import topics
from streams.worker.outputs import Outputs
from streams.worker.point_directory import PointDirectory
from streams.worker.point_states import PointStates


@dataclass(frozen=True, slots=True)
class EndedWait:
    """An activation wait that ended after its deadline: the verdict at the deadline, when
    it ended (the point opened, or the order was stood down) and the verdict then."""

    point_id: str
    at_deadline: PointLiveness
    ended_at: float
    after: PointLiveness


class LivenessProcessor:
    """Keeps per-point liveness (the ``liveness`` part of its record) and publishes each change
    of a point's state.

    What was last published is kept in memory only: after a restart the worker publishes the
    state of each of its points once more, which consumers of ``points.state`` take as a
    (harmless) restatement.
    """

    def __init__(self, directory: PointDirectory, config: StalenessConfig) -> None:
        self._directory = directory
        self._config = config
        self._published: dict[str, tuple[str, bool]] = {}

    @property
    def config(self) -> StalenessConfig:
        """The silence thresholds and the activation deadline."""
        return self._config

    def on_telemetry(
        self, messages: Sequence[dict[str, Any]], states: PointStates, processed_at: float
    ) -> list[tuple[LivenessState, LivenessState]]:
        """Record a batch of validated reports (in the order given: event time per point);
        returns each report's point liveness before and after it, aligned with ``messages``."""
        steps: list[tuple[LivenessState, LivenessState]] = []
        for msg in messages:
            point_id = msg["point_id"]
            before = self._state(states, point_id, processed_at)
            after, _ = on_report(before, msg["_ts"], msg["status"], processed_at)
            states.of(point_id).liveness = after
            states.changed(point_id)
            steps.append((before, after))
        return steps

    def on_activations(
        self, messages: Sequence[dict[str, Any]], states: PointStates
    ) -> list[EndedWait]:
        """Record a batch of validated activation orders; returns the waits they ended after
        the deadline: a stand-down of a point that never opened in time, or an order found
        already settled by reports that show the point opened late (an order read after those
        reports, in a backlog)."""
        overdue: list[EndedWait] = []
        deadline = self._config.activation_deadline_seconds
        for msg in messages:
            point_id = msg["point_id"]
            # A point with no report yet is tracked from the order's ts, not from when the
            # worker read it: its silence then counts in event time, live or from a backlog.
            state = self._state(states, point_id, msg["_ts"])
            states.of(point_id).liveness, ended = on_activation(state, msg["action"], msg["_ts"])
            states.changed(point_id)
            if ended is not None and ended.resolved_at > ended.requested_at + deadline:
                due = ended.requested_at + deadline
                waiting = replace(state, activation_requested_at=ended.requested_at)
                verdict = judge_liveness(waiting, math.inf, due, self._config)
                after = states.of(point_id).liveness or LivenessState()
                overdue.append(EndedWait(
                    point_id, replace(verdict, activation_overdue=True), ended.resolved_at,
                    judge_liveness(after, math.inf, ended.resolved_at, self._config)))
        return overdue

    def judge(
        self,
        now: float,
        reference: float | None,
        points: Iterable[tuple[str, LivenessState]],
        out: Outputs,
        *,
        event_time: bool = False,
    ) -> tuple[StateCounts, dict[str, PointLiveness]]:
        """Judge ``points`` (every point this worker owns) and publish the changes; return the
        counts by
        state, and the verdicts alert rules must see: points silent or overdue, and points
        whose state just changed (a verdict that says "all well" as before needs no rule).
        ``event_time``: judge on event time alone (``NEZLAM_CLOCK=event``)."""
        verdicts: list[PointLiveness] = []
        notable: dict[str, PointLiveness] = {}
        for point_id, liveness in points:
            # In event time only event time counts: when the worker read a report says
            # nothing (a backlog read in one batch would otherwise hide its silences).
            heard_by = math.inf if event_time else now
            verdict = judge_liveness(liveness, heard_by, reference, self._config)
            verdicts.append(verdict)
            if verdict.category == "unknown":
                continue  # judgement suspended (the pipeline is behind): keep the last verdict
            current = (verdict.category, verdict.activation_overdue)
            previous = self._published.get(point_id)
            if verdict.category == "silent" or verdict.activation_overdue or current != previous:
                notable[point_id] = verdict
            if current != previous:
                out.emit(topics.POINT_STATE, point_id, self._change(
                    point_id, verdict, previous[0] if previous else None, now))
                self._published[point_id] = current
        return count_states(verdicts), notable

    def _state(self, states: PointStates, point_id: str, processed_at: float) -> LivenessState:
        state = states.of(point_id).liveness or LivenessState()
        info = self._directory.get(point_id)
        if info is not None and state.kind != info.kind:
            state = on_registry(state, info.kind, processed_at)
        return state

    def _change(
        self, point_id: str, verdict: PointLiveness, previous: str | None, now: float
    ) -> dict[str, Any]:
        info = self._directory.get(point_id)
        silent = verdict.category == "silent"
        return {
            "point_id": point_id,
            "ts": iso(verdict.reference_ts if verdict.reference_ts is not None else now),
            "state": verdict.category,
            "previous_state": previous,
            "activation_overdue": verdict.activation_overdue,
            "since": None if verdict.since is None else iso(verdict.since),
            "silent_for_seconds": verdict.age_seconds if silent else None,
            "oblast": None if info is None else info.oblast,
            "kind": None if info is None else info.kind,
        }
