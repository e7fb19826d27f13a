"""Rolling occupancy per point, over the pure model in ``streams.domain.occupancy``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
from streams.domain.timestamps import iso
from streams.kafka import topics
from streams.worker.outputs import Outputs
from streams.worker.point_directory import PointDirectory
from streams.worker.point_states import PointStates


class OccupancyProcessor:
    """Applies visits and reported headcounts (the ``occupancy`` part of a point's record);
    publishes one snapshot per touched point."""

    def __init__(
        self,
        directory: PointDirectory,
        config: OccupancyConfig,
        on_late: Callable[[str, int], None],
    ) -> None:
        self._directory = directory
        self._config = config
        self._on_late = on_late

    def on_visits(
        self, messages: Sequence[dict[str, Any]], states: PointStates, out: Outputs
    ) -> None:
        """Apply a batch of validated visits."""
        touched: dict[str, OccupancyState] = {}
        late = 0
        for msg in messages:
            state = _state(states, touched, msg["point_id"])
            visit = Visit(msg["event_id"], msg["_ts"], msg["kind"], int(msg["people"]))
            if apply_visit(state, visit, self._config).result is Applied.TOO_LATE:
                late += 1
        if late:
            self._on_late(topics.VISITS, late)
        self._publish(touched, out)

    def on_headcounts(
        self, messages: Sequence[dict[str, Any]], states: PointStates, out: Outputs
    ) -> list[OccupancySnapshot | None]:
        """Apply the headcounts that a batch of telemetry reports (in event-time order per
        point); returns each report's occupancy as of that report, aligned with ``messages``
        (None: no visit or headcount yet), so the alert rules see what each report saw."""
        touched: dict[str, OccupancyState] = {}
        seen: list[OccupancySnapshot | None] = []
        late = 0
        for msg in messages:
            point_id, ts = msg["point_id"], msg["_ts"]
            if msg["headcount"] is None:
                state = touched.get(point_id) or states.of(point_id).occupancy
            else:
                state = _state(states, touched, point_id)
                if apply_headcount(state, int(msg["headcount"]), ts, self._config) is (
                    Applied.TOO_LATE
                ):
                    late += 1
            info = self._directory.get(point_id)
            seen.append(None if state is None or info is None else snapshot(
                state, max(ts, state.high_ts or ts), info.capacity_people, self._config))
        if late:
            self._on_late(topics.TELEMETRY, late)
        self._publish(touched, out)
        return seen

    def _publish(self, touched: dict[str, OccupancyState], out: Outputs) -> None:
        for point_id, state in touched.items():
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


def _state(states: PointStates, touched: dict[str, OccupancyState], point_id: str
           ) -> OccupancyState:
    """The point's occupancy, marked changed (the model updates it in place)."""
    state = touched.get(point_id)
    if state is None:
        record = states.of(point_id)
        if record.occupancy is None:
            record.occupancy = OccupancyState()
        state = touched[point_id] = record.occupancy
        states.changed(point_id)
    return state
