"""Rolling occupancy per point, over the pure model in ``streams.domain.occupancy``."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from streams import topics
from streams.agents.outputs import Outputs, iso
from streams.domain.occupancy import (
    Applied,
    OccupancyConfig,
    OccupancySnapshot,
    OccupancyState,
    Visit,
    apply_headcount,
    apply_visit,
    snapshot,
)
from streams.point_directory import PointDirectory


class OccupancyProcessor:
    """Applies visits and reported headcounts; publishes one snapshot per touched point."""

    def __init__(
        self,
        table: MutableMapping[str, Any],
        directory: PointDirectory,
        config: OccupancyConfig,
        on_late: Callable[[str, int], None],
    ) -> None:
        self._table = table
        self._directory = directory
        self._config = config
        self._on_late = on_late

    def on_visits(self, messages: Sequence[dict[str, Any]], out: Outputs) -> None:
        """Apply a batch of validated visits."""
        states: dict[str, OccupancyState] = {}
        late = 0
        for msg in messages:
            state = self._state(states, msg["point_id"])
            visit = Visit(msg["event_id"], msg["_ts"], msg["kind"], int(msg["people"]))
            if apply_visit(state, visit, self._config).result is Applied.TOO_LATE:
                late += 1
        if late:
            self._on_late(topics.VISITS, late)
        self._publish(states, out)

    def on_headcounts(self, messages: Sequence[dict[str, Any]], out: Outputs) -> None:
        """Apply the headcounts that a batch of telemetry reports."""
        states: dict[str, OccupancyState] = {}
        late = 0
        for msg in messages:
            if msg["headcount"] is None:
                continue
            state = self._state(states, msg["point_id"])
            if apply_headcount(state, int(msg["headcount"]), msg["_ts"], self._config) is (
                Applied.TOO_LATE
            ):
                late += 1
        if late:
            self._on_late(topics.TELEMETRY, late)
        self._publish(states, out)

    def reader(self) -> Callable[[str, float], OccupancySnapshot | None]:
        """``(point_id, at_ts) ->`` the point's occupancy as of ``at_ts`` (None before its first
        visit or headcount), for one batch: each point's state is decoded once, however many of
        its reports the batch holds."""
        decoded: dict[str, OccupancyState | None] = {}

        def snapshot_of(point_id: str, at_ts: float) -> OccupancySnapshot | None:
            if point_id not in decoded:
                stored = self._table.get(point_id)
                decoded[point_id] = None if stored is None else OccupancyState.from_dict(stored)
            state = decoded[point_id]
            info = self._directory.get(point_id)
            if state is None or info is None:
                return None
            return snapshot(state, max(at_ts, state.high_ts or at_ts), info.capacity_people,
                            self._config)

        return snapshot_of

    def _state(self, states: dict[str, OccupancyState], point_id: str) -> OccupancyState:
        if point_id not in states:
            stored = self._table.get(point_id)
            states[point_id] = OccupancyState() if stored is None else OccupancyState.from_dict(
                stored
            )
        return states[point_id]

    def _publish(self, states: dict[str, OccupancyState], out: Outputs) -> None:
        for point_id, state in states.items():
            self._table[point_id] = state.to_dict()  # written back, or the changelog misses it
            info = self._directory.get(point_id)
            if info is None or state.high_ts is None:
                continue
            snap = snapshot(state, state.high_ts, info.capacity_people, self._config)
            out.emit(topics.OCCUPANCY, point_id, {
                "point_id": point_id,
                "ts": iso(snap.at_ts),
                "oblast": info.oblast,
                "people_inside": snap.people_inside,
                "visits_15m": snap.visits_15m,
                "visits_1h": snap.visits_1h,
                "visits_24h": snap.visits_24h,
                "capacity_people": info.capacity_people,
                "utilisation": snap.utilisation if snap.utilisation is not None else 0.0,
            }, store=True)
