"""Every SQL query of every dashboard, expanded the way Grafana's PostgreSQL datasource expands
it (TimescaleDB toggle on: ``$__timeGroup`` is ``time_bucket``), runs as ``nezlam_reader`` on a
simulated network and returns the columns its panel reads, with rows: on plain PostgreSQL (the
local cluster, time_bucket shim) and on TimescaleDB (WASM build).

The dashboards' variables are resolved as Grafana resolves them: their own queries run first,
"All" selects every option, a single-value variable takes its first option.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, VariableModel

from streams.dashboards import datasources
from streams.dashboards.base import ALL
from streams.dashboards.grafana_macros import TimeRange, Variable, expand, parse_duration
from streams.dashboards.query import ResultFormat, SqlQuery
from streams.dashboards.render import build_all
from tests.integration import dashboard_db
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]
READER = "nezlam_reader"
# What $__interval is when a panel sets no minimum (Grafana derives it from the panel width).
DEFAULT_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Case:
    """One SQL target of one panel."""

    dashboard: Dashboard
    panel: Panel
    query: SqlQuery

    @property
    def name(self) -> str:
        return f"{self.dashboard.uid}/{self.panel.title}/{self.query.ref_id}"


def _cases() -> list[Case]:
    return [
        Case(dashboard, panel, target)
        for dashboard in build_all().values()
        for panel in dashboard.panels or []
        if isinstance(panel, Panel)
        for target in panel.targets or []
        if isinstance(target, SqlQuery)
    ]


CASES = _cases()


@pytest.fixture(scope="module")
def now() -> datetime:
    """The moment the simulated network's data ends."""
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def postgres_dsn(now: datetime) -> Iterator[str]:
    """Admin DSN of a throwaway local database holding the simulated network."""
    with scratch_postgres("nezlam_dash") as dsn:
        dashboard_db.load(dsn, "off", now)
        yield dsn


@pytest.fixture(scope="module")
def postgres(postgres_dsn: str) -> Iterator[Conn]:
    """A reader's connection to the local database holding the simulated network."""
    with dashboard_db.connect_as(postgres_dsn, READER) as conn:
        yield conn


@pytest.fixture(scope="module")
def timescaledb(
    now: datetime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Conn]:
    """The one connection to a private TimescaleDB (WASM) with the network, as the reader."""
    with dashboard_db.wasm_timescaledb(tmp_path_factory.mktemp("dash-tsdb")) as dsn:
        dashboard_db.load(dsn, "on", now)
        with (dashboard_db.connect(dsn) as conn,
              dashboard_db.acting_as(conn, READER)):
            yield conn


def test_there_are_sql_panels_in_every_database_dashboard() -> None:
    by_dashboard = {case.dashboard.uid for case in CASES}
    assert by_dashboard == {"nezlam-operations", "nezlam-fuel", "nezlam-occupancy", "nezlam-alerts"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_panel_sql_on_postgres(postgres: Conn, now: datetime, case: Case) -> None:
    _check(postgres, now, case)


@pytest.mark.timescaledb
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_panel_sql_on_timescaledb(timescaledb: Conn, now: datetime, case: Case) -> None:
    _check(timescaledb, now, case)


@pytest.mark.timescaledb
def test_rollup_panels_answer_alike_in_both_modes_refreshed_or_not(
    postgres_dsn: str, postgres: Conn, timescaledb: Conn, now: datetime
) -> None:
    """The panels over the rollups: plain PostgreSQL from raw rows (not refreshed), then from
    its stored rollups (refreshed as the stack does), and TimescaleDB from its continuous
    aggregates (refreshed), give the same rows."""
    assert ROLLUP_CASES, "some panels read the rollups"
    raw = {case.name: _answer(postgres, now, case) for case in ROLLUP_CASES}
    with dashboard_db.connect_as(postgres_dsn, "nezlam_writer") as writer:
        writer.execute("SELECT refresh_hourly_rollups()")
    for case in ROLLUP_CASES:
        assert raw[case.name], f"{case.name}: no rows"
        assert _answer(postgres, now, case) == raw[case.name], f"{case.name}: stored differs"
        assert _answer(timescaledb, now, case) == raw[case.name], f"{case.name}: TimescaleDB"


# The panels that read a rollup (either level), directly or through a view over one.
ROLLUPS = ("occupancy_point_hourly", "telemetry_hourly", "occupancy_oblast_hourly",
           "telemetry_oblast_daily", "occupancy_hourly", "fuel_use_daily")
ROLLUP_CASES = [case for case in CASES if any(r in case.query.raw_sql for r in ROLLUPS)]


def _answer(conn: Conn, now: datetime, case: Case) -> list[tuple[object, ...]]:
    """The panel's rows, floats rounded (the modes may sum in another order)."""
    rows = conn.execute(_expanded(conn, now, case).encode()).fetchall()
    return [tuple(round(v, 6) if isinstance(v, float | Decimal) else v for v in row)
            for row in rows]


def _expanded(conn: Conn, now: datetime, case: Case) -> str:
    time_range = _time_range(case.dashboard, case.panel, now)
    variables = _resolve_variables(conn, case.dashboard, time_range)
    return expand(case.query.raw_sql, time_range=time_range, interval=_interval(case.panel),
                  variables=variables)


def _check(conn: Conn, now: datetime, case: Case) -> None:
    sql = _expanded(conn, now, case)
    assert "$" not in sql, f"left unexpanded:\n{sql}"
    cursor = conn.execute(sql.encode())
    names = [column.name for column in cursor.description or []]
    rows = cursor.fetchall()
    missing = set(case.query.columns) - set(names)
    assert not missing, f"{case.name}: no column {sorted(missing)} in {names}"
    assert rows, f"{case.name}: no rows over the simulated network\n{sql}"
    if case.query.format is ResultFormat.TIME_SERIES:
        times = [row[names.index("time")] for row in rows]
        stamps = [t for t in times if isinstance(t, datetime)]
        assert stamps == times, f"{case.name}: time is not a timestamp"
        assert stamps == sorted(stamps), f"{case.name}: rows not ordered by time"


def _time_range(dashboard: Dashboard, panel: Panel, now: datetime) -> TimeRange:
    """The dashboard's range, or the panel's relative override ("last 14d")."""
    if panel.time_from:
        return TimeRange(now - parse_duration(panel.time_from), now)
    assert dashboard.time is not None
    return TimeRange.relative(dashboard.time.from_val, dashboard.time.to, now)


def _interval(panel: Panel) -> timedelta:
    return parse_duration(panel.interval) if panel.interval else DEFAULT_INTERVAL


def _resolve_variables(
    conn: Conn, dashboard: Dashboard, time_range: TimeRange
) -> dict[str, Variable]:
    """Each variable's selection, in order (a variable's query may use the ones before it)."""
    resolved: dict[str, Variable] = {}
    variables = dashboard.templating.list_val if dashboard.templating else None
    for variable in variables or []:
        options = _options(conn, variable, resolved, time_range)
        assert options, f"variable ${variable.name} of {dashboard.uid} has no options"
        selects_all = variable.current is not None and variable.current.value == ALL
        resolved[variable.name] = Variable(
            values=options if selects_all else options[:1],
            quoted=bool(variable.multi or variable.include_all),
        )
    return resolved


def _options(
    conn: Conn, variable: VariableModel, resolved: dict[str, Variable], time_range: TimeRange
) -> list[str]:
    """A variable's options: its custom values, or its query's rows (``__value`` if named)."""
    assert isinstance(variable.query, str)
    if variable.type_val == "custom":
        return variable.query.split(",")
    assert variable.datasource is not None
    assert variable.datasource.uid == datasources.POSTGRES_UID
    sql = expand(variable.query, time_range=time_range, interval=DEFAULT_INTERVAL,
                 variables=resolved)
    cursor = conn.execute(sql.encode())
    names = [column.name for column in cursor.description or []]
    column = names.index("__value") if "__value" in names else 0
    return [str(row[column]) for row in cursor.fetchall()]
