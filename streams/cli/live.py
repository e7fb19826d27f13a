"""``nezlam run``: the whole pipeline on this machine with a live terminal view.

Starts the local stack (Kafka, PostgreSQL, Alertmanager, Prometheus) and migrations
(idempotent), a worker that delivers its alerts to the local Alertmanager and the simulator as
child processes (their logs go to ``.local/logs/``), then shows what flows until Ctrl-C, which
stops the children cleanly (simulator first, so the worker drains what was produced).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from streams.cli.pipeline_status import Snapshot, StatusReader
from streams.db.refresh import REFRESH_EVERY
from streams.stack.ops_status import OpsSnapshot, read_ops_async
from streams.stack.process import stop_child
from streams.stack.settings import StackSettings, get_stack_settings

REFRESH_SECONDS = 2.0


@click.command()
@click.option("--points", default=13464, show_default=True, help="Points to simulate.")
@click.option("--speed", default="1", show_default=True,
              help="Simulated seconds per wall second (1 = real time).")
@click.option("--seed", default=42, show_default=True, help="Simulator seed.")
@click.option("--no-stack", is_flag=True, help="Assume the stack is up and migrated.")
def run(points: int, speed: str, seed: int, no_stack: bool) -> None:
    """Run the whole pipeline locally with a live terminal view (Ctrl-C stops it)."""
    settings = get_stack_settings()
    console = Console()
    if not no_stack:
        _nezlam(console, "stack", "up")
        _nezlam(console, "db", "migrate")
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # The worker's alerts go to the local Alertmanager unless the environment names others.
    alertmanagers = ",".join(settings.alertmanager_urls) or settings.alertmanager_url
    worker = _spawn(console, "worker", logs / "worker.log", "worker", "-l", "info",
                    env={"NEZLAM_ALERTMANAGER_URLS": alertmanagers})
    simulator = _spawn(
        console, "simulator", logs / "simulate.log",
        "simulate", "--points", str(points), "--speed", speed, "--seed", str(seed),
    )
    # The gaps between reports and the activation openings (both modes) and, in plain
    # PostgreSQL mode, the hourly rollups stored (TimescaleDB's policies refresh its
    # continuous aggregates).
    rollups = _spawn(console, "rollups", logs / "rollups.log", "db", "refresh-rollups",
                     "--every", str(int(REFRESH_EVERY.total_seconds())))
    # A closed terminal or a `kill` stops the children as cleanly as Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    try:
        asyncio.run(_watch(settings, console, (worker, simulator)))
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping the simulator and the worker ...")
        for proc in (simulator, worker, rollups):
            stop_child(proc, sig=signal.SIGINT)
        console.print(f"stopped; logs in {logs}")


def _nezlam(console: Console, *args: str) -> None:
    console.print(f"[bold]$ nezlam {' '.join(args)}[/bold]")
    subprocess.run([sys.executable, "-m", "streams.cli", *args], check=True)


def _spawn(
    console: Console, name: str, log: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    console.print(f"starting the {name} (log: {log})")
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", *args],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})},
        )


async def _watch(
    settings: StackSettings, console: Console, children: tuple[subprocess.Popen[bytes], ...]
) -> None:
    reader = StatusReader(settings)
    previous: Snapshot | None = None
    with Live(console=console, refresh_per_second=2, screen=False) as live:
        while all(child.poll() is None for child in children):
            snap, ops = await asyncio.gather(reader.snapshot(), read_ops_async(settings))
            live.update(Group(render(snap, previous), render_ops(ops, settings)))
            previous = snap
            await asyncio.sleep(REFRESH_SECONDS)
    for child in children:
        if child.poll() is not None:
            console.print(f"[red]a child process exited with code {child.returncode}; "
                          f"see its log in {settings.state_dir / 'logs'}[/red]")


def _rate(now: float, before: float | None, seconds: float) -> str:
    if before is None or seconds <= 0:
        return "-"
    return f"{max(now - before, 0) / seconds:,.0f}"


def render(snap: Snapshot, previous: Snapshot | None) -> Group:
    """The live view for one snapshot; rates are against the previous snapshot."""
    elapsed = snap.taken_at - previous.taken_at if previous else 0.0
    flows = Table(title="Kafka topics", expand=False)
    flows.add_column("topic")
    flows.add_column("messages", justify="right")
    flows.add_column("msg/s", justify="right")
    for topic, offset in snap.topic_offsets.items():
        before = previous.topic_offsets.get(topic) if previous else None
        flows.add_row(topic, f"{offset:,}", _rate(offset, before, elapsed))

    rows = Table(title="Database rows written")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    rows.add_column("rows/s", justify="right")
    for table, count in sorted(snap.table_rows.items()):
        before = previous.table_rows.get(table) if previous else None
        rows.add_row(table, f"{count:,}", _rate(count, before, elapsed))

    rejects = Table(title="Dead-lettered (worker)")
    rejects.add_column("topic")
    rejects.add_column("reason")
    rejects.add_column("messages", justify="right")
    for (topic, reason), value in sorted(snap.worker_sum("nezlam_ingest_rejects_total",
                                                         "topic", "reason").items()):
        rejects.add_row(topic, reason, f"{value:,.0f}")

    states = Table(title="Points by state")
    states.add_column("state")
    states.add_column("points", justify="right")
    for state, count in sorted(snap.points_by_state.items()):
        states.add_row(state, f"{count:,}")

    parts: list[Table | str] = [flows, rows, rejects, states, *_point_tables(snap)]
    parts.extend(f"[yellow]waiting for {error}[/yellow]" for error in snap.errors)
    return Group(*parts)


def render_ops(ops: OpsSnapshot, settings: StackSettings) -> Group:
    """What the local Alertmanager and Prometheus hold, and what was delivered."""
    states = ", ".join(f"{state} {count:,}" for state, count in sorted(
        ops.alertmanager_states.items())) or "none"
    held = _table(f"Alertmanager: {states}",
                  ("alert", "severity", "alerts"),
                  [(name, severity, f"{n:,}") for name, severity, n in ops.alertmanager_top])
    rules = _table(
        f"Prometheus: {ops.prometheus_rules} rules", ("firing or pending", "state"),
        list(ops.prometheus_alerts))
    delivered = _table(
        f"Notifications delivered: {ops.notifications:,} (webhook log)",
        ("received", "receiver", "alert", "alerts"),
        [(at, receiver, name, str(n)) for at, receiver, name, n in ops.last_notifications])
    parts: list[Table | str] = [held, rules, delivered]
    parts.extend(f"[yellow]waiting for {error}[/yellow]" for error in ops.errors)
    parts.append(f"[dim]Web UIs: Prometheus {settings.prometheus_url}, Alertmanager "
                 f"{settings.alertmanager_url}. Ctrl-C stops the simulator and the worker "
                 "(`nezlam stack down` stops the services)[/dim]")
    return Group(*parts)


def _table(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    table = Table(title=title)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    return table


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} h"


def _point_tables(snap: Snapshot) -> list[Table]:
    driest = _table(
        "Closest to running dry", ("point", "oblast", "hours to empty", "refuel due in"),
        [(f"{pid} {name}", oblast, _hours(hours), _hours(due))
         for pid, name, oblast, hours, due in snap.driest],
    )
    silent = _table(
        "Silent points", ("point", "oblast", "kind", "last report"),
        [(f"{pid} {name}", oblast, kind, f"{last:%Y-%m-%d %H:%M}")
         for pid, name, oblast, kind, last in snap.silent],
    )
    crowded = _table(
        "Most crowded", ("point", "oblast", "inside", "capacity", "utilisation"),
        [(f"{pid} {name}", oblast, str(inside), str(capacity), f"{(util or 0):.0%}")
         for pid, name, oblast, inside, capacity, util in snap.crowded],
    )
    alerts = _table(
        "Active alerts", ("alert", "severity", "point", "oblast", "summary"),
        [(name, severity, pid, oblast or "", summary)
         for name, severity, pid, oblast, summary in snap.alerts],
    )
    return [driest, silent, crowded, alerts]
