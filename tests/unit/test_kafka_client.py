"""Kafka security settings -> aiokafka keyword arguments and Faust credentials."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from streams.config import Settings
from streams.kafka.client import KafkaSecurityError, client_kwargs
from streams.worker.faust_app import faust_app_kwargs, faust_credentials

BOOTSTRAP = "kafka-1.example:9093,kafka-2.example:9093"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate, as an operator's CA bundle would be."""
    folder = tmp_path_factory.mktemp("ca")
    cert = folder / "ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=nezlam-test-ca", "-keyout", str(folder / "ca.key"), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert


def sasl_ssl(ca_file: Path | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap": BOOTSTRAP,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "nezlam-worker",
        "kafka_sasl_password": "s3cret-pw",
        "kafka_ssl_cafile": ca_file,
    }
    return Settings(**{**values, **overrides})


def test_plaintext_is_the_default() -> None:
    settings = Settings(kafka_bootstrap=BOOTSTRAP)
    assert client_kwargs(settings) == {
        "bootstrap_servers": BOOTSTRAP.split(","), "security_protocol": "PLAINTEXT",
    }
    assert faust_credentials(settings) is None


def test_faust_apps_get_every_broker_and_raw_bytes() -> None:
    kwargs = faust_app_kwargs(Settings(kafka_bootstrap=BOOTSTRAP, topic_partitions=48))
    assert kwargs["broker"] == ["kafka://kafka-1.example:9093", "kafka://kafka-2.example:9093"]
    assert kwargs["topic_partitions"] == 48
    assert (kwargs["key_serializer"], kwargs["value_serializer"]) == ("raw", "raw")


def test_sasl_ssl_client_kwargs(ca_file: Path) -> None:
    kwargs = client_kwargs(sasl_ssl(ca_file))
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "bootstrap_servers": BOOTSTRAP.split(","),
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "nezlam-worker",
        "sasl_plain_password": "s3cret-pw",
    }
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert any(ca["subject"] == ((("commonName", "nezlam-test-ca"),),)
               for ca in context.get_ca_certs())


@pytest.mark.parametrize("protocol", ["SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_faust_credentials_match_the_aiokafka_kwargs(ca_file: Path, protocol: str) -> None:
    """Faust's own translation of the credentials gives what the plain clients get."""
    settings = sasl_ssl(ca_file, kafka_security_protocol=protocol,
                        kafka_sasl_mechanism="SCRAM-SHA-256")
    ours = client_kwargs(settings)
    faust_side = credentials_to_aiokafka_auth(faust_credentials(settings))
    assert faust_side["security_protocol"] == protocol
    for name, value in faust_side.items():
        if name == "ssl_context":
            assert (value is None) == ("ssl_context" not in ours)
        else:
            assert ours[name] == value


def test_ssl_without_sasl(ca_file: Path) -> None:
    settings = sasl_ssl(ca_file, kafka_security_protocol="SSL")
    kwargs = client_kwargs(settings)
    assert kwargs["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in kwargs
    assert isinstance(faust_credentials(settings), faust.SSLCredentials)


def test_sasl_needs_a_user_and_a_password(ca_file: Path) -> None:
    settings = sasl_ssl(ca_file, kafka_sasl_password=None)
    with pytest.raises(KafkaSecurityError, match="NEZLAM_KAFKA_SASL_PASSWORD"):
        client_kwargs(settings)
    with pytest.raises(KafkaSecurityError, match="NEZLAM_KAFKA_SASL_USERNAME"):
        faust_credentials(settings)


def test_a_missing_ca_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(KafkaSecurityError, match="NEZLAM_KAFKA_SSL_CAFILE"):
        client_kwargs(sasl_ssl(tmp_path / "absent.crt"))


def test_the_password_never_shows_in_the_settings(ca_file: Path) -> None:
    settings = sasl_ssl(ca_file)
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in str(settings.model_dump())


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="kafka_security_protocol"):
        Settings(kafka_security_protocol="SASL_TLS")
