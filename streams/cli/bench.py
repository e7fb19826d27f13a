"""``nezlam bench``: benchmarks run from the command line."""

from __future__ import annotations

import click

from streams.bench.history import history


@click.group()
def bench() -> None:
    """Benchmarks (``make bench`` runs the write side; ``bench history`` the read side)."""


bench.add_command(history)
