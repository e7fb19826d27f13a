"""The imperative shell of ``nezlam simulate``: registry first, then the paced stream.

The loop asks the :class:`Pacer` how far the simulated clock may go, advances the
:class:`Simulation` there in slices, serialises each message with orjson into the
:class:`Publisher`, adds a malformed sibling now and then (``--bad-rate``), pumps batches to
Kafka, and prints a progress line every few seconds. Ctrl-C (SIGINT) or SIGTERM stops the
loop; whatever was produced is flushed before exit.
"""

from __future__ import annotations

import asyncio
import math
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from streams.config import get_settings
from streams.kafka.client import client_kwargs
from streams.kafka.topics import REGISTRY
from streams.simulate.clock import Pacer, default_start
from streams.simulate.faults import Corruptor
from streams.simulate.producer import PARTIAL_BATCH_S, Publisher
from streams.simulate.progress import BAD, TOPICS, Tally
from streams.simulate.registry import build_registry
from streams.simulate.world import Scenario, Simulation

SLICE_S = 10.0  # simulated seconds per step at full speed: ~3,000 messages for the full network
MIN_STEP_S = 0.1  # smaller steps wait: a paced run wakes ten times a second, not in a busy loop
IDLE_S = 0.1  # wall seconds to wait when the simulated clock has caught up
PROGRESS_EVERY_S = 3.0


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything one run needs; the CLI builds it from its options."""

    seed: int
    points: int
    speed: float  # simulated seconds per wall second; math.inf for as fast as possible
    duration: float | None  # simulated seconds; None to run until stopped
    start: float | None  # simulated start, epoch seconds; None for the default
    bad_rate: float
    bootstrap: str
    visit_scale: float = 1.0
    summary_json: Path | None = None


def run(config: RunConfig) -> dict[str, int]:
    """Run the simulation into Kafka and return the summary counts (also written as JSON)."""
    return asyncio.run(_run(config))


async def _run(config: RunConfig) -> dict[str, int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tally = Tally()
    wall_start = time.time()
    start = config.start
    if start is None:
        start = default_start(wall_start, config.speed, config.duration)
    end = None if config.duration is None else start + config.duration
    registry = build_registry(config.seed, config.points)
    simulation = Simulation(
        registry,
        config.seed,
        datetime.fromtimestamp(start, UTC),
        Scenario(visit_scale=config.visit_scale),
    )
    corruptor = Corruptor(config.bad_rate, config.seed)
    _say(
        f"simulating {len(registry):,} points from {_iso(start)}"
        + (f" to {_iso(end)}" if end is not None else " until stopped")
        + f" at speed {'max' if math.isinf(config.speed) else f'{config.speed:g}'}"
        + f" into {config.bootstrap}"
    )
    reached = start
    try:
        client = {**client_kwargs(get_settings()), "bootstrap_servers": config.bootstrap}
        async with Publisher(client, TOPICS) as publisher:
            for entry in registry:
                publisher.add(REGISTRY, entry["point_id"].encode(), orjson.dumps(entry))
            tally.counts[REGISTRY] += len(registry)
            await publisher.flush()
            pacer = Pacer(start, time.time(), config.speed, end)
            reached = await _stream(simulation, pacer, publisher, corruptor, tally, stop)
    finally:
        summary = tally.summary()
        if config.summary_json is not None:
            config.summary_json.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        for line in tally.summary_lines(time.time() - wall_start, reached - start):
            _say(line)
    return summary


async def _stream(
    simulation: Simulation,
    pacer: Pacer,
    publisher: Publisher,
    corruptor: Corruptor,
    tally: Tally,
    stop: asyncio.Event,
) -> float:
    """The paced loop; returns the simulated time reached."""
    counts = tally.counts
    dumps = orjson.dumps
    add = publisher.add
    reached = pacer.start
    last_progress = last_partial = time.time()
    while not stop.is_set() and not pacer.finished(reached):
        wall = time.time()
        target = min(pacer.target(wall), reached + SLICE_S)
        if target - reached < MIN_STEP_S and not pacer.finished(target):
            await publisher.pump(partial=True)
            await asyncio.sleep(IDLE_S)
            continue
        for topic, key, value in simulation.advance_to(target):
            key_bytes = key.encode()
            add(topic, key_bytes, dumps(value))
            counts[topic] += 1
            bad = corruptor.sibling(topic, key, value)
            if bad is not None:
                add(bad.topic, bad.key.encode(), bad.payload)
                counts[BAD] += 1
        reached = target
        partial = wall - last_partial >= PARTIAL_BATCH_S
        if partial:
            last_partial = wall
        await publisher.pump(partial=partial)
        if wall - last_progress >= PROGRESS_EVERY_S:
            last_progress = wall
            _say(tally.progress_line(reached, wall))
    return reached


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
