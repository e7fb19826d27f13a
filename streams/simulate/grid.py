"""The power grid: rolling blackout schedules by oblast and strikes that cause long outages.

*Rolling blackouts.* Each point is in one of six queues (черги). The day is cut into two-hour
slots; an oblast at stage ``s`` (0-3) switches off ``s`` queues in each slot, rotating, so a
queue is dark 2 h out of every 12 h (stage 1), 6 h (stage 2) or 4 h (stage 3). The stage moves
up or down now and then at slot boundaries.

*Strikes.* About one strike every ``strike_interval_h`` (mostly at night) hits one to three
oblasts, chosen by :attr:`Oblast.strike_weight`. In each, 30-90 % of the points lose the grid
until their own restoration, 2-36 h later (median 8 h). That is the *prolonged outage* that
makes the oblast's administration activate standby points.
"""

from __future__ import annotations

import math
import random

QUEUES = 6
SLOT_S = 2 * 3600.0
MAX_STAGE = 3
STAGE_CHANGE_PROBABILITY = 0.15
INITIAL_STAGES = (0.4, 0.25, 0.25, 0.1)  # probability of stage 0, 1, 2, 3 at the start
STRIKE_OBLASTS = (0.5, 0.35, 0.15)  # probability that a strike hits 1, 2 or 3 oblasts
STRIKE_SHARE = (0.3, 0.9)  # share of an oblast's points that lose the grid
RESTORE_MEDIAN_S = 8 * 3600.0
RESTORE_S = (2 * 3600.0, 36 * 3600.0)
NIGHT_HOURS = (0.0, 7.0)  # local hours when most strikes come
DAY_ACCEPT = 0.35  # a daytime strike is this much less likely than a night one


def slot_index(t: float) -> int:
    """The two-hour slot ``t`` falls in (slots start at even UTC hours)."""
    return int(t // SLOT_S)


def queues_off(stage: int, slot: int) -> frozenset[int]:
    """The queues without power in ``slot`` at ``stage``; every queue takes its turn."""
    return frozenset((slot * stage + k) % QUEUES for k in range(stage))


def initial_stage(rng: random.Random) -> int:
    """An oblast's blackout stage when the simulation starts."""
    return rng.choices(range(MAX_STAGE + 1), INITIAL_STAGES)[0]


def next_stage(rng: random.Random, stage: int) -> int:
    """The stage for the next slot: usually unchanged, sometimes one step up or down."""
    if rng.random() >= STAGE_CHANGE_PROBABILITY:
        return stage
    return min(MAX_STAGE, max(0, stage + rng.choice((-1, 1))))


def restore_after_s(rng: random.Random) -> float:
    """How long a point hit by a strike stays off the grid."""
    seconds = rng.lognormvariate(math.log(RESTORE_MEDIAN_S), 0.6)
    return max(RESTORE_S[0], min(RESTORE_S[1], seconds))


def strike_candidate_gap_s(rng: random.Random, strike_interval_h: float) -> float:
    """Gap to the next candidate strike; :func:`strike_accepted` thins them by local hour.

    Candidates come twice as often as strikes; a night candidate is always accepted and a
    day one with :data:`DAY_ACCEPT`, which averages about one strike per interval.
    """
    return rng.expovariate(2.0 / (strike_interval_h * 3600.0))


def strike_accepted(rng: random.Random, local_hour: float) -> bool:
    """Whether a candidate strike at ``local_hour`` happens."""
    night = NIGHT_HOURS[0] <= local_hour < NIGHT_HOURS[1]
    return night or rng.random() < DAY_ACCEPT
