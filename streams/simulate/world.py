"""The simulated network: a discrete-event world that yields contract messages in time order.

:class:`Simulation` keeps every point's state (status, power, generator, fuel, people inside,
temperature, internet, silence) and a queue of timed events: each point's next report (every
30-60 s), arrivals and departures, blackout slot changes, strikes and restorations, activation
and stand-down orders, fuel deliveries, a tank running dry. :meth:`Simulation.advance` runs the
events up to a moment and yields ``(topic, key, value)`` for ``points.telemetry``,
``points.visits`` and ``points.activations``; the registry comes from
:func:`streams.simulate.registry.build_registry`. Nothing here does I/O.

Everything random is drawn from one :class:`random.Random` seeded with the run's seed, in event
order, so the same seed, registry and start always give the same messages, however
:meth:`advance` is sliced. :meth:`Simulation.truth` tells what really happened at a point
(the fuel model is in :mod:`streams.simulate.fuel`), for tests that judge the pipeline.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.kafka.topics import ACTIVATIONS, TELEMETRY, VISITS
from streams.simulate import climate, fuel, grid, people
from streams.simulate.geography import KYIV_CITY, OBLASTS, Oblast
from streams.simulate.localtime import KyivClock, Stamper

#: What :meth:`Simulation.advance` yields: topic, key (the point id) and the message.
Message = tuple[str, str, dict[str, Any]]

OPEN, STANDBY, CLOSED = "open", "standby", "closed"
GRID, GENERATOR, BATTERY, NO_POWER = "grid", "generator", "battery", "none"

REPORT_PERIOD_S = (32.0, 58.0)  # a point's own period; each gap adds up to ±2 s of jitter
REPORT_JITTER_S = 2.0
BATTERY_FIRST_SHARE = 0.15  # points that bridge an outage's first 1-3 h on batteries
BATTERY_HOURS = (1.0, 3.0)
GENERATOR_FAULT = 0.03  # chance that a generator fails to start when the grid goes
FAULT_MINUTES = (15.0, 120.0)
HEADCOUNT_SHARE = {"mobile": 0.7, "permanent": 0.35, "standby": 0.35}
HEADCOUNT_SKIPPED = 0.1  # reports in which staff did not count
INTERNET_MONITORED = 0.96
INTERNET_DOWN_PER_S = {GRID: 0.01 / 3600, GENERATOR: 0.15 / 3600, BATTERY: 0.15 / 3600}
INTERNET_DOWN_NO_POWER_PER_S = 0.5 / 3600
INTERNET_REPAIR_PER_S = 1 / 1800
THERMOMETER_SHARE = 0.95
HEATING_KNOWN_SHARE = 0.97
SILENT_AT_START = 0.007
SILENT_AT_START_S = (600.0, 6 * 3600.0)
SILENCE_PER_S = 1 / (4 * 86400)  # a gateway drops out about every four days
SILENCE_OFF_GRID_FACTOR = 10.0
SILENCE_MEDIAN_S = 15 * 60.0
SILENCE_S = (120.0, 8 * 3600.0)
CLOSED_AT_START = 0.005
CLOSURE_PER_S = 1 / (15 * 86400)  # an operating point closes for a few hours about twice a month
CLOSURE_HOURS = (1.0, 6.0)
ACTIVATION_WAVE_MINUTES = (5.0, 25.0)  # from strike to the administration's orders
ACTIVATE_SHARE_DARK, ACTIVATE_SHARE_LIT = 0.85, 0.25
OPEN_IN_TIME = 0.85  # share opening within 10-115 min of the order
OPEN_LATE = 0.12  # share opening after 121-180 min (activation overdue); the rest never do
STAND_DOWN_WHEN_DARK = 0.1  # stand down once at most this share of the struck points is dark
STAND_DOWN_AFTER_HOURS = (1.0, 4.0)  # from then to the stand-down orders
STANDBY_AGAIN_MINUTES = (5.0, 30.0)

# Event kinds; each has a handler in Simulation._handlers at the same index.
(
    _TICK,
    _ARRIVAL,
    _DEPARTURE,
    _SLOT,
    _STRIKE,
    _RESTORE,
    _ORDER,
    _OPEN,
    _STAND_DOWN_WAVE,
    _STAND_DOWN,
    _STANDBY_AGAIN,
    _REFUEL,
    _BACKUP,
    _EMPTY,
    _REOPEN,
) = range(15)

# Activation states of a standby point.
_IDLE, _ORDERED, _ACTIVE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Scenario:
    """Knobs of the world that benchmarks and tests turn; the defaults are the real network."""

    visit_scale: float = 1.0  # multiplies every arrival rate
    strike_interval_h: float = 8.0  # mean time between strikes on the power system
    first_strike_within_s: float = 300.0  # the first strike comes 60 s to this after the start


@dataclass(frozen=True, slots=True)
class Refuel:
    """A fuel delivery: when, and the true level before and after."""

    at: datetime
    before_l: float
    after_l: float


@dataclass(frozen=True, slots=True)
class PointTruth:
    """What is really going on at a point at the simulation's current time."""

    point_id: str
    at: datetime
    status: str
    power: str
    grid_up: bool
    generator_running: bool
    fuel_l: float  # true level in the tank, litres
    tank_l: float
    burn_rate_lph: float  # true burn now, litres per running hour; 0 when not running
    hours_to_empty: float | None  # fuel_l / burn_rate_lph while running, else None
    people_inside: int
    silent: bool  # the point is not reporting
    fuel_sensor: str  # a fuel.SensorKind value
    refuels: tuple[Refuel, ...]
    ran_dry_at: tuple[datetime, ...]  # moments the tank ran dry with the generator running
    activation_ordered_at: datetime | None  # latest activation order, standby points only
    opened_at: datetime | None  # when it opened after that order


class _Point:
    """One point's static traits and dynamic state (slots: the hot loop reads these a lot)."""

    __slots__ = (
        "act_epoch",
        "act_state",
        "battery_first",
        "battery_until",
        "burn_lph",
        "capacity",
        "fault_until",
        "fuel",
        "gen_on",
        "grid",
        "groups",
        "has_thermometer",
        "headcount_sensor",
        "heating",
        "heating_known",
        "idx",
        "internet",
        "kind",
        "last_tick",
        "low_l",
        "next_tick",
        "nominal_lph",
        "oblast",
        "opened_at",
        "ordered_at",
        "outage_until",
        "people",
        "period",
        "point_id",
        "power",
        "queue",
        "ran_dry",
        "refuel_pending",
        "refuels",
        "sensor",
        "setpoint",
        "silent_until",
        "status",
        "t_fuel",
        "tank",
        "tau",
        "temp",
        "unheated_gain",
        "visit_rate",
    )

    def __init__(
        self, rng: random.Random, idx: int, entry: dict[str, Any], oblast: int, start: float
    ) -> None:
        self.idx = idx
        self.point_id: str = entry["point_id"]
        self.kind: str = entry["kind"]
        self.oblast = oblast
        self.capacity: int = entry["capacity_people"]
        self.tank = float(entry["fuel_tank_l"])
        self.period = rng.uniform(*REPORT_PERIOD_S)
        self.queue = rng.randrange(grid.QUEUES)
        self.battery_first = rng.random() < BATTERY_FIRST_SHARE
        self.nominal_lph = fuel.nominal_lph(rng, self.tank)
        self.sensor = fuel.make_sensor(rng, self.tank, start)
        self.fuel = fuel.initial_level(rng, self.tank)
        self.low_l = fuel.refuel_threshold(rng, self.tank)
        self.headcount_sensor = rng.random() < HEADCOUNT_SHARE[self.kind]
        self.internet: bool | None = True if rng.random() < INTERNET_MONITORED else None
        self.has_thermometer = rng.random() < THERMOMETER_SHARE
        self.heating_known = rng.random() < HEATING_KNOWN_SHARE
        self.setpoint = rng.uniform(*climate.SETPOINT_C)
        tent = self.kind == "mobile"
        self.tau = climate.TENT_TAU_S if tent else climate.BUILDING_TAU_S
        self.unheated_gain = (
            climate.TENT_UNHEATED_GAIN_C if tent else climate.BUILDING_UNHEATED_GAIN_C
        )
        self.visit_rate = people.base_rate_per_hour(rng, self.kind, self.capacity)
        self.status = STANDBY if self.kind == "standby" else OPEN
        self.power = GRID
        self.grid = True
        self.gen_on = False
        self.burn_lph = 0.0
        self.t_fuel = start
        self.heating = False
        self.temp = 0.0
        self.people = 0
        self.groups: dict[int, tuple[int, bool]] = {}  # group id -> (people, arrival reported)
        self.silent_until = 0.0
        self.outage_until = 0.0
        self.battery_until = 0.0
        self.fault_until = 0.0
        self.refuel_pending = False
        self.refuels: list[Refuel] = []
        self.ran_dry: list[float] = []
        self.act_state = _IDLE
        self.act_epoch = 0
        self.ordered_at: float | None = None
        self.opened_at: float | None = None
        self.last_tick = start
        self.next_tick = start + rng.uniform(0.0, self.period)


@dataclass(slots=True)
class _OblastState:
    """An oblast's blackout stage, queues off now, and its strike and activation bookkeeping."""

    oblast: Oblast
    stage: int
    off: frozenset[int]
    outdoor: float = 0.0  # outdoor temperature, refreshed each hour
    last_strike: float | None = None
    in_outage: int = 0  # points off the grid because of a strike
    outage_peak: int = 0  # most points off at once in the current emergency
    epoch: int = 0  # bumped by each strike; a stale stand-down wave is dropped
    wave_epoch: int = -1  # epoch for which a stand-down wave is already scheduled
    requested_by: str = ""
    activated: list[int] = field(default_factory=list)


class Simulation:
    """The national network advancing on a simulated clock (see the module docstring)."""

    def __init__(
        self,
        registry: Sequence[dict[str, Any]],
        seed: int,
        start: datetime,
        scenario: Scenario | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        self.scenario = scenario or Scenario()
        self._rng = random.Random(f"nezlam-world-{seed}")
        self._start = start.timestamp()
        self._now = self._start
        self._stamp = Stamper()
        self._kyiv = KyivClock()
        self._heap: list[tuple[float, int, int, int, Any]] = []
        self._seq = itertools.count()
        self._out: list[Message] = []
        self._event_tag = f"sim{seed}-{int(self._start)}"
        self._visit_seq = itertools.count(1)
        self._group_seq = itertools.count(1)
        self._outdoor_hour = -1
        self._handlers = (
            self._on_tick,
            self._on_arrival,
            self._on_departure,
            self._on_slot,
            self._on_strike,
            self._on_restore,
            self._on_order,
            self._on_open,
            self._on_stand_down_wave,
            self._on_stand_down,
            self._on_standby_again,
            self._on_refuel,
            self._on_backup,
            self._on_empty,
            self._on_reopen,
        )
        self._init_oblasts()
        self._init_points(registry)
        self._init_schedule()

    # --- public -----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The simulated time reached so far."""
        return datetime.fromtimestamp(self._now, UTC)

    def point_ids(self) -> list[str]:
        """Ids of the simulated points, in registry order."""
        return [p.point_id for p in self._points]

    def advance(self, until: datetime) -> Iterator[Message]:
        """Run the world up to ``until`` (inclusive), yielding messages in timestamp order.

        Consume the iterator fully before calling again: the world moves as it is read.
        """
        return self.advance_to(until.timestamp())

    def advance_to(self, until: float) -> Iterator[Message]:
        """:meth:`advance` with ``until`` in epoch seconds (what the paced runner uses)."""
        heap, out, handlers = self._heap, self._out, self._handlers
        pop = heapq.heappop
        while heap and heap[0][0] <= until:
            t, _, kind, idx, arg = pop(heap)
            self._now = t
            handlers[kind](idx, t, arg)
            if out:
                yield from out
                out.clear()
        self._now = max(self._now, until)

    def truth(self, point_id: str) -> PointTruth:
        """The ground truth of one point at :attr:`now` (state is not changed by asking)."""
        p = self._points[self._index[point_id]]
        now = self._now
        level = p.fuel
        if p.gen_on:
            level = max(0.0, level - p.burn_lph * (now - p.t_fuel) / 3600.0)
        burn = p.burn_lph if p.gen_on else 0.0
        return PointTruth(
            point_id=p.point_id,
            at=self.now,
            status=p.status,
            power=p.power,
            grid_up=p.grid,
            generator_running=p.gen_on,
            fuel_l=level,
            tank_l=p.tank,
            burn_rate_lph=burn,
            hours_to_empty=level / burn if burn > 0 else None,
            people_inside=p.people,
            silent=now < p.silent_until,
            fuel_sensor=str(p.sensor.kind),
            refuels=tuple(p.refuels),
            ran_dry_at=tuple(datetime.fromtimestamp(t, UTC) for t in p.ran_dry),
            activation_ordered_at=_dt(p.ordered_at),
            opened_at=_dt(p.opened_at),
        )

    # --- set-up -----------------------------------------------------------------------------

    def _init_oblasts(self) -> None:
        slot = grid.slot_index(self._start)
        self._oblasts: list[_OblastState] = []
        for oblast in OBLASTS:
            stage = grid.initial_stage(self._rng)
            self._oblasts.append(_OblastState(oblast, stage, grid.queues_off(stage, slot)))
        self._refresh_outdoor(self._start)

    def _init_points(self, registry: Sequence[dict[str, Any]]) -> None:
        by_name = {oblast.name: index for index, oblast in enumerate(OBLASTS)}
        rng, start = self._rng, self._start
        self._points: list[_Point] = []
        self._index: dict[str, int] = {}
        self._by_oblast: list[list[int]] = [[] for _ in OBLASTS]
        self._standby_by_oblast: list[list[int]] = [[] for _ in OBLASTS]
        for idx, entry in enumerate(registry):
            oblast = by_name.get(entry["oblast"])
            if oblast is None:
                raise ValueError(f"{entry['point_id']}: unknown oblast {entry['oblast']!r}")
            p = _Point(rng, idx, entry, oblast, start)
            self._points.append(p)
            self._index[p.point_id] = idx
            self._by_oblast[oblast].append(idx)
            if p.kind == "standby":
                self._standby_by_oblast[oblast].append(idx)
            if rng.random() < SILENT_AT_START:
                p.silent_until = start + rng.uniform(*SILENT_AT_START_S)
            if p.status == OPEN and rng.random() < CLOSED_AT_START:
                self._close(p, start)
            self._update_power(p, start)
            p.heating = self._heating(p)
            # An operating point was heated until now, whatever powers it at the start.
            p.temp = p.setpoint if p.status == OPEN else self._indoor_target(p)

    def _init_schedule(self) -> None:
        for p in self._points:
            self._push(p.next_tick, _TICK, p.idx)
        self._push((grid.slot_index(self._start) + 1) * grid.SLOT_S, _SLOT, -1)
        within = max(60.0, self.scenario.first_strike_within_s)
        first = self._start + self._rng.uniform(60.0, within)
        self._push(first, _STRIKE, -1, True)

    # --- event plumbing ---------------------------------------------------------------------

    def _push(self, t: float, kind: int, idx: int, arg: Any = None) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, idx, arg))

    def _emit(self, topic: str, key: str, value: dict[str, Any]) -> None:
        self._out.append((topic, key, value))

    # --- reports ----------------------------------------------------------------------------

    def _on_tick(self, idx: int, t: float, _: Any) -> None:
        p = self._points[idx]
        rng = self._rng
        dt = t - p.last_tick
        p.last_tick = t
        interval = p.period + rng.uniform(-REPORT_JITTER_S, REPORT_JITTER_S)
        p.next_tick = t + interval
        self._push(p.next_tick, _TICK, idx)
        if p.gen_on:
            self._sync_fuel(p, t)
        if int(t) // 3600 != self._outdoor_hour:
            self._refresh_outdoor(t)
        p.heating = self._heating(p)
        p.temp = climate.relax(p.temp, self._indoor_target(p), dt, p.tau)
        self._step_internet(p, dt)
        self._maybe_fall_silent(p, t, dt)
        if p.status == OPEN:
            if p.kind != "standby" and rng.random() < dt * CLOSURE_PER_S:
                self._close(p, t)
                self._update_power(p, t)
            else:
                self._schedule_arrivals(p, t, interval)
        self._check_fuel(p, t, dt)
        if p.gen_on:
            self._set_burn(p, t)
        if t >= p.silent_until:
            self._emit(TELEMETRY, p.point_id, self._telemetry(p, t))

    def _telemetry(self, p: _Point, t: float) -> dict[str, Any]:
        rng = self._rng
        headcount = p.people if p.headcount_sensor and rng.random() >= HEADCOUNT_SKIPPED else None
        temp = round(p.temp + rng.gauss(0.0, 0.1), 1) if p.has_thermometer else None
        return {
            "point_id": p.point_id,
            "ts": self._stamp(t),
            "status": p.status,
            "power": p.power,
            "generator_running": p.gen_on,
            "fuel_level_l": p.sensor.read(rng, t, p.fuel, p.tank),
            "heating_on": p.heating if p.heating_known else None,
            "internet_up": p.internet,
            "indoor_temp_c": temp,
            "headcount": headcount,
        }

    def _step_internet(self, p: _Point, dt: float) -> None:
        if p.internet is None:
            return
        if p.internet:
            rate = INTERNET_DOWN_PER_S.get(p.power, INTERNET_DOWN_NO_POWER_PER_S)
            if self._rng.random() < dt * rate:
                p.internet = False
        elif p.power != NO_POWER and self._rng.random() < dt * INTERNET_REPAIR_PER_S:
            p.internet = True

    def _maybe_fall_silent(self, p: _Point, t: float, dt: float) -> None:
        if t < p.silent_until:
            return
        rate = SILENCE_PER_S * (1.0 if p.power == GRID else SILENCE_OFF_GRID_FACTOR)
        if self._rng.random() < dt * rate:
            seconds = self._rng.lognormvariate(math.log(SILENCE_MEDIAN_S), 1.0)
            p.silent_until = t + min(max(seconds, SILENCE_S[0]), SILENCE_S[1])

    # --- climate ----------------------------------------------------------------------------

    def _refresh_outdoor(self, t: float) -> None:
        self._outdoor_hour = int(t) // 3600
        hour = self._kyiv.hour(t)
        for state in self._oblasts:
            state.outdoor = climate.outdoor_c(t, hour, state.oblast.lat)

    def _heating(self, p: _Point) -> bool:
        powered = p.power == GRID or p.power == GENERATOR
        cold = self._oblasts[p.oblast].outdoor < climate.HEATING_BELOW_C
        return p.status == OPEN and powered and cold

    def _indoor_target(self, p: _Point) -> float:
        if p.heating:
            return p.setpoint
        return self._oblasts[p.oblast].outdoor + p.unheated_gain

    # --- visitors ---------------------------------------------------------------------------

    def _schedule_arrivals(self, p: _Point, t: float, interval: float) -> None:
        state = self._oblasts[p.oblast]
        since = None if state.last_strike is None else t - state.last_strike
        per_hour = (
            p.visit_rate
            * people.diurnal(self._kyiv.hour(t))
            * people.surge(p.grid, since)
            * self.scenario.visit_scale
        )
        groups = people.poisson(self._rng, per_hour / people.MEAN_GROUP * interval / 3600.0)
        for _ in range(groups):
            self._push(t + self._rng.random() * interval, _ARRIVAL, p.idx)

    def _on_arrival(self, idx: int, t: float, _: Any) -> None:
        p = self._points[idx]
        if p.status != OPEN or p.people >= people.CROWD_LIMIT * p.capacity:
            return
        rng = self._rng
        size = people.group_size(rng)
        reported = t >= p.silent_until
        group = next(self._group_seq)
        p.groups[group] = (size, reported)
        p.people += size
        self._push(t + people.dwell_s(rng, p.grid), _DEPARTURE, idx, group)
        if reported:
            self._emit(VISITS, p.point_id, self._visit(p, t, "arrival", size))

    def _on_departure(self, idx: int, t: float, group: int) -> None:
        p = self._points[idx]
        left = p.groups.pop(group, None)
        if left is None:  # already gone: the point closed meanwhile
            return
        p.people -= left[0]
        self._report_departure(p, t, *left)

    def _report_departure(self, p: _Point, t: float, size: int, arrival_reported: bool) -> None:
        # Only a group whose arrival went out may depart, so departures never outnumber arrivals.
        if not arrival_reported or t < p.silent_until:
            return
        if self._rng.random() >= people.MISSED_DEPARTURE:
            self._emit(VISITS, p.point_id, self._visit(p, t, "departure", size))

    def _everyone_leaves(self, p: _Point, t: float) -> None:
        for size, reported in p.groups.values():
            self._report_departure(p, t, size, reported)
        p.groups.clear()
        p.people = 0

    def _visit(self, p: _Point, t: float, kind: str, size: int) -> dict[str, Any]:
        return {
            "event_id": f"{self._event_tag}-{next(self._visit_seq):09d}",
            "point_id": p.point_id,
            "ts": self._stamp(t),
            "kind": kind,
            "people": size,
        }

    # --- status -----------------------------------------------------------------------------

    def _close(self, p: _Point, t: float) -> None:
        self._everyone_leaves(p, t)
        p.status = CLOSED
        self._push(t + self._rng.uniform(*CLOSURE_HOURS) * 3600.0, _REOPEN, p.idx)

    def _on_reopen(self, idx: int, t: float, _: Any) -> None:
        p = self._points[idx]
        if p.status == CLOSED:
            p.status = OPEN
            self._update_power(p, t)

    # --- power ------------------------------------------------------------------------------

    def _update_power(self, p: _Point, t: float) -> None:
        """Re-derive the point's power source after anything that may change it."""
        self._sync_fuel(p, t)
        up = t >= p.outage_until and p.queue not in self._oblasts[p.oblast].off
        if up != p.grid:
            p.grid = up
            if up:
                p.battery_until = p.fault_until = 0.0
            else:
                self._grid_lost(p, t)
        run = False
        if up:
            p.power = GRID
        elif p.status != OPEN:
            p.power = NO_POWER
        elif p.battery_until > t:
            p.power = BATTERY
        elif p.fault_until > t or p.fuel <= 0.0:
            p.power = NO_POWER
        else:
            p.power, run = GENERATOR, True
        if run != p.gen_on:
            p.gen_on = run
            if run:
                self._set_burn(p, t)

    def _grid_lost(self, p: _Point, t: float) -> None:
        rng = self._rng
        if p.battery_first:
            p.battery_until = t + rng.uniform(*BATTERY_HOURS) * 3600.0
            self._push(p.battery_until, _BACKUP, p.idx)
        if rng.random() < GENERATOR_FAULT:
            p.fault_until = t + rng.uniform(*FAULT_MINUTES) * 60.0
            self._push(p.fault_until, _BACKUP, p.idx)

    def _on_backup(self, idx: int, t: float, _: Any) -> None:
        self._update_power(self._points[idx], t)

    def _on_slot(self, _: int, t: float, __: Any) -> None:
        slot = grid.slot_index(t)
        for oblast, state in enumerate(self._oblasts):
            state.stage = grid.next_stage(self._rng, state.stage)
            off = grid.queues_off(state.stage, slot)
            changed = off ^ state.off
            state.off = off
            if changed:
                for idx in self._by_oblast[oblast]:
                    p = self._points[idx]
                    if p.queue in changed:
                        self._update_power(p, t)
        self._push((slot + 1) * grid.SLOT_S, _SLOT, -1)

    # --- fuel -------------------------------------------------------------------------------

    def _sync_fuel(self, p: _Point, t: float) -> None:
        if p.gen_on:
            p.fuel = max(0.0, p.fuel - p.burn_lph * (t - p.t_fuel) / 3600.0)
        p.t_fuel = t

    def _set_burn(self, p: _Point, t: float) -> None:
        """Fix the burn rate until the next report; schedule running dry if it comes first."""
        occupancy = p.people / p.capacity
        p.burn_lph = p.nominal_lph * fuel.load_factor(self._kyiv.hour(t), occupancy)
        dry_at = t + p.fuel / p.burn_lph * 3600.0
        if dry_at < p.next_tick:
            self._push(dry_at, _EMPTY, p.idx)

    def _on_empty(self, idx: int, t: float, _: Any) -> None:
        p = self._points[idx]
        self._sync_fuel(p, t)
        if p.gen_on and p.fuel < 1e-6:
            p.fuel = 0.0
            p.ran_dry.append(t)
            self._update_power(p, t)

    def _check_fuel(self, p: _Point, t: float, dt: float) -> None:
        if p.refuel_pending:
            return
        rng = self._rng
        if p.fuel < p.low_l:
            p.refuel_pending = True
            self._push(t + fuel.lead_time_s(rng), _REFUEL, p.idx)
        elif (
            p.gen_on
            and p.fuel < fuel.TOP_UP_BELOW * p.tank
            and rng.random() < dt * fuel.TOP_UP_PER_RUNNING_S
        ):
            p.refuel_pending = True
            self._push(t + rng.uniform(600.0, 3600.0), _REFUEL, p.idx)

    def _on_refuel(self, idx: int, t: float, _: Any) -> None:
        p = self._points[idx]
        self._sync_fuel(p, t)
        before = p.fuel
        p.fuel = fuel.refuel_level(self._rng, before, p.tank)
        p.refuel_pending = False
        p.refuels.append(Refuel(datetime.fromtimestamp(t, UTC), before, p.fuel))
        self._update_power(p, t)
        if p.gen_on:
            self._set_burn(p, t)

    # --- strikes and activations ------------------------------------------------------------

    def _on_strike(self, _: int, t: float, forced: bool | None) -> None:
        rng = self._rng
        gap = grid.strike_candidate_gap_s(rng, self.scenario.strike_interval_h)
        self._push(t + gap, _STRIKE, -1, False)
        if not forced and not grid.strike_accepted(rng, self._kyiv.hour(t)):
            return
        count = rng.choices((1, 2, 3), grid.STRIKE_OBLASTS)[0]
        candidates = [o for o in range(len(OBLASTS)) if self._by_oblast[o]]
        weights = [OBLASTS[o].strike_weight for o in candidates]
        hit: list[int] = []
        while candidates and len(hit) < count:
            choice = rng.choices(range(len(candidates)), weights)[0]
            hit.append(candidates.pop(choice))
            weights.pop(choice)
        for oblast in hit:
            self._strike_oblast(oblast, t)

    def _strike_oblast(self, oblast: int, t: float) -> None:
        rng = self._rng
        state = self._oblasts[oblast]
        state.last_strike = t
        state.epoch += 1
        state.requested_by = _authority(rng, state.oblast)
        share = rng.uniform(*grid.STRIKE_SHARE)
        for idx in self._by_oblast[oblast]:
            if rng.random() >= share:
                continue
            p = self._points[idx]
            until = t + grid.restore_after_s(rng)
            if until > p.outage_until:
                if p.outage_until <= t:
                    state.in_outage += 1
                p.outage_until = until
                self._push(until, _RESTORE, idx, until)
            self._update_power(p, t)
        state.outage_peak = max(state.outage_peak if state.in_outage else 0, state.in_outage)
        wave = t + rng.uniform(*ACTIVATION_WAVE_MINUTES) * 60.0
        for idx in self._standby_by_oblast[oblast]:
            p = self._points[idx]
            if p.status != STANDBY or p.act_state != _IDLE:
                continue
            if rng.random() < (ACTIVATE_SHARE_LIT if p.grid else ACTIVATE_SHARE_DARK):
                p.act_state = _ORDERED
                state.activated.append(idx)
                self._push(wave + rng.uniform(0.0, 120.0), _ORDER, idx, state.requested_by)

    def _on_restore(self, idx: int, t: float, until: float) -> None:
        p = self._points[idx]
        if p.outage_until != until:  # a later strike extended the outage
            return
        state = self._oblasts[p.oblast]
        state.in_outage -= 1
        self._update_power(p, t)
        mostly_restored = state.in_outage <= STAND_DOWN_WHEN_DARK * state.outage_peak
        if mostly_restored and state.activated and state.wave_epoch != state.epoch:
            state.wave_epoch = state.epoch
            later = t + self._rng.uniform(*STAND_DOWN_AFTER_HOURS) * 3600.0
            self._push(later, _STAND_DOWN_WAVE, p.oblast, state.epoch)

    def _on_order(self, idx: int, t: float, requested_by: str) -> None:
        p = self._points[idx]
        rng = self._rng
        p.ordered_at, p.opened_at = t, None
        self._emit(ACTIVATIONS, p.point_id, self._order(p, t, "activate", requested_by))
        draw = rng.random()
        if draw < OPEN_IN_TIME:
            delay_min = rng.uniform(10.0, 115.0)
        elif draw < OPEN_IN_TIME + OPEN_LATE:
            delay_min = rng.uniform(121.0, 180.0)
        else:
            return  # this one never opens: activation overdue until stood down
        self._push(t + delay_min * 60.0, _OPEN, idx, p.act_epoch)

    def _on_open(self, idx: int, t: float, epoch: int) -> None:
        p = self._points[idx]
        if p.act_epoch != epoch or p.act_state != _ORDERED:
            return
        p.status, p.act_state, p.opened_at = OPEN, _ACTIVE, t
        self._update_power(p, t)

    def _on_stand_down_wave(self, oblast: int, t: float, epoch: int) -> None:
        state = self._oblasts[oblast]
        if state.epoch != epoch:  # struck again since: the standby points stay open
            return
        for idx in state.activated:
            self._push(t + self._rng.uniform(0.0, 300.0), _STAND_DOWN, idx, state.requested_by)
        state.activated = []

    def _on_stand_down(self, idx: int, t: float, requested_by: str) -> None:
        p = self._points[idx]
        self._emit(ACTIVATIONS, p.point_id, self._order(p, t, "stand_down", requested_by))
        p.act_epoch += 1
        p.act_state = _IDLE
        later = t + self._rng.uniform(*STANDBY_AGAIN_MINUTES) * 60.0
        self._push(later, _STANDBY_AGAIN, idx, p.act_epoch)

    def _on_standby_again(self, idx: int, t: float, epoch: int) -> None:
        p = self._points[idx]
        if p.act_epoch != epoch or p.status != OPEN:
            return
        self._everyone_leaves(p, t)
        p.status = STANDBY
        self._update_power(p, t)

    def _order(self, p: _Point, t: float, action: str, requested_by: str) -> dict[str, Any]:
        return {
            "point_id": p.point_id,
            "ts": self._stamp(t),
            "action": action,
            "requested_by": requested_by,
        }


def _authority(rng: random.Random, oblast: Oblast) -> str:
    """Who orders activations in an oblast: its military administration or the rescue service."""
    # Ukrainian on purpose: these are the names operators see.
    if oblast.code == KYIV_CITY:
        return rng.choice(("КМВА", "ДСНС у м. Києві"))  # noqa: RUF001
    return rng.choice((f"{oblast.adjective} ОВА", f"ДСНС у {oblast.locative} області"))  # noqa: RUF001


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)
