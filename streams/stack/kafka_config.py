"""Files of the local single-node Kafka (KRaft): where they live and what they contain.

Pure: renders text from settings; ``streams.stack.kafka`` writes it and runs the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams.stack.settings import StackSettings

LISTEN_HOST = "127.0.0.1"
NODE_ID = 1


@dataclass(frozen=True, slots=True)
class KafkaLayout:
    """Paths of the local broker under ``settings.state_dir / "kafka"`` (git-ignored)."""

    root: Path

    @classmethod
    def of(cls, settings: StackSettings) -> KafkaLayout:
        """The layout for ``settings.state_dir``."""
        return cls(settings.state_dir / "kafka")

    @property
    def server_properties(self) -> Path:
        """The broker configuration."""
        return self.root / "server.properties"

    @property
    def log4j2_properties(self) -> Path:
        """The logging configuration."""
        return self.root / "log4j2.properties"

    @property
    def data_dir(self) -> Path:
        """``log.dirs``: partitions and the KRaft metadata log."""
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        """The broker's own logs."""
        return self.root / "logs"

    @property
    def server_log(self) -> Path:
        """Where log4j2 writes the broker log."""
        return self.logs_dir / "server.log"

    @property
    def console_log(self) -> Path:
        """The JVM's stdout and stderr (startup failures land here, not in server.log)."""
        return self.logs_dir / "console.log"

    @property
    def pid_file(self) -> Path:
        """Pid of the running broker."""
        return self.root / "kafka.pid"

    @property
    def version_file(self) -> Path:
        """Kafka version of the running broker (settings may change while it runs)."""
        return self.root / "kafka.version"

    @property
    def formatted_marker(self) -> Path:
        """Written by ``kafka-storage format``; its presence means the storage is formatted."""
        return self.data_dir / "meta.properties"


def broker_port(settings: StackSettings) -> int:
    """The port of the first ``kafka_bootstrap`` entry: where the local broker listens."""
    first = settings.kafka_bootstrap[0]
    host, sep, port = first.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"NEZLAM_KAFKA_BOOTSTRAP entry {first!r} is not host:port")
    return int(port)


def server_properties(settings: StackSettings, layout: KafkaLayout) -> dict[str, str]:
    """A single node acting as broker and KRaft controller, sized for local development."""
    broker = f"{LISTEN_HOST}:{broker_port(settings)}"
    controller = f"{LISTEN_HOST}:{settings.kafka_controller_port}"
    return {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        # A dynamic quorum of one, bootstrapped by `kafka-storage format --standalone`.
        "controller.quorum.bootstrap.servers": controller,
        "listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(layout.data_dir),
        "num.partitions": str(settings.topic_partitions),
        # One node: every internal topic must make do with a single replica.
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        # Contract topics are created by `nezlam stack up` with their own settings; a typo in a
        # producer must fail loudly rather than create a stray topic. Faust's changelog and
        # repartition topics go through the admin API, which this does not affect.
        "auto.create.topics.enable": "false",
        # Workers restart often in development; do not hold the first rebalance back 3 s.
        "group.initial.rebalance.delay.ms": "0",
    }


def render_properties(values: dict[str, str]) -> str:
    """Java ``.properties`` text (values here never hold characters that need escaping)."""
    lines = ["# Written by `nezlam stack up` (streams/stack/kafka_config.py); edits are lost."]
    lines += [f"{key}={value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def log4j2_properties(layout: KafkaLayout) -> dict[str, str]:
    """Broker log to ``logs/server.log``, rolled at 50 MB, five files kept."""
    log = str(layout.server_log)
    return {
        "status": "warn",
        "name": "nezlam-kafka",
        "appender.server.type": "RollingFile",
        "appender.server.name": "server",
        "appender.server.fileName": log,
        "appender.server.filePattern": f"{log}.%i",
        "appender.server.layout.type": "PatternLayout",
        "appender.server.layout.pattern": "[%d] %p %m (%c)%n",
        "appender.server.policies.type": "Policies",
        "appender.server.policies.size.type": "SizeBasedTriggeringPolicy",
        "appender.server.policies.size.size": "50MB",
        "appender.server.strategy.type": "DefaultRolloverStrategy",
        "appender.server.strategy.max": "5",
        "rootLogger.level": "INFO",
        "rootLogger.appenderRef.server.ref": "server",
        # One line per request at INFO would drown everything else.
        "logger.request.name": "kafka.request.logger",
        "logger.request.level": "WARN",
    }
