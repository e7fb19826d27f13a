"""Files of the local Kafka (KRaft): its nodes, where they live and what they contain.

One broker (the default, ``NEZLAM_KAFKA_BROKERS=1``) is a single JVM acting as broker and
controller. Two or more brokers get a controller of their own: one controller and N brokers,
so that a broker killed by a fault test never also takes a member of the metadata quorum with
it (with three combined nodes, two brokers down would also be two controllers down, and the
cluster would lose its metadata quorum instead of showing ``min.insync.replicas`` at work), and
because dedicated controllers are how production runs KRaft. The single controller is a
single point of failure of the *local* cluster only; faults are injected into brokers.

With ``NEZLAM_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT`` the client listener takes SCRAM-SHA-512
logins and the ``StandardAuthorizer`` denies whatever no ACL allows (``streams.stack.kafka_acls``).
Pure: renders text from settings; ``streams.stack.kafka`` writes it and runs the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streams.kafka.topic_admin import min_insync_replicas
from streams.stack.settings import StackSettings

LISTEN_HOST = "127.0.0.1"
NODE_ID = 1
CONTROLLER_NODE_ID = 0
# Ports of brokers 2, 3, ... when NEZLAM_KAFKA_BOOTSTRAP lists fewer: the first one plus this step.
BROKER_PORT_STEP = 100
# The stack's own login: formats the storage, connects broker to broker, creates users and ACLs.
ADMIN_USER = "nezlam-admin"
SCRAM_MECHANISM = "SCRAM-SHA-512"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@dataclass(frozen=True, slots=True)
class KafkaLayout:
    """Paths of the local broker under ``settings.state_dir / "kafka"`` (git-ignored)."""

    root: Path

    @classmethod
    def of(cls, settings: StackSettings) -> KafkaLayout:
        """The layout of the single-node Kafka for ``settings.state_dir``."""
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


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One JVM of the local Kafka: its id, roles, ports and files."""

    node_id: int
    name: str
    broker_port: int | None  # None: a controller only
    controller_port: int | None  # None: a broker only
    layout: KafkaLayout

    @property
    def roles(self) -> str:
        """``process.roles``."""
        return ",".join(role for role, port in (("broker", self.broker_port),
                                                 ("controller", self.controller_port))
                        if port is not None)


def broker_port(settings: StackSettings) -> int:
    """The port of the first ``kafka_bootstrap`` entry: where the local broker listens."""
    return _port(settings.kafka_bootstrap[0])


def _port(entry: str) -> int:
    host, sep, port = entry.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"NEZLAM_KAFKA_BOOTSTRAP entry {entry!r} is not host:port")
    return int(port)


def broker_ports(settings: StackSettings) -> list[int]:
    """The port of each local broker: the ``kafka_bootstrap`` entries' ports, then the first
    port plus 100, 200, ... for the brokers it does not list."""
    listed = [_port(entry) for entry in settings.kafka_bootstrap][: settings.kafka_brokers]
    first = listed[0]
    return listed + [first + BROKER_PORT_STEP * i
                     for i in range(len(listed), settings.kafka_brokers)]


def nodes(settings: StackSettings) -> list[KafkaNode]:
    """The local Kafka's nodes: one combined node, or a controller and ``kafka_brokers`` brokers."""
    if settings.kafka_brokers == 1:
        return [KafkaNode(NODE_ID, "kafka", broker_port(settings),
                          settings.kafka_controller_port, KafkaLayout.of(settings))]
    # Apart from the single node's files: switching between one and three keeps both.
    root = settings.state_dir / "kafka-cluster"
    controller = KafkaNode(CONTROLLER_NODE_ID, "kafka-controller", None,
                           settings.kafka_controller_port, KafkaLayout(root / "controller"))
    return [controller, *(
        KafkaNode(i, f"kafka-broker-{i}", port, None, KafkaLayout(root / f"broker-{i}"))
        for i, port in enumerate(broker_ports(settings), start=1))]


def sasl_enabled(settings: StackSettings) -> bool:
    """Whether the local Kafka takes SCRAM logins and enforces ACLs."""
    return settings.kafka_security_protocol == "SASL_PLAINTEXT"


def client_listener(settings: StackSettings) -> str:
    """The clients' (and brokers') listener: PLAINTEXT, or SASL_PLAINTEXT with ACLs."""
    return "SASL_PLAINTEXT" if sasl_enabled(settings) else "PLAINTEXT"


def server_properties(
    settings: StackSettings, node: KafkaNode, admin_password: str | None = None
) -> dict[str, str]:
    """One node's configuration, sized for local development.

    ``admin_password``: the stack's own SCRAM login, which brokers use between themselves
    (required when SASL is on).
    """
    controller = f"{LISTEN_HOST}:{settings.kafka_controller_port}"
    listener = client_listener(settings)
    listeners = []
    if node.broker_port is not None:
        listeners.append(f"{listener}://{LISTEN_HOST}:{node.broker_port}")
    if node.controller_port is not None:
        listeners.append(f"CONTROLLER://{LISTEN_HOST}:{node.controller_port}")
    replication = min(3, settings.kafka_brokers)
    min_isr = str(min_insync_replicas(replication))
    props = {
        "process.roles": node.roles,
        "node.id": str(node.node_id),
        # A dynamic quorum of one controller, bootstrapped by `kafka-storage format --standalone`.
        "controller.quorum.bootstrap.servers": controller,
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(listeners),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": listener,
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{listener}:{listener}",
        "log.dirs": str(node.layout.data_dir),
        "num.partitions": str(settings.topic_partitions),
        # Internal topics as replicated as the brokers allow; one node makes do with one replica.
        "default.replication.factor": str(replication),
        "offsets.topic.replication.factor": str(replication),
        "transaction.state.log.replication.factor": str(replication),
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": str(replication),
        "share.coordinator.state.topic.min.isr": min_isr,
        "min.insync.replicas": min_isr,
        # Contract topics are created by `nezlam stack up` with their own settings; a typo in a
        # producer must fail loudly rather than create a stray topic. Faust's changelog and
        # repartition topics go through the admin API, which this does not affect.
        "auto.create.topics.enable": "false",
        # Workers restart often in development; do not hold the first rebalance back 3 s.
        "group.initial.rebalance.delay.ms": "0",
    }
    if settings.kafka_brokers > 1:
        # A killed broker is fenced, and its partitions get new leaders, after 6 s without a
        # heartbeat rather than 9 s.
        props["broker.heartbeat.interval.ms"] = "1000"
        props["broker.session.timeout.ms"] = "6000"
    if sasl_enabled(settings):
        props.update(_sasl_properties(listener, admin_password))
    return props


def _sasl_properties(listener: str, admin_password: str | None) -> dict[str, str]:
    if admin_password is None:
        raise ValueError("SASL needs the admin password (streams.stack.kafka_users)")
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="{ADMIN_USER}" password="{admin_password}";')
    return {
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        f"listener.name.{listener.lower()}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": jaas,
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        # The controller listener is PLAINTEXT on the loopback address only: its peers (the
        # brokers) are anonymous there, and must be allowed cluster actions. Every client
        # listener is SASL, so no client is ever ANONYMOUS. Production authenticates the
        # controller listener too (docs/operations.md).
        "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
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
