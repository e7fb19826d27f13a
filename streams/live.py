"""``nezlam run`` (placeholder until the live view lands)."""

import click


@click.command()
def run() -> None:
    """Run the whole pipeline locally with a live terminal view."""
