"""Why Kafka refused a client, in one line: a wrong login, a missing ACL, or no broker at all.

aiokafka reports a refused SCRAM login as "Unable to bootstrap from [...]" (the broker's reason
is only logged) and a missing ACL as an authorization error naming the topic or group. The
``nezlam`` commands and the worker turn those into one clear line (no stack trace) through
:func:`explain`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)

from streams.config import Settings
from streams.kafka.client import SASL_PROTOCOLS, client_kwargs

PROBE_TIMEOUT_S = 10.0
DENIED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError,
          ClusterAuthorizationFailedError)


async def login_refusal(settings: Settings) -> str | None:
    """The brokers' reason for refusing this client's login, or None if a broker took it (or
    none could be reached, or the protocol has no login)."""
    if settings.kafka_security_protocol not in SASL_PROTOCOLS:
        return None
    kwargs: dict[str, Any] = client_kwargs(settings)
    kwargs.pop("bootstrap_servers")
    for entry in settings.kafka_bootstrap:
        host, _, port = entry.rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(PROBE_TIMEOUT_S * 1000),
                            **kwargs), PROBE_TIMEOUT_S)
        except SaslAuthenticationFailed as exc:
            detail = str(exc).partition(": ")[2] or exc.description
            return (f"Kafka refused the login of {settings.kafka_sasl_username!r} "
                    f"({settings.kafka_sasl_mechanism}): {detail}. Check "
                    "NEZLAM_KAFKA_SASL_USERNAME and NEZLAM_KAFKA_SASL_PASSWORD")
        except (KafkaError, OSError, TimeoutError, ValueError):
            continue
        conn.close()
        return None
    return None


def explain(settings: Settings, error: KafkaError) -> str:
    """One line for an error a Kafka client raised, naming what to check."""
    if isinstance(error, DENIED):
        return (f"Kafka denied {settings.kafka_sasl_username or 'this client'}: {error}. The "
                "principal lacks an ACL for it (docs/operations.md, \"Kafka principals and "
                "ACLs\")")
    if isinstance(error, KafkaConnectionError):
        refusal = asyncio.run(login_refusal(settings))
        if refusal is not None:
            return refusal
        return (f"Kafka at {','.join(settings.kafka_bootstrap)} is not reachable ({error}); "
                "check NEZLAM_KAFKA_BOOTSTRAP and that the brokers run")
    return f"Kafka: {error}"
