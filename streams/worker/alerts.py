"""Alert lifecycle per point over the pure rules in ``streams.domain.alert_rules``.

Each point's alert state is the ``alerts`` part of its record. Rules are evaluated when a
report arrives (with the report, its fuel forecast, occupancy and liveness) and on the
liveness timer (silence and activation deadlines, which no message announces). Every firing,
updated and resolved event goes to the ``alerts`` topic and the ``alert_events`` table;
delivery to Alertmanager follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streams.domain.alert_lifecycle import end_episode, evaluate_alerts, past_episode
from streams.domain.alert_model import PointInputs, Report
from streams.domain.alert_rules import ACTIVATION_OVERDUE, AlertRules
from streams.domain.dispatch_alerts import PlanBook
from streams.domain.fuel_forecast import Forecast
from streams.domain.occupancy import OccupancySnapshot
from streams.domain.report_timeline import ReportStep, advance, judged_steps
from streams.domain.staleness import LivenessState, PointLiveness, StalenessConfig
from streams.worker.liveness import EndedOrder
from streams.worker.outputs import Outputs
from streams.worker.point_directory import PointDirectory
from streams.worker.point_states import PointStates


class AlertProcessor:
    """Evaluates the alert rules per point and emits their events."""

    def __init__(
        self, directory: PointDirectory, rules: AlertRules,
        plans: Callable[[], PlanBook] = PlanBook,
    ) -> None:
        self._directory = directory
        self._rules = rules
        self._plans = plans  # the current dispatch plans (streams.worker.dispatch_plans)

    def on_reports(
        self,
        messages: Sequence[dict[str, Any]],
        forecasts: Sequence[Forecast | None],
        occupancy: Sequence[OccupancySnapshot | None],
        liveness: Sequence[tuple[LivenessState, LivenessState]],
        config: StalenessConfig,
        states: PointStates,
        out: Outputs,
    ) -> None:
        """Advance each point's alerts by every report of a telemetry batch, in the order given
        (event time per point), with the deadlines passed between reports; ``forecasts``,
        ``occupancy`` and ``liveness`` are aligned with ``messages``. Each report is judged
        with its point's place in the current dispatch plan."""
        plans = self._plans()
        for msg, forecast, seen, (before, after) in zip(
            messages, forecasts, occupancy, liveness, strict=True
        ):
            point_id = msg["point_id"]
            info = self._directory.get(point_id)
            if info is None:
                continue
            record = states.of(point_id)
            step = ReportStep(Report.from_telemetry(msg), before, after, forecast, seen,
                              plans.lookup(point_id, info.oblast))
            record.alerts, events = advance(record.alerts, info, step, config, self._rules)
            states.changed(point_id)
            for event in events:
                out.alert(event)

    def on_ended_orders(
        self, found: Sequence[EndedOrder], states: PointStates, out: Outputs
    ) -> None:
        """Orders that ended past their deadline: an activation_overdue already firing resolves
        at the order's end (a stand-down, or an opening found late); one never raised is stored
        and sent as an episode that is over (overdue at the deadline, resolved at the end)."""
        for ended in found:
            info = self._directory.get(ended.point_id)
            verdict = ended.verdict
            if info is None or verdict.reference_ts is None:
                continue
            record = states.of(ended.point_id)
            current = record.alerts
            if current is not None and ACTIVATION_OVERDUE in current.alerts:
                # Resolved at the order's end whenever it is read: the other timer rule
                # (silence) keeps its state.
                record.alerts, events = end_episode(
                    current, PointInputs(info, liveness=verdict), ACTIVATION_OVERDUE,
                    ended.ended_at, self._rules)
                states.changed(ended.point_id)
            else:
                events = past_episode(current, PointInputs(info, liveness=verdict),
                                      ACTIVATION_OVERDUE, verdict.reference_ts, ended.ended_at,
                                      self._rules)
            for event in events:
                out.alert(event)

    def on_judgement(
        self,
        verdicts: Mapping[str, PointLiveness],
        reference: float,
        states: PointStates,
        out: Outputs,
    ) -> None:
        """Evaluate silence and activation deadlines on the liveness timer."""
        for point_id, verdict in verdicts.items():
            info = self._directory.get(point_id)
            if info is None or not states.writable(point_id):
                continue  # nothing consumed from its partition yet: judged after its first batch
            record = states.of(point_id)
            for at, judged in judged_steps(verdict):
                after, events = evaluate_alerts(
                    record.alerts, PointInputs(info, liveness=judged), at, self._rules, timer=True
                )
                if record.alerts is None or after.alerts != record.alerts.alerts:
                    # Only what the rules remember is worth a changelog record; the time of an
                    # evaluation that changed nothing is not kept, here or in the table (a
                    # restarted worker must judge the next report exactly as this one would).
                    record.alerts = after
                    states.changed(point_id)
                for event in events:
                    out.alert(event)
