"""Visitors: how many come when, in what groups, for how long, and which departures are missed.

People come when their homes are dark and cold: a point without grid power draws
:data:`NO_GRID_SURGE` times its quiet rate, and for a day after a strike on its oblast up to
``1 + STRIKE_SURGE`` times more again. The quiet rates (Kyiv's mobile tents about 4 people a
day each, fixed points a fraction of one, more for bigger points) are calibrated so that a day
of the default scenario, with its rolling blackouts and strikes, brings several thousand people
nationally, like the Ministry's "more than 6,000 a day on average" (see docs/simulator.md).
"""

from __future__ import annotations

import math
import random

#: Relative arrival rate by Kyiv local hour (mean 1): quiet nights, an evening peak.
DIURNAL = (
    0.15, 0.10, 0.08, 0.07, 0.07, 0.12, 0.30, 0.60, 0.90, 1.10, 1.25, 1.30,
    1.35, 1.35, 1.30, 1.30, 1.40, 1.60, 1.80, 1.85, 1.70, 1.30, 0.80, 0.40,
)  # fmt: skip
_DIURNAL_MEAN = sum(DIURNAL) / len(DIURNAL)

MOBILE_PEOPLE_PER_HOUR = 0.15
FIXED_PEOPLE_PER_HOUR_PER_100_SEATS = 0.005
NO_GRID_SURGE = 4.0
STRIKE_SURGE = 2.0  # extra multiple right after a strike, fading over a day
STRIKE_SURGE_FADE_S = 12 * 3600.0

GROUP_SIZES = (1, 2, 3, 4, 5, 6)
GROUP_WEIGHTS = (0.45, 0.28, 0.12, 0.08, 0.04, 0.03)
MEAN_GROUP = sum(s * w for s, w in zip(GROUP_SIZES, GROUP_WEIGHTS, strict=True)) / sum(
    GROUP_WEIGHTS
)
DWELL_MEDIAN_S = 40 * 60.0
DWELL_S = (5 * 60.0, 6 * 3600.0)
MISSED_DEPARTURE = 0.12  # share of departures nobody records
CROWD_LIMIT = 1.5  # past this multiple of capacity, newcomers are turned away


def diurnal(local_hour: float) -> float:
    """Relative arrival rate at ``local_hour`` (mean 1 over a day)."""
    return DIURNAL[int(local_hour) % 24] / _DIURNAL_MEAN


def base_rate_per_hour(rng: random.Random, kind: str, capacity: int) -> float:
    """A point's arrivals (people per hour) on a quiet day at an average hour."""
    if kind == "mobile":
        return MOBILE_PEOPLE_PER_HOUR * rng.lognormvariate(0.0, 0.4)
    return FIXED_PEOPLE_PER_HOUR_PER_100_SEATS * capacity / 100.0 * rng.lognormvariate(0.0, 0.5)


def surge(grid_up: bool, since_strike_s: float | None) -> float:
    """How many times the quiet rate a point draws now."""
    factor = 1.0 if grid_up else NO_GRID_SURGE
    if since_strike_s is not None:
        factor *= 1.0 + STRIKE_SURGE * math.exp(-since_strike_s / STRIKE_SURGE_FADE_S)
    return factor


def group_size(rng: random.Random) -> int:
    """People arriving together (1-6)."""
    return rng.choices(GROUP_SIZES, GROUP_WEIGHTS)[0]


def dwell_s(rng: random.Random, grid_up: bool) -> float:
    """How long a group stays; longer when their homes have no power."""
    seconds = rng.lognormvariate(math.log(DWELL_MEDIAN_S), 0.6) * (1.0 if grid_up else 1.5)
    return max(DWELL_S[0], min(DWELL_S[1], seconds))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw; the means here are small (a report interval's arrivals)."""
    if mean <= 0.0:
        return 0
    if mean > 30.0:  # a huge --visit-scale: the normal approximation is plenty
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
