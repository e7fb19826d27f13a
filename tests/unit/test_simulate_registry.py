"""The simulated registry: the network's real counts, plausible places, stable ids."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import pytest

from streams.simulate.geography import KYIV_CITY, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, OBLASTS
from streams.simulate.registry import (
    FULL_NETWORK,
    MOBILE_LOCATIONS,
    build_registry,
    mobile_locations,
    network_counts,
    scale_counts,
)

FIELDS = {
    "point_id",
    "name",
    "kind",
    "oblast",
    "hromada",
    "lat",
    "lon",
    "capacity_people",
    "fuel_tank_l",
}
KYIV = next(o.name for o in OBLASTS if o.code == KYIV_CITY)


@pytest.fixture(scope="module")
def full() -> list[dict[str, Any]]:
    return build_registry(42)


def test_full_network_has_the_published_counts(full: list[dict[str, Any]]) -> None:
    kinds = Counter(p["kind"] for p in full)
    assert len(full) == FULL_NETWORK == 13_464
    assert kinds["permanent"] + kinds["mobile"] == 9_235  # mobile points operate permanently
    assert kinds["standby"] == 4_229
    assert kinds["mobile"] == 211


def test_mobile_points_are_in_kyiv_at_108_locations(full: list[dict[str, Any]]) -> None:
    mobile = [p for p in full if p["kind"] == "mobile"]
    assert {p["oblast"] for p in mobile} == {KYIV}
    assert all(30 <= p["capacity_people"] <= 60 for p in mobile)
    assert _clusters([(p["lat"], p["lon"]) for p in mobile], within=0.001) == MOBILE_LOCATIONS


def test_every_oblast_and_kyiv_have_points(full: list[dict[str, Any]]) -> None:
    per_oblast = Counter(p["oblast"] for p in full)
    assert set(per_oblast) == {o.name for o in OBLASTS}
    assert len(per_oblast) == 25
    # Roughly by population: the biggest regions have far more points than the smallest.
    assert per_oblast["Дніпропетровська область"] > 3 * per_oblast["Херсонська область"]


def test_messages_have_contract_fields_in_range(full: list[dict[str, Any]]) -> None:
    pattern = re.compile(r"UA-[A-Z]{2}-\d{5}")
    for point in full:
        assert set(point) == FIELDS
        assert pattern.fullmatch(point["point_id"])
        assert LAT_MIN <= point["lat"] <= LAT_MAX
        assert LON_MIN <= point["lon"] <= LON_MAX
        assert 20 <= point["capacity_people"] <= 300
        assert 60 <= point["fuel_tank_l"] <= 1000
        assert point["hromada"] in point["name"] or point["kind"] == "mobile"
    assert len({p["point_id"] for p in full}) == len(full)


def test_points_stay_inside_their_oblast(full: list[dict[str, Any]]) -> None:
    boxes = {o.name: o.box for o in OBLASTS}
    for point in full:
        lat_min, lat_max, lon_min, lon_max = boxes[point["oblast"]]
        assert lat_min <= point["lat"] <= lat_max
        assert lon_min <= point["lon"] <= lon_max


def test_ids_carry_the_oblast_code_and_a_number_from_one() -> None:
    registry = build_registry(7, 500)
    by_code: dict[str, list[int]] = {}
    for point in registry:
        _, code, number = point["point_id"].split("-")
        by_code.setdefault(code, []).append(int(number))
    for numbers in by_code.values():
        assert numbers == list(range(1, len(numbers) + 1))


def test_same_seed_same_registry_and_another_seed_differs() -> None:
    assert build_registry(3, 800) == build_registry(3, 800)
    assert build_registry(3, 800) != build_registry(4, 800)


@pytest.mark.parametrize("points", [1, 7, 200, 1000, 5000])
def test_smaller_networks_scale_every_kind(points: int) -> None:
    registry = build_registry(42, points)
    kinds = Counter(p["kind"] for p in registry)
    assert len(registry) == points
    for kind, full_count in (("permanent", 9_024), ("mobile", 211), ("standby", 4_229)):
        assert abs(kinds[kind] - full_count * points / FULL_NETWORK) < 1
    assert kinds == Counter(network_counts(points))


def test_scale_counts_sums_exactly() -> None:
    parts = {"a": 9_024, "b": 211, "c": 4_229}
    for total in (1, 2, 3, 99, 1_000, 13_464):
        assert sum(scale_counts(total, parts).values()) == total
    assert scale_counts(13_464, parts) == parts


def test_mobile_locations_scale_with_the_tents() -> None:
    assert mobile_locations(211) == 108
    assert mobile_locations(0) == 0
    assert mobile_locations(1) == 1
    assert mobile_locations(106) == 54


def test_network_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="points"):
        network_counts(0)
    with pytest.raises(ValueError, match="points"):
        network_counts(FULL_NETWORK + 1)


def _clusters(positions: list[tuple[float, float]], within: float) -> int:
    """Groups of positions closer than ``within`` degrees to the group's first member."""
    centres: list[tuple[float, float]] = []
    for lat, lon in positions:
        if not any(math.dist((lat, lon), centre) < within for centre in centres):
            centres.append((lat, lon))
    return len(centres)
