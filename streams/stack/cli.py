"""``nezlam stack up|down|status`` (placeholder until the stack lands)."""

import click


@click.group()
def stack() -> None:
    """Start, stop and inspect the local Kafka and PostgreSQL services."""
