"""Local-stack authentication and the worker's HTTP exposure, as configured (no services)."""

from __future__ import annotations

from pathlib import Path

import faust
import pytest
from faust.web.base import BLUEPRINT_FLAGS
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from psycopg.conninfo import conninfo_to_dict

from streams.config import Settings, with_local_passfile
from streams.db.migration_files import POSTGRES, SUPERSEDED_CHECKSUMS, plan
from streams.domain.alert_rules import AlertRules
from streams.stack import pgpass
from streams.stack.postgres import HBA_CONF, SUPERUSER
from streams.worker.faust_app import create_app
from streams.worker.web import worker_web_kwargs

PASSFILE = Path("/srv/nezlam/.local/pgpass")


@pytest.mark.parametrize("dsn", [
    "postgresql://nezlam_writer@127.0.0.1:5432/nezlam",
    "postgresql://nezlam_writer@localhost:5432/nezlam",
    "host=::1 port=5432 user=nezlam_writer dbname=nezlam",
])
def test_loopback_dsns_get_the_passfile(dsn: str) -> None:
    assert conninfo_to_dict(with_local_passfile(dsn, PASSFILE))["passfile"] == str(PASSFILE)


@pytest.mark.parametrize("dsn", [
    "postgresql://nezlam_writer@db.example.org:5432/nezlam?sslmode=verify-full",
    "postgresql://nezlam_writer:secret@127.0.0.1:5432/nezlam",
    "postgresql://nezlam_writer@127.0.0.1:5432/nezlam?passfile=/elsewhere",
])
def test_other_dsns_are_left_as_written(dsn: str) -> None:
    assert with_local_passfile(dsn, PASSFILE) == dsn


def test_settings_hand_the_passfile_to_both_dsns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEZLAM_PG_PASSFILE", str(PASSFILE))
    for name in ("NEZLAM_DATABASE_URL", "NEZLAM_ADMIN_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    for dsn in (settings.database_url, settings.admin_database_url):
        assert conninfo_to_dict(dsn)["passfile"] == str(PASSFILE)
    assert conninfo_to_dict(settings.admin_database_url)["user"] == pgpass.OWNER


def test_passwords_are_generated_once_per_role_and_private(tmp_path: Path) -> None:
    passfile = tmp_path / "state" / "pgpass"
    first = pgpass.ensure_passwords(passfile)
    assert set(first) == set(pgpass.ROLES)
    assert len(set(first.values())) == len(pgpass.ROLES)
    assert all(len(password) >= 32 for password in first.values())
    assert passfile.stat().st_mode & 0o777 == 0o600
    passfile.chmod(0o644)
    assert pgpass.ensure_passwords(passfile) == first  # kept, not regenerated
    assert passfile.stat().st_mode & 0o777 == 0o600
    assert pgpass.read_passwords(passfile) == first


def test_no_trust_and_no_superuser_over_tcp() -> None:
    rules = [line.split() for line in HBA_CONF.format(superuser=SUPERUSER).splitlines()
             if line and not line.startswith("#")]
    assert all("trust" not in rule for rule in rules)
    # First match wins: the superuser's socket and reject lines come before everyone's.
    assert rules[0] == ["local", "all", SUPERUSER, "peer", "map=nezlam"]
    assert rules[1] == ["host", "all", SUPERUSER, "all", "reject"]
    assert all(rule[-1] == "scram-sha-256" for rule in rules[2:])


def test_worker_http_defaults_to_loopback_without_faust_views(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NEZLAM_WEB_BIND", "NEZLAM_WEB_FAUST_VIEWS"):
        monkeypatch.delenv(name, raising=False)
    kwargs = worker_web_kwargs(Settings())
    assert kwargs["web_bind"] == "127.0.0.1"
    app = faust.App("least-privilege-test", **kwargs)
    # Every built-in view Faust gates by a setting is off.
    assert {flag: getattr(app.conf, flag) for flag in BLUEPRINT_FLAGS.values()} == dict.fromkeys(
        BLUEPRINT_FLAGS.values(), False)
    assert app.conf.web_bind == "127.0.0.1"


def test_faust_table_and_router_views_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEZLAM_WEB_FAUST_VIEWS", "true")
    monkeypatch.setenv("NEZLAM_WEB_BIND", "0.0.0.0")
    kwargs = worker_web_kwargs(Settings())
    assert kwargs["web_tables_enabled"] is kwargs["web_router_enabled"] is True
    assert kwargs["web_stats_enabled"] is kwargs["web_graph_enabled"] is False
    assert kwargs["web_bind"] == "0.0.0.0"


def test_revised_001_still_accepts_databases_migrated_before() -> None:
    (roles, *_) = plan(POSTGRES)
    assert roles.version == 1
    for checksum in SUPERSEDED_CHECKSUMS[1]:
        assert roles.matches(checksum)
    assert roles.matches(roles.checksum)
    assert not roles.matches("0" * 64)
    assert not plan(POSTGRES)[1].matches(next(iter(SUPERSEDED_CHECKSUMS[1])))


def test_the_worker_serves_exactly_metrics_and_the_health_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NEZLAM_WEB_BIND", "NEZLAM_WEB_FAUST_VIEWS"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(Settings(), prepare=lambda settings: AlertRules())
    web = app.web
    assert isinstance(web, AiohttpWeb)
    web.init_server()  # builds the aiohttp routes; nothing is bound or started
    routes = {route.resource.canonical for route in web.web_app.router.routes()
              if route.resource is not None}
    assert routes == {"/", "/metrics"}
