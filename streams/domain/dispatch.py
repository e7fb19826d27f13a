"""The truck dispatch problem of one oblast, its plans, and the rules every plan must keep.

Pure. An :class:`Instance` holds the generators that need fuel (litres to fill the tank, hours
until each runs dry), the oblast's depots and trucks (capacity, shift) and the travel model.
A :class:`Plan` is one route per truck: stops in order, litres at each, arrival before the
point's deadline (when it runs dry, minus a safety margin), within the truck's capacity and
shift, back at its depot by the end of the shift. :func:`violations` checks exactly that;
:func:`greedy` is the baseline plan (most urgent first, to the truck that gets there first) the
solver (:mod:`streams.domain.dispatch_solver`) is measured against. Times are hours from the
moment the plan is made.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Place:
    """A point on the map (degrees)."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Travel:
    """Road travel estimated from the map: great-circle distance times a detour factor, at an
    average speed; every stop takes ``stop_minutes``."""

    detour_factor: float = 1.35
    average_speed_kmh: float = 45.0
    stop_minutes: float = 20.0

    def km(self, a: Place, b: Place) -> float:
        """Road kilometres from ``a`` to ``b``."""
        return great_circle_km(a, b) * self.detour_factor

    def hours(self, a: Place, b: Place) -> float:
        """Driving hours from ``a`` to ``b``."""
        return self.km(a, b) / self.average_speed_kmh

    @property
    def stop_hours(self) -> float:
        """Hours spent at each stop."""
        return self.stop_minutes / 60.0


def great_circle_km(a: Place, b: Place) -> float:
    """Haversine distance in km."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlam = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Depot:
    """A fuel depot."""

    depot_id: str
    name: str
    place: Place


@dataclass(frozen=True, slots=True)
class Truck:
    """A truck of a depot, on shift from ``shift_start_h`` to ``shift_end_h``. A truck already
    out on a run it is committed to starts from ``start`` (its last committed stop) when that
    stop is done (``shift_start_h``), with the litres it still carries as ``capacity_l``."""

    truck_id: str
    depot_id: str
    capacity_l: float
    shift_start_h: float
    shift_end_h: float
    start: Place | None = None  # None: at its depot

    @property
    def leaves_h(self) -> float:
        """When it can leave its depot: the start of its shift, or now."""
        return max(self.shift_start_h, 0.0)


@dataclass(frozen=True, slots=True)
class Need:
    """A generator that needs fuel: ``litres`` fill its tank now; it runs dry at
    ``runs_dry_h`` and a truck must arrive by ``deadline_h`` (that minus the safety margin).
    It keeps burning ``burn_lph`` until the truck arrives, so the tank then needs more, up to
    ``tank_l``. ``weight``: how much reaching it counts against other points (its kind)."""

    point_id: str
    name: str
    place: Place | None  # None: the registry has no coordinates
    litres: float
    runs_dry_h: float
    deadline_h: float
    burn_lph: float = 0.0
    tank_l: float = math.inf
    weight: float = 1.0

    def litres_at(self, hours: float) -> float:
        """What fills the tank when a truck arrives ``hours`` from now: the fill of now plus
        what burns until then, at most the whole tank."""
        return min(self.tank_l, self.litres + self.burn_lph * max(hours, 0.0))


@dataclass(frozen=True, slots=True)
class Instance:
    """One oblast's dispatch problem."""

    needs: Sequence[Need]
    depots: Sequence[Depot]
    trucks: Sequence[Truck]
    travel: Travel = field(default_factory=Travel)

    def depot(self, depot_id: str) -> Depot:
        """The depot of that id."""
        return next(d for d in self.depots if d.depot_id == depot_id)

    def load(self, need: Need) -> float:
        """What a truck reserves for a stop: the tank's fill at the latest arrival (the
        deadline), at most what the largest truck carries. A truck that arrives earlier
        delivers less (:meth:`delivers`), never more."""
        return self.delivers(need, need.deadline_h)

    def delivers(self, need: Need, arrive_h: float) -> float:
        """What a stop delivers arriving at ``arrive_h``: the tank's fill then, at most what
        the largest truck carries."""
        largest = max((t.capacity_l for t in self.trucks), default=0.0)
        return min(need.litres_at(arrive_h), largest)


@dataclass(frozen=True, slots=True)
class Stop:
    """One delivery of a route."""

    point_id: str
    arrive_h: float
    litres: float  # at arrival: what the tank needs when the truck gets there
    deadline_h: float
    runs_dry_h: float
    km_from_previous: float
    litres_at_plan: float  # what the tank needed when the plan was made

    @property
    def slack_h(self) -> float:
        """How much later the truck could arrive and still meet the deadline."""
        return self.deadline_h - self.arrive_h


@dataclass(frozen=True, slots=True)
class Route:
    """One truck's run: leave the depot, the stops in order, back by ``back_h``."""

    truck: Truck
    leaves_h: float
    stops: tuple[Stop, ...]
    back_h: float
    km: float  # the whole run, back to the depot included


@dataclass(frozen=True, slots=True)
class Unreached:
    """A point no truck reaches before its deadline, and why."""

    point_id: str
    runs_dry_h: float
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Routes (trucks with at least one stop) and the points left out, most urgent first."""

    method: str
    routes: tuple[Route, ...]
    unreached: tuple[Unreached, ...]
    solve_seconds: float = 0.0

    @property
    def reached(self) -> int:
        """Points served in time."""
        return sum(len(r.stops) for r in self.routes)

    @property
    def litres(self) -> float:
        """Litres delivered."""
        return sum(s.litres for r in self.routes for s in r.stops)

    @property
    def km(self) -> float:
        """Kilometres driven."""
        return sum(r.km for r in self.routes)

    @property
    def litres_at_plan(self) -> float:
        """What the reached tanks needed when the plan was made (less than :attr:`litres`:
        the generators burn until the trucks arrive)."""
        return sum(s.litres_at_plan for r in self.routes for s in r.stops)

    def weighed(self, instance: Instance) -> float:
        """The weights of the points reached (their kinds: standby points count more)."""
        weights = {n.point_id: n.weight for n in instance.needs}
        return sum(weights[s.point_id] for r in self.routes for s in r.stops)

    def better_than(self, other: Plan, instance: Instance) -> bool:
        """Reaches more (by weight, then by number), or as much with fewer kilometres."""
        mine = (round(self.weighed(instance), 6), self.reached, -round(self.km, 3))
        theirs = (round(other.weighed(instance), 6), other.reached, -round(other.km, 3))
        return mine > theirs


def route(instance: Instance, truck: Truck, needs: Sequence[Need]) -> Route:
    """The run of ``truck`` through ``needs`` in that order, leaving as early as it can and
    waiting nowhere."""
    depot = instance.depot(truck.depot_id).place
    travel = instance.travel
    at, here, km, stops = truck.leaves_h, truck.start or depot, 0.0, []
    for need in needs:
        assert need.place is not None
        leg = travel.km(here, need.place)
        at += leg / travel.average_speed_kmh
        stops.append(Stop(need.point_id, at, instance.delivers(need, at), need.deadline_h,
                          need.runs_dry_h, leg, need.litres))
        at += travel.stop_hours
        here, km = need.place, km + leg
    back = travel.km(here, depot)
    return Route(truck, truck.leaves_h, tuple(stops), at + back / travel.average_speed_kmh,
                 km + back)


def violations(plan: Plan, instance: Instance) -> list[str]:
    """Every broken rule of ``plan``: late arrivals, overloaded trucks, runs outside a shift,
    a point served twice or by no known truck. Empty for a valid plan."""
    found: list[str] = []
    served: set[str] = set()
    trucks = {t.truck_id: t for t in instance.trucks}
    for r in plan.routes:
        if trucks.get(r.truck.truck_id) != r.truck:
            found.append(f"{r.truck.truck_id}: not a truck of this oblast")
        found.extend(_route_violations(r))
        for s in r.stops:
            if s.point_id in served:
                found.append(f"{s.point_id}: served twice")
            served.add(s.point_id)
    return found


def _route_violations(r: Route) -> Iterator[str]:
    """The rules one run breaks: capacity, shift, deadlines (lazily: the first is often
    enough)."""
    t = r.truck
    if sum(s.litres for s in r.stops) > t.capacity_l + 1e-6:
        yield f"{t.truck_id}: carries more than {t.capacity_l:g} l"
    if r.leaves_h < t.shift_start_h - 1e-6 or r.back_h > t.shift_end_h + 1e-6:
        yield f"{t.truck_id}: runs outside its shift"
    for s in r.stops:
        if s.arrive_h > s.deadline_h + 1e-6:
            yield f"{t.truck_id}: reaches {s.point_id} after its deadline"


def _keeps_rules(r: Route) -> bool:
    return next(_route_violations(r), None) is None


def addable(plan: Plan, instance: Instance) -> list[str]:
    """The points ``plan`` leaves out that one more stop somewhere in some truck's run could
    still serve within every rule: empty when the plan is maximal (no point it leaves out
    could be added without breaking a rule, the check behind "every point a plan could reach
    is reached")."""
    needs = {n.point_id: n for n in instance.needs}
    runs = {r.truck.truck_id: [needs[s.point_id] for s in r.stops] for r in plan.routes}
    found = []
    for left in plan.unreached:
        need = needs[left.point_id]
        if need.place is None or need.deadline_h <= 0:
            continue
        if any(_keeps_rules(route(instance, truck, [*run[:i], need, *run[i:]]))
               for truck in instance.trucks
               for run in (runs.get(truck.truck_id, []),)
               for i in range(len(run) + 1)):
            found.append(need.point_id)
    return found


def quickest(instance: Instance, place: Place) -> tuple[Truck, float]:
    """The truck that would reach ``place`` first driving straight there, and when."""
    travel = instance.travel
    return min(((t, t.leaves_h + travel.hours(instance.depot(t.depot_id).place, place))
                for t in instance.trucks), key=lambda found: found[1])


def explain(need: Need, instance: Instance) -> str:
    """Why ``need`` is left out of a plan, in words for a logistics officer."""
    place = need.place
    if place is None:
        return "no coordinates in the registry"
    if need.deadline_h <= 0:
        return (f"runs dry in {need.runs_dry_h:.1f} h: within the safety margin, too late for "
                "any truck")
    if not instance.trucks:
        return "the oblast has no trucks in the depots file"
    first, arrive = quickest(instance, place)
    if arrive > need.deadline_h:
        return (f"runs dry in {need.runs_dry_h:.1f} h; the quickest truck ({first.truck_id}, "
                f"from {instance.depot(first.depot_id).name}) would arrive in {arrive:.1f} h")
    return ("every truck that could get there in time is full or busy with more urgent points")


def greedy(instance: Instance) -> Plan:
    """The baseline: most urgent point first, to the truck that can get there first (in time,
    with room left, back within its shift); points no truck can take are left out."""
    runs: dict[str, list[Need]] = {t.truck_id: [] for t in instance.trucks}
    left_out: list[Need] = []
    for need in sorted(instance.needs, key=lambda n: n.deadline_h):
        best: tuple[float, Truck] | None = None
        if need.place is not None and need.deadline_h > 0:
            for truck in instance.trucks:
                trial = route(instance, truck, [*runs[truck.truck_id], need])
                if not _keeps_rules(trial):
                    continue
                arrive = trial.stops[-1].arrive_h
                if best is None or arrive < best[0]:
                    best = (arrive, truck)
        if best is None:
            left_out.append(need)
        else:
            runs[best[1].truck_id].append(need)
    routes = tuple(route(instance, t, runs[t.truck_id]) for t in instance.trucks
                   if runs[t.truck_id])
    return Plan("greedy", routes, unreached(left_out, instance))


def unreached(left_out: Sequence[Need], instance: Instance) -> tuple[Unreached, ...]:
    """The points left out, most urgent first, each with why."""
    return tuple(Unreached(n.point_id, n.runs_dry_h, explain(n, instance))
                 for n in sorted(left_out, key=lambda n: n.runs_dry_h))
