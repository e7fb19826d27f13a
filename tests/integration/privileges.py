"""What each database role may and may not do, checked the same way on plain PostgreSQL (real
logins) and on the TimescaleDB-in-WASM server (SET ROLE on its one connection)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import pytest

from streams.sinks.database import TABLES, batch_document, insert_statement

Conn = psycopg.Connection[tuple[object, ...]]
# A connection acting as the named role, for the duration of the block.
AsRole = Callable[[str], AbstractContextManager[Conn]]

READ_ONLY_ROLES = ("nezlam_reader", "nezlam_analyst")
# Tables the writer appends to and never changes (no upsert in the sink).
APPEND_ONLY = ("telemetry", "visits", "activations", "fuel_forecast", "alert_events")

_SAMPLE = {"text": "sec-1", "timestamptz": "2026-03-01T10:00:00Z", "date": "2026-03-01",
           "float8": 1.5, "float4": 1.5, "numeric": 1.5, "int2": 1, "int4": 2, "int8": 3,
           "bool": True, "jsonb": {}, "json": {}}
# Columns under a CHECK constraint.
_CHECKED = {"kind": "permanent", "status": "firing"}


def sink_rows() -> Iterator[tuple[str, Any, str]]:
    """(table, the sink's statement, a one-row batch) for every table the sink writes."""
    for spec in TABLES.values():
        row = {name: _CHECKED.get(name, _SAMPLE[pgtype]) for name, pgtype in spec.columns}
        yield spec.table, insert_statement(spec), batch_document([row])


def check_writer_runs_every_sink_statement_twice(as_role: AsRole) -> None:
    """The sink's own statements, replays (and so upserts) included, pass the grants."""
    with as_role("nezlam_writer") as conn:
        for _table, statement, batch in sink_rows():
            conn.execute(statement, [batch])
            conn.execute(statement, [batch])


def check_writer_cannot_change_history(as_role: AsRole) -> None:
    with as_role("nezlam_writer") as conn:
        for table in APPEND_ONLY:
            for statement in (f"UPDATE {table} SET ts = ts",
                              f"DELETE FROM {table}",
                              f"TRUNCATE {table}"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM points")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE writer_scratch (x int)")


def check_read_only_role_cannot_write_or_create(as_role: AsRole, role: str) -> None:
    with as_role(role) as conn:
        # An analyst's session starts read-only; lifting that must still meet the grants.
        conn.execute("SET default_transaction_read_only = off")
        conn.execute("SELECT count(*) FROM point_status")
        for _table, statement, batch in sink_rows():
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, [batch])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE points SET name = name")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE reader_scratch (x int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE VIEW reader_view AS SELECT 1 AS x")


# What the stack's periodic refresh keeps in both modes (migrations 012, 017), and the
# functions that keep it: SECURITY DEFINER, run by the writer only.
REFRESHED_TABLES = ("report_gaps_stored", "report_gaps_frontier", "report_gaps_watermark",
                    "activation_openings_stored", "activation_openings_watermark")
REFRESH_FUNCTIONS = ("refresh_report_gaps", "refresh_activation_openings")


def check_only_the_writer_refreshes(as_role: AsRole) -> None:
    """The writer runs every refresh but cannot write what they keep; the read-only roles
    read it and cannot run them."""
    with as_role("nezlam_writer") as conn:
        for function in REFRESH_FUNCTIONS:
            conn.execute(f"SELECT {function}()")
        for table in REFRESHED_TABLES:
            for statement in (f"INSERT INTO {table} DEFAULT VALUES",
                              f"DELETE FROM {table}",
                              f"TRUNCATE {table}"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    for role in READ_ONLY_ROLES:
        with as_role(role) as conn:
            conn.execute("SET default_transaction_read_only = off")
            for table in (*REFRESHED_TABLES, "report_gaps", "activation_openings"):
                conn.execute(f"SELECT count(*) FROM {table}")
            for function in REFRESH_FUNCTIONS:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT {function}()")
