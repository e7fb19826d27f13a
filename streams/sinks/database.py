"""Batched, idempotent writes of validated messages into PostgreSQL / TimescaleDB.

One statement per table and batch: ``INSERT ... SELECT ... FROM json_to_recordset($1) ON
CONFLICT``. The batch travels as one JSON document, encoded by orjson in C and taken apart by the
server: a single round trip without pipelines or COPY (which the WASM TimescaleDB used in tests
cannot serve), and far less client CPU than psycopg's per-element array adaptation, which
profiling showed as the sink's main cost. The natural primary keys make a replayed message a
no-op, which is what at-least-once delivery needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from streams.kafka import topics
from streams.kafka.outage import OutageLog, report


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How one topic's messages land in one table."""

    table: str
    columns: tuple[tuple[str, str], ...]  # (column, PostgreSQL type)
    key: tuple[str, ...]
    upsert: bool = False  # the newest message wins
    stamp_updated_at: bool = False  # the table has an updated_at column to set on upsert

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in insert order."""
        return tuple(name for name, _ in self.columns)


TABLES: Mapping[str, TableSpec] = {
    topics.REGISTRY: TableSpec(
        "points",
        (
            ("point_id", "text"),
            ("name", "text"),
            ("kind", "text"),
            ("oblast", "text"),
            ("hromada", "text"),
            ("lat", "float8"),
            ("lon", "float8"),
            ("capacity_people", "int4"),
            ("fuel_tank_l", "float8"),
        ),
        key=("point_id",),
        upsert=True,
        stamp_updated_at=True,
    ),
    topics.TELEMETRY: TableSpec(
        "telemetry",
        (
            ("point_id", "text"),
            ("ts", "timestamptz"),
            ("status", "text"),
            ("power", "text"),
            ("generator_running", "bool"),
            ("fuel_level_l", "float8"),
            ("heating_on", "bool"),
            ("internet_up", "bool"),
            ("indoor_temp_c", "float8"),
            ("headcount", "int4"),
        ),
        key=("point_id", "ts"),
    ),
    topics.VISITS: TableSpec(
        "visits",
        (
            ("event_id", "text"),
            ("point_id", "text"),
            ("ts", "timestamptz"),
            ("kind", "text"),
            ("people", "int4"),
        ),
        key=("event_id", "ts"),
    ),
    topics.ACTIVATIONS: TableSpec(
        "activations",
        (
            ("point_id", "text"),
            ("ts", "timestamptz"),
            ("action", "text"),
            ("requested_by", "text"),
        ),
        key=("point_id", "ts", "action"),
    ),
    topics.OCCUPANCY: TableSpec(
        "occupancy",
        (
            ("point_id", "text"),
            ("ts", "timestamptz"),
            ("people_inside", "int4"),
            ("visits_15m", "int4"),
            ("visits_1h", "int4"),
            ("visits_24h", "int4"),
            ("utilisation", "float8"),
        ),
        key=("point_id", "ts"),
        upsert=True,  # a later batch may restate the same moment with more visits applied
    ),
    topics.FUEL_FORECAST: TableSpec(
        "fuel_forecast",
        (
            ("point_id", "text"),
            ("ts", "timestamptz"),
            ("fuel_level_l", "float8"),
            ("burn_rate_lph", "float8"),
            ("hours_to_empty", "float8"),
            ("empty_at", "timestamptz"),
            ("confidence", "float8"),
            ("generator_running", "bool"),
            ("refuel_detected", "bool"),
        ),
        key=("point_id", "ts"),
    ),
    topics.ALERTS: TableSpec(
        "alert_events",
        (
            ("fingerprint", "text"),
            ("ts", "timestamptz"),
            ("status", "text"),
            ("alertname", "text"),
            ("severity", "text"),
            ("point_id", "text"),
            ("oblast", "text"),
            ("point_kind", "text"),
            ("summary", "text"),
            ("labels", "jsonb"),
            ("annotations", "jsonb"),
        ),
        key=("fingerprint", "ts", "status"),
    ),
}


def insert_statement(spec: TableSpec) -> sql.Composed:
    """The batch insert for one table: one JSON array of row objects as the only parameter."""
    cols = sql.SQL(", ").join(sql.Identifier(name) for name in spec.names)
    record = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pgtype))
        for name, pgtype in spec.columns
    )
    key = sql.SQL(", ").join(sql.Identifier(name) for name in spec.key)
    if spec.upsert:
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name))
            for name in spec.names
            if name not in spec.key
        )
        if spec.stamp_updated_at:
            updates = sql.SQL("{}, updated_at = now()").format(updates)
        conflict = sql.SQL("DO UPDATE SET {}").format(updates)
    else:
        conflict = sql.Composed([sql.SQL("DO NOTHING")])
    return sql.SQL(
        "INSERT INTO {table} ({cols}) SELECT {cols} FROM json_to_recordset(%s::json) AS r({record})"
        " ON CONFLICT ({key}) {conflict}"
    ).format(table=sql.Identifier(spec.table), cols=cols, record=record, key=key,
             conflict=conflict)


def batch_document(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as the JSON array the statement reads (keys it does not name are ignored)."""
    return orjson.dumps(rows).decode()


def latest_per_key(spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Keep the last row per key: ``ON CONFLICT DO UPDATE`` refuses a key twice in one statement."""
    newest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        newest[tuple(row.get(k) for k in spec.key)] = row
    return list(newest.values())


# Called for every failed write attempt with the table and the error's class name.
OnError = Callable[[str, str], None]


class DatabaseSink:
    """Writes batches of validated messages; retries transient failures, never drops a batch."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        max_backoff_seconds: float = 30.0,
        on_error: OnError | None = None,
        on_retry: Callable[[str], None] | None = None,
        outage: OutageLog | None = None,
    ) -> None:
        self._pool = pool
        self._statements = {topic: insert_statement(spec) for topic, spec in TABLES.items()}
        self._max_backoff = max_backoff_seconds
        self._on_error = on_error
        self._on_retry = on_retry
        self._outage = outage or OutageLog("PostgreSQL")

    async def write(self, topic: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert ``rows`` of ``topic``; returns how many rows were new (replays count zero).

        Raises ``psycopg.DataError``/``IntegrityError`` when the batch holds a row the database
        refuses: the caller isolates it with :meth:`write_each`. Connection problems are retried
        with exponential backoff until they pass, because acknowledging the batch without the
        write would lose it.
        """
        if not rows:
            return 0
        spec = TABLES[topic]
        if spec.upsert:
            rows = latest_per_key(spec, rows)
        params = [batch_document(rows)]
        if self._pool.closed:
            await self._pool.open(wait=False)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            wait=wait_exponential(multiplier=0.5, max=self._max_backoff),
            before_sleep=lambda state: self._retrying(spec.table, state),
            reraise=True,
        )
        try:
            written: int = await retrying(self._execute, self._statements[topic], params)
        except psycopg.Error as exc:  # refused rows: counted here, isolated by the caller
            if self._on_error is not None:
                self._on_error(spec.table, type(exc).__name__)
            raise
        report(self._outage.recovered(time.monotonic()), logging.INFO)
        return written

    async def _execute(self, statement: sql.Composed, params: list[str]) -> int:
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(statement, params)
            return max(cur.rowcount, 0)

    def _retrying(self, table: str, state: RetryCallState) -> None:
        error = None if state.outcome is None else state.outcome.exception()
        if self._on_error is not None:
            self._on_error(table, type(error).__name__)
        if self._on_retry is not None:
            self._on_retry(table)
        if isinstance(error, psycopg.OperationalError):
            report(self._outage.failed(time.monotonic(), _first_line(error)))

    async def write_each(
        self, topic: str, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[int, list[tuple[int, str]]]:
        """Insert row by row; returns (rows new, [(index, database error)] for refused rows)."""
        written = 0
        refused: list[tuple[int, str]] = []
        for index, row in enumerate(rows):
            try:
                written += await self.write(topic, [row])
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                refused.append((index, f"{type(exc).__name__}: {exc}".strip()))
        return written, refused


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
