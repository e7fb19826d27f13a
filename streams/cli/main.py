"""The ``nezlam`` command: the stack, the database, the simulator and the pipeline."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from streams.cli import config_docs
from streams.cli.bench import bench
from streams.cli.db import db
from streams.cli.deadletter import deadletter
from streams.cli.grafana_push import grafana
from streams.cli.live import run
from streams.cli.simulate import simulate
from streams.cli.stack import stack
from streams.cli.state_migration import state
from streams.cli.topics import topics
from streams.config import get_settings
from streams.kafka.login import explain
from streams.logistics.dispatch_plan import dispatch_plan
from streams.logistics.refuel_plan import refuel_plan
from streams.stack.namespace import namespace
from streams.stack.settings import get_stack_settings


class _NezlamGroup(click.Group):
    """Kafka errors end a command with one line saying what to check, not a stack trace."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KafkaError as exc:
            raise click.ClickException(explain(get_settings(), exc)) from exc


@click.group(cls=_NezlamGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nezlam-streams")
def main() -> None:
    """Live telemetry and alerting for the Invincibility Points network."""


main.add_command(stack)
main.add_command(namespace)
main.add_command(db)
main.add_command(grafana)
main.add_command(simulate)
main.add_command(run)
main.add_command(topics)
main.add_command(refuel_plan)
main.add_command(dispatch_plan)
main.add_command(deadletter)
main.add_command(state)
main.add_command(bench)


@main.command()
@click.option("--loglevel", "-l", default="info", show_default=True,
              type=click.Choice(["crit", "error", "warn", "info", "debug"]),
              help="Worker log level.")
def worker(loglevel: str) -> None:
    """Run one pipeline worker (a Faust worker) in the foreground; Ctrl-C stops it cleanly.

    The same as ``faust -A streams.worker.faust_app worker``: the app checks the alert rules,
    the state topic and the database itself when it is built."""
    args = [sys.executable, "-m", "faust", "--loop", get_settings().event_loop,
            "-A", "streams.worker.faust_app", "worker", "-l", loglevel]
    os.execv(sys.executable, args)


@main.command("config")
@click.option("--markdown", is_flag=True,
              help="Print the README's configuration tables (defaults, not values here).")
def show_config(markdown: bool) -> None:
    """Every setting: its environment variable, its value here, and what it is for."""
    if markdown:
        click.echo(config_docs.markdown())
        return
    settings = get_stack_settings()
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "********" if value.get_secret_value() else ""
        click.echo(f"NEZLAM_{name.upper()}={value}")
        click.echo(f"    {field.description}")


if __name__ == "__main__":
    main()
