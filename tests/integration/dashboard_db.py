"""Databases loaded with the simulated network of ``dashboard_dataset``, in both modes: a
throwaway database on the local PostgreSQL cluster, and a private TimescaleDB-in-WASM server.

The WASM server is this module's own (not the session's ``tsdb_wasm_dsn``): that one is
checked by ``test_timescaledb_wasm.py`` to start empty, and serves one connection at a time.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from streams.db.migrate import apply_migrations
from streams.stack.process import stop_child
from tests.integration import dashboard_dataset
from tests.integration.db_contract import CONTINUOUS_AGGREGATES_IN_ORDER
from tests.integration.tsdb_wasm import TOOL_DIR, _wait_ready, free_port

Conn = psycopg.Connection[tuple[object, ...]]


@contextmanager
def wasm_timescaledb(log_dir: Path) -> Iterator[str]:
    """DSN of a private TimescaleDB-in-WASM server, stopped afterwards."""
    port = free_port()
    log = log_dir / "tsdb-wasm.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(TOOL_DIR / "start.sh"), "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        dsn = make_conninfo(
            host="127.0.0.1", port=port, user="postgres", password="x", dbname="postgres",
            sslmode="disable",
        )
        _wait_ready(server, log, dsn)
        yield dsn
    finally:
        stop_child(server, timeout=10)


def load(dsn: str, mode: str, now: datetime) -> None:
    """Migrate in ``mode`` (off / on), insert the simulated network, and in TimescaleDB mode
    refresh the continuous aggregates as their policies would."""
    apply_migrations(dsn, mode=mode)
    with connect(dsn) as conn:
        dashboard_dataset.insert(conn, now)
        if mode == "on":
            for view in CONTINUOUS_AGGREGATES_IN_ORDER:
                conn.execute(
                    sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(
                        sql.Literal(view)
                    )
                )


def connect(dsn: str) -> Conn:
    """An autocommit connection that never prepares statements: the WASM server is one
    backend for every connection, so a statement psycopg prepared on an earlier connection
    (it prepares after five runs) is still there under the same name."""
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


def connect_as(dsn: str, role: str) -> Conn:
    """A :func:`connect` logged in as ``role`` (local cluster: trust on loopback)."""
    return connect(make_conninfo(dsn, user=role))


@contextmanager
def acting_as(conn: Conn, role: str) -> Iterator[Conn]:
    """``SET ROLE`` for the block: the single-user WASM server's way to check privileges."""
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        yield conn
    finally:
        conn.execute("RESET ROLE")
