"""Least privilege on the local stack: passwords on every TCP login, the roles' grants, and a
worker whose HTTP server answers on loopback only and serves none of Faust's state views."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from streams.config import Settings
from streams.stack import pgpass
from tests.integration.privileges import (
    READ_ONLY_ROLES,
    AsRole,
    Conn,
    check_only_the_writer_refreshes,
    check_read_only_role_cannot_write_or_create,
    check_writer_cannot_change_history,
    check_writer_runs_every_sink_statement_twice,
)
from tests.integration.worker_process import Worker

pytestmark = pytest.mark.integration


def _tcp(admin_dsn: str, **params: str) -> str:
    """The local database over TCP with ``params`` (no passfile unless given: None drops it)."""
    return make_conninfo(make_conninfo(admin_dsn, passfile=None, connect_timeout=5), **params)


# --- PostgreSQL authentication ------------------------------------------------------------------


@pytest.mark.parametrize("role", pgpass.ROLES)
def test_tcp_login_needs_the_roles_password(admin_dsn: str, role: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_tcp(admin_dsn, user=role, password="not-the-password")).close()
    # No password at all: the server asks for one (SCRAM), the client has none to give.
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(_tcp(admin_dsn, user=role, passfile="/dev/null")).close()


def test_the_superuser_cannot_log_in_over_tcp(admin_dsn: str) -> None:
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
        psycopg.connect(_tcp(admin_dsn, user="postgres", password="anything")).close()


def test_passwords_are_generated_and_private(settings: Settings, admin_dsn: str) -> None:
    passfile = settings.pg_passfile
    assert passfile.stat().st_mode & 0o777 == 0o600
    passwords = pgpass.read_passwords(passfile)
    assert set(passwords) == set(pgpass.ROLES)
    assert len(set(passwords.values())) == len(pgpass.ROLES)
    assert conninfo_to_dict(settings.database_url)["passfile"] == str(passfile)


# --- Grants ---------------------------------------------------------------------------------------


@pytest.fixture()
def as_role(admin_dsn: str) -> AsRole:
    @contextmanager
    def connect(role: str) -> Iterator[Conn]:
        with psycopg.connect(make_conninfo(admin_dsn, user=role), autocommit=True) as conn:
            yield conn

    return connect


def test_writer_runs_every_sink_statement(as_role: AsRole, admin_dsn: str) -> None:
    try:
        check_writer_runs_every_sink_statement_twice(as_role)
    finally:
        _delete_sample_rows(admin_dsn)


def test_writer_cannot_update_or_delete_history(as_role: AsRole) -> None:
    check_writer_cannot_change_history(as_role)


def test_only_the_writer_refreshes_the_stored_read_side(as_role: AsRole) -> None:
    check_only_the_writer_refreshes(as_role)


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_write_create_or_use_temporary_tables(
    as_role: AsRole, role: str
) -> None:
    check_read_only_role_cannot_write_or_create(as_role, role)
    with as_role(role) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TEMPORARY TABLE scratch (x int)")


def _delete_sample_rows(admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for table in ("points", "telemetry", "visits", "activations", "occupancy",
                      "fuel_forecast"):
            conn.execute(f"DELETE FROM {table} WHERE point_id = 'sec-1'")
        conn.execute("DELETE FROM alert_events WHERE fingerprint = 'sec-1'")


# --- The worker's HTTP server ---------------------------------------------------------------------


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _other_address() -> str | None:
    """An IPv4 address of this host that is not loopback, if it has one."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return str(address.address)
    return None


def test_worker_serves_metrics_and_health_but_no_faust_views(worker: Worker) -> None:
    base = f"http://127.0.0.1:{worker.web_port}"
    assert _status(f"{base}/metrics") == 200
    assert _status(f"{base}/") == 200
    for view in ("/table/", "/table/fuel/", "/router/", "/graph/", "/performance/",
                 "/assignment/"):
        assert _status(base + view) == 404, view


def test_worker_listens_on_loopback_only(worker: Worker) -> None:
    other = _other_address()
    if other is None:
        pytest.skip("this host has no non-loopback IPv4 address to try the worker's port on")
    with socket.create_connection(("127.0.0.1", worker.web_port), timeout=5):
        pass
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((other, worker.web_port), timeout=5).close()
