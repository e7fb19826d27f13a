"""Every owned point's liveness in memory, so the timer judges without reading the table.

The timer judges every point every few seconds; reading and decoding each point's whole record
from the state table for that cost more than the reports themselves on an idle network. The
index is filled from the table after every rebalance (the partitions owned may be the same as
before, their records not: another worker may have held them in between) and kept current by
every record a checkpoint writes.
"""

from __future__ import annotations

from streams.domain.point_state import PointState
from streams.domain.staleness import LivenessState
from streams.worker.point_states import PointStates


class LivenessIndex:
    """point_id -> (partition, liveness) for the points of the partitions owned."""

    def __init__(self) -> None:
        self._by_point: dict[str, tuple[int, LivenessState]] = {}
        self._held: tuple[frozenset[int], int] | None = None  # partitions, rebalance generation

    def cover(self, partitions: frozenset[int], generation: int, states: PointStates) -> None:
        """Hold exactly the points of ``partitions``: read again from the table when they are
        not the partitions held so far, or a rebalance happened since they were read."""
        if (partitions, generation) != self._held:
            self._by_point = {point_id: (partition, liveness)
                              for point_id, partition, liveness in states.liveness()
                              if partition in partitions}
            self._held = (partitions, generation)

    def written(self, point_id: str, record: PointState) -> None:
        """A record was written: keep its liveness."""
        if record.liveness is not None and record.partition is not None:
            self._by_point[point_id] = (record.partition, record.liveness)

    def by_partition(self) -> dict[int, list[tuple[str, LivenessState]]]:
        """Every indexed point and its liveness, by partition."""
        found: dict[int, list[tuple[str, LivenessState]]] = {}
        for point_id, (partition, liveness) in self._by_point.items():
            found.setdefault(partition, []).append((point_id, liveness))
        return found
