"""The ten ready queries of docs/analysts.md, read from the document itself, run as
``nezlam_analyst`` over a simulated network on plain PostgreSQL and on TimescaleDB (WASM), and
answer; the read-only roles cannot write anything."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors

from tests import REPO_ROOT
from tests.integration import dashboard_db
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]
ANALYST = "nezlam_analyst"
READ_ONLY_ROLES = ("nezlam_analyst", "nezlam_reader")
DOC = REPO_ROOT / "docs" / "analysts.md"
# A heading "### N. Question" followed, after some prose, by one ```sql block.
_QUERY = re.compile(r"^### (\d+)\. (.+?)$.*?^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)
WRITES = (
    "INSERT INTO visits (event_id, point_id, ts, kind, people)"
    " VALUES ('w', 'dash-kyiv-1', now(), 'arrival', 1)",
    "UPDATE points SET name = 'renamed' WHERE point_id = 'dash-kyiv-1'",
    "DELETE FROM alert_events",
    "TRUNCATE telemetry",
    "CREATE TABLE scratch (x int)",
)


@dataclass(frozen=True)
class AnalystQuery:
    """One ready query of the document."""

    number: int
    question: str
    sql: str


def _queries() -> list[AnalystQuery]:
    section = DOC.read_text(encoding="utf-8").split("## Ready queries", 1)[1]
    return [AnalystQuery(int(n), q.strip(), sql) for n, q, sql in _QUERY.findall(section)]


QUERIES = _queries()
IDS = [f"{q.number}-{q.question}" for q in QUERIES]


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
def analyst(postgres_dsn: str) -> Iterator[Conn]:
    """A login as the analyst: read-only session, statement timeout."""
    with dashboard_db.connect_as(postgres_dsn, ANALYST) as conn:
        yield conn


@pytest.fixture(scope="module")
def tsdb(now: datetime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conn]:
    """The one connection to a private TimescaleDB (WASM) holding the simulated network."""
    with dashboard_db.wasm_timescaledb(tmp_path_factory.mktemp("analyst-tsdb")) as dsn:
        dashboard_db.load(dsn, "on", now)
        with dashboard_db.connect(dsn) as conn:
            yield conn


def test_the_document_has_ten_numbered_queries() -> None:
    assert [q.number for q in QUERIES] == list(range(1, 11))


@pytest.mark.parametrize("query", QUERIES, ids=IDS)
def test_query_answers_as_analyst_on_postgres(analyst: Conn, query: AnalystQuery) -> None:
    rows = analyst.execute(query.sql.encode()).fetchall()
    assert rows, f"query {query.number} found nothing in the simulated network"


def test_silences_are_the_real_gaps(analyst: Conn) -> None:
    silences = next(q for q in QUERIES if q.question.startswith("Silences: gaps"))
    rows = analyst.execute(silences.sql.encode()).fetchall()
    # dash-lviv-2 stopped reporting 40 min ago; dash-kyiv-2 missed half an hour yesterday.
    assert sorted(str(row[1]) for row in rows) == ["dash-kyiv-2", "dash-lviv-2"]


@pytest.mark.timescaledb
@pytest.mark.parametrize("query", QUERIES, ids=IDS)
def test_query_answers_as_analyst_on_timescaledb(tsdb: Conn, query: AnalystQuery) -> None:
    with dashboard_db.acting_as(tsdb, ANALYST):
        rows = tsdb.execute(query.sql.encode()).fetchall()
    assert rows, f"query {query.number} found nothing in the simulated network"


# The queries that read a rollup (either level), directly or through a view over one.
ROLLUPS = ("occupancy_point_hourly", "telemetry_hourly", "occupancy_oblast_hourly",
           "telemetry_oblast_daily", "occupancy_hourly", "fuel_use_daily")
ROLLUP_QUERIES = [q for q in QUERIES if any(r in q.sql for r in ROLLUPS)]


def _answer(conn: Conn, query: AnalystQuery) -> list[tuple[object, ...]]:
    """The query's rows, numbers rounded (the modes may sum in another order)."""
    return [tuple(round(v, 6) if isinstance(v, float | Decimal) else v for v in row)
            for row in conn.execute(query.sql.encode()).fetchall()]


@pytest.mark.timescaledb
def test_rollup_queries_answer_alike_in_both_modes_refreshed_or_not(
    postgres_dsn: str, analyst: Conn, tsdb: Conn
) -> None:
    """Plain PostgreSQL from raw rows (not refreshed), then from its stored rollups (refreshed
    as the stack does), and TimescaleDB from its continuous aggregates give the same rows."""
    assert {q.number for q in ROLLUP_QUERIES} >= {2, 7, 8, 9}
    raw = {q.number: _answer(analyst, q) for q in ROLLUP_QUERIES}
    with dashboard_db.connect_as(postgres_dsn, "nezlam_writer") as writer:
        writer.execute("SELECT refresh_hourly_rollups()")
    for query in ROLLUP_QUERIES:
        assert raw[query.number], f"query {query.number}: no rows"
        assert _answer(analyst, query) == raw[query.number], f"query {query.number}: stored"
        with dashboard_db.acting_as(tsdb, ANALYST):
            assert _answer(tsdb, query) == raw[query.number], f"query {query.number}: TimescaleDB"


@pytest.mark.parametrize("statement", WRITES, ids=[w.split()[0] for w in WRITES])
@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_write(postgres_dsn: str, role: str, statement: str) -> None:
    with dashboard_db.connect_as(postgres_dsn, role) as conn:
        # The analyst's read-only session is a default a session can lift: the grants must
        # refuse the write all the same.
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement.encode())


def test_an_analyst_session_starts_read_only(analyst: Conn) -> None:
    with pytest.raises(errors.ReadOnlySqlTransaction):
        analyst.execute(WRITES[0].encode())


@pytest.mark.timescaledb
@pytest.mark.parametrize("statement", WRITES, ids=[w.split()[0] for w in WRITES])
@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_write_on_timescaledb(tsdb: Conn, role: str, statement: str) -> None:
    with dashboard_db.acting_as(tsdb, role), pytest.raises(errors.InsufficientPrivilege):
        tsdb.execute(statement.encode())


def _gaps(conn: Conn, query: AnalystQuery) -> list[tuple[object, ...]]:
    """The silences as (point, from, until), a gap still going on ending at None (now())."""
    rows = conn.execute(query.sql.encode()).fetchall()
    ongoing = {row[1] for row in rows if row[5] == max(r[5] for r in rows)}
    return sorted((row[1], row[4], None if row[1] in ongoing else row[5]) for row in rows)


def test_silences_answer_the_same_once_the_gaps_are_stored(
    postgres_dsn: str, analyst: Conn
) -> None:
    silences = next(q for q in QUERIES if q.question.startswith("Silences: gaps"))
    raw = _gaps(analyst, silences)
    with dashboard_db.connect_as(postgres_dsn, "nezlam_writer") as writer:
        writer.execute("SELECT refresh_report_gaps()")
        # A second refresh recomputes its lookback window: nothing doubles.
        writer.execute("SELECT refresh_report_gaps(INTERVAL '1 day')")
    stored = analyst.execute("SELECT point_id FROM report_gaps_stored").fetchall()
    assert ("dash-kyiv-2",) in stored, "yesterday's gap is read from the stored table"
    assert _gaps(analyst, silences) == raw


@pytest.mark.timescaledb
def test_silences_answer_the_same_once_stored_on_timescaledb(tsdb: Conn) -> None:
    silences = next(q for q in QUERIES if q.question.startswith("Silences: gaps"))
    with dashboard_db.acting_as(tsdb, ANALYST):
        raw = _gaps(tsdb, silences)
    with dashboard_db.acting_as(tsdb, "nezlam_writer"):
        tsdb.execute("SELECT refresh_report_gaps()")
    with dashboard_db.acting_as(tsdb, ANALYST):
        assert _gaps(tsdb, silences) == raw


# Queries 5 and 6 as they were before the stored openings (migration 017): a lookup in the raw
# reports per activation order.
RAW_OPENINGS = {
    5: """
SELECT
    p.oblast, a.point_id, p.name,
    a.ts AS activated_at,
    o.opened_at,
    o.opened_at - a.ts AS time_to_open,
    o.opened_at - a.ts <= INTERVAL '2 hours' AS within_two_hours
FROM activations AS a
JOIN points AS p USING (point_id)
LEFT JOIN LATERAL (
    SELECT min(t.ts) AS opened_at
    FROM telemetry AS t
    WHERE t.point_id = a.point_id AND t.status = 'open'
        AND t.ts >= a.ts AND t.ts < a.ts + INTERVAL '1 day'
) AS o ON true
WHERE a.action = 'activate' AND a.ts >= now() - INTERVAL '30 days'
ORDER BY a.ts DESC, a.point_id
""",
    6: """
WITH openings AS (
    SELECT
        p.oblast,
        a.ts AS activated_at,
        (SELECT min(t.ts) FROM telemetry AS t
         WHERE t.point_id = a.point_id AND t.status = 'open'
             AND t.ts >= a.ts AND t.ts < a.ts + INTERVAL '1 day') AS opened_at
    FROM activations AS a
    JOIN points AS p USING (point_id)
    WHERE a.action = 'activate' AND a.ts >= now() - INTERVAL '90 days'
)
SELECT
    oblast,
    count(*) AS activations,
    count(opened_at) AS opened,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY opened_at - activated_at) AS median_time_to_open,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY opened_at - activated_at) AS p90_time_to_open,
    round(avg((opened_at - activated_at <= INTERVAL '2 hours')::int), 2) AS share_within_two_hours
FROM openings
GROUP BY oblast
ORDER BY oblast
""",
}
OPENING_QUERIES = [q for q in QUERIES if q.number in RAW_OPENINGS]


def _raw_openings(conn: Conn) -> dict[int, list[tuple[object, ...]]]:
    return {n: conn.execute(sql.encode()).fetchall() for n, sql in RAW_OPENINGS.items()}


def _check_openings(conn: Conn, raw: dict[int, list[tuple[object, ...]]], step: str) -> None:
    for query in OPENING_QUERIES:
        assert raw[query.number], f"query {query.number}: no rows"
        assert conn.execute(query.sql.encode()).fetchall() == raw[query.number], (
            f"query {query.number}, {step}")


def test_openings_answer_as_the_raw_lookup_refreshed_or_not(
    postgres_dsn: str, analyst: Conn
) -> None:
    assert [q.number for q in OPENING_QUERIES] == [5, 6]
    raw = _raw_openings(analyst)
    _check_openings(analyst, raw, "not refreshed")
    with dashboard_db.connect_as(postgres_dsn, "nezlam_writer") as writer:
        writer.execute("SELECT refresh_activation_openings()")
    stored = analyst.execute("SELECT point_id FROM activation_openings_stored").fetchall()
    assert ("dash-odesa-2",) in stored, "the opening two days ago is stored"
    _check_openings(analyst, raw, "refreshed")


@pytest.mark.timescaledb
def test_openings_answer_as_the_raw_lookup_refreshed_or_not_on_timescaledb(tsdb: Conn) -> None:
    with dashboard_db.acting_as(tsdb, ANALYST):
        raw = _raw_openings(tsdb)
        _check_openings(tsdb, raw, "not refreshed")
    with dashboard_db.acting_as(tsdb, "nezlam_writer"):
        tsdb.execute("SELECT refresh_activation_openings()")
    with dashboard_db.acting_as(tsdb, ANALYST):
        _check_openings(tsdb, raw, "refreshed")
