"""``nezlam bench history``: the read side at national scale.

Loads D days of the whole network's history into a database of its own
(``nezlam_bench_history`` on the stack's cluster, or the server ``--dsn`` names), then times
every dashboard panel's SQL as Grafana sends it (6 h, 24 h, 7 d, 30 d) and every ready query
of docs/analysts.md: median and worst of several runs, rows, the plan's top node and the
relations it reads; and the database's size per table and per day of history.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from streams.bench import history_data
from streams.bench.read_queries import ReadQuery, analyst_queries, panel_queries
from streams.config import Settings
from streams.db.migrate import MigrationError, apply_migrations
from streams.db.refresh import HOUR_SO_FAR_EVERY, REFRESH_EVERY
from streams.simulate.registry import FULL_NETWORK

Conn = psycopg.Connection[tuple[object, ...]]

DATABASE = "nezlam_bench_history"
TABLES = ("telemetry", "fuel_forecast", "occupancy", "visits", "activations", "alert_events",
          "points", "telemetry_hourly_stored", "occupancy_point_hourly_stored",
          "occupancy_oblast_hourly_stored", "telemetry_oblast_daily_stored",
          "telemetry_point_daily_stored", "telemetry_hourly", "occupancy_point_hourly",
          "occupancy_oblast_hourly", "telemetry_oblast_daily", "activation_openings_stored")
# The stored rollups, gaps and openings and their watermarks, emptied when --extend loads days
# before the stored ones (the periodic refresh only recomputes its lookback).
STORED = ("telemetry_hourly_stored", "occupancy_point_hourly_stored",
          "occupancy_oblast_hourly_stored", "telemetry_oblast_daily_stored",
          "telemetry_point_daily_stored", "rollup_watermarks",
          "report_gaps_stored", "report_gaps_frontier", "report_gaps_watermark",
          "activation_openings_stored", "activation_openings_watermark")
READER = "nezlam_reader"
ANALYST = "nezlam_analyst"
# The roles' own settings (ALTER ROLE ... SET) that change how a query is planned and run;
# the bench runs as the owner, so it applies them per query.
PLANNER_SETTINGS = ("jit", "work_mem")
# A query slower than this is timed once: the figure is what matters, not its spread.
SLOW_S = 10.0
TIMEOUT_S = 180


@dataclass(frozen=True)
class Timing:
    """One query's figures."""

    group: str
    name: str
    range: str
    median_ms: float | None
    worst_ms: float | None
    runs: int
    rows: int | None
    top_node: str
    reads: list[str]
    error: str | None = None


@dataclass(frozen=True)
class TableSize:
    """One table's size (with its indexes, partitions or chunks)."""

    table: str
    rows: int
    bytes: int


@click.command("history")
@click.option("--days", type=float, default=7.0, show_default=True,
              help="Days of national history to load (fractions allowed).")
@click.option("--runs", type=int, default=3, show_default=True,
              help="Runs per query (the median and the worst are reported).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures to this JSON file.")
@click.option("--keep", is_flag=True, help="Keep the database afterwards (default: drop it).")
@click.option("--reuse", is_flag=True,
              help="Time the database a --keep run left behind instead of loading again.")
@click.option("--extend", type=float, default=0.0, show_default=True,
              help="With --reuse: first load this many more days before the loaded history "
              "(the stored rollups are then rebuilt from scratch).")
@click.option("--dsn", help="Load into this server's database instead of the local cluster "
              "(an admin DSN, e.g. the TimescaleDB-in-WASM server); nothing is dropped.")
@click.option("--points", type=click.IntRange(1, FULL_NETWORK), default=FULL_NETWORK,
              show_default=True, help="Points of the network (fewer: a reduced volume, e.g. "
              "for the TimescaleDB-in-WASM server).")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
def history(days: float, runs: int, json_path: Path | None, keep: bool, reuse: bool,
            extend: float, dsn: str | None, points: int, seed: int) -> None:
    """Load D days of national history and time every panel and analyst query."""
    if days <= 0 or runs < 1 or extend < 0:
        raise click.BadParameter("--days and --runs must be positive, --extend not negative")
    if extend and not reuse:
        raise click.BadParameter("--extend adds days to a kept database: give --reuse too")
    own_database = dsn is None
    target = dsn or make_conninfo(Settings().admin_database_url, dbname=DATABASE)
    try:
        if own_database and not reuse:
            _recreate(target)
        mode_lines: list[str] = []
        apply_migrations(target, "auto", progress=mode_lines.append)
        with psycopg.connect(target, autocommit=True, prepare_threshold=None) as conn:
            timescaledb = _has_timescaledb(conn)
            end = _loaded_until(conn) if reuse else None
            if end is None:
                end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                _load(conn, end - timedelta(days=days), end, seed, points, timescaledb)
            else:
                click.echo(f"reusing the history loaded up to {end:%Y-%m-%d %H:%M} UTC")
                if extend:
                    first = _loaded_from(conn)
                    # Whole hours, so the last hour loaded ends where the history began.
                    start = first - timedelta(hours=round(extend * 24))
                    _load(conn, start, first, seed, points, timescaledb)
                    _forget_stored(conn)
            loaded_days = _loaded_days(conn, end)
            loaded_points = _rows(conn, "SELECT count(*) FROM points")[0][0]
            click.echo("refreshing rollups and statistics ...")
            refresh_s = _refresh(conn, timescaledb, end)
            now = end
            queries = panel_queries(lambda text: _rows(conn, text), now,
                                    timedelta(days=loaded_days))
            queries += analyst_queries()
            planner = {role: _planner_settings(conn, role) for role in (READER, ANALYST)}
            timings = []
            for query in _progress(queries):
                # As the role that sends it would: Grafana logs in as the reader.
                role = ANALYST if query.group == "analysts" else READER
                for name, value in planner[role].items():
                    conn.execute(sql.SQL("SELECT set_config({}, {}, false)").format(
                        sql.Literal(name), sql.Literal(value)))
                timings.append(_time(conn, query, runs, now))
            if timescaledb:
                timings = _name_chunks(conn, timings)
            sizes = _sizes(conn, timescaledb)
            policies = _policies(conn) if timescaledb else []
        report = {
            "points": loaded_points,
            "mode": "timescaledb" if timescaledb else "postgres",
            "days": round(loaded_days, 2),
            "runs": runs,
            "refresh_s": round(refresh_s, 2),
            "timings": [asdict(t) for t in timings],
            "sizes": [asdict(s) for s in sizes],
            "policies": policies,
        }
        click.echo(render(report))
        if json_path is not None:
            json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            click.echo(f"wrote {json_path}")
    except psycopg.OperationalError as error:
        raise click.ClickException(f"cannot reach the database: {error}") from error
    except MigrationError as error:
        raise click.ClickException(str(error)) from error
    finally:
        if own_database and not keep:
            _drop(target)


def _recreate(dsn: str) -> None:
    _drop(dsn)
    name = str(conninfo_to_dict(dsn)["dbname"])
    with _server(dsn) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop(dsn: str) -> None:
    name = str(conninfo_to_dict(dsn)["dbname"])
    with _server(dsn) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


@contextmanager
def _server(dsn: str) -> Iterator[Conn]:
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        yield conn


def _has_timescaledb(conn: Conn) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    found = row.fetchone()
    return bool(found and found[0])


def _loaded_until(conn: Conn) -> datetime | None:
    row = conn.execute("SELECT max(ts) FROM telemetry").fetchone()
    if row is None or row[0] is None:
        return None
    assert isinstance(row[0], datetime)
    return row[0].replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _loaded_from(conn: Conn) -> datetime:
    """The first hour of the loaded history."""
    row = conn.execute("SELECT min(ts) FROM telemetry").fetchone()
    if row is None or not isinstance(row[0], datetime):
        raise click.ClickException("nothing loaded to extend")
    return row[0].replace(minute=0, second=0, microsecond=0)


def _forget_stored(conn: Conn) -> None:
    """Empty the stored rollups, gaps and openings, so the refresh after an --extend rebuilds
    them over the whole history."""
    for table in STORED:
        if conn.execute("SELECT to_regclass(%s)", [table]).fetchone() != (None,):
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))


def _loaded_days(conn: Conn, end: datetime) -> float:
    row = conn.execute("SELECT min(ts) FROM telemetry").fetchone()
    if row is None or not isinstance(row[0], datetime):
        return 0.0
    return (end - row[0]).total_seconds() / 86400


def _load(conn: Conn, start: datetime, end: datetime, seed: int, points: int,
          timescaledb: bool) -> None:
    click.echo(f"loading {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC, "
               f"{points:,} points")
    history_data.insert_registry(conn, seed, points)
    started = time.monotonic()
    if not timescaledb and _function_exists(conn, "create_daily_partitions"):
        # Each day into its own partition, as the stack's maintenance would have made them.
        conn.execute("SELECT create_daily_partitions(%s, %s)", [start, end])
    # The current-state triggers (migration 013) cost an upsert per row: off for the bulk
    # load, the state rebuilt from the history once after it. TimescaleDB refuses to disable
    # a trigger on a hypertable with compression: there they stay on (its reduced volume).
    triggers = [] if timescaledb else _state_triggers(conn)
    for table, trigger in triggers:
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
            sql.Identifier(table), sql.Identifier(trigger)))
    with click.progressbar(length=int((end - start) / timedelta(hours=1)),
                           label="hours of history", show_eta=True, show_pos=True) as bar:
        history_data.load(conn, start, end, seed, lambda done, total: bar.update(1))
    history_data.drop_generator(conn)
    for table, trigger in triggers:
        conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER {}").format(
            sql.Identifier(table), sql.Identifier(trigger)))
    if triggers:
        conn.execute("SELECT rebuild_current_state()")
    click.echo(f"loaded in {time.monotonic() - started:,.0f} s")


def _state_triggers(conn: Conn) -> list[tuple[str, str]]:
    """(table, trigger) of the current-state triggers, where the schema has them."""
    found = conn.execute(
        "SELECT c.relname, t.tgname FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid"
        " WHERE t.tgname IN ('keep_telemetry_now', 'keep_occupancy_now', 'keep_fuel_forecast_now',"
        " 'keep_alert_state') AND NOT t.tgisinternal"
        " AND c.relname IN ('telemetry', 'occupancy', 'fuel_forecast', 'alert_events')"
    ).fetchall()
    return [(str(table), str(trigger)) for table, trigger in found]


def _refresh(conn: Conn, timescaledb: bool, end: datetime) -> float:
    """Bring the hourly rollups, the gaps between reports and the activation openings up to
    date as the stack's refresh would; ANALYZE. In plain mode the hourly rollups are stored as
    the stack leaves them at worst when the panels read at ``end``: the whole refresh one
    interval before, the hour so far one of its shorter intervals before."""
    started = time.monotonic()
    if timescaledb:
        # The hierarchical aggregates (over a materialization) after the ones they read.
        views = conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates"
            " ORDER BY hypertable_name LIKE '\\_materialized%', view_name"
        ).fetchall()
        for (view,) in views:
            conn.execute(sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(
                sql.Literal(view)))
    elif _function_exists(conn, "refresh_hourly_rollups"):
        conn.execute("SELECT refresh_hourly_rollups(refresh_at => %s)", [end - REFRESH_EVERY])
        if _function_exists(conn, "refresh_hour_so_far"):
            conn.execute("SELECT refresh_hour_so_far(refresh_at => %s)",
                         [end - HOUR_SO_FAR_EVERY])
        # What autovacuum's autosummarize does as ranges fill, at once after a bulk load.
        # Each partition's own index (relkind 'i'): a partitioned index holds no ranges.
        conn.execute("SELECT brin_summarize_new_values(indexrelid::regclass) FROM pg_index "
                     "JOIN pg_class AS c ON c.oid = indexrelid JOIN pg_am AS a "
                     "ON a.oid = c.relam WHERE a.amname = 'brin' AND c.relkind = 'i'")
    if _function_exists(conn, "refresh_report_gaps"):
        conn.execute("SELECT refresh_report_gaps()")
    if _function_exists(conn, "refresh_activation_openings"):
        conn.execute("SELECT refresh_activation_openings()")
    elapsed = time.monotonic() - started
    conn.execute("ANALYZE")
    return elapsed


def _function_exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_proc WHERE proname = %s", [name]).fetchone()
    return bool(row and row[0])


def _rows(conn: Conn, text: str) -> Sequence[Sequence[object]]:
    return conn.execute(text.encode()).fetchall()


def _progress(queries: list[ReadQuery]) -> Iterator[ReadQuery]:
    with click.progressbar(queries, label="timing queries", show_pos=True,
                           item_show_func=lambda q: q.name[:40] if q else "") as bar:
        yield from bar


def _planner_settings(conn: Conn, role: str) -> dict[str, str]:
    """The role's PLANNER_SETTINGS (its own or the server's where it sets none)."""
    found = {str(name): str(value) for name, value in conn.execute(
        "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
        [list(PLANNER_SETTINGS)]).fetchall()}
    for (entry,) in conn.execute(
        "SELECT unnest(s.setconfig) FROM pg_db_role_setting AS s"
        " JOIN pg_roles AS r ON r.oid = s.setrole WHERE r.rolname = %s"
        " AND s.setdatabase IN (0, (SELECT oid FROM pg_database"
        " WHERE datname = current_database())) ORDER BY s.setdatabase", [role]).fetchall():
        name, _, value = str(entry).partition("=")
        if name in PLANNER_SETTINGS:
            found[name] = value
    return found


def _time(conn: Conn, query: ReadQuery, runs: int, now: datetime) -> Timing:
    """Median and worst of ``runs`` runs; the plan's top node and the relations it reads."""
    del now  # the queries are expanded already
    conn.execute(f"SET statement_timeout = '{TIMEOUT_S}s'")
    text = query.sql.encode()
    try:
        plan = conn.execute(b"EXPLAIN (FORMAT JSON) " + text).fetchone()
        top, reads = _plan_summary(plan[0] if plan else [])
        seconds: list[float] = []
        rows = 0
        for _ in range(runs):
            started = time.perf_counter()
            rows = len(conn.execute(text).fetchall())
            seconds.append(time.perf_counter() - started)
            if seconds[-1] > SLOW_S:
                break
    except errors.QueryCanceled:
        return Timing(query.group, query.name, query.range_label, None, None, 0, None, "", [],
                      f"over {TIMEOUT_S} s")
    return Timing(query.group, query.name, query.range_label,
                  round(statistics.median(seconds) * 1000, 1), round(max(seconds) * 1000, 1),
                  len(seconds), rows, top, reads)


def _name_chunks(conn: Conn, timings: list[Timing]) -> list[Timing]:
    """TimescaleDB plans scan chunks (``_hyper_3_7_chunk``): name their hypertable instead,
    and a continuous aggregate's materialization by the aggregate's name (``cagg:...``)."""
    names: dict[str, str] = {}
    for chunk, table, cagg in conn.execute(_CHUNK_NAMES).fetchall():
        names[str(chunk)] = f"cagg:{cagg}" if cagg else str(table)
    return [
        replace(t, reads=sorted({names.get(r, r) for r in t.reads})) for t in timings
    ]


# Every chunk with its hypertable, and the continuous aggregate a materialized hypertable
# belongs to.
_CHUNK_NAMES = """
SELECT c.chunk_name, c.hypertable_name, a.view_name
FROM timescaledb_information.chunks AS c
LEFT JOIN timescaledb_information.continuous_aggregates AS a
    ON a.materialization_hypertable_name = c.hypertable_name
UNION ALL
SELECT a.materialization_hypertable_name, NULL, a.view_name
FROM timescaledb_information.continuous_aggregates AS a
"""


def _plan_summary(explained: object) -> tuple[str, list[str]]:
    """The top node (``Aggregate``, ``Sort`` ...) and the relations the plan scans."""
    if not isinstance(explained, list) or not explained:
        return "", []
    plan: dict[str, Any] = explained[0]["Plan"]
    reads: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        if "Relation Name" in node:
            reads.add(str(node["Relation Name"]))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return str(plan["Node Type"]), sorted(reads)


def _sizes(conn: Conn, timescaledb: bool) -> list[TableSize]:
    """Each table's rows (planner estimate after ANALYZE) and bytes, partitions included."""
    sizes: list[TableSize] = []
    hypertables: set[str] = set()
    if timescaledb:
        hypertables = {str(r[0]) for r in conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables")}
    for table in TABLES:
        if table in hypertables:
            row = conn.execute("SELECT (SELECT sum(greatest(reltuples, 0))::bigint FROM pg_class "
                               "WHERE oid IN (SELECT show_chunks(%(t)s::regclass))), "
                               "hypertable_size(%(t)s::regclass)", {"t": table}).fetchone()
        else:
            row = conn.execute(_SIZE_SQL, {"t": table, "tsdb": timescaledb}).fetchone()
        if row is None or row[0] is None:
            continue
        sizes.append(TableSize(table, _int(row[0]), _int(row[1])))
    return sizes


# Rows and bytes of a table with its partitions (plain mode) or the hypertable's chunks and a
# continuous aggregate's materialization (TimescaleDB mode).
_SIZE_SQL = """
WITH rel AS (
    SELECT c.oid, c.relkind FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relname = %(t)s AND n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
),
parts AS (
    SELECT t.relid FROM rel, pg_partition_tree(rel.oid) AS t WHERE rel.relkind IN ('r', 'p')
    UNION
    SELECT rel.oid FROM rel WHERE rel.relkind = 'r'
)
SELECT
    (SELECT sum(greatest(c.reltuples, 0))::bigint FROM parts JOIN pg_class AS c
         ON c.oid = parts.relid),
    (SELECT sum(pg_total_relation_size(relid)) FROM parts)
WHERE NOT %(tsdb)s OR (SELECT relkind FROM rel) IN ('r', 'p')
"""


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float | Decimal) else 0


def _policies(conn: Conn) -> list[dict[str, str]]:
    rows = conn.execute(
        "SELECT proc_name, hypertable_name, schedule_interval::text "
        "FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 1, 2"
    ).fetchall()
    return [{"policy": str(r[0]), "table": str(r[1]), "every": str(r[2])} for r in rows]


def render(report: dict[str, Any]) -> str:
    """The report as plain-text tables."""
    lines = [f"mode {report['mode']}, {report['points']:,} points, "
             f"{report['days']} days of history, "
             f"{report['runs']} runs per query, rollup refresh {report['refresh_s']} s", ""]
    header = f"{'query':<58} {'range':<10} {'median':>9} {'worst':>9} {'rows':>7}  plan"
    group = None
    for t in report["timings"]:
        if t["group"] != group:
            group = t["group"]
            lines += ["", group, header]
        if t["error"]:
            figures = f"{t['error']:>19} {'':>7}"
        else:
            figures = f"{_ms(t['median_ms'])} {_ms(t['worst_ms'])} {t['rows']:>7}"
        reads = ",".join(t["reads"])
        lines.append(f"{t['name'][:58]:<58} {t['range']:<10} {figures}  "
                     f"{t['top_node']} [{reads}]")
    days = report["days"] or 1
    lines += ["", f"{'table':<24} {'rows':>14} {'size':>10} {'per day':>10}"]
    total = 0
    for s in report["sizes"]:
        total += s["bytes"]
        lines.append(f"{s['table']:<24} {s['rows']:>14,} {_gb(s['bytes'])} "
                     f"{_gb(s['bytes'] / days)}")
    lines.append(f"{'total':<24} {'':>14} {_gb(total)} {_gb(total / days)}")
    for p in report["policies"]:
        lines.append(f"policy {p['policy']} on {p['table']} every {p['every']}")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    if value is None:
        return f"{'-':>9}"
    return f"{value / 1000:>8.2f}s" if value >= 1000 else f"{value:>7.0f}ms"


def _gb(value: float) -> str:
    return f"{value / 1e9:>8.2f}GB"
