"""How every Kafka client of the project reaches the brokers: address, TLS and SASL.

Plain aiokafka clients take ``**client_kwargs(settings)``; Faust apps take
``**faust_app_kwargs(settings)``. Both read the same ``NEZLAM_KAFKA_*``
settings, so a worker's consumers, producers, admin client and registry follower all connect
the same way. The default (``PLAINTEXT``) is the local stack; production uses ``SASL_SSL``
(docs/operations.md).
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from faust.types.auth import CredentialsT

from streams.config import Settings

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or unusable."""


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying TLS context (certificate and host name) for SSL and SASL_SSL, else None."""
    if settings.kafka_security_protocol not in TLS_PROTOCOLS:
        return None
    cafile = settings.kafka_ssl_cafile
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(f"NEZLAM_KAFKA_SSL_CAFILE={cafile}: {exc}") from exc


def _sasl_login(settings: Settings) -> tuple[str, str]:
    """User and password for a SASL protocol; both are required."""
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise KafkaSecurityError(
            f"NEZLAM_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs "
            "NEZLAM_KAFKA_SASL_USERNAME and NEZLAM_KAFKA_SASL_PASSWORD"
        )
    return settings.kafka_sasl_username, settings.kafka_sasl_password.get_secret_value()


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client: bootstrap servers, protocol, TLS, SASL."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {
        "bootstrap_servers": list(settings.kafka_bootstrap),
        "security_protocol": protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if protocol in SASL_PROTOCOLS:
        username, password = _sasl_login(settings)
        # aiokafka takes the SCRAM login through the same two "plain" arguments as PLAIN.
        kwargs.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=username,
            sasl_plain_password=password,
        )
    return kwargs


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """``broker_credentials`` for ``faust.App``; None for PLAINTEXT (Faust's default)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    username, password = _sasl_login(settings)
    # Faust derives SASL_SSL from the presence of a TLS context, SASL_PLAINTEXT from its absence.
    return faust.SASLCredentials(
        username=username,
        password=password,
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )


def faust_app_kwargs(settings: Settings) -> dict[str, Any]:
    """What every Faust app of the project shares: brokers, credentials, topic defaults and
    raw bytes in and out (the contract validates the JSON itself)."""
    return {
        "broker": [f"kafka://{host}" for host in settings.kafka_bootstrap],
        "broker_credentials": faust_credentials(settings),
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "consumer_auto_offset_reset": "earliest",
        # Failover (docs/operations.md, "When things fail"): a worker that stops heartbeating
        # loses its partitions after the session timeout; the survivors rejoin on their next
        # heartbeat. Shorter is faster failover, but a worker whose event loop is blocked for
        # longer than the session timeout is taken for dead and its partitions move too.
        "broker_session_timeout": settings.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": settings.kafka_session_timeout_seconds / 5,
        "broker_rebalance_timeout": settings.kafka_session_timeout_seconds,
        **_throughput_kwargs(settings),
    }


# --- Throughput and memory (issue 12; docs/operations.md, "Sizing") ----------------------------
def _throughput_kwargs(settings: Settings) -> dict[str, Any]:
    """Faust settings that change what an event costs (measured by ``make bench``)."""
    return {
        # Faust pauses fetching a partition once its stream buffer is 80 % full (default 4,096):
        # below the agents' batch size a batch could never fill from one partition's buffer.
        "stream_buffer_maxsize": 2 * settings.sink_batch_size,
        # Standby replicas replay every changelog record through Faust's per-message path on
        # every other worker, which doubles the state work with two workers; without them a
        # worker taking over restores the partition from its changelog (seconds for this state).
        "table_standby_replicas": 0,
        # One fetch returns at most one batch's worth of records: bounded memory per fetch.
        "broker_max_poll_records": settings.sink_batch_size,
    }
# --- end throughput and memory --------------------------------------------------------------
