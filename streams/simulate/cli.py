"""``nezlam simulate`` (placeholder until the simulator lands)."""

import click


@click.command()
def simulate() -> None:
    """Simulate the national network of points and publish to Kafka."""
