"""Silence and activation deadlines per point, over ``streams.domain.staleness``.

Reports and activation orders update each point's state as they arrive; a timer on every
worker then judges the points of the partitions it owns and publishes each change of state on
``points.state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
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
class EndedOrder:
    """An activation order that ended after its deadline: ``verdict`` is the point's at the
    deadline (overdue), ``ended_at`` the ts of the opening or of the stand-down."""

    point_id: str
    verdict: PointLiveness
    ended_at: float


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
        self,
        messages: Sequence[dict[str, Any]],
        states: PointStates,
        handled_at: Callable[[float], float],
    ) -> list[tuple[LivenessState, LivenessState]]:
        """Record a batch of validated reports (in the order given: event time per point);
        ``handled_at(ts)``: the time a report of ``ts`` counts as heard (see
        :meth:`Pipeline.now`); returns each report's point liveness before and after it,
        aligned with ``messages``."""
        steps: list[tuple[LivenessState, LivenessState]] = []
        for msg in messages:
            point_id = msg["point_id"]
            heard = handled_at(msg["_ts"])
            before = self._state(states, point_id, heard)
            after, _ = on_report(before, msg["_ts"], msg["status"], heard)
            states.of(point_id).liveness = after
            states.changed(point_id)
            steps.append((before, after))
        return steps

    def on_activations(
        self, messages: Sequence[dict[str, Any]], states: PointStates
    ) -> list[EndedOrder]:
        """Record a batch of validated activation orders; returns the orders that ended past
        their deadline: settled by reports that show the point opened *after* the deadline (an
        order read after those reports, in a backlog), or stood down after it."""
        ended_late: list[EndedOrder] = []
        deadline = self._config.activation_deadline_seconds
        for msg in messages:
            point_id = msg["point_id"]
            # A point with no report yet is tracked from the order's ts, not from when the
            # worker read it: its silence then counts in event time, live or from a backlog.
            state = self._state(states, point_id, msg["_ts"])
            states.of(point_id).liveness, ended = on_activation(state, msg["action"], msg["_ts"])
            states.changed(point_id)
            if ended is None or ended.resolved_at - ended.requested_at <= deadline:
                continue
            due = ended.requested_at + deadline
            waiting = replace(state, activation_requested_at=ended.requested_at)
            verdict = judge_liveness(waiting, math.inf, due, self._config)
            ended_late.append(EndedOrder(point_id, replace(verdict, activation_overdue=True),
                                         ended.resolved_at))
        return ended_late

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
            # A point is silent only when it has been unheard for its threshold on the same
            # clock its reports were heard on (wall, or in event time the stream time reached
            # when its report was processed): a point whose reports arrive behind newer data
            # of other points is not silent while they keep coming.
            verdict = judge_liveness(liveness, now, reference, self._config)
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
