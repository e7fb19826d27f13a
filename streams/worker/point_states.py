"""One batch's working copy of the per-point records in the worker's state table.

A point's record is decoded once, the first time the batch touches it, and written back once,
when the batch is flushed: one changelog record per changed point per batch, however many of
its reports the batch holds.

Decoded records are also kept between batches (:class:`DecodedRecords`): reading a record from
RocksDB and decoding it cost a tenth of a busy worker's time. Only this worker writes the
records of the partitions it owns, so the kept copy equals the stored one until a rebalance,
which may restore other versions from the changelog: every rebalance forgets them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from streams.domain.alert_lifecycle import AlertState
from streams.domain.point_state import PointState
from streams.domain.staleness import LivenessState


class PartitionScope(Protocol):
    """Where table writes for a partition may happen (Faust files a key under the partition of
    the event being processed)."""

    def __call__(self, partition: int) -> AbstractContextManager[None]:
        """Run the block as if processing a message of ``partition``."""

    def covers(self, partition: int) -> bool:
        """Whether this worker can write ``partition``'s records now."""

    def generation(self) -> int:
        """A number that changes at every rebalance (the table may have been restored)."""


class OneProcessScope:
    """Every partition is this process's and is never rebalanced: a state table held in one
    process (the in-process tests and benchmark)."""

    def covers(self, partition: int) -> bool:
        """Always."""
        return True

    def generation(self) -> int:
        """No rebalance ever happens."""
        return 0

    def __call__(self, partition: int) -> AbstractContextManager[None]:
        """Nothing to set up."""
        return nullcontext()


class DecodedRecords:
    """Records as the last flush wrote them (or as read), kept while no rebalance happens."""

    def __init__(self) -> None:
        self._records: dict[str, PointState] = {}
        self._generation: int | None = None

    def valid_for(self, generation: int) -> dict[str, PointState]:
        """The kept records, forgotten first when a rebalance happened since they were kept."""
        if generation != self._generation:
            self._records.clear()
            self._generation = generation
        return self._records


class PointStates:
    """The records a batch reads and changes; :meth:`flush` writes the changed ones."""

    def __init__(
        self,
        table: MutableMapping[Any, Any],
        scope: PartitionScope,
        on_write: Callable[[str, PointState], None] = lambda point_id, record: None,
        decoded: DecodedRecords | None = None,
    ) -> None:
        self._table = table
        self._scope = scope
        self._on_write = on_write
        self._decoded = decoded if decoded is not None else DecodedRecords()
        self._generation = scope.generation()
        self._open: dict[str, PointState] = {}
        self._changed: set[str] = set()
        self._new: set[str] = set()  # opened, and not in the table

    def of(self, point_id: str, partition: int | None = None) -> PointState:
        """The point's record (an empty one for a point never seen); ``partition``: the input
        partition its message came from, kept in the record."""
        record = self._open.get(point_id)
        if record is None:
            record = self._kept(point_id)
            if record is None:
                stored = self._table.get(point_id)
                if stored is None:
                    record = PointState()
                    self._new.add(point_id)
                else:
                    record = PointState.from_dict(stored)
            self._open[point_id] = record
        if partition is not None and record.partition != partition:
            if record.partition is not None:  # a stored record moved: file it anew
                self._changed.add(point_id)
            record.partition = partition
        return record

    def changed(self, point_id: str) -> None:
        """Mark the point's record (taken with :meth:`of`) to be written back."""
        self._changed.add(point_id)

    def writable(self, point_id: str) -> bool:
        """Whether the point's record can be written now (its partition has been read)."""
        partition = self.of(point_id).partition
        return partition is not None and self._scope.covers(partition)

    def flush(self) -> int:
        """Write every changed record once, in its partition's scope; returns how many. The
        records of a partition this worker no longer owns are not written (see
        :meth:`PartitionScope.covers`)."""
        by_partition: dict[int, list[str]] = {}
        for point_id in self._changed:
            partition = self._open[point_id].partition
            if partition is None:
                raise ValueError(f"{point_id}: a record changed before any of its messages")
            by_partition.setdefault(partition, []).append(point_id)
        written: set[str] = set()
        for partition, point_ids in by_partition.items():
            if not self._scope.covers(partition):
                continue
            with self._scope(partition):
                for point_id in point_ids:
                    record = self._open[point_id]
                    self._table[point_id] = record.to_dict()
                    self._on_write(point_id, record)
            written.update(point_ids)
        # Kept: what the table now holds as it is here (written, or read and left unchanged).
        as_stored = written | (self._open.keys() - self._changed - self._new)
        self._keep({point_id: self._open[point_id] for point_id in as_stored})
        self._open.clear()
        self._changed.clear()
        self._new.clear()
        return len(written)

    def _kept(self, point_id: str) -> PointState | None:
        """The point's kept record, taken out while this batch works on it (a batch that fails
        leaves no half-changed record behind); None when not kept or kept before a rebalance
        that happened after this batch began."""
        generation = self._scope.generation()
        kept = self._decoded.valid_for(generation)
        return kept.pop(point_id, None) if generation == self._generation else None

    def _keep(self, records: dict[str, PointState]) -> None:
        generation = self._scope.generation()
        if generation == self._generation:  # else the table may hold other versions now
            self._decoded.valid_for(generation).update(records)

    def liveness(self) -> Iterator[tuple[str, int, LivenessState]]:
        """Every stored point's partition and liveness (only that part is decoded)."""
        for key, stored in list(self._table.items()):
            point_id = key.decode() if isinstance(key, bytes) else key  # the table's raw keys
            if (liveness := stored.get("liveness")) is not None:
                yield point_id, stored.get("partition"), LivenessState.from_dict(liveness)

    def alerts(self) -> Iterator[AlertState]:
        """Every stored point's alert state."""
        for _, stored in list(self._table.items()):
            if (alerts := stored.get("alerts")) is not None:
                yield AlertState.from_dict(alerts)
