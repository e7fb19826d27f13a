"""A throwaway database on the local cluster, for tests that migrate and fill their own."""

from __future__ import annotations

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
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
