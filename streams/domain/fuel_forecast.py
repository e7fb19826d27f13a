"""Fuel-depletion forecast per generator: a robust two-state Kalman filter over running time.

The filter tracks the fuel level and the burn rate (litres per *running* hour). Time advances
only while the generator runs, so hours with the grid back neither burn fuel nor bend the
slope. Around that core, cheap rules handle what real level sensors do:

* **spikes**: a reading far outside the filter's prediction is rejected (a gate on the
  innovation); moderate outliers get a Huber-style weight;
* **refuels and level shifts**: rejected readings that agree with each other for
  a few readings in a row re-anchor the level (a refuel when the jump is
  upwards and above :func:`jump_threshold_l`), keep the burn rate (it belongs to the generator
  and its load, not to the tank), and hold the rate still while the fill settles;
* **a stuck sensor**: the same value repeated while the generator runs, longer than this
  sensor's noise makes plausible or while more than a jump's worth should have burned, is
  ignored; the filter goes back to the moment the value first appeared and dead-reckons at
  the rate known then, with a lower confidence;
* **missing readings** (``null`` or non-finite) only advance time; **sanity**: readings are
  clamped to ``[0, tank]`` and the burn rate to what a tank of that size allows.

Each update is O(1): a fixed number of float operations on a state of fixed size, whatever
the history. Everything is pure: timestamps come in (epoch seconds), nothing is read from the
clock, and nothing here knows about Kafka, Faust or databases.

Hours to empty is the *running* time left at the estimated burn rate; ``empty_at`` is only
given while the generator runs (a stopped generator does not count down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple

SECONDS_PER_HOUR = 3600.0
STATE_VERSION = 1

#: Rejected readings that must agree in a row before the level is re-anchored upwards
#: (a refuel). Three, not two: sensors fail in bursts of two similar readings often enough.
CONFIRM_UP_READINGS = 3
#: ... and downwards (theft, a leak, a rate badly off). Slower on purpose: dropouts to 0
#: come in bursts, and a false "empty" pages on-call while a late theft report does not.
CONFIRM_DOWN_READINGS = 8
#: Readings beyond the tank by more than this share of it are impossible: not clamped,
#: dropped (a sensor error code or a glitch, not a level).
OVERRANGE_TANK_SHARE = 0.05
#: Innovations beyond this many standard deviations are rejected as outliers.
GATE_SIGMAS = 4.0
#: Innovations beyond this many standard deviations weigh less (Huber).
HUBER_SIGMAS = 2.5
#: A refuel must raise the level by at least this share of the tank (and 4 sigma).
JUMP_TANK_SHARE = 0.02
#: After a refuel the level settles (fuel still pouring, foam); the rate is held meanwhile.
SETTLE_SECONDS = 15 * 60.0
#: A repeated value is a stuck sensor only after this many repeats, and once either the
#: expected burn since it appeared exceeds a jump, or a run of repeats that long is less
#: likely than this given how often the sensor repeats itself while the generator runs.
STUCK_MIN_REPEATS = 5
STUCK_RUN_PROBABILITY = 1e-4
REPEAT_ALPHA = 0.02
#: Prior burn rate before any data: a full tank for a day of running. It weighs little: its
#: standard deviation equals its value, and the forecast stays hidden until data halves it.
PRIOR_AUTONOMY_HOURS = 24.0
#: Burn rate random walk, relative to the rate, per square root of a running hour: the
#: load follows the day (heating, cooking, phones) and steps when appliances switch.
RATE_WALK = 0.12
#: While the generator is off the rate keeps drifting, up to this relative sd.
RATE_OFF_CAP = 0.35
#: Unmodelled level changes (temperature, slosh), share of the tank per sqrt running hour.
LEVEL_WALK = 0.002
#: No plausible generator empties its tank in under half an hour of running ...
MIN_HOURS_FULL_TANK = 0.5
#: ... and a running generator burns something: hours to empty is capped by this.
MAX_HOURS_TO_EMPTY = 2000.0
#: A forecast is published once the burn rate is known to within this relative sd.
READY_RATE_REL_SD = 0.5
#: Sensor noise estimate: smoothing weight per reading pair, and pairs further apart than
#: this are not compared (the level moved for reasons the noise says nothing about).
NOISE_ALPHA = 0.02
NOISE_PAIR_MAX_GAP_S = 600.0
INITIAL_NOISE_TANK_SHARE = 0.01
NOISE_FLOOR_TANK_SHARE = 0.001
#: Confidence is halved while the sensor is stuck (we are dead-reckoning).
STUCK_CONFIDENCE_FACTOR = 0.5


class FuelReading(NamedTuple):
    """One telemetry reading of a generator: when, the level (or null), whether it runs."""

    ts: float
    fuel_level_l: float | None
    generator_running: bool


class Forecast(NamedTuple):
    """What the forecaster says after a reading; ``None`` fields mean "not known yet"."""

    ts: float
    generator_running: bool
    level_l: float | None  # filtered level estimate
    burn_rate_lph: float | None  # litres per running hour
    hours_to_empty: float | None  # running hours left at that rate
    empty_at: float | None  # epoch seconds; None while the generator is off
    confidence: float  # 0..1, 0 when there is no forecast
    refuel_detected: bool  # this reading re-anchored the level after a refuel
    sensor_stuck: bool


class FuelState(NamedTuple):
    """Per-generator filter state: fixed size, JSON-serialisable via :meth:`to_dict`.

    An immutable named tuple rather than a frozen dataclass: it is rebuilt on every
    telemetry message and a tuple is several times cheaper to build.
    """

    ts: float  # time of the last reading
    running: bool
    run_h: float  # running hours accumulated since the first reading
    level: float | None  # None until the first valid level
    rate: float
    p_ll: float  # covariance of (level, rate)
    p_lr: float
    p_rr: float
    noise_sd: float  # sensor noise estimate, litres
    quantum: float  # smallest step between distinct readings seen; 0 = none yet
    prev_raw: float | None  # last valid reading, accepted or not
    prev_raw_ts: float
    prev_raw_run_h: float
    prev_ok: bool  # whether the filter accepted prev_raw
    same_count: int  # readings in a row repeating prev_raw exactly
    repeat_p: float  # how often a reading repeats the previous one while running
    run_log_p: float  # log-probability of the current run of repeats
    stuck: bool
    snap_level: float  # the filter when prev_raw first appeared (stuck-sensor rollback)
    snap_rate: float
    snap_p_ll: float
    snap_p_lr: float
    snap_p_rr: float
    snap_run_h: float
    pending: float | None  # last rejected reading, a candidate level shift
    pending_up: bool
    pending_count: int
    settle_until: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of JSON types (floats, ints, bools, None) plus a version."""
        data = self._asdict()
        data["version"] = STATE_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FuelState:
        """Inverse of :meth:`to_dict`; ``ValueError`` for another version or missing keys."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported fuel state version: {data.get('version')!r}")
        try:
            return cls(*(data[name] for name in cls._fields))
        except KeyError as exc:
            raise ValueError(f"fuel state lacks {exc.args[0]!r}") from exc


_STUCK_LOG_P = math.log(STUCK_RUN_PROBABILITY)
_GET_ALL = attrgetter(*FuelState._fields)


@dataclass(slots=True)
class _Work:
    """Mutable mirror of :class:`FuelState` while one reading is applied (never escapes)."""

    ts: float
    running: bool
    run_h: float
    level: float | None
    rate: float
    p_ll: float
    p_lr: float
    p_rr: float
    noise_sd: float
    quantum: float
    prev_raw: float | None
    prev_raw_ts: float
    prev_raw_run_h: float
    prev_ok: bool
    same_count: int
    repeat_p: float
    run_log_p: float
    stuck: bool
    snap_level: float
    snap_rate: float
    snap_p_ll: float
    snap_p_lr: float
    snap_p_rr: float
    snap_run_h: float
    pending: float | None
    pending_up: bool
    pending_count: int
    settle_until: float

    def freeze(self) -> FuelState:
        return FuelState(*_GET_ALL(self))

    def est_level(self) -> float:
        # only called once a level exists
        return self.level if self.level is not None else 0.0


def new_state(ts: float, generator_running: bool) -> FuelState:
    """The state of a generator nothing is known about yet."""
    return FuelState(
        ts=ts, running=generator_running, run_h=0.0, level=None, rate=0.0,
        p_ll=0.0, p_lr=0.0, p_rr=0.0, noise_sd=0.0, quantum=0.0,
        prev_raw=None, prev_raw_ts=ts, prev_raw_run_h=0.0, prev_ok=False,
        same_count=0, repeat_p=0.5, run_log_p=0.0, stuck=False,
        snap_level=0.0, snap_rate=0.0, snap_p_ll=0.0, snap_p_lr=0.0, snap_p_rr=0.0,
        snap_run_h=0.0, pending=None, pending_up=False, pending_count=0, settle_until=ts,
    )  # fmt: skip


def update(
    state: FuelState | None, reading: FuelReading, tank_l: float
) -> tuple[FuelState, Forecast]:
    """Apply one reading of a generator with a ``tank_l`` litre tank; O(1).

    A reading no later than the last one (a redelivery, or late) leaves the state as it is.
    """
    if not (math.isfinite(tank_l) and tank_l > 0.0):
        raise ValueError(f"tank_l must be a positive number, got {tank_l!r}")
    if state is None:
        state = new_state(reading.ts, reading.generator_running)
    elif reading.ts <= state.ts:
        return state, forecast_of(state, tank_l)
    work = _Work(*state)
    _advance(work, reading, tank_l)
    refuel = False
    level = _sane_level(reading.fuel_level_l, tank_l)
    if level is not None:
        if work.level is None:
            _initialise(work, level, reading.ts, tank_l)
        else:
            refuel = _observe(work, level, reading.ts, tank_l)
    new = work.freeze()
    return new, forecast_of(new, tank_l, refuel_detected=refuel)


def forecast_of(state: FuelState, tank_l: float, *, refuel_detected: bool = False) -> Forecast:
    """The forecast a state stands for (also used to re-publish without a new reading)."""
    if state.level is None:
        return Forecast(state.ts, state.running, None, None, None, None, 0.0, False, False)
    level = min(max(state.level, 0.0), tank_l)
    rate = min(max(state.rate, tank_l / MAX_HOURS_TO_EMPTY), tank_l / MIN_HOURS_FULL_TANK)
    if math.sqrt(max(state.p_rr, 0.0)) > READY_RATE_REL_SD * rate:
        return Forecast(
            state.ts, state.running, level, None, None, None, 0.0, refuel_detected, state.stuck
        )
    hours = level / rate
    empty_at = state.ts + hours * SECONDS_PER_HOUR if state.running else None
    return Forecast(
        ts=state.ts,
        generator_running=state.running,
        level_l=level,
        burn_rate_lph=rate,
        hours_to_empty=hours,
        empty_at=empty_at,
        confidence=_confidence(state, hours, rate),
        refuel_detected=refuel_detected,
        sensor_stuck=state.stuck,
    )


def jump_threshold_l(noise_sd_l: float, tank_l: float) -> float:
    """Smallest level rise counted as a refuel: 2 % of the tank, and at least 4 sigma."""
    return max(4.0 * noise_sd_l, JUMP_TANK_SHARE * tank_l)


def _confidence(state: FuelState, hours: float, rate: float) -> float:
    # first-order sd of level/rate from the filter's covariance, relative to the answer
    var = state.p_ll + hours * hours * state.p_rr - 2.0 * hours * state.p_lr
    rel_sd = math.sqrt(max(var, 0.0)) / rate / max(hours, 1.0)
    confidence = 1.0 / (1.0 + 2.0 * rel_sd)
    # readings that disagree with the estimate, not yet confirmed as a refuel or a shift,
    # make the answer doubtful even where the covariance is small (an empty tank refilled)
    confidence /= 1.0 + state.pending_count
    return confidence * STUCK_CONFIDENCE_FACTOR if state.stuck else confidence


def _sane_level(value: float | None, tank_l: float) -> float | None:
    """The reading clamped to the tank; ``None`` when missing or physically impossible."""
    if value is None or not math.isfinite(value):
        return None
    margin = OVERRANGE_TANK_SHARE * tank_l
    if value > tank_l + margin or value < -margin:
        return None
    return min(max(value, 0.0), tank_l)


def _advance(work: _Work, reading: FuelReading, tank_l: float) -> None:
    """Move time to the reading; fuel burns only for the share of it the generator ran."""
    dt_h = (reading.ts - work.ts) / SECONDS_PER_HOUR
    # the state between two readings is unknown: count half when they disagree
    run_dt = dt_h * ((work.running + reading.generator_running) / 2.0)
    work.ts = reading.ts
    work.running = reading.generator_running
    work.run_h += run_dt
    if work.level is not None:
        _predict(work, run_dt, tank_l)
        _forget_rate_while_off(work, dt_h - run_dt, tank_l)


def _rate_walk_var(work: _Work, tank_l: float) -> float:
    """Variance per hour of the burn-rate random walk."""
    # never below the prior's scale, so that a rate estimated too low can still recover
    return (RATE_WALK * max(work.rate, tank_l / PRIOR_AUTONOMY_HOURS)) ** 2


def _predict(work: _Work, dt: float, tank_l: float) -> None:
    """Kalman time update over ``dt`` running hours: level -= rate * dt."""
    if dt <= 0.0:
        return
    q_rate = _rate_walk_var(work, tank_l)
    q_level = (LEVEL_WALK * tank_l) ** 2
    p_lr, p_rr = work.p_lr, work.p_rr
    work.level = work.est_level() - work.rate * dt
    work.p_ll += dt * (dt * p_rr - 2.0 * p_lr) + q_rate * dt**3 / 3.0 + q_level * dt
    work.p_lr = p_lr - dt * p_rr - q_rate * dt * dt / 2.0
    work.p_rr = p_rr + q_rate * dt


def _forget_rate_while_off(work: _Work, off_h: float, tank_l: float) -> None:
    """The load follows the clock, not the generator: while it is off the rate drifts too."""
    if off_h <= 0.0:
        return
    cap = (RATE_OFF_CAP * max(work.rate, 0.0)) ** 2
    if work.p_rr < cap:
        work.p_rr = min(work.p_rr + _rate_walk_var(work, tank_l) * off_h, cap)


def _correct(work: _Work, z: float, r_var: float) -> None:
    """Kalman measurement update with a level reading of variance ``r_var``."""
    s = work.p_ll + r_var
    nu = z - work.est_level()
    k_level, k_rate = work.p_ll / s, work.p_lr / s
    work.level = work.est_level() + k_level * nu
    work.rate += k_rate * nu
    work.p_rr -= k_rate * work.p_lr
    work.p_lr *= 1.0 - k_level
    work.p_ll *= 1.0 - k_level


def _initialise(work: _Work, z: float, ts: float, tank_l: float) -> None:
    prior = tank_l / PRIOR_AUTONOMY_HOURS
    work.noise_sd = INITIAL_NOISE_TANK_SHARE * tank_l
    _anchor(work, z, rate=prior, p_rr=prior * prior)
    _remember_raw(work, z, ts, accepted=True)


def _anchor(work: _Work, z: float, rate: float, p_rr: float) -> None:
    """Restart the level at ``z`` with ``rate``; forget pending and stuck evidence."""
    work.level = z
    work.rate = rate
    work.p_ll = work.noise_sd**2
    work.p_lr = 0.0
    work.p_rr = p_rr
    work.pending = None
    work.pending_count = 0
    work.stuck = False
    work.same_count = 0
    work.run_log_p = 0.0
    _snapshot(work)


def _snapshot(work: _Work) -> None:
    work.snap_level = work.est_level()
    work.snap_rate = work.rate
    work.snap_p_ll, work.snap_p_lr, work.snap_p_rr = work.p_ll, work.p_lr, work.p_rr
    work.snap_run_h = work.run_h


def _remember_raw(work: _Work, z: float, ts: float, *, accepted: bool) -> None:
    work.prev_raw = z
    work.prev_raw_ts = ts
    work.prev_raw_run_h = work.run_h
    work.prev_ok = accepted


def _observe(work: _Work, z: float, ts: float, tank_l: float) -> bool:
    """Apply a valid level reading; returns whether it completed a refuel."""
    if _repeats_stuck_value(work, z, tank_l):
        return False
    fresh_value = work.same_count == 0
    r_var = work.noise_sd**2
    sd = math.sqrt(work.p_ll + r_var)
    nu = z - work.est_level()
    refuel = False
    if abs(nu) > GATE_SIGMAS * sd:
        refuel = _outlier(work, z, ts, nu, tank_l)
    else:
        work.pending = None
        work.pending_count = 0
        _learn_noise(work, z, ts, tank_l)
        if abs(nu) > HUBER_SIGMAS * sd:
            r_var *= abs(nu) / (HUBER_SIGMAS * sd)
        if ts < work.settle_until:
            work.p_lr = 0.0  # fuel may still be pouring: let the level move, not the rate
        _correct(work, z, r_var)
        _remember_raw(work, z, ts, accepted=True)
    if fresh_value:
        _snapshot(work)
    return refuel


def _outlier(work: _Work, z: float, ts: float, nu: float, tank_l: float) -> bool:
    """A rejected reading: a spike, or part of a level shift that agreeing readings confirm."""
    up = nu > 0.0
    tolerance = max(3.0 * work.noise_sd, JUMP_TANK_SHARE * tank_l)
    if work.pending is not None and work.pending_up == up and abs(z - work.pending) <= tolerance:
        work.pending_count += 1
    else:
        work.pending_count = 1
    work.pending = z
    work.pending_up = up
    _remember_raw(work, z, ts, accepted=False)
    if work.pending_count < (CONFIRM_UP_READINGS if up else CONFIRM_DOWN_READINGS):
        return False
    rate = work.rate
    if up and nu > jump_threshold_l(work.noise_sd, tank_l):
        # one fill re-anchors several times while fuel pours in; report it once
        new_fill = ts >= work.settle_until
        # same generator, same load: the rate survives a refuel, only a little less sure
        _anchor(work, z, rate, work.p_rr + (0.1 * rate) ** 2)
        work.settle_until = ts + SETTLE_SECONDS
        return new_fill
    # the level moved without fuel poured (theft, leak, a rate badly off): doubt the rate
    _anchor(work, z, rate, work.p_rr + (0.5 * rate) ** 2)
    return False


def _learn_noise(work: _Work, z: float, ts: float, tank_l: float) -> None:
    """Track sensor noise from consecutive accepted readings, minus the expected burn."""
    prev = work.prev_raw
    if prev is None or z == prev or not work.prev_ok:
        return
    if ts - work.prev_raw_ts > NOISE_PAIR_MAX_GAP_S:
        return
    work.quantum = abs(z - prev) if work.quantum == 0.0 else min(work.quantum, abs(z - prev))
    diff = z - prev + work.rate * (work.run_h - work.prev_raw_run_h)
    # a difference of two readings has twice the variance; clip so one spike cannot inflate it
    var = min(diff * diff, 18.0 * work.noise_sd**2) / 2.0
    noise_var = (1.0 - NOISE_ALPHA) * work.noise_sd**2 + NOISE_ALPHA * var
    floor = max(NOISE_FLOOR_TANK_SHARE * tank_l, work.quantum / math.sqrt(12.0))
    work.noise_sd = max(math.sqrt(noise_var), floor)


def _repeats_stuck_value(work: _Work, z: float, tank_l: float) -> bool:
    """Track exact repeats; once they mean a stuck sensor, ignore them and dead-reckon."""
    if z != work.prev_raw:
        if work.running:
            work.repeat_p *= 1.0 - REPEAT_ALPHA
        work.same_count = 0
        work.run_log_p = 0.0
        work.stuck = False
        return False
    work.same_count += 1
    if work.stuck:
        return True
    if work.running:
        work.run_log_p += math.log(max(work.repeat_p, 1e-3))
        work.repeat_p += REPEAT_ALPHA * (1.0 - work.repeat_p)
    if work.same_count < STUCK_MIN_REPEATS:
        return False
    expected_burn = max(work.snap_rate, 0.0) * (work.run_h - work.snap_run_h)
    limit = max(jump_threshold_l(work.noise_sd, tank_l), 2.5 * work.quantum)
    if expected_burn <= limit and work.run_log_p >= _STUCK_LOG_P:
        return False
    # roll back to when the value first appeared, then dead-reckon at the rate known then
    work.level, work.rate = work.snap_level, work.snap_rate
    work.p_ll, work.p_lr, work.p_rr = work.snap_p_ll, work.snap_p_lr, work.snap_p_rr
    _predict(work, work.run_h - work.snap_run_h, tank_l)
    work.stuck = True
    return True
