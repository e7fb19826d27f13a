"""The local Apache Kafka (KRaft) of ``nezlam stack up|down|status``: one node or a cluster.

One JVM acting as broker and controller (files under ``settings.state_dir / "kafka"``), or one
controller and ``NEZLAM_KAFKA_BROKERS`` brokers (under ``kafka-cluster/``); the layout and the
reasons are in :mod:`streams.stack.kafka_config`. Jars from ``streams.stack.kafka_dist``. With
SASL the stack creates the users and ACLs of ``config/kafka_acls.yaml``. For local development
and CI only; production points ``NEZLAM_KAFKA_BOOTSTRAP`` at a real cluster.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from streams.kafka.client import client_kwargs
from streams.stack import kafka_acls, process
from streams.stack.kafka_config import (
    ADMIN_USER,
    LISTEN_HOST,
    SCRAM_MECHANISM,
    KafkaNode,
    log4j2_properties,
    nodes,
    render_properties,
    sasl_enabled,
    server_properties,
)
from streams.stack.kafka_dist import ensure_jars, require_java
from streams.stack.kafka_users import ensure_passwords
from streams.stack.process import StackError
from streams.stack.settings import StackSettings

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
READY_TIMEOUT_S = 90.0
# A local broker with a handful of topics; the JVM default (a quarter of RAM) is wasteful.
JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)
SINGLE_NODE_HEAP = ("-Xms256m", "-Xmx1g")
# Four JVMs share the machine with everything else: a cluster's nodes get less each.
BROKER_HEAP = ("-Xms128m", "-Xmx512m")
CONTROLLER_HEAP = ("-Xms64m", "-Xmx256m")


def up(settings: StackSettings, timeout: float = READY_TIMEOUT_S) -> None:
    """Start every node that is not running; return once all brokers answer, then (with SASL)
    create the users and ACLs of ``config/kafka_acls.yaml``."""
    admin_password = _admin_password(settings)
    cluster = nodes(settings)
    to_start = [node for node in cluster if _pid(node) is None]
    for node in cluster:
        if node not in to_start:
            click.echo(f"{node.name}: already running, pid {_pid(node)}")
    if to_start:
        _check_ports_free(to_start)
        java = require_java()
        libs = ensure_jars(settings)
        for node in to_start:
            _write_config(settings, node, admin_password)
        _format_storage(java, libs, settings, cluster, admin_password)
        for node in to_start:
            start_node(settings, node, java=java, libs=libs)
    seconds = _wait_ready(settings, timeout)
    click.echo(f"kafka: {settings.kafka_brokers} broker(s) ready on "
               f"{','.join(_bootstrap(settings))} in {seconds:.1f} s")
    if admin_password is not None:
        ensure_acls(settings)


def start_node(settings: StackSettings, node: KafkaNode, *, java: str | None = None,
               libs: Path | None = None) -> int:
    """Start one (configured and formatted) node; return its pid without waiting for it."""
    java = java or require_java()
    libs = libs or ensure_jars(settings)
    layout = node.layout
    heap = SINGLE_NODE_HEAP if settings.kafka_brokers == 1 else (
        CONTROLLER_HEAP if node.broker_port is None else BROKER_HEAP)
    command = [
        java,
        *heap,
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
    click.echo(f"{node.name}: starting Kafka {settings.kafka_version} ({node.roles}), pid {pid}, "
               f"log {layout.server_log}")
    return pid


def stop_node(node: KafkaNode, sig: int = signal.SIGTERM) -> None:
    """Stop one node: SIGTERM is a controlled shutdown (leaders move first), SIGKILL a crash."""
    pid = _pid(node)
    if pid is None:
        return
    if sig == signal.SIGKILL:
        process.kill(pid, name=node.name)
    else:
        process.stop(pid, name=node.name)
    node.layout.pid_file.unlink(missing_ok=True)


def down(settings: StackSettings) -> None:
    """Stop the nodes, brokers first (SIGTERM, a clean shutdown; SIGKILL after 30 s)."""
    running = [node for node in reversed(nodes(settings)) if _pid(node) is not None]
    if not running:
        click.echo("kafka: not running")
    for node in running:
        stop_node(node)


def status(settings: StackSettings) -> list[str]:
    """One line per node: running or not, pid, listeners, data dir, version and log file."""
    lines = []
    answering = None
    for node in nodes(settings):
        layout = node.layout
        pid = _pid(node)
        if pid is None:
            formatted = "formatted" if layout.formatted_marker.exists() else "not formatted"
            lines.append(f"{node.name}: stopped (data dir {layout.data_dir}, {formatted})")
            continue
        if answering is None:
            answering = _brokers_answering(settings)
        version = _read(layout.version_file) or "unknown"
        ports = []
        if node.broker_port is not None:
            ready = "ready" if node.node_id in answering else "NOT answering yet"
            ports.append(f"broker {LISTEN_HOST}:{node.broker_port} ({ready})")
        if node.controller_port is not None:
            ports.append(f"controller {LISTEN_HOST}:{node.controller_port}")
        lines.append(f"{node.name}: running, pid {pid}, version {version}, {', '.join(ports)}, "
                     f"data dir {layout.data_dir}, log {layout.server_log}")
    security = ("SASL_PLAINTEXT, SCRAM-SHA-512, ACLs enforced" if sasl_enabled(settings)
                else "PLAINTEXT, no ACLs")
    lines.append(f"kafka: {settings.kafka_brokers} broker(s), {security}, topics replicated "
                 f"{settings.topic_replication} times")
    return lines


def is_running(settings: StackSettings) -> bool:
    """Whether a node started by ``up`` is alive (it may still be starting)."""
    return any(_pid(node) is not None for node in nodes(settings))


def node_pid(node: KafkaNode) -> int | None:
    """The pid of a running node, else None."""
    return _pid(node)


def wait_ready(settings: StackSettings, timeout: float) -> None:
    """Block until every local broker answers metadata requests.

    Raises StackError after ``timeout`` seconds, or early if a local node has exited.
    """
    _wait_ready(settings, timeout)


def admin_settings(settings: StackSettings) -> StackSettings:
    """``settings`` with the stack's own (super user) login when SASL is on."""
    password = _admin_password(settings)
    if password is None:
        return settings
    return settings.model_copy(update={
        "kafka_sasl_username": ADMIN_USER, "kafka_sasl_password": SecretStr(password),
        "kafka_sasl_mechanism": SCRAM_MECHANISM,
    })


def ensure_acls(settings: StackSettings) -> None:
    """Create every principal's SCRAM user and ACLs for ``settings``' namespace (idempotent)."""
    principals = kafka_acls.load()
    passwords = ensure_passwords(settings.kafka_passfile,
                                 [ADMIN_USER, *kafka_acls.users(principals).values()])
    role_passwords = {user: passwords[user] for user in kafka_acls.users(principals).values()}
    bindings = kafka_acls.bindings(principals, settings)
    config = {
        "bootstrap.servers": ",".join(_bootstrap(settings)),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": ADMIN_USER,
        "sasl.password": passwords[ADMIN_USER],
    }
    try:
        kafka_acls.apply(config, role_passwords, bindings)
    except Exception as exc:  # confluent-kafka raises KafkaException with a KafkaError inside
        raise StackError(f"kafka: could not create the users and ACLs: {exc}") from exc
    click.echo(f"kafka: {len(role_passwords)} SCRAM users and {len(bindings)} ACLs in place "
               f"(config/kafka_acls.yaml; passwords in {settings.kafka_passfile})")


def _admin_password(settings: StackSettings) -> str | None:
    if not sasl_enabled(settings):
        return None
    principals = kafka_acls.load()
    users = [ADMIN_USER, *kafka_acls.users(principals).values()]
    return ensure_passwords(settings.kafka_passfile, users)[ADMIN_USER]


def _bootstrap(settings: StackSettings) -> list[str]:
    return [f"{LISTEN_HOST}:{node.broker_port}" for node in nodes(settings)
            if node.broker_port is not None]


def _pid(node: KafkaNode) -> int | None:
    return process.read_pid(node.layout.pid_file, MAIN_CLASS)


def _wait_ready(settings: StackSettings, timeout: float) -> float:
    cluster = nodes(settings)
    brokers = {node.node_id for node in cluster if node.broker_port is not None}
    try:
        return process.wait_until(
            lambda: brokers <= _brokers_answering(settings),
            what="kafka",
            timeout=timeout,
            alive=lambda: all(_pid(node) is not None for node in cluster),
        )
    except StackError as exc:
        hint = ""
        if any(_pid(node) is not None for node in cluster):
            hint = " (nodes still run: `nezlam stack down --only kafka` stops them)"
        raise StackError(f"{exc.message}{hint}\n{_diagnostics(cluster)}") from exc


def _brokers_answering(settings: StackSettings) -> set[int]:
    """The ids of the brokers registered with the cluster, as one of them answers."""
    probe = admin_settings(settings).model_copy(update={"kafka_bootstrap": _bootstrap(settings)})
    return asyncio.run(_probe(probe))


async def _probe(settings: StackSettings) -> set[int]:
    admin = AIOKafkaAdminClient(**client_kwargs(settings), request_timeout_ms=3000)
    with _quiet_aiokafka():
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
        except KafkaError:
            return set()
        finally:
            await admin.close()
    return {broker["node_id"] for broker in cluster["brokers"]}


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


def _check_ports_free(to_start: list[KafkaNode]) -> None:
    for node in to_start:
        for port in (node.broker_port, node.controller_port):
            if port is not None and process.port_in_use(LISTEN_HOST, port):
                raise StackError(
                    f"{node.name}: port {LISTEN_HOST}:{port} is in use by a process `nezlam "
                    "stack` did not start; stop it, or choose other ports "
                    "(NEZLAM_KAFKA_BOOTSTRAP, NEZLAM_KAFKA_CONTROLLER_PORT)"
                )


def _write_config(settings: StackSettings, node: KafkaNode, admin_password: str | None) -> None:
    """Rewritten at every start, so changed settings apply without deleting any data."""
    layout = node.layout
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    props = server_properties(settings, node, admin_password)
    fd = os.open(layout.server_properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:  # 0600: it holds the admin password
        handle.write(render_properties(props))
    layout.log4j2_properties.write_text(render_properties(log4j2_properties(layout)))


def _format_storage(java: str, libs: Path, settings: StackSettings, cluster: list[KafkaNode],
                    admin_password: str | None) -> None:
    """Give fresh data dirs one cluster id and a single-controller quorum (first start only).
    The stack's admin user goes into the metadata at format time: brokers log in with it."""
    fresh = [node for node in cluster if not node.layout.formatted_marker.exists()]
    if not fresh:
        return
    known = [_cluster_id(node) for node in cluster if node not in fresh]
    cluster_id = next((found for found in known if found), None) or _random_cluster_id()
    scram = [] if admin_password is None else [
        "--add-scram", f"{SCRAM_MECHANISM}=[name={ADMIN_USER},password={admin_password}]"]
    running = []
    for node in fresh:
        click.echo(f"{node.name}: formatting {node.layout.data_dir} (cluster id {cluster_id})")
        quorum = ["--standalone"] if node.controller_port is not None else []
        running.append((node, _storage_tool(
            java, libs, "format", *quorum, "--cluster-id", cluster_id,
            "--config", str(node.layout.server_properties), *scram)))
    for node, proc in running:  # formatted in parallel: each is a JVM start
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise StackError(f"{node.name}: kafka-storage format failed:\n{out}{err}")


def _cluster_id(node: KafkaNode) -> str | None:
    for line in (_read(node.layout.formatted_marker) or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None


def _random_cluster_id() -> str:
    """What ``kafka-storage random-uuid`` prints (base64 of 16 random bytes), without a JVM."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids ids that read like command-line options
            return text


def _storage_tool(java: str, libs: Path, *args: str) -> subprocess.Popen[str]:
    command = [java, "-cp", _classpath(libs), STORAGE_TOOL, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _classpath(libs: Path) -> str:
    # The JVM expands the wildcard itself: every jar in the directory.
    return str(libs / "*")


def _diagnostics(cluster: list[KafkaNode]) -> str:
    """The last lines of the nodes' logs, for an error message."""
    parts = []
    for node in cluster:
        for log in (node.layout.server_log, node.layout.console_log):
            text = process.tail(log, 10 if len(cluster) > 1 else 20)
            if text:
                parts.append(f"--- last lines of {log} ---\n{text}")
    return "".join(parts) or "(no log output)"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None
