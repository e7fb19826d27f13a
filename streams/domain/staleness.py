"""Stale status of one point: *silent* and *activation overdue*.

A point is silent when it has not reported for longer than its kind allows. A point asked to
activate (``points.activations``) that has not reported ``open`` within the deadline is
activation-overdue; a stand-down or an ``open`` report ends the wait.

Every update merges by event time (the newest report wins, the last-seen time only moves
forward), so the result does not depend on arrival order. :func:`liveness_at` judges a point at
its stream task's stream time (:mod:`streams.worker.task`), never at the wall clock directly:
a worker working through a backlog raises no silence its backlog disproves.

The state is a small frozen dataclass; the ``on_*`` functions return a new one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

ReportStatus = Literal["open", "standby", "closed"]
ActivationAction = Literal["activate", "stand_down"]
Liveness = Literal["ok", "silent", "unknown"]
Category = Literal["open", "standby", "closed", "silent", "unknown"]

DEFAULT_SILENCE_AFTER_SECONDS: Mapping[str, float] = {
    # Reports come every 30-60 s: five minutes is five or more missed reports.
    "permanent": 300.0,
    # Mobile points move through patchy coverage, so they get more slack.
    "mobile": 600.0,
    # Standby points idle on minimal power and may report less often.
    "standby": 900.0,
}


#: Open runs a point's liveness keeps: enough for any point that opens and closes a few times
#: within an activation deadline, bounded so the record stays small.
MAX_OPEN_RUNS = 8


@dataclass(frozen=True, slots=True)
class StalenessConfig:
    """Silence thresholds per point kind and the activation deadline, in seconds."""

    silence_after_seconds: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_SILENCE_AFTER_SECONDS)
    )
    # Kind not known yet (registry not read): the most lenient default avoids false alarms.
    default_silence_seconds: float = 900.0
    activation_deadline_seconds: float = 2 * 3600.0

    def silence_threshold(self, kind: str | None) -> float:
        """How long a point of ``kind`` may stay quiet before it counts as silent."""
        if kind is None:
            return self.default_silence_seconds
        return self.silence_after_seconds.get(kind, self.default_silence_seconds)


@dataclass(frozen=True, slots=True)
class LivenessState:
    """What one point's reports and activation orders have shown so far.

    ``*_ts`` fields are event times (message ``ts``); ``tracked_since`` and
    ``last_processed_at`` are the times the pipeline handled messages (clock time).
    """

    kind: str | None = None
    tracked_since: float | None = None  # first message of any kind about this point
    last_seen_ts: float | None = None  # newest telemetry ts
    last_processed_at: float | None = None  # when the pipeline last handled a report
    last_status: str | None = None  # status of the newest report
    last_status_ts: float | None = None
    open_since: float | None = None  # ts of the report that started the current "open" run
    # The latest open runs, oldest first, as (start, end) with end None while still open: an
    # order read after the point opened *and closed again* still finds that it opened in time.
    open_runs: tuple[tuple[float, float | None], ...] = ()
    activation_requested_at: float | None = None  # pending activation order, if any
    activation_floor_ts: float | None = None  # activation orders up to this ts are settled

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible copy of the state (every field is a str, a float or None)."""
        # Not dataclasses.asdict: it deep-copies field by field, and this runs for every
        # changed point of every batch.
        return {name: getattr(self, name) for name in _LIVENESS_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LivenessState:
        """Rebuild a state from :meth:`to_dict` output; unknown keys are ignored."""
        values = {k: v for k, v in data.items() if k in _LIVENESS_FIELDS}
        if "open_runs" in values:  # JSON turns the tuples into lists
            values["open_runs"] = tuple((float(s), e) for s, e in values["open_runs"])
        return cls(**values)



# Read once: the worker decodes a point's liveness on every batch that touches it.
_LIVENESS_FIELDS = tuple(f.name for f in fields(LivenessState))


@dataclass(frozen=True, slots=True)
class ActivationResolved:
    """An activation order that ended: the point opened, or was stood down.

    Keyed by ``(point_id, requested_at)`` downstream, so a replay overwrites, not duplicates.
    """

    requested_at: float
    resolution: Literal["opened", "stood_down"]
    resolved_at: float  # ts of the first "open" report, or of the stand-down
    time_to_open_seconds: float | None  # None when stood down


@dataclass(frozen=True, slots=True)
class PointLiveness:
    """The verdict on one point at ``reference_ts``.

    ``liveness``: ``ok`` (reported within its threshold), ``silent``, or ``unknown`` (never
    reported yet and not tracked for longer than the threshold, or the pipeline cannot judge
    now: hold previous verdicts). ``since`` is when the silence counts from: the last report,
    or when tracking began for a point that never reported.
    """

    liveness: Liveness
    category: Category  # what a network count shows: silent, else the last status
    kind: str | None
    last_status: str | None
    since: float | None
    age_seconds: float | None  # reference_ts - since
    silence_threshold_seconds: float
    activation_requested_at: float | None
    activation_deadline_ts: float | None
    activation_overdue: bool
    reference_ts: float | None


@dataclass(frozen=True, slots=True)
class StateCounts:
    """Points per category, and how many of them have an overdue activation."""

    total: int = 0
    open: int = 0
    standby: int = 0
    closed: int = 0
    silent: int = 0
    unknown: int = 0
    activation_overdue: int = 0


def on_registry(state: LivenessState, kind: str, processed_at: float) -> LivenessState:
    """Record the point's kind from ``points.registry`` (which carries no ts)."""
    return replace(state, kind=kind, tracked_since=_first(state.tracked_since, processed_at))


def on_report(
    state: LivenessState, ts: float, status: ReportStatus, processed_at: float
) -> tuple[LivenessState, ActivationResolved | None]:
    """Merge one telemetry report; returns the new state and the activation it completed."""
    newest = state.last_status_ts is None or ts >= state.last_status_ts
    # Built directly, not with dataclasses.replace: this runs once per report, and replace
    # costs several times a constructor call (the worker's profile showed it).
    updated = LivenessState(
        kind=state.kind,
        tracked_since=_first(state.tracked_since, processed_at),
        last_seen_ts=_latest(state.last_seen_ts, ts),
        last_processed_at=_latest(state.last_processed_at, processed_at),
        last_status=status if newest else state.last_status,
        last_status_ts=ts if newest else state.last_status_ts,
        open_since=_open_since(state, ts, status) if newest else state.open_since,
        open_runs=_open_runs(state, ts, status) if newest else state.open_runs,
        activation_requested_at=state.activation_requested_at,
        activation_floor_ts=state.activation_floor_ts,
    )
    pending = state.activation_requested_at
    if status != "open" or pending is None or ts < pending:
        return updated, None
    return _settle(updated, pending), ActivationResolved(pending, "opened", ts, ts - pending)


def on_activation(
    state: LivenessState, action: ActivationAction, ts: float
) -> tuple[LivenessState, ActivationResolved | None]:
    """Merge one activation order; returns the new state and the activation it ended."""
    # An order is news of the point at its own ts: a point ordered open that never reports is
    # judged silent from the order on, not from whenever the worker happened to read it.
    tracked = replace(state, tracked_since=_first(state.tracked_since, ts))
    if action == "stand_down":
        return _stand_down(tracked, ts)
    return _activate(tracked, ts)


def silence_deadline(state: LivenessState, config: StalenessConfig) -> float | None:
    """The stream time at which the point becomes silent if nothing more is heard: its kind's
    threshold after its newest report, or after the stream time it was last heard at if that
    is later (reports read behind newer data are still proof of life)."""
    since = state.last_seen_ts if state.last_seen_ts is not None else state.tracked_since
    heard = state.last_processed_at if state.last_processed_at is not None else since
    if since is None or heard is None:
        return None
    return max(since, heard) + config.silence_threshold(state.kind)


def activation_due(state: LivenessState, config: StalenessConfig) -> float | None:
    """When the pending activation order becomes overdue (None: no order pending)."""
    requested = state.activation_requested_at
    return None if requested is None else requested + config.activation_deadline_seconds


def liveness_at(state: LivenessState, at: float, config: StalenessConfig) -> PointLiveness:
    """The verdict on a point at stream time ``at``: silent from its silence deadline on,
    overdue from its activation deadline on (both included: the episode starts there)."""
    since = state.last_seen_ts if state.last_seen_ts is not None else state.tracked_since
    silent_at = silence_deadline(state, config)
    due = activation_due(state, config)
    silent = silent_at is not None and at >= silent_at
    liveness: Liveness = "silent" if silent else "ok" if state.last_seen_ts is not None \
        else "unknown"
    return PointLiveness(
        liveness=liveness,
        category=_category(liveness, state.last_status),
        kind=state.kind,
        last_status=state.last_status,
        since=since,
        age_seconds=None if since is None else max(0.0, at - since),
        silence_threshold_seconds=config.silence_threshold(state.kind),
        activation_requested_at=state.activation_requested_at,
        activation_deadline_ts=due,
        activation_overdue=due is not None and at >= due,
        reference_ts=at,
    )


def sum_counts(parts: Iterable[StateCounts]) -> StateCounts:
    """The counts of several sets of points together."""
    counted = list(parts)
    return StateCounts(**{f.name: sum(getattr(part, f.name) for part in counted)
                          for f in fields(StateCounts)})


def count_states(verdicts: Iterable[PointLiveness]) -> StateCounts:
    """Count points per category (open/standby/closed/silent/unknown) and overdue ones."""
    categories: Counter[str] = Counter()
    overdue = 0
    for verdict in verdicts:
        categories[verdict.category] += 1
        if verdict.activation_overdue:
            overdue += 1
    return StateCounts(
        total=categories.total(),
        open=categories["open"],
        standby=categories["standby"],
        closed=categories["closed"],
        silent=categories["silent"],
        unknown=categories["unknown"],
        activation_overdue=overdue,
    )


def _activate(state: LivenessState, ts: float) -> tuple[LivenessState, ActivationResolved | None]:
    if state.activation_floor_ts is not None and ts <= state.activation_floor_ts:
        return state, None  # a replayed order, or one a later stand-down superseded
    if state.activation_requested_at is not None:
        # A repeated order does not push the deadline back.
        return replace(state, activation_requested_at=min(state.activation_requested_at, ts)), None
    opened_at = _opened_at_or_after(state, ts)
    if opened_at is None:
        return replace(state, activation_requested_at=ts), None
    # The order was handled after reports showing the point already open.
    return _settle(state, ts), ActivationResolved(ts, "opened", opened_at, opened_at - ts)


def _stand_down(state: LivenessState, ts: float) -> tuple[LivenessState, ActivationResolved | None]:
    pending = state.activation_requested_at
    if pending is None or ts < pending:
        # No wait to end; still, activation orders older than this one are settled.
        return replace(state, activation_floor_ts=_latest(state.activation_floor_ts, ts)), None
    # Settling at ts (>= pending) also settles any older order handled later.
    return _settle(state, ts), ActivationResolved(pending, "stood_down", ts, None)


def _settle(state: LivenessState, requested_at: float) -> LivenessState:
    return replace(
        state,
        activation_requested_at=None,
        activation_floor_ts=_latest(state.activation_floor_ts, requested_at),
    )


def _opened_at_or_after(state: LivenessState, ts: float) -> float | None:
    """When the point was first open at or after ``ts`` (clipped to ``ts`` for a run already
    open then), from the open runs its reports showed; None if none reaches past ``ts``."""
    openings = [max(start, ts) for start, end in state.open_runs if end is None or end > ts]
    return min(openings) if openings else None


def _open_runs(
    state: LivenessState, ts: float, status: str
) -> tuple[tuple[float, float | None], ...]:
    runs = state.open_runs
    was_open = bool(runs) and runs[-1][1] is None
    if status == "open" and not was_open:
        return (*runs, (ts, None))[-MAX_OPEN_RUNS:]
    if status != "open" and was_open:
        return (*runs[:-1], (runs[-1][0], ts))
    return runs


def _open_since(state: LivenessState, ts: float, status: str) -> float | None:
    if status != "open":
        return None
    if state.last_status == "open" and state.open_since is not None:
        return state.open_since
    return ts


def _category(liveness: Liveness, last_status: str | None) -> Category:
    if liveness == "silent":
        return "silent"
    if last_status == "open":
        return "open"
    if last_status == "standby":
        return "standby"
    if last_status == "closed":
        return "closed"
    return "unknown"


def _first(current: float | None, candidate: float) -> float:
    return candidate if current is None else current


def _latest(current: float | None, candidate: float) -> float:
    return candidate if current is None else max(current, candidate)
