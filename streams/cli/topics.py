"""``nezlam topics create``: the contract topics and the workers' changelog topics, on the
cluster at ``NEZLAM_KAFKA_BOOTSTRAP``.

The deployment's one-shot jobs run it before the workers start (deploy/compose.yaml,
deploy/k8s/jobs/): brokers there refuse to auto-create topics, and an auto-created topic would
get the broker's partition count and retention instead of the contract's.
"""

from __future__ import annotations

import click
from aiokafka.errors import KafkaError

from streams.config import get_settings
from streams.kafka.topic_admin import ensure_topics, new_topics


@click.group()
def topics() -> None:
    """Kafka topics of the message contract."""


@topics.command()
def create() -> None:
    """Create the missing contract and changelog topics; existing ones are left as they are."""
    settings = get_settings()
    try:
        created = ensure_topics(settings)
    except KafkaError as exc:
        raise click.ClickException(f"kafka: could not create the topics: {exc}") from exc
    wanted = len(new_topics(settings))
    click.echo(
        f"kafka {settings.kafka_bootstrap}: {len(created)} created "
        f"({settings.topic_partitions} partitions, replication {settings.topic_replication}), "
        f"{wanted - len(created)} already present"
    )
