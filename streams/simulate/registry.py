"""The simulated national registry: one ``points.registry`` message per point.

The full network has 13,464 points: 9,235 operate permanently and 4,229 are on standby. The
211 mobile points of Kyiv (at 108 locations) are counted among the 9,235 permanently operating
ones, so the registry holds 9,024 ``permanent`` + 211 ``mobile`` + 4,229 ``standby`` points.
A smaller network (``points`` < 13,464) scales every category, and the mobile locations, by
the same ratio. Points are spread over the oblasts by :attr:`Oblast.weight` and clustered
around synthetic hromada centres inside each oblast's box.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from streams.simulate.geography import (
    HROMADAS_NATIONWIDE,
    KYIV_CITY,
    KYIV_DISTRICTS,
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    OBLASTS,
    Oblast,
    hromada_names,
)

FULL_NETWORK = 13_464
MOBILE = 211
MOBILE_LOCATIONS = 108
PERMANENT = 9_235 - MOBILE  # fixed permanent points; mobile ones are permanent too
STANDBY = 4_229

#: Standard generator tank sizes, litres.
TANK_SIZES = (60.0, 100.0, 150.0, 200.0, 300.0, 500.0, 750.0, 1000.0)
CAPACITY_MIN, CAPACITY_MAX = 20, 300
MOBILE_CAPACITY = (30, 60)
MOBILE_TANKS = TANK_SIZES[:4]
_POINT_SPREAD_DEG = 0.04  # how far a point lies from its hromada's centre (1 sd)
_LOCATION_SPREAD_DEG = 0.05  # how far Kyiv's mobile locations lie from the centre (1 sd)
_LOCATION_GAP_DEG = 0.003  # mobile locations are at least ~300 m apart
_TENT_JITTER_DEG = 3e-4  # tents at one location stand a few tens of metres apart
_CAPITAL_SHARE = 8.0  # the capital's hromada gets this many times an average hromada's points


def scale_counts(total: int, parts: Mapping[str, int]) -> dict[str, int]:
    """Split ``total`` in proportion to ``parts`` (largest remainder; ties by order)."""
    weight = sum(parts.values())
    exact = {name: total * count / weight for name, count in parts.items()}
    counts = {name: math.floor(value) for name, value in exact.items()}
    by_remainder = sorted(parts, key=lambda name: counts[name] - exact[name])
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def network_counts(points: int) -> dict[str, int]:
    """Points per kind (``permanent``, ``mobile``, ``standby``) for a network of ``points``."""
    if not 1 <= points <= FULL_NETWORK:
        raise ValueError(f"points must be 1..{FULL_NETWORK}, not {points}")
    return scale_counts(points, {"permanent": PERMANENT, "mobile": MOBILE, "standby": STANDBY})


def mobile_locations(mobile: int) -> int:
    """How many Kyiv locations ``mobile`` tents stand at (108 for 211, scaled, at least 1)."""
    if mobile == 0:
        return 0
    return max(1, round(MOBILE_LOCATIONS * mobile / MOBILE))


def build_registry(seed: int, points: int = FULL_NETWORK) -> list[dict[str, Any]]:
    """The registry messages of a network of ``points`` points, deterministic in ``seed``.

    Each message has the contract fields ``point_id`` (``UA-<oblast code>-<number>``), ``name``,
    ``kind``, ``oblast``, ``hromada``, ``lat``, ``lon``, ``capacity_people`` and
    ``fuel_tank_l``; messages come in oblast order, numbered from 1 within each oblast.
    """
    rng = random.Random(f"nezlam-registry-{seed}")
    counts = network_counts(points)
    weights = {oblast.code: oblast.weight for oblast in OBLASTS}
    permanent = _split(counts["permanent"], weights)
    standby = _split(counts["standby"], weights)
    registry: list[dict[str, Any]] = []
    for oblast in OBLASTS:
        kinds = ["permanent"] * permanent[oblast.code] + ["standby"] * standby[oblast.code]
        mobile = counts["mobile"] if oblast.code == KYIV_CITY else 0
        registry.extend(_oblast_points(rng, oblast, kinds, mobile))
    return registry


def _split(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    # scale_counts wants integers; thousandths of a weight are precise enough.
    return scale_counts(total, {code: round(w * 1000) for code, w in weights.items()})


def _oblast_points(
    rng: random.Random, oblast: Oblast, kinds: list[str], mobile: int
) -> list[dict[str, Any]]:
    """The points of one oblast: fixed points by hromada, then Kyiv's mobile tents."""
    if not kinds and not mobile:
        return []
    hromadas = _hromadas(rng, oblast, len(kinds) + mobile)
    centres = [centre for _, centre, _ in hromadas]
    shares = [share for _, _, share in hromadas]
    slots: list[tuple[str, int | None]] = [(kind, None) for kind in kinds]
    slots += [("mobile", index) for index in range(mobile)]
    rng.shuffle(slots)  # ids follow registration order, which mixes kinds
    tents = _mobile_locations(rng, oblast, mobile)
    messages = []
    for number, (kind, tent) in enumerate(slots, start=1):
        point_id = f"UA-{oblast.code}-{number:05d}"
        if tent is not None:
            (lat, lon), district = tents[tent]
            message = _mobile_point(rng, point_id, number, oblast, hromadas[0][0], district)
        else:
            index = rng.choices(range(len(hromadas)), shares)[0]
            lat, lon = _near(rng, oblast, centres[index], _POINT_SPREAD_DEG)
            message = _fixed_point(rng, point_id, number, kind, oblast, hromadas[index][0])
        message["lat"], message["lon"] = round(lat, 5), round(lon, 5)
        messages.append(message)
    return messages


def _hromadas(
    rng: random.Random, oblast: Oblast, points: int
) -> list[tuple[str, tuple[float, float], float]]:
    """(name, centre, share of points) per hromada; the capital's comes first."""
    if oblast.code == KYIV_CITY:
        count = 1  # the city is one hromada
    else:
        total_weight = sum(o.weight for o in OBLASTS)
        fair = round(HROMADAS_NATIONWIDE * oblast.weight / total_weight)
        count = max(1, min(fair, math.ceil(points / 4)))
    names = hromada_names(rng, oblast, count)
    lat_min, lat_max, lon_min, lon_max = oblast.box
    result = [(names[0], (oblast.lat, oblast.lon), _CAPITAL_SHARE)]
    for name in names[1:]:
        centre = (rng.uniform(lat_min, lat_max), rng.uniform(lon_min, lon_max))
        result.append((name, centre, rng.lognormvariate(0.0, 0.5)))
    return result


def _mobile_locations(
    rng: random.Random, oblast: Oblast, mobile: int
) -> list[tuple[tuple[float, float], str]]:
    """Position and district of each mobile tent: 1-2 tents per location, as in Kyiv."""
    lat_min, lat_max, lon_min, lon_max = oblast.box
    places: list[tuple[float, float]] = []
    while len(places) < mobile_locations(mobile):
        lat, lon = _near(rng, oblast, (oblast.lat, oblast.lon), _LOCATION_SPREAD_DEG)
        # Keep tents of one location inside the box, and locations apart.
        lat = _clamp(lat, lat_min + _TENT_JITTER_DEG, lat_max - _TENT_JITTER_DEG)
        lon = _clamp(lon, lon_min + _TENT_JITTER_DEG, lon_max - _TENT_JITTER_DEG)
        if all(math.dist((lat, lon), place) >= _LOCATION_GAP_DEG for place in places):
            places.append((lat, lon))
    districts = [rng.choice(KYIV_DISTRICTS) for _ in places]
    tents = []
    for index in range(mobile):
        (lat, lon), district = places[index % len(places)], districts[index % len(places)]
        lat += rng.uniform(-_TENT_JITTER_DEG, _TENT_JITTER_DEG)
        lon += rng.uniform(-_TENT_JITTER_DEG, _TENT_JITTER_DEG)
        tents.append(((lat, lon), district))
    return tents


def _near(
    rng: random.Random, oblast: Oblast, centre: tuple[float, float], spread: float
) -> tuple[float, float]:
    """A position around ``centre``, inside the oblast's box and Ukraine's bounds."""
    lat_min, lat_max, lon_min, lon_max = oblast.box
    lat = _clamp(rng.gauss(centre[0], spread), max(lat_min, LAT_MIN), min(lat_max, LAT_MAX))
    # A degree of longitude is shorter than one of latitude at these latitudes (~0.65).
    lon = _clamp(rng.gauss(centre[1], spread / 0.65), max(lon_min, LON_MIN), min(lon_max, LON_MAX))
    return lat, lon


def _fixed_point(
    rng: random.Random, point_id: str, number: int, kind: str, oblast: Oblast, hromada: str
) -> dict[str, Any]:
    capacity = _clamp(5 * round(rng.triangular(15, 305, 45) / 5), CAPACITY_MIN, CAPACITY_MAX)
    # Bigger points run bigger generators with bigger tanks; the spread keeps it loose.
    target = 60 + (capacity - CAPACITY_MIN) / (CAPACITY_MAX - CAPACITY_MIN) * 940
    tank = _nearest(TANK_SIZES, target * rng.uniform(0.5, 1.5))
    return {
        "point_id": point_id,
        "name": f"Пункт незламності №{number}, {hromada}",
        "kind": kind,
        "oblast": oblast.name,
        "hromada": hromada,
        "capacity_people": int(capacity),
        "fuel_tank_l": tank,
    }


def _mobile_point(
    rng: random.Random, point_id: str, number: int, oblast: Oblast, hromada: str, district: str
) -> dict[str, Any]:
    return {
        "point_id": point_id,
        "name": f"Мобільний пункт незламності №{number}, {district} район",
        "kind": "mobile",
        "oblast": oblast.name,
        "hromada": hromada,
        "capacity_people": rng.randint(*MOBILE_CAPACITY),
        "fuel_tank_l": rng.choice(MOBILE_TANKS),
    }


def _nearest(options: Sequence[float], value: float) -> float:
    return min(options, key=lambda option: abs(option - value))


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
