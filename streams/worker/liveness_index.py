"""Every owned point's liveness in memory, so the timer judges without reading the table.

The timer judges every point every few seconds; reading and decoding each point's whole record
from the state table for that cost more than the reports themselves on an idle network. The
index is filled from the table whenever the set of partitions this worker owns changes (a
start, a rebalance) and kept current by every record a checkpoint writes.
"""

from __future__ import annotations

from collections.abc import Iterator

from streams.domain.point_state import PointState
from streams.domain.staleness import LivenessState
from streams.worker.point_states import PointStates


class LivenessIndex:
    """point_id -> (partition, liveness) for the points of the partitions owned."""

    def __init__(self) -> None:
        self._by_point: dict[str, tuple[int, LivenessState]] = {}
        self._partitions: frozenset[int] | None = None

    def cover(self, partitions: frozenset[int], states: PointStates) -> None:
        """Hold exactly the points of ``partitions``: read again from the table when they are
        not the partitions held so far."""
        if partitions != self._partitions:
            self._by_point = {point_id: (partition, liveness)
                              for point_id, partition, liveness in states.liveness()
                              if partition in partitions}
            self._partitions = partitions

    def written(self, point_id: str, record: PointState) -> None:
        """A record was written: keep its liveness."""
        if record.liveness is not None and record.partition is not None:
            self._by_point[point_id] = (record.partition, record.liveness)

    def items(self) -> Iterator[tuple[str, LivenessState]]:
        """Every indexed point and its liveness."""
        for point_id, (_, liveness) in list(self._by_point.items()):
            yield point_id, liveness
