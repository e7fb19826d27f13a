"""``nezlam refuel-plan``: the points a dispatcher must send fuel to, most urgent first.

Reads the ``refuel_plan`` view (migration 008): per point with a generator, the latest fuel
forecast, the litres needed to fill the tank, and ``hours_until_refuel_due`` = hours to empty
minus the fuel-delivery lead time (below 0: a truck should already be on its way). The lead
times come from the alert rules file; :func:`sync_lead_times` writes them to the database.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import IO, Any

import click
import orjson
import psycopg
from psycopg import sql
from rich import box
from rich.console import Console
from rich.table import Table

from streams.config import get_settings
from streams.domain.alert_rules import AlertRules
from streams.domain.alert_text import check_zone, clock

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True, slots=True)
class RefuelRow:
    """One point of the plan (a row of the ``refuel_plan`` view)."""

    point_id: str
    name: str
    oblast: str
    hromada: str
    kind: str
    lat: float
    lon: float
    fuel_tank_l: float
    fuel_level_l: float | None
    litres_to_fill: float | None
    burn_rate_lph: float | None
    hours_to_empty: float | None
    empty_at: datetime | None
    hours_until_refuel_due: float | None
    last_reading_at: datetime
    lead_time_hours: float


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RefuelRow))


def fetch_plan(
    conn: psycopg.Connection[Any],
    *,
    oblast: str | None = None,
    due_within_hours: float | None = None,
    limit: int | None = None,
) -> list[RefuelRow]:
    """The plan, most urgent first; optionally one oblast, only points due within N hours.

    ``oblast`` matches case-insensitively, with or without the word "область".
    """
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    if oblast is not None:
        conditions.append(sql.SQL("lower(oblast) IN (lower(%s), lower(%s) || ' область')"))
        params += [oblast, oblast]
    if due_within_hours is not None:
        conditions.append(sql.SQL("hours_until_refuel_due <= %s"))
        params.append(due_within_hours)
    query = sql.SQL(
        "SELECT {columns} FROM refuel_plan{where}"
        " ORDER BY hours_until_refuel_due ASC NULLS LAST, litres_to_fill DESC, point_id{limit}"
    ).format(
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS),
        where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL(""),
        limit=sql.SQL(" LIMIT {}").format(sql.Literal(limit)) if limit is not None else sql.SQL(""),
    )
    return [RefuelRow(*row) for row in conn.execute(query, params).fetchall()]


def lead_time_rows(rules: AlertRules) -> list[tuple[str, str, float]]:
    """(oblast, kind, hours) rows for ``fuel_lead_times``; ``*`` stands for any."""
    rows = [("*", "*", rules.thresholds.fuel_lead_time_hours)]
    rows += [("*", kind, t.fuel_lead_time_hours) for kind, t in rules.kind_thresholds.items()]
    rows += [
        (oblast, kind, t.fuel_lead_time_hours)
        for (oblast, kind), t in rules.oblast_thresholds.items()
    ]
    return rows


def sync_lead_times(conn: psycopg.Connection[Any], rules: AlertRules) -> int:
    """Replace ``fuel_lead_times`` with the lead times of ``rules`` in one transaction.

    Call it when the worker starts, after loading the rules file, so the refuel plan counts
    with the lead times the fuel alerts use. Returns the number of rows written.
    """
    rows = lead_time_rows(rules)
    oblasts, kinds, hours = (list(column) for column in zip(*rows, strict=True))
    with conn.transaction():
        # Workers starting together would each delete, then each insert the same keys: the
        # second insert fails on the primary key. The lock makes them take turns.
        conn.execute("LOCK TABLE fuel_lead_times IN SHARE ROW EXCLUSIVE MODE")
        conn.execute("DELETE FROM fuel_lead_times")
        conn.execute(
            "INSERT INTO fuel_lead_times (oblast, kind, hours)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[])",
            [oblasts, kinds, hours],
        )
    return len(rows)


def write_csv(rows: Iterable[RefuelRow], out: IO[str]) -> None:
    """One header line, then one line per point; times in RFC 3339."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_plain(value) for value in astuple(row))


def write_json(rows: Iterable[RefuelRow], out: IO[str]) -> None:
    """A JSON array of objects keyed by column name; times in RFC 3339."""
    records = [dict(zip(COLUMNS, (_plain(v) for v in astuple(row)), strict=True)) for row in rows]
    out.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")


def fetch_trucks(conn: psycopg.Connection[Any]) -> dict[str, tuple[str | None, datetime | None]]:
    """point_id -> (truck, arrival) in its oblast's newest dispatch plan, or (None, None) for a
    point that plan cannot reach in time."""
    found: dict[str, tuple[str | None, datetime | None]] = {
        point: (None, None) for (point,) in
        conn.execute("SELECT point_id FROM dispatch_unreached_latest").fetchall()}
    found.update({point: (truck, at) for point, truck, at in conn.execute(
        "SELECT point_id, truck_id, arrives_at FROM dispatch_stops_latest").fetchall()})
    return found


def render_table(
    rows: Sequence[RefuelRow], console: Console, *, zone: str, now: float,
    trucks: dict[str, tuple[str | None, datetime | None]] | None = None,
) -> None:
    """A table for a dispatcher's terminal; times are local times of ``zone``; ``trucks``: the
    newest dispatch plans' truck and arrival per point (:func:`fetch_trucks`)."""
    trucks = trucks or {}
    table = Table(
        title=f"Refuel plan: {len(rows)} points, most urgent first",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
    )
    # The point column wraps; the figures never do, so a narrow terminal still shows them all.
    table.add_column("point", min_width=20, ratio=1)
    for header in ("due in", "left", "dry at", "fill l", "fuel/tank", "l/h", "report", "truck"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("lat, lon", no_wrap=True)
    for row in rows:
        due = row.hours_until_refuel_due
        table.add_row(
            f"[bold]{row.point_id}[/] {row.name}, {row.hromada}, {row.oblast}",
            _hours(due, style="bold red" if due is not None and due <= 0 else None),
            _hours(row.hours_to_empty),
            _time(row.empty_at, zone, now),
            _number(row.litres_to_fill),
            f"{_number(row.fuel_level_l)}/{_number(row.fuel_tank_l)}",
            _number(row.burn_rate_lph, "{:.1f}"),
            _time(row.last_reading_at, zone, now),
            _truck(trucks.get(row.point_id), zone, now),
            f"{row.lat:.4f},{row.lon:.4f}",
        )
    console.print(table)


@click.command("refuel-plan")
@click.option("--oblast", default=None, help='Only this oblast, e.g. "Харківська".')
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for reading, csv or json for other tools.",
)
@click.option(
    "--due-within",
    type=float,
    default=None,
    metavar="HOURS",
    help="Only points whose refuel is due within this many hours.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@click.option("--dsn", default=None, help="Database DSN; default NEZLAM_DATABASE_URL.")
@click.option(
    "--timezone", "zone", default="Europe/Kyiv", show_default=True, help="For times in the table."
)
def refuel_plan(
    oblast: str | None,
    output_format: str,
    due_within: float | None,
    limit: int | None,
    dsn: str | None,
    zone: str,
) -> None:
    """Points ordered by the hours left before they must be refuelled (for dispatchers)."""
    try:
        check_zone(zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from exc
    try:
        with psycopg.connect(dsn or get_settings().database_url, connect_timeout=10) as conn:
            rows = fetch_plan(conn, oblast=oblast, due_within_hours=due_within, limit=limit)
            trucks = fetch_trucks(conn)
            now = conn.execute("SELECT extract(epoch FROM now())::float8").fetchone()
    except psycopg.Error as exc:
        raise click.ClickException(f"cannot read the refuel plan: {exc}") from exc
    if output_format == "csv":
        write_csv(rows, sys.stdout)
    elif output_format == "json":
        write_json(rows, sys.stdout)
    else:
        render_table(rows, Console(), zone=zone, now=float(now[0]) if now else 0.0,
                     trucks=trucks)


def _truck(planned: tuple[str | None, datetime | None] | None, zone: str, now: float) -> str:
    """"VN-1c 21:52" (the truck and its arrival), "[red]none[/]" (the plan cannot reach it),
    "—" (not in a current plan)."""
    if planned is None:
        return "—"
    truck, at = planned
    if truck is None or at is None:
        return "[bold red]none[/]"
    return f"{truck} {_time(at, zone, now)}"


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _number(value: float | None, spec: str = "{:.0f}") -> str:
    return "—" if value is None else spec.format(value)


def _hours(value: float | None, style: str | None = None) -> str:
    text = "—" if value is None else f"{value:.1f} h"
    return f"[{style}]{text}[/]" if style else text


def _time(value: datetime | None, zone: str, now: float) -> str:
    return "—" if value is None else clock(value.timestamp(), now, zone)
