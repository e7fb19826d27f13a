"""``nezlam stack up|down|status``: the local Kafka, PostgreSQL, Alertmanager and Prometheus.

Started in that order (Prometheus alerts Alertmanager), stopped in the reverse order.
"""

from __future__ import annotations

import click
from aiokafka.errors import KafkaError

from streams.kafka.topic_admin import ensure_topics
from streams.kafka.topics import all_topics
from streams.stack import alerting, kafka, postgres
from streams.stack.settings import StackSettings, get_stack_settings

# "alerting": the webhook receiver, Alertmanager and Prometheus (streams/stack/alerting.py).
SERVICES = ("kafka", "postgres", "alerting")

only_option = click.option("--only", type=click.Choice(SERVICES), help="Act on this service alone.")


@click.group()
def stack() -> None:
    """Start, stop and inspect the local services: Kafka, PostgreSQL, Alertmanager, Prometheus."""


@stack.command()
@only_option
@click.option("--brokers", type=click.IntRange(1, 9), default=None,
              help="Kafka brokers: 1 (one node) or 3 (a controller and three brokers, topics "
                   "replicated 3 times); default NEZLAM_KAFKA_BROKERS.")
def up(only: str | None, brokers: int | None) -> None:
    """Start Kafka (and create the contract topics), PostgreSQL, the Alertmanager with its
    webhook receiver, and Prometheus; each only if it is not running yet."""
    settings = get_stack_settings()
    if brokers is not None and brokers != settings.kafka_brokers:
        settings = StackSettings(kafka_brokers=brokers)
    if only in (None, "kafka"):
        kafka.up(settings)
        _create_topics(settings)
    if only in (None, "postgres"):
        postgres.up(settings)
    if only in (None, "alerting"):
        alerting.up(settings)


@stack.command()
@only_option
@click.option("--brokers", type=click.IntRange(1, 9), default=None,
              help="The Kafka to stop: 1 or 3 brokers; default NEZLAM_KAFKA_BROKERS.")
def down(only: str | None, brokers: int | None) -> None:
    """Stop the services; their data is kept for the next start."""
    settings = get_stack_settings()
    if brokers is not None and brokers != settings.kafka_brokers:
        settings = StackSettings(kafka_brokers=brokers)
    if only in (None, "alerting"):
        alerting.down(settings)
    if only in (None, "postgres"):
        postgres.down(settings)
    if only in (None, "kafka"):
        kafka.down(settings)


@stack.command()
@click.option("--brokers", type=click.IntRange(1, 9), default=None,
              help="The Kafka to show: 1 or 3 brokers; default NEZLAM_KAFKA_BROKERS.")
def status(brokers: int | None) -> None:
    """Say what runs where: pid, ports, data directory, version, web UIs; every Kafka node."""
    settings = get_stack_settings()
    if brokers is not None and brokers != settings.kafka_brokers:
        settings = StackSettings(kafka_brokers=brokers)
    for line in (*kafka.status(settings), *postgres.status(settings),
                 *alerting.status(settings)):
        click.echo(line)


def _create_topics(settings: StackSettings) -> None:
    try:
        created = ensure_topics(kafka.admin_settings(settings))
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
