"""The local single-node Apache Kafka (KRaft) of ``nezlam stack up|down|status``.

A broker and controller in one JVM on 127.0.0.1, files under ``settings.state_dir / "kafka"``,
jars from ``streams.stack.kafka_dist``. For local development and CI only; production points
``NEZLAM_KAFKA_BOOTSTRAP`` at a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.stack import process
from streams.stack.kafka_config import (
    LISTEN_HOST,
    KafkaLayout,
    broker_port,
    log4j2_properties,
    render_properties,
    server_properties,
)
from streams.stack.kafka_dist import ensure_jars, require_java
from streams.stack.process import StackError
from streams.stack.settings import StackSettings

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
READY_TIMEOUT_S = 60.0
# A local broker with a handful of topics; the JVM default (a quarter of RAM) is wasteful.
JVM_OPTS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


def up(settings: StackSettings, timeout: float = READY_TIMEOUT_S) -> None:
    """Start the broker unless it already runs; return once it answers metadata requests."""
    layout = KafkaLayout.of(settings)
    pid = process.read_pid(layout.pid_file, MAIN_CLASS)
    if pid is not None:
        click.echo(f"kafka: already running, pid {pid}")
        wait_ready(settings, timeout)
        return
    _check_ports_free(settings)
    java = require_java()
    libs = ensure_jars(settings)
    _write_config(settings, layout)
    if not layout.formatted_marker.exists():
        _format_storage(java, libs, layout)
    command = [
        java,
        *JVM_OPTS,
        f"-Dlog4j2.configurationFile={layout.log4j2_properties}",
        f"-Dkafka.logs.dir={layout.logs_dir}",
        "-cp",
        _classpath(libs),
        MAIN_CLASS,
        str(layout.server_properties),
    ]
    pid = process.spawn_detached(command, log_file=layout.console_log, pid_file=layout.pid_file)
    layout.version_file.write_text(f"{settings.kafka_version}\n")
    click.echo(
        f"kafka: starting Kafka {settings.kafka_version}, pid {pid}, log {layout.server_log}"
    )
    seconds = _wait_ready(settings, layout, timeout, pid)
    click.echo(f"kafka: ready on {','.join(settings.kafka_bootstrap)} in {seconds:.1f} s")


def down(settings: StackSettings) -> None:
    """Stop the broker (SIGTERM, a clean shutdown; SIGKILL after 30 s)."""
    layout = KafkaLayout.of(settings)
    pid = process.read_pid(layout.pid_file, MAIN_CLASS)
    if pid is None:
        click.echo("kafka: not running")
        return
    process.stop(pid, name="kafka")
    layout.pid_file.unlink(missing_ok=True)


def status(settings: StackSettings) -> list[str]:
    """One line: running or not, pid, listeners, data dir, version and log file."""
    layout = KafkaLayout.of(settings)
    pid = process.read_pid(layout.pid_file, MAIN_CLASS)
    if pid is None:
        formatted = "formatted" if layout.formatted_marker.exists() else "not formatted"
        return [f"kafka: stopped (data dir {layout.data_dir}, {formatted})"]
    version = _read(layout.version_file) or "unknown"
    answering = "ready" if _answers_metadata(settings.kafka_bootstrap) else "NOT answering yet"
    return [
        f"kafka: running, {answering}, pid {pid}, version {version}, "
        f"broker {LISTEN_HOST}:{broker_port(settings)}, "
        f"controller {LISTEN_HOST}:{settings.kafka_controller_port}, "
        f"data dir {layout.data_dir}, log {layout.server_log}"
    ]


def is_running(settings: StackSettings) -> bool:
    """Whether the broker started by ``up`` is alive (it may still be starting)."""
    return process.read_pid(KafkaLayout.of(settings).pid_file, MAIN_CLASS) is not None


def wait_ready(settings: StackSettings, timeout: float) -> None:
    """Block until the broker at ``settings.kafka_bootstrap`` answers a metadata request.

    Raises StackError after ``timeout`` seconds, or early if the local broker has exited.
    """
    layout = KafkaLayout.of(settings)
    _wait_ready(settings, layout, timeout, process.read_pid(layout.pid_file, MAIN_CLASS))


def _wait_ready(
    settings: StackSettings, layout: KafkaLayout, timeout: float, pid: int | None
) -> float:
    try:
        return process.wait_until(
            lambda: _answers_metadata(settings.kafka_bootstrap),
            what="kafka",
            timeout=timeout,
            alive=lambda: pid is None or process.is_alive(pid),
        )
    except StackError as exc:
        hint = ""
        if pid is not None and process.is_alive(pid):
            hint = f" (pid {pid} still runs: `nezlam stack down --only kafka` stops it)"
        raise StackError(f"{exc.message}{hint}\n{_diagnostics(layout)}") from exc


def _answers_metadata(bootstrap: list[str]) -> bool:
    """Whether a broker at ``bootstrap`` answers a metadata request listing at least one broker."""
    return asyncio.run(_probe(bootstrap))


async def _probe(bootstrap: list[str]) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    with _quiet_aiokafka():
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
        except KafkaError:
            return False
        finally:
            await admin.close()
    return bool(cluster["brokers"])


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    """Silence aiokafka's connection errors while polling a broker that is expected to be down."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_ports_free(settings: StackSettings) -> None:
    for port in (broker_port(settings), settings.kafka_controller_port):
        if process.port_in_use(LISTEN_HOST, port):
            raise StackError(
                f"kafka: port {LISTEN_HOST}:{port} is in use by a process `nezlam stack` did not "
                "start; stop it, or choose other ports (NEZLAM_KAFKA_BOOTSTRAP, "
                "NEZLAM_KAFKA_CONTROLLER_PORT)"
            )


def _write_config(settings: StackSettings, layout: KafkaLayout) -> None:
    """Rewritten at every start, so changed settings apply without deleting any data."""
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    layout.server_properties.write_text(render_properties(server_properties(settings, layout)))
    layout.log4j2_properties.write_text(render_properties(log4j2_properties(layout)))


def _format_storage(java: str, libs: Path, layout: KafkaLayout) -> None:
    """Give a fresh data dir a cluster id and a single-controller quorum (first start only)."""
    cluster_id = _storage_tool(java, libs, "random-uuid").strip()
    click.echo(f"kafka: formatting {layout.data_dir} (cluster id {cluster_id})")
    _storage_tool(
        java, libs, "format", "--standalone",
        "--cluster-id", cluster_id,
        "--config", str(layout.server_properties),
    )  # fmt: skip


def _storage_tool(java: str, libs: Path, *args: str) -> str:
    command = [java, "-cp", _classpath(libs), STORAGE_TOOL, *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StackError(f"kafka-storage {args[0]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _classpath(libs: Path) -> str:
    # The JVM expands the wildcard itself: every jar in the directory.
    return str(libs / "*")


def _diagnostics(layout: KafkaLayout) -> str:
    """The last lines of the broker's logs, for an error message."""
    parts = []
    for log in (layout.server_log, layout.console_log):
        text = process.tail(log)
        if text:
            parts.append(f"--- last lines of {log} ---\n{text}")
    return "".join(parts) or f"(no log output in {layout.logs_dir})"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None
