"""Ukraine's 24 oblasts and the city of Kyiv as the simulator sees them.

Rough figures only, enough for plausible maps and loads: each oblast's centre (its capital, or
the administrative centre for oblasts whose capital is occupied), a bounding box of the
territory Ukraine controls, a weight for the share of points (population in millions, roughly,
of the controlled part), the capital's hromada, and a weight for how often strikes on the
power system hit it (frontline and big energy hubs more than the west).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Ukraine lies within these bounds; every coordinate the simulator makes stays inside them.
LAT_MIN, LAT_MAX = 44.0, 53.0
LON_MIN, LON_MAX = 22.0, 41.0

KYIV_CITY = "KY"


@dataclass(frozen=True, slots=True)
class Oblast:
    """One region: code in point ids, Ukrainian names, centre, box and weights."""

    code: str
    name: str  # as in the registry's ``oblast`` field, e.g. "Київська область"
    adjective: str  # "Київська": names the oblast's military administration and rescue service
    capital_hromada: str  # adjective of the capital's hromada, e.g. "Білоцерківська"
    lat: float
    lon: float
    box: tuple[float, float, float, float]  # lat_min, lat_max, lon_min, lon_max
    weight: float
    strike_weight: float

    @property
    def locative(self) -> str:
        """The adjective in the locative case ("Київській"): its final vowel becomes ій."""
        return self.adjective[:-1] + "ій"


def _oblast(
    code: str,
    adjective: str,
    capital: str,
    centre: tuple[float, float],
    box: tuple[float, float, float, float],
    weight: float,
    strike_weight: float,
) -> Oblast:
    return Oblast(
        code, f"{adjective} область", adjective, capital, *centre, box, weight, strike_weight
    )


OBLASTS: tuple[Oblast, ...] = (
    _oblast("VN", "Вінницька", "Вінницька", (49.233, 28.468), (48.0, 49.9, 27.4, 30.0), 1.5, 1),
    _oblast("VL", "Волинська", "Луцька", (50.747, 25.325), (50.3, 51.9, 23.6, 26.1), 1.0, 0.5),
    _oblast(
        "DP", "Дніпропетровська", "Дніпровська", (48.465, 35.046), (47.5, 49.2, 33.2, 36.9), 3.0, 3
    ),
    _oblast("DN", "Донецька", "Краматорська", (48.723, 37.556), (47.9, 49.2, 36.6, 38.2), 0.9, 3),
    _oblast(
        "ZT", "Житомирська", "Житомирська", (50.254, 28.658), (49.6, 51.6, 27.2, 29.6), 1.15, 1
    ),
    _oblast(
        "ZK", "Закарпатська", "Ужгородська", (48.621, 22.288), (47.9, 49.1, 22.2, 24.6), 1.25, 0.3
    ),
    _oblast("ZP", "Запорізька", "Запорізька", (47.838, 35.139), (47.4, 48.1, 34.9, 36.5), 0.9, 3),
    _oblast(
        "IF",
        "Івано-Франківська",
        "Івано-Франківська",
        (48.923, 24.711),
        (48.0, 49.5, 23.6, 25.6),
        1.35,
        0.7,
    ),
    _oblast(
        "KV", "Київська", "Білоцерківська", (49.798, 30.115), (49.2, 51.5, 29.3, 32.2), 1.8, 2.5
    ),
    _oblast(
        "KR", "Кіровоградська", "Кропивницька", (48.508, 32.262), (47.7, 49.2, 30.5, 33.9), 0.9, 1
    ),
    _oblast("LH", "Луганська", "Сватівська", (49.2, 38.1), (48.95, 49.35, 37.9, 38.3), 0.02, 0.1),
    _oblast("LV", "Львівська", "Львівська", (49.839, 24.030), (48.7, 50.6, 22.6, 25.3), 2.5, 1),
    _oblast(
        "MK", "Миколаївська", "Миколаївська", (46.975, 31.995), (46.5, 48.2, 30.3, 33.2), 1.0, 2
    ),
    _oblast("OD", "Одеська", "Одеська", (46.482, 30.723), (45.3, 48.0, 28.3, 31.2), 2.3, 3),
    _oblast(
        "PL", "Полтавська", "Полтавська", (49.588, 34.551), (48.8, 50.6, 32.2, 35.5), 1.35, 1.5
    ),
    _oblast(
        "RV", "Рівненська", "Рівненська", (50.619, 26.252), (50.0, 51.9, 25.2, 27.6), 1.15, 0.7
    ),
    _oblast("SM", "Сумська", "Сумська", (50.907, 34.798), (50.1, 52.3, 32.9, 35.5), 1.0, 2.5),
    _oblast(
        "TP", "Тернопільська", "Тернопільська", (49.553, 25.595), (48.6, 50.2, 24.9, 26.5), 1.0, 0.5
    ),
    _oblast("KH", "Харківська", "Харківська", (49.994, 36.231), (48.7, 50.4, 34.8, 38.0), 2.4, 3),
    _oblast("KS", "Херсонська", "Херсонська", (46.636, 32.617), (46.6, 47.6, 32.3, 34.0), 0.4, 2),
    _oblast(
        "KM", "Хмельницька", "Хмельницька", (49.422, 26.987), (48.5, 50.6, 26.2, 27.8), 1.2, 0.8
    ),
    _oblast("CK", "Черкаська", "Черкаська", (49.444, 32.060), (48.5, 50.2, 29.6, 32.8), 1.15, 1),
    _oblast(
        "CV", "Чернівецька", "Чернівецька", (48.292, 25.936), (47.8, 48.7, 24.9, 27.5), 0.9, 0.5
    ),
    _oblast(
        "CN", "Чернігівська", "Чернігівська", (51.498, 31.289), (50.5, 52.3, 30.5, 33.5), 0.95, 2
    ),
    Oblast(
        KYIV_CITY,
        "м. Київ",
        "Київська",
        "Київська",
        50.450,
        30.523,
        (50.35, 50.55, 30.35, 30.78),
        3.0,
        3,
    ),
)

#: Districts of Kyiv: the mobile points' names say where they stand.
KYIV_DISTRICTS: tuple[str, ...] = (
    "Голосіївський",
    "Дарницький",
    "Деснянський",
    "Дніпровський",
    "Оболонський",
    "Печерський",
    "Подільський",
    "Святошинський",
    "Солом'янський",
    "Шевченківський",
)

#: Hromadas in Ukraine (2020 reform); the registry spreads them over the oblasts by weight.
HROMADAS_NATIONWIDE = 1469

# Synthetic hromada names: an optional prefix and an adjective stem, as real names are built.
_PREFIXES = ("", "", "", "", "Ново", "Старо", "Велико", "Мало", "Верхньо", "Нижньо")
_STEMS = (
    "Березівська", "Вишнівська", "Дубівська", "Соснівська", "Липовецька", "Калинівська",
    "Озерянська", "Криничанська", "Степанівська", "Зеленівська", "Новоселицька",
    "Городищенська", "Білопільська", "Красносільська", "Петрівська", "Іванівська",
    "Михайлівська", "Олександрівська", "Андріївська", "Григорівська", "Вознесенська",
    "Покровська", "Троїцька", "Успенівська", "Слобідська", "Підгаєцька", "Заліська",
    "Ярославицька", "Тарасівська", "Яблунівська", "Вербівська", "Ясенівська", "Грушівська",
    "Тополівська", "Кленівська", "Світлівська", "Сонячненська", "Луківська", "Полянська",
    "Кам'янська", "Кринківська", "Лозівська", "Ставищенська", "Мирненська", "Лісовська",
    "Річанська", "Бродівська", "Ольшанська", "Журавненська", "Лебединська", "Соколівська",
    "Орлівська", "Васильківська", "Романівська", "Федорівська", "Семенівська", "Борисівська",
    "Данилівська", "Макарівська", "Гребінківська", "Ковалівська", "Чорнобаївська",
)  # fmt: skip
_HROMADA_TYPES = (("міська", 0.1), ("селищна", 0.3), ("сільська", 0.6))


def hromada_names(rng: random.Random, oblast: Oblast, count: int) -> list[str]:
    """``count`` distinct hromada names for ``oblast``; the first is the capital's city hromada."""
    names = [f"{oblast.capital_hromada} міська громада"]
    kinds = [kind for kind, _ in _HROMADA_TYPES]
    weights = [weight for _, weight in _HROMADA_TYPES]
    while len(names) < count:
        prefix = rng.choice(_PREFIXES)
        stem = rng.choice(_STEMS)
        adjective = prefix + stem.lower() if prefix else stem
        name = f"{adjective} {rng.choices(kinds, weights)[0]} громада"
        if name not in names:
            names.append(name)
    return names
