"""``nezlam db ...`` (placeholder until migrations land)."""

import click


@click.group()
def db() -> None:
    """Database schema and migrations."""
