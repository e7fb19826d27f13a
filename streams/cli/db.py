"""``nezlam db migrate|status|refresh-rollups``: the schema migrations, and the stored read
side: the gaps between reports and the activation openings (both modes), the plain mode's
hourly rollups and daily partitions."""

from __future__ import annotations

import time
from typing import LiteralString

import click
import psycopg
from psycopg import OperationalError
from psycopg.conninfo import conninfo_to_dict

from streams.config import get_settings
from streams.db.migrate import REQUESTED_MODES, MigrationError, apply_migrations, read_status
from streams.db.refresh import HOUR_SO_FAR_EVERY

_dsn_option = click.option(
    "--dsn",
    default=None,
    help="Admin DSN (owns the schema); default NEZLAM_ADMIN_DATABASE_URL.",
)
_mode_option = click.option(
    "--timescaledb",
    "mode",
    type=click.Choice(REQUESTED_MODES),
    default=None,
    help="TimescaleDB features: auto, on or off; default NEZLAM_TIMESCALEDB.",
)


@click.group()
def db() -> None:
    """Database schema and migrations."""


@db.command()
@_dsn_option
@_mode_option
def migrate(dsn: str | None, mode: str | None) -> None:
    """Apply pending migrations, each in its own transaction."""
    settings = get_settings()
    target = dsn or settings.admin_database_url
    click.echo(f"database: {_describe(target)}")
    started = time.monotonic()
    try:
        applied = apply_migrations(target, mode or settings.timescaledb, progress=click.echo)
    except (MigrationError, OperationalError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(applied)} applied in {time.monotonic() - started:.2f} s")


@db.command()
@_dsn_option
@_mode_option
def status(dsn: str | None, mode: str | None) -> None:
    """List applied migrations and the ones still pending."""
    settings = get_settings()
    target = dsn or settings.admin_database_url
    try:
        state = read_status(target, mode or settings.timescaledb)
    except (MigrationError, OperationalError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database: {_describe(target)}, mode: {state.mode}")
    for done in state.applied:
        click.echo(
            f"applied  {done.label}  {done.applied_at:%Y-%m-%d %H:%M:%S%z}  "
            f"{done.mode}  {done.checksum[:12]}"
        )
    for label in state.pending:
        click.echo(f"pending  {label}")


def _describe(dsn: str) -> str:
    """host:port/dbname of a DSN, never its password."""
    parts = conninfo_to_dict(dsn)
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


@db.command("refresh-rollups")
@click.option("--dsn", default=None,
              help="DSN of a role allowed to refresh (the writer); default NEZLAM_DATABASE_URL.")
@click.option("--every", type=float, default=None,
              help="Repeat every this many seconds (e.g. 900) until stopped; default once.")
@click.option("--hour-so-far-every", type=float,
              default=HOUR_SO_FAR_EVERY.total_seconds(), show_default=True,
              help="With --every, in plain PostgreSQL mode: between two whole refreshes, add "
                   "the readings since the last run to the stored hour so far this often.")
def refresh_rollups(dsn: str | None, every: float | None, hour_so_far_every: float) -> None:
    """Store the gaps between reports (``refresh_report_gaps()``) and when each activated
    standby point opened (``refresh_activation_openings()``), both modes, and, in plain
    PostgreSQL mode, the hourly rollups (the hour so far included) and the per-oblast ones
    built on them (``refresh_hourly_rollups()``) and keep the daily partitions: the next
    week's created, those past the 90-day retention dropped
    (``maintain_daily_partitions()``). Between two such refreshes, the hour so far is brought
    up to date every ``--hour-so-far-every`` seconds (``refresh_hour_so_far()``): the views
    then read about a minute of raw readings. TimescaleDB refreshes its continuous aggregates
    and drops old chunks itself."""
    target = dsn or get_settings().database_url
    whole_due = time.monotonic()
    while True:
        started = time.monotonic()
        whole = started >= whole_due
        try:
            with psycopg.connect(target, autocommit=True) as conn:
                if whole:
                    if not _refresh_whole(conn):
                        click.echo("nothing to refresh: TimescaleDB refreshes its own aggregates")
                        return
                    click.echo(f"rollups refreshed in {time.monotonic() - started:.1f} s")
                elif _count(conn, _HAS_HOUR_SO_FAR) > 0 and not _timescaledb(conn):
                    conn.execute("SELECT refresh_hour_so_far()")
        except psycopg.Error as exc:
            if every is None:
                raise click.ClickException(str(exc)) from exc
            # Repeating: a database restart must not end the refreshes. Retry after the short
            # interval; a whole refresh stays due until one succeeds.
            click.echo(f"refresh failed, retrying in {hour_so_far_every:.0f} s: {exc}", err=True)
            whole_due = max(whole_due, started + hour_so_far_every)
            whole = False
        if every is None:
            return
        if whole:
            whole_due = started + every
        next_run = min(whole_due, started + hour_so_far_every)
        try:
            time.sleep(max(0.0, next_run - time.monotonic()))
        except KeyboardInterrupt:  # Ctrl-C, or `make run` stopping its children
            return


def _refresh_whole(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    """Everything ``refresh-rollups`` keeps, once; False when there is nothing to keep."""
    gaps = _count(conn, _HAS_GAPS) > 0
    openings = _count(conn, _HAS_OPENINGS) > 0
    plain = not _timescaledb(conn)
    hourly = plain and _count(conn, _HAS_REFRESH) > 0
    partitions = plain and _count(conn, _HAS_PARTITIONS) > 0
    if not gaps and not openings and not hourly:
        return False
    if partitions:
        conn.execute("SELECT maintain_daily_partitions()")
    if hourly:
        conn.execute("SELECT refresh_hourly_rollups()")
    if gaps:
        conn.execute("SELECT refresh_report_gaps()")
    if openings:
        conn.execute("SELECT refresh_activation_openings()")
    return True


_HAS_REFRESH: LiteralString = (
    "SELECT count(*) FROM pg_proc WHERE proname = 'refresh_hourly_rollups'"
)
_HAS_HOUR_SO_FAR: LiteralString = (
    "SELECT count(*) FROM pg_proc WHERE proname = 'refresh_hour_so_far'"
)
_HAS_PARTITIONS: LiteralString = (
    "SELECT count(*) FROM pg_proc WHERE proname = 'maintain_daily_partitions'"
)
_HAS_GAPS: LiteralString = "SELECT count(*) FROM pg_proc WHERE proname = 'refresh_report_gaps'"
_HAS_OPENINGS: LiteralString = (
    "SELECT count(*) FROM pg_proc WHERE proname = 'refresh_activation_openings'"
)


def _timescaledb(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    return _count(conn, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") > 0


def _count(conn: psycopg.Connection[tuple[object, ...]], query: LiteralString) -> int:
    found = conn.execute(query).fetchone()
    return int(found[0]) if found and isinstance(found[0], int) else 0
