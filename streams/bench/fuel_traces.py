"""Synthetic generator fuel traces with ground truth, for the forecast benchmark.

Each trace is one generator at one point over a few days: a tank of 60 to 1,000 litres, a burn
rate that follows the load over the day, grid outages that start and stop the generator,
fuel trucks that refuel it fully or partly (sometimes late enough that it runs dry), and a
level sensor that is noisy, quantised, spiky, occasionally stuck and sometimes silent.

Ground truth, per reading: the true level, the true burn rate under the load of that moment
(litres per running hour), whether the generator runs, and the true hours to empty, defined as
*running hours left at the current true burn rate*: ``true level / true burn rate`` while the
generator runs, ``None`` while it is off. It is the quantity the issue asks the forecaster for;
it is not the wall-clock time until the tank is dry (the load keeps changing and the generator
may stop), which nobody can know in advance.

Everything is drawn from :class:`random.Random` seeded with ``(seed, trace_id)``, so a trace
is the same on every run and every machine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

SECONDS_PER_HOUR = 3600.0
#: 2026-01-01T00:00:00Z; the daily load profile is in local time (UTC+2, Kyiv winter time).
TRACE_START_TS = 1_767_225_600.0
_LOCAL_OFFSET_H = 2.0
_SPIKE_KINDS = ("zero", "offset", "overrange")


@dataclass(frozen=True, slots=True)
class TraceParams:
    """What was drawn for one trace: the generator, its schedule and its level sensor."""

    tank_l: float
    base_rate_lph: float  # mean burn rate per running hour at average load
    day_amp: float  # relative amplitude of the daily load cycle
    day_phase_h: float
    semi_amp: float  # relative amplitude of a twice-daily component (meal times, evening)
    interval_s: float  # reporting interval of the point
    noise_sd_l: float  # sensor noise while the generator is off
    vibration: float  # noise multiplier while it runs
    quantum_l: float  # sensor resolution; 0 for an analogue reading
    spike_prob: float
    missing_prob: float  # share of messages with ``fuel_level_l: null``
    gap_prob: float  # chance per message that the point then goes silent for a while
    mostly_running: bool  # a prolonged outage: rare, short grid returns
    refuel_below: float  # share of the tank at which logistics orders a truck
    stuck: tuple[tuple[float, float], ...]  # (start ts, end ts) of stuck-sensor episodes


@dataclass(frozen=True, slots=True)
class FuelTrace:
    """One generator's readings (what the pipeline sees) alongside the ground truth."""

    trace_id: int
    params: TraceParams
    ts: tuple[float, ...]
    level_reading: tuple[float | None, ...]
    running: tuple[bool, ...]
    true_level: tuple[float, ...]
    true_rate_lph: tuple[float, ...]
    true_hours_to_empty: tuple[float | None, ...]
    refuels: int  # refuels and top-ups that happened in the trace

    @property
    def tank_l(self) -> float:
        """Tank size in litres."""
        return self.params.tank_l


def draw_params(rng: random.Random, start_ts: float, days: float) -> TraceParams:
    """Draw one generator, its schedule and its sensor."""
    tank = math.exp(rng.uniform(math.log(60.0), math.log(1000.0)))
    stuck: list[tuple[float, float]] = []
    if rng.random() < 0.35:
        for _ in range(rng.choice((1, 2))):
            begin = start_ts + rng.uniform(0.1, 0.9) * days * 86_400.0
            stuck.append((begin, begin + rng.uniform(1.0, 6.0) * SECONDS_PER_HOUR))
    return TraceParams(
        tank_l=tank,
        base_rate_lph=tank / rng.uniform(10.0, 40.0),
        day_amp=rng.uniform(0.1, 0.35),
        day_phase_h=rng.uniform(0.0, 24.0),
        semi_amp=rng.uniform(0.0, 0.1),
        interval_s=rng.uniform(30.0, 60.0),
        noise_sd_l=tank * rng.uniform(0.002, 0.015),
        vibration=rng.uniform(1.0, 2.0),
        quantum_l=rng.choice((0.0, 1.0, tank / 100.0, tank / 256.0)),
        spike_prob=rng.uniform(0.002, 0.01),
        missing_prob=rng.uniform(0.0, 0.05),
        gap_prob=rng.uniform(0.0, 0.001),
        mostly_running=rng.random() < 0.3,
        refuel_below=rng.uniform(0.1, 0.35),
        stuck=tuple(sorted(stuck)),
    )


class _World:
    """The physical truth of one generator as time advances (mutable, simulation only)."""

    def __init__(self, rng: random.Random, params: TraceParams, start_ts: float) -> None:
        self.rng = rng
        self.p = params
        self.level = params.tank_l * rng.uniform(0.3, 1.0)
        self.outage = rng.random() < 0.7
        self.next_switch = start_ts + self._phase_length(self.outage)
        self.load = 1.0
        self.next_load_change = start_ts + rng.expovariate(1.0 / (3.0 * SECONDS_PER_HOUR))
        self.truck_at: float | None = None
        self.next_topup = start_ts + rng.expovariate(1.0 / (2.5 * 86_400.0))
        self.fill_lps = 0.0  # litres per second poured while a fill is under way
        self.fill_until = start_ts
        self.refuels = 0

    @property
    def running(self) -> bool:
        """The generator runs during an outage while there is fuel."""
        return self.outage and self.level > 0.0

    def rate_lph(self, ts: float) -> float:
        """True burn rate per running hour under the load of the moment."""
        hour = (ts / SECONDS_PER_HOUR + _LOCAL_OFFSET_H - self.p.day_phase_h) % 24.0
        angle = 2.0 * math.pi * hour / 24.0
        cycle = 1.0 + self.p.day_amp * math.sin(angle) + self.p.semi_amp * math.sin(2.0 * angle)
        return self.p.base_rate_lph * cycle * self.load

    def _phase_length(self, outage: bool) -> float:
        # hours: (outage, grid back) for a prolonged outage, and for rolling blackouts
        ranges = ((6.0, 36.0), (0.2, 1.0)) if self.p.mostly_running else ((2.0, 14.0), (0.5, 8.0))
        low, high = ranges[0] if outage else ranges[1]
        return self.rng.uniform(low, high) * SECONDS_PER_HOUR

    def advance(self, ts: float, dt_s: float) -> None:
        """Burn and pour fuel over ``dt_s`` seconds ending at ``ts``, then apply events."""
        if self.running:
            self.level -= self.rate_lph(ts - dt_s / 2.0) * dt_s / SECONDS_PER_HOUR
        if self.fill_until > ts - dt_s:
            self.level += self.fill_lps * min(dt_s, self.fill_until - (ts - dt_s))
        self.level = min(max(self.level, 0.0), self.p.tank_l)
        self._events(ts)

    def _events(self, ts: float) -> None:
        if ts >= self.next_switch:
            self.outage = not self.outage
            self.next_switch = ts + self._phase_length(self.outage)
        if ts >= self.next_load_change:
            self.load = self.rng.uniform(0.85, 1.15)
            self.next_load_change = ts + self.rng.expovariate(1.0 / (3.0 * SECONDS_PER_HOUR))
        tank = self.p.tank_l
        if self.truck_at is None and self.level < self.p.refuel_below * tank:
            self.truck_at = ts + self.rng.uniform(0.5, 12.0) * SECONDS_PER_HOUR
        if self.truck_at is not None and ts >= self.truck_at:
            self.truck_at = None
            full = self.rng.random() < 0.6
            self._pour(ts, tank if full else self.level + self.rng.uniform(0.2, 0.5) * tank)
        if ts >= self.next_topup:
            self.next_topup = ts + self.rng.expovariate(1.0 / (2.5 * 86_400.0))
            self._pour(ts, self.level + self.rng.uniform(0.1, 0.3) * tank)

    def _pour(self, ts: float, target_l: float) -> None:
        litres = min(target_l, self.p.tank_l) - self.level
        if litres <= 0.0 or self.fill_until > ts:
            return
        duration = self.rng.uniform(3.0, 15.0) * 60.0
        self.fill_lps = litres / duration
        self.fill_until = ts + duration
        self.refuels += 1


class _Sensor:
    """The level sensor: noise, resolution, spikes, stuck episodes, null readings."""

    def __init__(self, rng: random.Random, params: TraceParams) -> None:
        self.rng = rng
        self.p = params
        self.last: float | None = None
        self.spike_kind: str | None = None

    def read(self, ts: float, level: float, running: bool) -> float | None:
        """What the point reports for a true ``level`` at ``ts``."""
        if self.last is not None and any(a <= ts < b for a, b in self.p.stuck):
            return self.last
        if self.rng.random() < self.p.missing_prob:
            return None
        value = self._spike(level) if self._spiking() else self._measure(level, running)
        self.last = value
        return value

    def _spiking(self) -> bool:
        # a burst goes on with 20 % chance: two or three wild readings in a row happen
        if self.spike_kind is not None and self.rng.random() < 0.2:
            return True
        self.spike_kind = None
        if self.rng.random() < self.p.spike_prob:
            self.spike_kind = self.rng.choice(_SPIKE_KINDS)
            return True
        return False

    def _spike(self, level: float) -> float:
        tank = self.p.tank_l
        if self.spike_kind == "zero":
            return 0.0
        if self.spike_kind == "overrange":
            return tank * self.rng.uniform(1.0, 1.5)
        offset = self.rng.choice((-1.0, 1.0)) * self.rng.uniform(0.05, 0.5) * tank
        return min(max(level + offset, 0.0), tank)

    def _measure(self, level: float, running: bool) -> float:
        sd = self.p.noise_sd_l * (self.p.vibration if running else 1.0)
        value = level + self.rng.gauss(0.0, sd)
        if self.p.quantum_l > 0.0:
            value = round(value / self.p.quantum_l) * self.p.quantum_l
        return min(max(value, 0.0), self.p.tank_l)


def generate_trace(seed: int, trace_id: int, days: float = 3.0) -> FuelTrace:
    """Generate one deterministic trace of ``days`` days of readings."""
    rng = random.Random(f"fuel-trace:{seed}:{trace_id}")
    start = TRACE_START_TS
    params = draw_params(rng, start, days)
    world = _World(rng, params, start)
    sensor = _Sensor(rng, params)
    ts_out: list[float] = []
    readings: list[float | None] = []
    running: list[bool] = []
    levels: list[float] = []
    rates: list[float] = []
    hte: list[float | None] = []
    ts, end = start, start + days * 86_400.0
    while ts < end:
        step = params.interval_s + rng.uniform(-2.0, 2.0)
        if rng.random() < params.gap_prob:
            step += rng.uniform(5.0, 60.0) * 60.0  # the point's uplink dropped for a while
        ts += step
        world.advance(ts, step)
        rate = world.rate_lph(ts)
        ts_out.append(ts)
        readings.append(sensor.read(ts, world.level, world.running))
        running.append(world.running)
        levels.append(world.level)
        rates.append(rate)
        hte.append(world.level / rate if world.running else None)
    return FuelTrace(
        trace_id=trace_id,
        params=params,
        ts=tuple(ts_out),
        level_reading=tuple(readings),
        running=tuple(running),
        true_level=tuple(levels),
        true_rate_lph=tuple(rates),
        true_hours_to_empty=tuple(hte),
        refuels=world.refuels,
    )


def generate_traces(seed: int, count: int, days: float = 3.0) -> Iterator[FuelTrace]:
    """Generate ``count`` traces one at a time (the benchmark never holds them all)."""
    for trace_id in range(count):
        yield generate_trace(seed, trace_id, days)
