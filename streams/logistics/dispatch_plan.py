"""``nezlam dispatch-plan``: truck runs that get fuel to the generators before they run dry.

Reads the depots file (``NEZLAM_DEPOTS_FILE``) and the current forecasts (the ``refuel_plan``
view: litres to fill, hours to empty, coordinates), builds one oblast's dispatch problem
(:mod:`streams.domain.dispatch`), solves it with VROOM and OR-Tools (the better plan kept) within
``NEZLAM_DISPATCH_TIME_LIMIT_SECONDS``, prints the plan and, with ``--write``, appends it to
``dispatch_plans`` / ``dispatch_stops`` / ``dispatch_unreached`` (migration 010), which the
Grafana fuel dashboard shows and the workers' fuel alerts read (:mod:`.plan_feed`); before
that it records the planned stops a refuel has closed (:mod:`.deliveries`). ``--every
MINUTES`` recomputes on a schedule (the stack's planner process).
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import click
import orjson
import psycopg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich import box
from rich.console import Console
from rich.table import Table

from streams.config import Settings, get_settings
from streams.domain.dispatch import Depot, Instance, Need, Place, Plan, Route, Stop, Travel, Truck
from streams.domain.dispatch_best import solve
from streams.logistics.commitments import Commitment, apply, keep, names, read_commitments
from streams.logistics.commitments import places as committed_places
from streams.logistics.deliveries import record_deliveries
from streams.logistics.on_call import CallIn, advise, with_advice
from streams.logistics.refuel_plan import RefuelRow, fetch_plan
from streams.logistics.reload import with_reloads

FORMATS = ("table", "csv", "json", "geojson")


class DepotsFileError(click.ClickException):
    """The depots file cannot be used; the message names the file and every bad entry."""


# --- the depots file ----------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Truck(_Strict):
    id: str = Field(min_length=1)
    capacity_l: float = Field(gt=0)
    shift_start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    shift_hours: float = Field(gt=0, le=24)


class _OnCall(_Strict):
    id: str = Field(min_length=1)
    label: str = Field("on-call driver", min_length=1)
    capacity_l: float = Field(gt=0)
    call_in_minutes: float = Field(60.0, ge=0)
    shift_hours: float = Field(gt=0, le=24)


class _Depot(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    trucks: list[_Truck]
    on_call: list[_OnCall] = Field(default_factory=list)


class _Oblast(_Strict):
    depots: list[_Depot] = Field(min_length=1)


class _Travel(_Strict):
    detour_factor: float = Field(ge=1)
    average_speed_kmh: float = Field(gt=0)
    stop_minutes: float = Field(ge=0)


class DepotsFile(_Strict):
    """The validated depots file."""

    version: int = Field(ge=1, le=1)
    timezone: str
    travel: _Travel
    oblasts: dict[str, _Oblast]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        ZoneInfo(zone)  # raises for an unknown zone
        return zone

    @field_validator("oblasts")
    @classmethod
    def _unique_ids(cls, oblasts: dict[str, _Oblast]) -> dict[str, _Oblast]:
        depots = [d.id for o in oblasts.values() for d in o.depots]
        trucks = [t.id for o in oblasts.values() for d in o.depots for t in d.trucks]
        trucks += [c.id for o in oblasts.values() for d in o.depots for c in d.on_call]
        for kind, ids in (("depot", depots), ("truck", trucks)):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            if twice:
                raise ValueError(f"{kind} ids must be unique; repeated: {', '.join(twice)}")
        return oblasts

    def oblast(self, name: str) -> tuple[str, _Oblast]:
        """The oblast of that name, matched as the refuel plan does (case-insensitive, with or
        without "область")."""
        wanted = name.strip().lower()
        for key, value in self.oblasts.items():
            if key.lower() in (wanted, f"{wanted} область"):
                return key, value
        raise click.ClickException(
            f"no oblast {name!r} in the depots file; known: {', '.join(self.oblasts)}")


def load_depots(path: Path) -> DepotsFile:
    """Read and validate the depots file; :class:`DepotsFileError` names every problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return DepotsFile.model_validate(data)
    except OSError as exc:
        raise DepotsFileError(f"{path}: cannot read the depots file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise DepotsFileError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise DepotsFileError(f"{path}: the depots file is not usable:\n{problems}") from exc


# --- the problem from the database -------------------------------------------------------


def shift_window(start: str, hours: float, now: datetime, zone: ZoneInfo) -> tuple[float, float]:
    """The shift (hours from ``now``) that is on now or starts next: a night shift that began
    yesterday evening is still on this morning."""
    hh, mm = (int(part) for part in start.split(":"))
    local = now.astimezone(zone)
    for day in (-1, 0, 1):
        begins = datetime.combine(local.date() + timedelta(days=day),
                                  datetime.min.time().replace(hour=hh, minute=mm), zone)
        ends = begins + timedelta(hours=hours)
        if ends > now:
            return ((begins - now).total_seconds() / 3600, (ends - now).total_seconds() / 3600)
    raise AssertionError("a shift of at most 24 h starting within two days ends after now")


def build_instance(
    depots: DepotsFile, oblast: str, rows: Iterable[RefuelRow], now: datetime, settings: Settings,
    *, on_call: bool = False, called_in: Mapping[str, datetime] | None = None,
) -> Instance:
    """One oblast's problem: its generators that run dry within the horizon, its depots and
    its trucks' shifts as they stand at ``now``. The on-call drivers ``called_in`` (id -> when)
    drive from ``call_in_minutes`` after that, for their ``shift_hours``; with ``on_call``, the
    others too, as if called in now."""
    called_in = called_in or {}
    _, entry = depots.oblast(oblast)
    zone = ZoneInfo(depots.timezone)
    needs = [
        Need(row.point_id, row.name, Place(row.lat, row.lon) if row.lat is not None else None,
             row.litres_to_fill or 0.0, row.hours_to_empty,
             row.hours_to_empty - settings.dispatch_safety_margin_hours,
             row.burn_rate_lph or 0.0, row.fuel_tank_l,
             settings.dispatch_standby_weight if row.kind == "standby" else 1.0)
        for row in rows
        if row.hours_to_empty is not None and row.hours_to_empty <= settings.dispatch_horizon_hours
        and (row.litres_to_fill or 0.0) > 0
    ]
    trucks = [
        Truck(t.id, d.id, t.capacity_l, *shift_window(t.shift_start, t.shift_hours, now, zone))
        for d in entry.depots for t in d.trucks
    ]
    for d in entry.depots:
        for c in d.on_call:
            called = called_in.get(c.id, now if on_call else None)
            if called is None:
                continue
            leaves = (called - now).total_seconds() / 3600 + c.call_in_minutes / 60
            if leaves + c.shift_hours > 0:  # a called-in shift that is over is no truck
                trucks.append(Truck(c.id, d.id, c.capacity_l, leaves, leaves + c.shift_hours))
    return Instance(
        needs, [Depot(d.id, d.name, Place(d.lat, d.lon)) for d in entry.depots], trucks,
        Travel(depots.travel.detour_factor, depots.travel.average_speed_kmh,
               depots.travel.stop_minutes),
    )


@dataclass(frozen=True, slots=True)
class DispatchPlan:
    """A solved plan of one oblast, with what it was computed from."""

    oblast: str
    computed_at: datetime
    instance: Instance
    plan: Plan
    zone: ZoneInfo  # the depots file's: the times logistics read
    call_in: CallIn | None = None  # on-call drivers who would save points, if any
    # The trucks out on runs the plan keeps (their stops are not in instance.needs).
    committed: Mapping[str, Commitment] = field(default_factory=dict)

    def at(self, hours: float) -> datetime:
        """The moment ``hours`` after the plan was computed."""
        return self.computed_at + timedelta(hours=hours)

    def point_names(self) -> dict[str, str]:
        """point_id -> the point's name."""
        return {**names(self.committed), **{n.point_id: n.name for n in self.instance.needs}}

    def depot_names(self) -> dict[str, str]:
        """depot_id -> the depot's name."""
        return {d.depot_id: d.name for d in self.instance.depots}

    def clock(self, at: datetime) -> str:
        """``at`` in the plan's zone, to the minute, with its offset."""
        return at.astimezone(self.zone).isoformat(timespec="minutes")


def compute(
    conn: psycopg.Connection[Any], oblast: str, settings: Settings,
    depots: DepotsFile | None = None,
) -> DispatchPlan:
    """Solve ``oblast``'s dispatch problem from the current forecasts (``depots``: the depots
    file already read, else it is read from ``NEZLAM_DEPOTS_FILE``)."""
    depots = depots or load_depots(settings.depots_file)
    name, entry = depots.oblast(oblast)
    now = datetime.now(UTC)
    rows = fetch_plan(conn, oblast=name)
    called = called_in(conn, now)
    instance = build_instance(depots, name, rows, now, settings, called_in=called)
    # Trucks already out keep their runs and are planned on from their last committed stop.
    committed = read_commitments(conn, name, now, instance.travel)
    planned = apply(instance, committed, now)
    plan = solve(planned, settings.dispatch_time_limit_seconds)
    # Trucks back before their shift ends reload and run again where that reaches more.
    plan = with_reloads(plan, planned, instance, solve, settings.dispatch_time_limit_seconds / 2)
    labels = {c.id: c.label for d in entry.depots for c in d.on_call if c.id not in called}
    advice = None
    if plan.unreached and labels:
        # Solved again with the on-call drivers: only to say what calling them in would save.
        extended = apply(build_instance(depots, name, rows, now, settings, on_call=True,
                                        called_in=called), committed, now)
        advice = advise(plan, solve(extended, settings.dispatch_time_limit_seconds), extended,
                        labels)
    return DispatchPlan(name, now, instance,
                        keep(with_advice(plan, advice), planned, instance, committed, now),
                        ZoneInfo(depots.timezone), advice, committed)


def numbered(plan: Plan) -> Iterator[tuple[Route, int, Stop]]:
    """Each stop with its route and its number in its truck's day (a reloaded truck's second
    run numbers on from its first)."""
    counts: dict[str, int] = {}
    for r in plan.routes:
        for s in r.stops:
            counts[r.truck.truck_id] = counts.get(r.truck.truck_id, 0) + 1
            yield r, counts[r.truck.truck_id], s


def called_in(conn: psycopg.Connection[Any], now: datetime) -> dict[str, datetime]:
    """The on-call drivers called in within the last day: driver id -> when (the latest)."""
    rows = conn.execute(
        "SELECT truck_id, max(called_at) FROM dispatch_call_ins"
        " WHERE called_at > %s - interval '1 day' GROUP BY truck_id", [now]).fetchall()
    return {truck: at for truck, at in rows}


def call_in(conn: psycopg.Connection[Any], depots: DepotsFile, driver: str) -> str:
    """Record that ``driver`` (an on-call driver of the depots file) was called in now; returns
    it in words. The next plans use the driver from ``call_in_minutes`` after now."""
    for oblast, entry in depots.oblasts.items():
        for d in entry.depots:
            for c in d.on_call:
                if c.id == driver:
                    conn.execute("INSERT INTO dispatch_call_ins (truck_id, oblast, called_at)"
                                 " VALUES (%s, %s, now())", [driver, oblast])
                    return (f"{c.label} {c.id} at {d.name} called in: on the road in "
                            f"{c.call_in_minutes:g} min, for {c.shift_hours:g} h")
    known = [c.id for e in depots.oblasts.values() for d in e.depots for c in d.on_call]
    raise click.ClickException(f"no on-call driver {driver!r} in the depots file; known: "
                               f"{', '.join(known) or 'none'}")


def write(conn: psycopg.Connection[Any], dispatch: DispatchPlan) -> None:
    """Append the plan to the dispatch tables in one transaction."""
    plan, names, depot_names = dispatch.plan, dispatch.point_names(), dispatch.depot_names()
    with conn.transaction():
        conn.execute(
            "INSERT INTO dispatch_plans (oblast, computed_at, solve_seconds, points_reached, "
            "points_unreached, litres, km, call_in, points_saved_by_call_in)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [dispatch.oblast, dispatch.computed_at, plan.solve_seconds, plan.reached,
             len(plan.unreached), plan.litres, plan.km,
             None if dispatch.call_in is None else dispatch.call_in.say(),
             None if dispatch.call_in is None else dispatch.call_in.points_saved])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dispatch_stops (oblast, computed_at, truck_id, depot, stop_order, "
                "point_id, point_name, litres, arrives_at, deadline, runs_dry_at, slack_hours, "
                "km_from_previous) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(dispatch.oblast, dispatch.computed_at, r.truck.truck_id,
                  depot_names[r.truck.depot_id], order, s.point_id, names[s.point_id], s.litres,
                  dispatch.at(s.arrive_h), dispatch.at(s.deadline_h), dispatch.at(s.runs_dry_h),
                  s.slack_h, s.km_from_previous)
                 for r, order, s in numbered(plan)])
            cur.executemany(
                "INSERT INTO dispatch_unreached (oblast, computed_at, point_id, point_name, "
                "runs_dry_at, reason) VALUES (%s, %s, %s, %s, %s, %s)",
                [(dispatch.oblast, dispatch.computed_at, u.point_id, names[u.point_id],
                  dispatch.at(u.runs_dry_h), u.reason) for u in plan.unreached])


# --- output -------------------------------------------------------------------------------


def records(dispatch: DispatchPlan) -> list[dict[str, Any]]:
    """One record per line of the plan: unreached points first, then each truck's stops."""
    names, depot_names = dispatch.point_names(), dispatch.depot_names()
    out: list[dict[str, Any]] = [
        {"truck": None, "depot": None, "stop": None, "point_id": u.point_id,
         "name": names[u.point_id], "litres": None, "arrives_at": None,
         "runs_dry_at": dispatch.clock(dispatch.at(u.runs_dry_h)), "slack_hours": None, "km": None,
         "note": f"NOT REACHED: {u.reason}"}
        for u in dispatch.plan.unreached
    ]
    for r, order, s in numbered(dispatch.plan):
        out.append({
            "truck": r.truck.truck_id, "depot": depot_names[r.truck.depot_id],
            "stop": order, "point_id": s.point_id, "name": names[s.point_id],
            "litres": round(s.litres), "arrives_at": dispatch.clock(dispatch.at(s.arrive_h)),
            "runs_dry_at": dispatch.clock(dispatch.at(s.runs_dry_h)),
            "slack_hours": round(s.slack_h, 1), "km": round(s.km_from_previous, 1),
            "note": "",
        })
    return out


def geojson(dispatch: DispatchPlan) -> dict[str, Any]:
    """A FeatureCollection: each truck's run as a line (depot, stops, depot), each stop and
    each unreached point as a point."""
    places: dict[str, Place | None] = {**committed_places(dispatch.committed),
                                       **{n.point_id: n.place for n in dispatch.instance.needs}}
    features: list[dict[str, Any]] = []
    for r in dispatch.plan.routes:
        depot = dispatch.instance.depot(r.truck.depot_id).place
        line = [depot, *(places[s.point_id] for s in r.stops), depot]
        features.append(_feature("LineString", [[p.lon, p.lat] for p in line if p is not None],
                                 {"truck": r.truck.truck_id, "km": round(r.km, 1)}))
    for record in records(dispatch):
        place = places[record["point_id"]]
        if place is not None:
            features.append(_feature("Point", [place.lon, place.lat], record))
    return {"type": "FeatureCollection", "features": features}


def _feature(kind: str, coordinates: Any, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": kind, "coordinates": coordinates},
            "properties": properties}


def render(dispatch: DispatchPlan, fmt: str, out: IO[str]) -> None:
    """Print the plan in ``fmt`` (table, csv, json, geojson)."""
    rows = records(dispatch)
    if fmt == "json":
        out.write(orjson.dumps({"oblast": dispatch.oblast,
                                "computed_at": dispatch.clock(dispatch.computed_at),
                                "call_in": None if dispatch.call_in is None
                                else dispatch.call_in.say(),
                                "lines": rows}, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt == "geojson":
        out.write(orjson.dumps(geojson(dispatch)).decode() + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["point_id"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        _table(dispatch, rows, out)


def _table(dispatch: DispatchPlan, rows: Sequence[dict[str, Any]], out: IO[str]) -> None:
    plan = dispatch.plan
    table = Table(box=box.SIMPLE_HEAD, title_justify="left", title=(
        f"Dispatch plan, {dispatch.oblast}, {_short(dispatch.computed_at, dispatch.zone)} "
        f"({dispatch.zone.key} time): {plan.reached} points reached, {len(plan.unreached)} "
        f"not, {plan.litres:,.0f} l, {plan.km:,.0f} km (solved in {plan.solve_seconds:.1f} s)"))
    for column in ("truck", "stop", "point", "litres", "arrives", "runs dry", "slack h", "km",
                   "note"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["truck"] or "-", str(r["stop"] or ""), f"{r['name']} ({r['point_id']})",
                      "" if r["litres"] is None else f"{r['litres']:,}",
                      _short(r["arrives_at"], dispatch.zone),
                      _short(r["runs_dry_at"], dispatch.zone),
                      "" if r["slack_hours"] is None else str(r["slack_hours"]),
                      "" if r["km"] is None else str(r["km"]), r["note"])
    console = Console(file=out, width=160)
    console.print(table)
    if dispatch.call_in is not None:
        console.print(f"On call: {dispatch.call_in.say()}.")


def _short(at: datetime | str | None, zone: ZoneInfo) -> str:
    """``dd.mm HH:MM`` in ``zone`` (the table's times)."""
    if at is None:
        return ""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(zone).strftime("%d.%m %H:%M")


@click.command("dispatch-plan")
@click.option("--oblast", "oblasts", multiple=True,
              help="Oblast to plan (repeatable), as in the registry, with or without "
                   "\"область\"; default: every oblast of the depots file.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--write", "write_db", is_flag=True,
              help="Also append the plan to the database (the Grafana fuel dashboard shows it).")
@click.option("--every", "every_minutes", type=float, default=None,
              help="Recompute (and write) every this many minutes until stopped.")
@click.option("--call-in", "driver", default=None, metavar="DRIVER",
              help="Record that this on-call driver (depots file) was called in, and exit: "
                   "the next plans use the driver.")
def dispatch_plan(oblasts: tuple[str, ...], fmt: str, write_db: bool,
                  every_minutes: float | None, driver: str | None) -> None:
    """Truck runs per oblast: who gets fuel, from which depot, in which order."""
    settings = get_settings()
    depots = load_depots(settings.depots_file)
    if driver is not None:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            click.echo(call_in(conn, depots, driver))
        return
    names = [depots.oblast(o)[0] for o in oblasts] or list(depots.oblasts)
    while True:
        with psycopg.connect(settings.database_url) as conn:
            if write_db or every_minutes is not None:
                # Stops a refuel has closed since the last plan are delivered, not re-planned.
                for d in record_deliveries(conn):
                    seen = "" if d.litres_seen is None else f", {d.litres_seen:.0f} l seen"
                    click.echo(f"delivered: {d.point_id} by {d.truck_id} ({d.depot}) at "
                               f"{d.delivered_at.isoformat(timespec='minutes')}{seen}", err=True)
            for name in names:
                dispatch = compute(conn, name, settings, depots)
                if write_db or every_minutes is not None:
                    write(conn, dispatch)
                if every_minutes is None:
                    render(dispatch, fmt, sys.stdout)
                else:
                    plan = dispatch.plan
                    advice = "" if dispatch.call_in is None else f"; {dispatch.call_in.say()}"
                    click.echo(f"{dispatch.clock(dispatch.computed_at)} {name}: {plan.reached} "
                               f"reached, {len(plan.unreached)} not "
                               f"({plan.solve_seconds:.1f} s){advice}", err=True)
        if every_minutes is None:
            return
        time.sleep(every_minutes * 60)
