"""Stored activation openings (migration 017) on plain PostgreSQL, in a throwaway database:
``activation_openings`` answers what the raw lookup answers before and after each refresh,
whatever arrives late; only the writer refreshes. The TimescaleDB mode runs the same scenario
in test_timescaledb_wasm.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from streams.db.migrate import apply_migrations
from tests.integration import dashboard_db
from tests.integration.openings_scenario import check_openings_answer_as_the_raw_lookup
from tests.integration.privileges import AsRole, check_only_the_writer_refreshes
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture(scope="module")
def scratch_dsn() -> Iterator[str]:
    """Admin DSN of a fresh database migrated in plain mode, dropped afterwards."""
    with scratch_postgres("nezlam_openings") as dsn:
        apply_migrations(dsn, mode="off")
        yield dsn


@pytest.fixture()
def as_role(scratch_dsn: str) -> AsRole:
    @contextmanager
    def connect(role: str) -> Iterator[Conn]:
        with dashboard_db.connect_as(scratch_dsn, role) as conn:
            yield conn

    return connect


def test_the_view_answers_as_the_raw_lookup_whatever_arrives_late(
    scratch_dsn: str, as_role: AsRole
) -> None:
    with dashboard_db.connect(scratch_dsn) as owner:
        check_openings_answer_as_the_raw_lookup(owner, as_role)


def test_only_the_writer_refreshes(as_role: AsRole) -> None:
    check_only_the_writer_refreshes(as_role)
