"""The local Prometheus and Alertmanager of ``nezlam stack``, with a webhook receiver.

Debian's ``prometheus`` scrapes the worker (``NEZLAM_WEB_PORT``) and evaluates the shipped
pipeline-health rules (``deploy/prometheus/rules.yml``); Debian's ``prometheus-alertmanager``
runs the shipped routing, grouping and inhibition (``deploy/alertmanager/alertmanager.yml``)
with every receiver replaced by a webhook into ``streams.stack.webhook_log``, so delivered
notifications land in ``<state dir>/logs/alert-notifications.jsonl``. All on loopback, on the
ports of :class:`~streams.stack.settings.StackSettings`, with data under ``<state dir>``.
"""

from __future__ import annotations

import shutil
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from streams.resources import deploy_file
from streams.stack import process
from streams.stack.process import StackError
from streams.stack.settings import StackSettings

READY_TIMEOUT_S = 30.0
INSTALL_HINT = "install it with `make system-deps` (Debian's prometheus, prometheus-alertmanager)"


def binary(*names: str) -> str:
    """The first of ``names`` on PATH."""
    for name in names:
        if (found := shutil.which(name)) is not None:
            return found
    raise StackError(f"{' / '.join(names)} not found; {INSTALL_HINT}")


def answers(url: str) -> bool:
    """Whether ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class Daemon:
    """A background service: its command, where its pid and log go, how to tell it is ready.

    ``marker`` is a part of the command line unique to this instance (its config file or port),
    so a pid file is trusted only for the process it was written for."""

    name: str
    argv: Sequence[str]
    marker: str
    directory: Path
    url: str
    ready_path: str = "/-/ready"

    @property
    def ready_url(self) -> str:
        return self.url + self.ready_path

    @property
    def pid_file(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running instance, else None."""
        return process.read_pid(self.pid_file, self.marker)

    def up(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Start it unless it runs; return once ``ready_url`` answers."""
        pid = self.pid()
        if pid is None:
            pid = process.spawn_detached(self.argv, log_file=self.log_file, pid_file=self.pid_file)
            click.echo(f"{self.name}: starting, pid {pid}, log {self.log_file}")
        started = pid
        try:
            seconds = process.wait_until(lambda: answers(self.ready_url), what=self.name,
                                         timeout=timeout, alive=lambda: process.is_alive(started))
        except StackError as exc:
            raise StackError(f"{exc}\n{process.tail(self.log_file)}") from None
        click.echo(f"{self.name}: ready on {self.url} in {seconds:.1f} s")

    def down(self) -> None:
        """Stop it if it runs."""
        if (pid := self.pid()) is not None:
            process.stop(pid, name=self.name)
        else:
            click.echo(f"{self.name}: not running")

    def status(self) -> str:
        """One line: running or not, where."""
        pid = self.pid()
        if pid is None:
            return f"{self.name}: not running"
        state = "ready" if answers(self.ready_url) else "NOT answering yet"
        return f"{self.name}: running, {state}, pid {pid}, {self.url}"


# --- Alertmanager ---------------------------------------------------------------------------------

def local_alertmanager_config(webhook_url: str) -> dict[str, Any]:
    """The shipped configuration with every receiver a webhook to ``webhook_url/<receiver>``:
    routing, grouping, timers and inhibition stay as shipped; no Telegram, no e-mail."""
    shipped = yaml.safe_load(deploy_file("alertmanager", "alertmanager.yml").read_text("utf-8"))
    receivers = [{"name": receiver["name"],
                  "webhook_configs": [{"url": f"{webhook_url}/{receiver['name']}",
                                       "send_resolved": True}]}
                 for receiver in shipped["receivers"]]
    return {
        "global": {"resolve_timeout": shipped["global"]["resolve_timeout"]},
        "route": shipped["route"],
        "inhibit_rules": shipped.get("inhibit_rules", []),
        "receivers": receivers,
    }


def alertmanager_daemon(
    config: dict[str, Any], directory: Path, port: int, *, name: str = "alertmanager"
) -> Daemon:
    """An Alertmanager with ``config`` on ``127.0.0.1:port``, files under ``directory``.
    Standalone (no cluster port): the notifier posts to every instance (Alertmanager's HA)."""
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    argv = [
        binary("prometheus-alertmanager", "alertmanager"),
        f"--config.file={config_file}",
        f"--storage.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return Daemon(name, argv, str(config_file), directory, f"http://127.0.0.1:{port}")


def notifications_file(settings: StackSettings) -> Path:
    """Where the local webhook receiver appends what Alertmanager delivered."""
    return settings.state_dir / "logs" / "alert-notifications.jsonl"


def webhook_daemon(settings: StackSettings) -> Daemon:
    """The receiver every local Alertmanager route delivers to."""
    port = settings.alert_webhook_port
    argv = [sys.executable, "-m", "streams.stack.webhook_log", "--port", str(port),
            "--file", str(notifications_file(settings))]
    directory = settings.state_dir / "alertmanager"
    directory.mkdir(parents=True, exist_ok=True)
    return Daemon("alert-webhook", argv, str(notifications_file(settings)), directory,
                  f"http://127.0.0.1:{port}", ready_path="/")


def local_alertmanager(settings: StackSettings) -> Daemon:
    """The Alertmanager of ``nezlam stack up``."""
    webhook = f"http://127.0.0.1:{settings.alert_webhook_port}"
    return alertmanager_daemon(local_alertmanager_config(webhook),
                               settings.state_dir / "alertmanager", settings.alertmanager_port)


# --- Prometheus -----------------------------------------------------------------------------------

def local_prometheus_config(settings: StackSettings) -> dict[str, Any]:
    """Scrape the local worker, evaluate the shipped rules, alert the local Alertmanager.
    The job names are the shipped ones: the rules select ``job="nezlam-worker"``."""
    alertmanager = f"127.0.0.1:{settings.alertmanager_port}"
    return {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s",
                   "external_labels": {"pipeline": "nezlam"}},
        "rule_files": [str(deploy_file("prometheus", "rules.yml"))],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": "nezlam-worker",
             "static_configs": [{"targets": [f"127.0.0.1:{settings.web_port}"]}]},
            {"job_name": "prometheus",
             "static_configs": [{"targets": [f"127.0.0.1:{settings.prometheus_port}"]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": [alertmanager]}]},
        ],
    }


def local_prometheus(settings: StackSettings) -> Daemon:
    """The Prometheus of ``nezlam stack up``."""
    directory = settings.state_dir / "prometheus"
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(local_prometheus_config(settings), sort_keys=False),
                           "utf-8")
    argv = [
        binary("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={directory / 'data'}",
        "--storage.tsdb.retention.time=2d",
        f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
    ]
    return Daemon("prometheus", argv, str(config_file), directory,
                  settings.prometheus_url)


# --- the stack's interface --------------------------------------------------------------------

def _daemons(settings: StackSettings) -> list[Daemon]:
    return [webhook_daemon(settings), local_alertmanager(settings), local_prometheus(settings)]


def up(settings: StackSettings) -> None:
    """Start the webhook receiver, Alertmanager and Prometheus (each only if needed)."""
    for daemon in _daemons(settings):
        daemon.up()


def down(settings: StackSettings) -> None:
    """Stop Prometheus, Alertmanager and the webhook receiver."""
    for daemon in reversed(_daemons(settings)):
        daemon.down()


def status(settings: StackSettings) -> list[str]:
    """One line per service."""
    return [daemon.status() for daemon in _daemons(settings)]
