"""Silence and activation deadlines per point, over ``streams.domain.staleness``.

Reports and activation orders update each point's state as they arrive; a timer on every
worker then judges the points of the partitions it owns and publishes each change of state on
``points.state``.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from streams import topics
from streams.agents.outputs import Outputs, iso
from streams.domain.staleness import (
    LivenessState,
    PointLiveness,
    StalenessConfig,
    StateCounts,
    count_states,
    evaluate,
    on_activation,
    on_registry,
    on_report,
)
from streams.point_directory import PointDirectory


class LivenessProcessor:
    """Keeps per-point liveness in a Faust table; the table value also remembers what was
    last published, so a restarted worker neither repeats nor misses a change."""

    def __init__(
        self, table: MutableMapping[str, Any], directory: PointDirectory, config: StalenessConfig
    ) -> None:
        self._table = table
        self._directory = directory
        self._config = config

    def on_telemetry(self, messages: Sequence[dict[str, Any]], processed_at: float) -> None:
        """Record a batch of validated reports."""
        entries: dict[str, dict[str, Any]] = {}
        for msg in messages:
            entry = self._entry(entries, msg["point_id"], processed_at)
            state, _ = on_report(entry["state"], msg["_ts"], msg["status"], processed_at)
            entry["state"] = state
        self._store(entries)

    def on_activations(self, messages: Sequence[dict[str, Any]], processed_at: float) -> None:
        """Record a batch of validated activation orders."""
        entries: dict[str, dict[str, Any]] = {}
        for msg in messages:
            entry = self._entry(entries, msg["point_id"], processed_at)
            state, _ = on_activation(entry["state"], msg["action"], msg["_ts"], processed_at)
            entry["state"] = state
        self._store(entries)

    def judge(self, now: float, reference: float | None, out: Outputs) -> StateCounts:
        """Judge every point this worker owns; publish changes; return the counts by state."""
        verdicts: list[PointLiveness] = []
        changed: dict[str, dict[str, Any]] = {}
        for point_id, stored in list(self._table.items()):
            state = LivenessState.from_dict(stored["state"])
            verdict = evaluate(state, now, reference, self._config)
            verdicts.append(verdict)
            if verdict.category == "unknown":
                continue  # judgement suspended (the pipeline is behind): keep the last verdict
            previous, was_overdue = stored.get("published"), stored.get("overdue", False)
            if verdict.category != previous or verdict.activation_overdue != was_overdue:
                out.emit(topics.POINT_STATE, point_id,
                         self._change(point_id, verdict, previous, now))
                changed[point_id] = {**stored, "published": verdict.category,
                                     "overdue": verdict.activation_overdue}
        for point_id, value in changed.items():
            self._table[point_id] = value
        return count_states(verdicts)

    def _entry(
        self, entries: dict[str, dict[str, Any]], point_id: str, processed_at: float
    ) -> dict[str, Any]:
        if point_id not in entries:
            stored = self._table.get(point_id)
            if stored is None:
                entry: dict[str, Any] = {"state": LivenessState(), "published": None,
                                         "overdue": False}
            else:
                entry = {**stored, "state": LivenessState.from_dict(stored["state"])}
            info = self._directory.get(point_id)
            if info is not None and entry["state"].kind != info.kind:
                entry["state"] = on_registry(entry["state"], info.kind, processed_at)
            entries[point_id] = entry
        return entries[point_id]

    def _store(self, entries: dict[str, dict[str, Any]]) -> None:
        for point_id, entry in entries.items():
            self._table[point_id] = {**entry, "state": entry["state"].to_dict()}

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
