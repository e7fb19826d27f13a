"""The fuel model: generator burn, tank level sensors and refuel deliveries.

Ground truth (what :meth:`Simulation.truth` reports) follows these rules exactly:

* A generator burns fuel only while it runs. Its burn rate is ``nominal_lph * load``, where
  ``nominal_lph`` (1.2-6 litres per hour, larger for larger tanks) is fixed per point and
  ``load`` (:func:`load_factor`, 0.55-1.0) depends on the Kyiv local hour and on how full the
  point is. The rate is set at each of the point's reports (every 30-60 s) and whenever the
  generator starts, and stays constant until the next one: the true level is piecewise linear.
* The level never leaves ``[0, tank]``. When it reaches 0 the generator stops at that exact
  moment (the simulator schedules it) and the point loses power until a refuel.
* A refuel is instantaneous: the level jumps to the delivered level (:func:`refuel_level`).
  Logistics orders a truck when the level falls below a per-point threshold (15-30 % of the
  tank; 2-8 % at a quarter of the points, whose staff order late); it arrives after a lead
  time of 0.5-18 h (median 3 h), late enough now and then for the tank to run dry. Crews also
  top up running generators at random (about once per two days of running).

The level *reported* in telemetry comes from a :class:`FuelSensor`: gaussian noise (0.5-1 % of
the tank), rare spikes, coarse steps on some points, a stuck value on a few, none at all on
others (``fuel_level_l: null``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

NOMINAL_LPH_MIN, NOMINAL_LPH_MAX = 1.2, 6.0
REFUEL_BELOW = (0.15, 0.30)  # share of the tank at which a truck is ordered
LATE_ORDER_SHARE = 0.25  # points whose staff order late, when the tank is nearly empty
LATE_ORDER_BELOW = (0.02, 0.08)
LEAD_TIME_MEDIAN_S = 3 * 3600.0
LEAD_TIME_S = (1800.0, 18 * 3600.0)
TOP_UP_PER_RUNNING_S = 1.0 / (48 * 3600.0)
TOP_UP_BELOW = 0.7
FULL_REFUEL_SHARE = 0.6
PARTIAL_REFUEL = (0.5, 0.85)
PARTIAL_MIN_SHARE = 0.1
SPIKE_PROBABILITY = 0.003


def nominal_lph(rng: random.Random, tank_l: float) -> float:
    """Full-load burn of the point's generator: bigger tanks feed bigger generators."""
    size: float = max(0.0, min(1.0, (tank_l - 60.0) / 940.0)) ** 0.7
    rate = NOMINAL_LPH_MIN + (NOMINAL_LPH_MAX - NOMINAL_LPH_MIN) * size
    return max(NOMINAL_LPH_MIN, min(NOMINAL_LPH_MAX, rate * rng.uniform(0.85, 1.15)))


def load_factor(local_hour: float, occupancy: float) -> float:
    """Share of full load (0.55-1.0): lowest at 04:00, highest at 16:00, more with people.

    ``occupancy`` is people inside / capacity; above 1 counts as 1.
    """
    daytime = (1.0 - math.cos(2.0 * math.pi * (local_hour - 4.0) / 24.0)) / 2.0
    return 0.55 + 0.25 * daytime + 0.2 * min(1.0, occupancy)


def refuel_threshold(rng: random.Random, tank_l: float) -> float:
    """The level (litres) below which a point orders fuel."""
    late = rng.random() < LATE_ORDER_SHARE
    return tank_l * rng.uniform(*(LATE_ORDER_BELOW if late else REFUEL_BELOW))


def initial_level(rng: random.Random, tank_l: float) -> float:
    """The level a point starts with: mostly well filled, one in ten already low."""
    share = rng.uniform(0.05, 0.2) if rng.random() < 0.1 else rng.uniform(0.25, 1.0)
    return tank_l * share


def refuel_level(rng: random.Random, level_l: float, tank_l: float) -> float:
    """The level right after a delivery: full, or partly filled (50-85 % of the tank).

    A partial delivery adds at least a tenth of the tank: nobody drives a truck for less.
    """
    if rng.random() < FULL_REFUEL_SHARE:
        return tank_l
    partial = max(level_l + PARTIAL_MIN_SHARE * tank_l, tank_l * rng.uniform(*PARTIAL_REFUEL))
    return min(tank_l, partial)


def lead_time_s(rng: random.Random) -> float:
    """Seconds from ordering a fuel truck to its arrival."""
    seconds = rng.lognormvariate(math.log(LEAD_TIME_MEDIAN_S), 0.9)
    return max(LEAD_TIME_S[0], min(LEAD_TIME_S[1], seconds))


class SensorKind(StrEnum):
    """How a point measures its tank."""

    NOISY = "noisy"  # analogue gauge: gaussian noise and rare spikes
    QUANTISED = "quantised"  # reads in steps (5 or 10 litres, or 1/20 of the tank)
    STUCK = "stuck"  # repeats one value from some moment on
    NONE = "none"  # no sensor: fuel_level_l is always null


_SENSOR_SHARES = (
    (SensorKind.NOISY, 0.80),
    (SensorKind.QUANTISED, 0.12),
    (SensorKind.STUCK, 0.02),
    (SensorKind.NONE, 0.06),
)


@dataclass(slots=True)
class FuelSensor:
    """One point's level sensor; :meth:`read` turns the true level into a reported one."""

    kind: SensorKind
    noise_sd_l: float
    step_l: float
    stuck_from: float  # epoch seconds; only for STUCK
    stuck_value: float | None = None

    def read(self, rng: random.Random, t: float, level_l: float, tank_l: float) -> float | None:
        """The reported level at ``t`` (litres, 0.1 precision, within [0, tank]), or None."""
        kind = self.kind
        if kind is SensorKind.NONE:
            return None
        if kind is SensorKind.STUCK and t >= self.stuck_from:
            if self.stuck_value is None:
                self.stuck_value = round(level_l, 1)
            return self.stuck_value
        value = level_l + rng.gauss(0.0, self.noise_sd_l)
        if rng.random() < SPIKE_PROBABILITY:
            # A loose contact or sloshing: a reading far off, or zero.
            value = 0.0 if rng.random() < 0.3 else value + tank_l * rng.uniform(-0.4, 0.4)
        if kind is SensorKind.QUANTISED:
            value = self.step_l * round(value / self.step_l)
        return round(min(max(value, 0.0), tank_l), 1)


def make_sensor(rng: random.Random, tank_l: float, start: float) -> FuelSensor:
    """A sensor drawn by the shares above; a stuck one sticks within 12 h of ``start``."""
    kinds = [kind for kind, _ in _SENSOR_SHARES]
    kind = rng.choices(kinds, [share for _, share in _SENSOR_SHARES])[0]
    noise = tank_l * rng.uniform(0.005, 0.01)
    step = rng.choice((5.0, 10.0, tank_l / 20.0))
    stuck_from = start + rng.uniform(-3600.0, 12 * 3600.0)
    return FuelSensor(kind, noise, step, stuck_from)
