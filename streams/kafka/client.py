"""How every Kafka client of the project reaches the brokers: address, TLS and SASL.

Plain aiokafka clients take ``**client_kwargs(settings)``; Faust apps take
``**faust_app_kwargs(settings)`` (:mod:`streams.worker.faust_app`). Both read the same
``NEZLAM_KAFKA_*`` settings, so a worker's consumers, producers, admin client and registry
follower all connect the same way. The default (``PLAINTEXT``) is the local stack; production
uses ``SASL_SSL`` (docs/operations.md).
"""

from __future__ import annotations

import ssl
from typing import Any

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


def sasl_login(settings: Settings) -> tuple[str, str]:
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
        username, password = sasl_login(settings)
        # aiokafka takes the SCRAM login through the same two "plain" arguments as PLAIN.
        kwargs.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=username,
            sasl_plain_password=password,
        )
    return kwargs
