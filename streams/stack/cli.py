"""``nezlam stack up|down|status``: the local Kafka and PostgreSQL, Kafka first."""

from __future__ import annotations

import importlib
from typing import Protocol, cast

import click
from aiokafka.errors import KafkaError

from streams.stack import kafka
from streams.stack.settings import StackSettings, get_stack_settings
from streams.stack.topics import ensure_topics
from streams.topics import all_topics

SERVICES = ("kafka", "postgres")


class _Service(Protocol):
    """What a service module of the local stack provides."""

    def up(self, settings: StackSettings) -> None: ...

    def down(self, settings: StackSettings) -> None: ...

    def status(self, settings: StackSettings) -> list[str]: ...


def _postgres() -> _Service | None:
    """``streams.stack.postgres``, imported late: the stack works before that module exists."""
    try:
        module = importlib.import_module("streams.stack.postgres")
    except ModuleNotFoundError as exc:
        if exc.name != "streams.stack.postgres":
            raise
        click.echo("postgres: not yet managed by `nezlam stack`; skipped")
        return None
    return cast(_Service, module)


only_option = click.option("--only", type=click.Choice(SERVICES), help="Act on this service alone.")


@click.group()
def stack() -> None:
    """Start, stop and inspect the local Kafka and PostgreSQL services."""


@stack.command()
@only_option
def up(only: str | None) -> None:
    """Start Kafka, create the contract topics, start PostgreSQL (each only if needed)."""
    settings = get_stack_settings()
    if only in (None, "kafka"):
        kafka.up(settings)
        _create_topics(settings)
    if only in (None, "postgres") and (postgres := _postgres()) is not None:
        postgres.up(settings)


@stack.command()
@only_option
def down(only: str | None) -> None:
    """Stop Kafka and PostgreSQL; their data is kept for the next start."""
    settings = get_stack_settings()
    if only in (None, "kafka"):
        kafka.down(settings)
    if only in (None, "postgres") and (postgres := _postgres()) is not None:
        postgres.down(settings)


@stack.command()
def status() -> None:
    """Say what runs where: pid, ports, data directory, version."""
    settings = get_stack_settings()
    lines = kafka.status(settings)
    if (postgres := _postgres()) is not None:
        lines += postgres.status(settings)
    for line in lines:
        click.echo(line)


def _create_topics(settings: StackSettings) -> None:
    try:
        created = ensure_topics(settings)
    except KafkaError as exc:
        raise click.ClickException(f"kafka: could not create the topics: {exc}") from exc
    names = [spec.name for spec in all_topics(settings.deadletter_topic)]
    present = [name for name in names if name not in created]
    if created:
        click.echo(
            f"kafka: created {len(created)} topics ({settings.topic_partitions} partitions, "
            f"replication {settings.topic_replication}): {', '.join(created)}"
        )
    if present:
        click.echo(f"kafka: topics already present, left as they are: {', '.join(present)}")
