"""The Kafka principals and ACLs of ``config/kafka_acls.yaml``, applied to the local Kafka.

The file is the one declaration: ``nezlam stack up`` creates its users and ACLs, and
docs/operations.md shows it verbatim (a unit test keeps the two equal). :func:`bindings` is
pure (declaration and settings in, ACL bindings out); :func:`apply` talks to the brokers with
confluent-kafka's admin client, which (unlike aiokafka) speaks the ACL and SCRAM admin APIs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streams.config import Settings
from streams.resources import kafka_acls

PREFIX_WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class AclBinding:
    """One ALLOW rule: a principal may do ``operation`` on a resource (name or name prefix)."""

    user: str
    operation: str  # Kafka's name: Read, Write, Describe, DescribeConfigs, Create
    resource_type: str  # topic or group
    name: str
    prefixed: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """One role of the pipeline: its SCRAM user and what it may do."""

    role: str
    user: str
    allow: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (operations, resources)


def load(path: Path | None = None) -> list[Principal]:
    """The principals of the declaration (default: the shipped ``config/kafka_acls.yaml``)."""
    document: dict[str, Any] = yaml.safe_load((path or kafka_acls()).read_text(encoding="utf-8"))
    return [
        Principal(role, entry["user"], tuple(
            (tuple(rule["operations"]), tuple(rule["resources"])) for rule in entry["allow"]))
        for role, entry in document["principals"].items()
    ]


def users(principals: list[Principal]) -> dict[str, str]:
    """Role -> SCRAM user."""
    return {principal.role: principal.user for principal in principals}


def bindings(principals: list[Principal], settings: Settings) -> list[AclBinding]:
    """Every ALLOW binding, placeholders filled in for ``settings``' namespace."""
    from streams.kafka.topics import PREFIX  # read at import: after any namespace was entered

    values = {"prefix": PREFIX, "app_id": settings.app_id,
              "deadletter": settings.deadletter_topic}
    found: list[AclBinding] = []
    for principal in principals:
        for operations, resources in principal.allow:
            for resource in resources:
                kind, _, pattern = resource.partition(":")
                if kind not in ("topic", "group") or not pattern:
                    raise ValueError(f"{principal.role}: resource {resource!r} is not "
                                     "topic:NAME or group:NAME")
                name = pattern.format(**values)
                prefixed = name.endswith(PREFIX_WILDCARD)
                found += [AclBinding(principal.user, operation, kind,
                                     name.removesuffix(PREFIX_WILDCARD), prefixed)
                          for operation in operations]
    return found


def apply(admin_config: dict[str, str], passwords: dict[str, str],
          acl_bindings: list[AclBinding], timeout: float = 30.0) -> None:
    """Create (or update) every user's SCRAM credential and every ACL; both are idempotent."""
    # A C extension with partial type hints: loaded only by the stack, used untyped.
    ck: Any = importlib.import_module("confluent_kafka.admin")
    client = ck.AdminClient(admin_config)
    upserts = [ck.UserScramCredentialUpsertion(
        user, ck.ScramCredentialInfo(ck.ScramMechanism.SCRAM_SHA_512, 8192), password.encode())
        for user, password in passwords.items()]
    for future in client.alter_user_scram_credentials(upserts, request_timeout=timeout).values():
        future.result()
    acls = [ck.AclBinding(
        ck.ResourceType[binding.resource_type.upper()], binding.name,
        ck.ResourcePatternType.PREFIXED if binding.prefixed else ck.ResourcePatternType.LITERAL,
        f"User:{binding.user}", "*", _operation(ck, binding.operation),
        ck.AclPermissionType.ALLOW) for binding in acl_bindings]
    for future in client.create_acls(acls, request_timeout=timeout).values():
        future.result()


def _operation(ck: Any, name: str) -> Any:
    # DescribeConfigs -> DESCRIBE_CONFIGS
    snake = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()
    return ck.AclOperation[snake]
