"""The per-point record and a batch's working copy of the records: one read, one write."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from streams.domain.alert_lifecycle import AlertState
from streams.domain.fuel_forecast import FuelReading, update
from streams.domain.occupancy import OccupancyState
from streams.domain.point_state import PointState
from streams.domain.staleness import LivenessState
from streams.worker.liveness_index import LivenessIndex
from streams.worker.point_states import DecodedRecords, PointStates


class CountingTable(dict[str, Any]):
    """A table that counts reads and writes, and the partition each write was filed under."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.writes: list[tuple[str, int | None]] = []
        self.partition: int | None = None

    def get(self, key: str, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append((key, self.partition))
        super().__setitem__(key, value)


class Scope:
    """Partitions 0-3 have been read; writes record which partition they ran in."""

    def __init__(self, table: CountingTable) -> None:
        self._table = table
        self.rebalances = 0

    def covers(self, partition: int) -> bool:
        return partition < 4

    def generation(self) -> int:
        return self.rebalances

    @contextlib.contextmanager
    def __call__(self, partition: int) -> Iterator[None]:
        self._table.partition = partition
        yield
        self._table.partition = None


def points(index: LivenessIndex) -> list[tuple[str, LivenessState]]:
    """Every point the index holds, whatever its partition."""
    return [item for found in index.by_partition().values() for item in found]


def full_record() -> PointState:
    fuel, _ = update(None, FuelReading(1000.0, 150.0, True), 200.0)
    return PointState(
        partition=3,
        fuel=fuel,
        occupancy=OccupancyState(high_ts=1000.0, cohorts={960: 4}),
        liveness=LivenessState(kind="permanent", last_seen_ts=1000.0, last_status="open"),
        alerts=AlertState(evaluated_at=1000.0),
    )


def test_a_record_survives_the_json_round_trip() -> None:
    record = full_record()
    assert PointState.from_dict(orjson.loads(orjson.dumps(record.to_dict()))) == record
    assert PointState.from_dict(PointState().to_dict()) == PointState()


def test_a_record_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        PointState.from_dict({"v": 99, "partition": 0})


def test_a_batch_reads_each_record_once_and_writes_each_changed_one_once() -> None:
    table = CountingTable()
    table["p1"] = full_record().to_dict()
    table.writes.clear()
    states = PointStates(table, Scope(table))
    for _ in range(5):  # five reports of p1, three of p2, in one batch
        states.of("p1", 3).liveness = LivenessState(kind="mobile")
        states.changed("p1")
    for _ in range(3):
        states.of("p2", 1).liveness = LivenessState(kind="permanent")
        states.changed("p2")
    states.of("p3", 2)  # read, never changed

    assert states.flush() == 2
    assert table.reads == 3
    assert sorted(table.writes) == [("p1", 3), ("p2", 1)]
    assert PointState.from_dict(table["p1"]).liveness == LivenessState(kind="mobile")
    assert PointState.from_dict(table["p1"]).fuel == full_record().fuel
    assert states.flush() == 0  # nothing changed since


def test_a_record_is_filed_under_the_partition_its_messages_came_from() -> None:
    table = CountingTable()
    states = PointStates(table, Scope(table))
    states.of("p1", 2)
    states.changed("p1")
    states.flush()
    assert table.writes == [("p1", 2)]
    assert PointState.from_dict(table["p1"]).partition == 2


def test_only_records_of_partitions_read_so_far_are_writable() -> None:
    table = CountingTable()
    table["p1"] = PointState(partition=3).to_dict()
    table["p9"] = PointState(partition=7).to_dict()
    states = PointStates(table, Scope(table))
    assert states.writable("p1")
    assert not states.writable("p9")
    assert not states.writable("never-seen")


def test_the_timer_reads_every_point_liveness_and_alerts() -> None:
    table = CountingTable()
    table["p1"] = full_record().to_dict()
    table["p2"] = PointState(partition=0).to_dict()  # no report yet: no liveness
    states = PointStates(table, Scope(table))
    assert list(states.liveness()) == [("p1", 3, full_record().liveness)]
    assert list(states.alerts()) == [full_record().alerts]


def test_the_liveness_index_follows_writes_and_the_partitions_owned() -> None:
    table = CountingTable()
    table["p1"] = full_record().to_dict()  # partition 3
    table["p2"] = PointState(partition=5, liveness=LivenessState(kind="mobile")).to_dict()
    index = LivenessIndex()
    states = PointStates(table, Scope(table), on_write=index.written)

    index.cover(frozenset({3}), 0, states)
    held = {p: [point for point, _ in found] for p, found in index.by_partition().items()}
    assert held == {3: ["p1"]}  # p2's partition is not owned

    states.of("p1").liveness = LivenessState(kind="standby")
    states.changed("p1")
    states.flush()
    assert dict(points(index))["p1"] == LivenessState(kind="standby")  # no table read needed

    index.cover(frozenset({3, 5}), 1, states)  # a rebalance gave this worker partition 5 too
    assert sorted(point for point, _ in points(index)) == ["p1", "p2"]

    # Partition 5 goes to another worker and comes back: the same partitions as now, but its
    # records may have changed meanwhile.
    table["p2"] = PointState(partition=5, liveness=LivenessState(kind="standby")).to_dict()
    index.cover(frozenset({3, 5}), 3, states)
    assert dict(points(index))["p2"] == LivenessState(kind="standby")


def batches(table: CountingTable) -> tuple[Scope, Any]:
    """A scope and a factory of batches' working copies sharing one set of kept records."""
    scope, decoded = Scope(table), DecodedRecords()
    return scope, lambda: PointStates(table, scope, decoded=decoded)


def test_a_record_is_decoded_from_the_table_once_across_batches() -> None:
    table = CountingTable()
    table["p1"] = full_record().to_dict()
    _, batch = batches(table)
    for kind in ("mobile", "standby", "permanent"):
        states = batch()
        states.of("p1", 3).liveness = LivenessState(kind=kind)
        states.changed("p1")
        states.of("p2", 1)  # read, never changed, not stored: read again next time
        states.flush()
    assert table.reads == 1 + 3  # p1 once; p2, never stored, every batch
    assert batch().of("p1").liveness == LivenessState(kind="permanent")
    assert PointState.from_dict(table["p1"]).liveness == LivenessState(kind="permanent")


def test_a_rebalance_forgets_the_kept_records() -> None:
    table = CountingTable()
    table["p1"] = full_record().to_dict()
    scope, batch = batches(table)
    batch().of("p1", 3)
    batch().flush()  # nothing read in it
    states = batch()
    states.of("p1", 3)
    states.flush()
    # The rebalance restores another version from the changelog (another worker wrote it).
    scope.rebalances += 1
    table["p1"] = PointState(partition=3, liveness=LivenessState(kind="mobile")).to_dict()
    assert batch().of("p1").liveness == LivenessState(kind="mobile")


def test_a_batch_begun_before_a_rebalance_keeps_nothing() -> None:
    table = CountingTable()
    table["p1"] = full_record().to_dict()
    scope, batch = batches(table)
    states = batch()
    states.of("p1", 3).liveness = LivenessState(kind="mobile")
    states.changed("p1")
    scope.rebalances += 1  # while the batch awaited the database, say
    table["p1"] = PointState(partition=3, liveness=LivenessState(kind="standby")).to_dict()
    states.flush()  # writes partition 3, still owned, and keeps nothing
    table["p1"] = PointState(partition=3, liveness=LivenessState(kind="permanent")).to_dict()
    assert batch().of("p1").liveness == LivenessState(kind="permanent")


def test_a_failed_batch_leaves_no_half_changed_record_behind() -> None:
    table = CountingTable()
    table["p1"] = full_record().to_dict()
    _, batch = batches(table)
    warm = batch()
    warm.of("p1", 3)
    warm.flush()
    failed = batch()
    failed.of("p1", 3).liveness = LivenessState(kind="mobile")  # then a computation raises
    assert batch().of("p1").liveness == full_record().liveness


def test_a_changed_record_not_written_is_not_kept() -> None:
    table = CountingTable()
    table["p9"] = PointState(partition=7).to_dict()  # partition 7: not owned (see Scope)
    _, batch = batches(table)
    states = batch()
    states.of("p9", 7).liveness = LivenessState(kind="mobile")
    states.changed("p9")
    assert states.flush() == 0
    assert batch().of("p9").liveness is None  # as stored
