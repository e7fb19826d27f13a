"""Namespaces that keep tests and benchmarks apart from ``make run``.

A namespace ``test`` means: topics named ``test.points.telemetry`` (``NEZLAM_TOPIC_PREFIX``),
the Faust application id and consumer group ``nezlam-test`` (so its state topics are
``nezlam-test-*-changelog``), and the database ``nezlam_test`` on the same local cluster. The
database and topics are created and migrated when missing and reused afterwards, so every run
of ``make test`` or ``make bench`` finds the same, deterministic setup, and ``make run`` (no
namespace) never sees their data.
"""

from __future__ import annotations

import os
import subprocess
import sys

import click
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from streams.config import Settings, get_settings
from streams.db.migrate import apply_migrations

PREFIX_VARIABLE = "NEZLAM_TOPIC_PREFIX"


def namespace_environment(settings: Settings, name: str) -> dict[str, str]:
    """The ``NEZLAM_*`` variables that move a process started with ``settings`` into ``name``."""
    if not name.isidentifier():
        raise click.BadParameter(f"{name!r}: use letters, digits and underscores")
    database = f"nezlam_{name}"
    return {
        PREFIX_VARIABLE: f"{name}.",
        "NEZLAM_APP_ID": f"{settings.app_id}-{name}",
        "NEZLAM_DATABASE_URL": make_conninfo(settings.database_url, dbname=database),
        "NEZLAM_ADMIN_DATABASE_URL": make_conninfo(settings.admin_database_url, dbname=database),
    }


def enter(name: str) -> None:
    """Move this process (and the children it starts) into namespace ``name``, unless it is in
    one already. Call it before anything imports :mod:`streams.kafka.topics`."""
    if os.environ.get(PREFIX_VARIABLE):
        return
    os.environ.update(namespace_environment(Settings(), name))


def prepare(settings: Settings) -> None:
    """Create the namespace's database and topics when missing, apply pending migrations."""
    prepare_database(settings)
    prepare_topics(settings)


def prepare_database(settings: Settings) -> None:
    """Create the namespace's database (as the schema owner) when missing and apply pending
    migrations; a no-op the second time."""
    admin = settings.admin_database_url
    database = str(conninfo_to_dict(admin).get("dbname"))
    with psycopg.connect(make_conninfo(admin, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if exists.fetchone() is None:
            click.echo(f"namespace: creating database {database}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    apply_migrations(admin, settings.timescaledb)


def prepare_topics(settings: Settings) -> None:
    """Create the namespace's topics (contract, dead letters, state changelogs) when missing."""
    # Imported here: the topic names are read at import, which must come after enter().
    from streams.kafka.topic_admin import ensure_topics

    created = ensure_topics(settings)
    if created:
        click.echo(f"namespace: created {len(created)} topics")


@click.group()
def namespace() -> None:
    """Run tests or benchmarks in a namespace of their own (topics, consumer group, database)."""


@namespace.command("env")
@click.argument("name")
def show_env(name: str) -> None:
    """Print the variables of namespace NAME as shell exports."""
    for key, value in namespace_environment(get_settings(), name).items():
        click.echo(f"export {key}='{value}'")


@namespace.command("prepare")
def prepare_command() -> None:
    """Create and migrate the current namespace's database and topics (idempotent)."""
    prepare(get_settings())


@namespace.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run_command(name: str, command: tuple[str, ...]) -> None:
    """Prepare namespace NAME, then run COMMAND inside it (e.g. `nezlam namespace run bench --
    python -m streams.bench.worker_throughput`)."""
    env = {**os.environ, **namespace_environment(get_settings(), name)}
    # A fresh interpreter: this one imported the topic names without the namespace's prefix.
    subprocess.run([sys.executable, "-m", "streams.cli", "namespace", "prepare"], env=env,
                   check=True)
    os.execvpe(command[0], list(command), env)
