"""The Kafka principals and ACLs: one declaration, shown verbatim in docs/operations.md."""

from __future__ import annotations

from pathlib import Path

from streams.config import Settings
from streams.resources import kafka_acls as acl_file
from streams.stack import kafka_acls
from streams.stack.kafka_users import ensure_passwords

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_operations_docs_show_the_declaration_the_stack_applies() -> None:
    docs = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert f"```yaml\n{acl_file().read_text(encoding='utf-8')}```" in docs


def test_one_principal_per_role() -> None:
    principals = kafka_acls.load()
    assert set(kafka_acls.users(principals)) == {
        "gateway", "simulator", "worker", "planner", "reader", "operator"}
    assert len(set(kafka_acls.users(principals).values())) == len(principals)


def _allowed(settings: Settings, user: str) -> set[tuple[str, str, str, bool]]:
    return {(b.operation, b.resource_type, b.name, b.prefixed)
            for b in kafka_acls.bindings(kafka_acls.load(), settings) if b.user == user}


def test_gateways_write_the_inputs_only() -> None:
    allowed = _allowed(Settings(), "nezlam-gateway")
    assert {op for op, *_ in allowed} == {"Write", "Describe"}
    assert {name for _, _, name, _ in allowed} == {
        "points.registry", "points.telemetry", "points.visits", "points.activations"}


def test_the_worker_reads_inputs_writes_outputs_and_owns_its_group_and_topics() -> None:
    allowed = _allowed(Settings(app_id="nezlam-x"), "nezlam-worker")
    assert ("Read", "topic", "points.telemetry", False) in allowed
    assert ("Write", "topic", "points.telemetry", False) not in allowed
    assert ("Write", "topic", "alerts", False) in allowed
    assert ("Write", "topic", "points.deadletter", False) in allowed
    assert ("Create", "topic", "nezlam-x-", True) in allowed
    assert ("Read", "group", "nezlam-x", False) in allowed


def test_readers_never_write() -> None:
    allowed = _allowed(Settings(), "nezlam-reader")
    assert {op for op, *_ in allowed} == {"Read", "Describe"}
    assert ("Read", "topic", "alerts", False) in allowed


def test_passwords_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "kafka-passwords"
    first = ensure_passwords(path, ["a", "b"])
    assert ensure_passwords(path, ["a", "b", "c"])["a"] == first["a"]
    assert path.stat().st_mode & 0o777 == 0o600
    assert ":" not in first["a"]


def test_a_local_sasl_client_reads_its_password_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kafka-passwords"
    passwords = ensure_passwords(path, ["nezlam-worker"])
    local = Settings(kafka_bootstrap="localhost:9092", kafka_security_protocol="SASL_PLAINTEXT",
                     kafka_sasl_username="nezlam-worker", kafka_passfile=path)
    assert local.kafka_sasl_password is not None
    assert local.kafka_sasl_password.get_secret_value() == passwords["nezlam-worker"]
    remote = Settings(kafka_bootstrap="kafka.prod:9093", kafka_security_protocol="SASL_SSL",
                      kafka_sasl_username="nezlam-worker", kafka_passfile=path)
    assert remote.kafka_sasl_password is None
