"""The local broker's configuration and the topic requests, rendered without any service."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.kafka.topic_admin import new_topics
from streams.kafka.topics import REGISTRY, TELEMETRY, all_topics, changelog_topics
from streams.stack.kafka_config import (
    KafkaLayout,
    broker_port,
    log4j2_properties,
    nodes,
    render_properties,
    server_properties,
)
from streams.stack.kafka_dist import java_major
from streams.stack.settings import StackSettings as Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        kafka_bootstrap="localhost:29092,other:9092",
        kafka_controller_port=29093,
        state_dir=tmp_path,
        topic_partitions=6,
        topic_retention_hours=48,
    )


def test_broker_port_is_the_first_bootstrap_entry(settings: Settings) -> None:
    assert broker_port(settings) == 29092


@pytest.mark.parametrize("bootstrap", ["localhost", "localhost:", ":9092", "host:port"])
def test_broker_port_rejects_an_entry_without_host_and_port(bootstrap: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        broker_port(Settings(kafka_bootstrap=bootstrap))


def test_single_node_kraft_listens_on_the_configured_ports(settings: Settings) -> None:
    props = server_properties(settings, nodes(settings)[0])
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["controller.listener.names"] == "CONTROLLER"


def test_internal_topics_fit_a_single_node(settings: Settings) -> None:
    props = server_properties(settings, nodes(settings)[0])
    single = [
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "min.insync.replicas",
    ]
    assert {key: props[key] for key in single} == dict.fromkeys(single, "1")
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_data_and_logs_stay_under_the_state_dir(settings: Settings, tmp_path: Path) -> None:
    layout = KafkaLayout.of(settings)
    log_dirs = server_properties(settings, nodes(settings)[0])["log.dirs"]
    assert Path(log_dirs) == tmp_path / "kafka" / "data"
    log4j = log4j2_properties(layout)
    assert log4j["appender.server.fileName"] == str(tmp_path / "kafka" / "logs" / "server.log")


def test_properties_render_one_assignment_per_line() -> None:
    text = render_properties({"a.b": "1", "c": "x,y"})
    assert text.endswith("a.b=1\nc=x,y\n")
    assert text.startswith("#")


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_402"', 8),
        ("command not found", None),
    ],
)
def test_java_major_version_is_read_from_java_version_output(
    output: str, major: int | None
) -> None:
    assert java_major(output) == major


def test_every_contract_topic_is_requested_with_the_configured_partitions(
    settings: Settings,
) -> None:
    requested = {topic.name: topic for topic in new_topics(settings)}
    assert list(requested) == [
        *(spec.name for spec in all_topics(settings.deadletter_topic)),
        *(spec.name for spec in changelog_topics(settings.app_id)),
    ]
    assert requested[f"{settings.app_id}-points-changelog"].topic_configs == {
        "cleanup.policy": "compact", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1",
        "min.insync.replicas": "1",
    }
    assert {topic.num_partitions for topic in requested.values()} == {6}
    assert {topic.replication_factor for topic in requested.values()} == {1}
    assert requested[REGISTRY].topic_configs == {"cleanup.policy": "compact",
                                                  "min.insync.replicas": "1"}
    assert requested[TELEMETRY].topic_configs == {
        "cleanup.policy": "delete",
        "retention.ms": str(48 * 3_600_000),
        "min.insync.replicas": "1",
    }


def test_three_brokers_are_a_controller_and_three_brokers_replicating_three_times(
    tmp_path: Path,
) -> None:
    settings = Settings(kafka_bootstrap="localhost:29092", kafka_controller_port=29093,
                        kafka_brokers=3, state_dir=tmp_path)
    cluster = nodes(settings)
    assert [(n.name, n.roles, n.broker_port, n.controller_port) for n in cluster] == [
        ("kafka-controller", "controller", None, 29093),
        ("kafka-broker-1", "broker", 29092, None),
        ("kafka-broker-2", "broker", 29192, None),
        ("kafka-broker-3", "broker", 29292, None),
    ]
    assert settings.topic_replication == 3
    broker = server_properties(settings, cluster[2])
    assert broker["listeners"] == "PLAINTEXT://127.0.0.1:29192"
    assert broker["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert broker["min.insync.replicas"] == "2"
    assert broker["default.replication.factor"] == "3"
    assert {t.replication_factor for t in new_topics(settings)} == {3}
    assert {t.topic_configs["min.insync.replicas"] for t in new_topics(settings)} == {"2"}


def test_sasl_enforces_acls_and_denies_by_default(settings: Settings) -> None:
    sasl = settings.model_copy(update={"kafka_security_protocol": "SASL_PLAINTEXT"})
    props = server_properties(sasl, nodes(sasl)[0], admin_password="secret")
    assert props["listeners"].startswith("SASL_PLAINTEXT://127.0.0.1:29092")
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    with pytest.raises(ValueError, match="admin password"):
        server_properties(sasl, nodes(sasl)[0])
