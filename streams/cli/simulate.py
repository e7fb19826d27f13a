"""``nezlam simulate``: the simulated national network, published to Kafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click
from aiokafka.errors import KafkaError

from streams.config import get_settings
from streams.simulate.clock import parse_duration, parse_speed
from streams.simulate.registry import FULL_NETWORK
from streams.simulate.runner import RunConfig, run

# A second of leeway: the simulated clock must never be ahead of the wall clock.
_FUTURE_LEEWAY_S = 1.0


def _speed(_: click.Context, __: click.Parameter, value: str) -> float:
    try:
        return parse_speed(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _duration(_: click.Context, __: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _start(_: click.Context, __: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.timestamp() > time.time() + _FUTURE_LEEWAY_S:
        raise click.BadParameter("must not be in the future: the pipeline rejects future ts")
    return moment.timestamp()


@click.command()
@click.option("--seed", default=42, show_default=True, help="Seed: same seed, same network.")
@click.option(
    "--points",
    type=click.IntRange(1, FULL_NETWORK),
    default=FULL_NETWORK,
    show_default=True,
    help="Network size; a smaller one scales every kind of point proportionally.",
)
@click.option(
    "--speed",
    default="1",
    show_default=True,
    callback=_speed,
    help="Simulated seconds per wall second (1 = real time), or 'max' to run flat out.",
)
@click.option(
    "--duration",
    callback=_duration,
    help="Simulated time to cover, e.g. 90s, 10m, 2h, 1d. Default: until Ctrl-C.",
)
@click.option(
    "--start",
    callback=_start,
    help=(
        "Simulated start, ISO 8601 (UTC if no offset); never in the future. Default: now, or "
        "with --duration, now - duration * (1 - 1/speed) so the run ends at the wall clock."
    ),
)
@click.option(
    "--bad-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of stream messages followed by a malformed sibling (for dead-letter tests).",
)
@click.option(
    "--visit-scale",
    type=click.FloatRange(min=0.0),
    default=1.0,
    show_default=True,
    help="Multiplies visitor arrival rates (e.g. 100 to load-test occupancy).",
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help='Write the counts to this file: {"points.telemetry": n, ..., "bad": n}.',
)
@click.option("--bootstrap", help="Kafka bootstrap servers. Default: NEZLAM_KAFKA_BOOTSTRAP.")
def simulate(
    seed: int,
    points: int,
    speed: float,
    duration: float | None,
    start: float | None,
    bad_rate: float,
    visit_scale: float,
    summary_json: Path | None,
    bootstrap: str | None,
) -> None:
    """Simulate the national network of points and publish it to Kafka.

    The registry goes first to points.registry (one message per point), then telemetry,
    visits and activations in timestamp order. Simulated time never runs ahead of the wall
    clock: with --speed above 1, give --duration (the run then starts that far in the past)
    or an earlier --start; once caught up it continues in real time. Prints a progress line
    every few seconds and a summary at the end; Ctrl-C stops cleanly after flushing.
    """
    if speed > 1 and duration is None and start is None:
        click.echo(
            "note: without --duration or --start, the run starts now and cannot go faster "
            "than real time",
            err=True,
        )
    config = RunConfig(
        seed=seed,
        points=points,
        speed=speed,
        duration=duration,
        start=start,
        bad_rate=bad_rate,
        bootstrap=bootstrap or ",".join(get_settings().kafka_bootstrap),
        visit_scale=visit_scale,
        summary_json=summary_json,
    )
    try:
        run(config)
    except KafkaError as exc:
        raise click.ClickException(
            f"Kafka at {config.bootstrap} failed: {exc!r} (is `nezlam stack up` running?)"
        ) from exc
