"""A throwaway database on the local cluster, for tests that migrate and fill their own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from streams.config import get_settings


@contextmanager
def scratch_postgres(prefix: str = "nezlam_test") -> Iterator[str]:
    """Admin DSN of a fresh database on the local cluster, dropped afterwards."""
    admin_dsn = get_settings().admin_database_url
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    maintenance = make_conninfo(admin_dsn, dbname="postgres")
    try:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable; start it with `nezlam stack up`: {exc}")
    try:
        yield make_conninfo(admin_dsn, dbname=name)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            _await_other_roles_gone(conn, name)
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _await_other_roles_gone(conn: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    """Wait until the sessions of other roles (writer, reader, analyst) have ended.

    A closed client's server process exits a moment later; until it has, DROP ... WITH (FORCE)
    would have to signal it, which the owner may not (no pg_signal_backend, by design).
    """
    query = (
        "SELECT usename, state, query FROM pg_stat_activity"
        " WHERE datname = %s AND usename <> current_user"
    )
    deadline = time.monotonic() + 15.0
    while lingering := conn.execute(query, (name,)).fetchall():
        if time.monotonic() > deadline:
            pytest.fail(f"sessions still open on {name} at teardown: {lingering}")
        time.sleep(0.05)
