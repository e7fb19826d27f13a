"""The local Kafka's SCRAM passwords: one per principal, generated once, kept in a file.

Like the PostgreSQL passwords (``streams.stack.pgpass``): the file (``settings.kafka_passfile``,
git-ignored under ``.local/``) is readable by its owner only (0600) and holds ``user:password``
lines. A client on the loopback address with ``NEZLAM_KAFKA_SASL_USERNAME`` and no password reads
its password from it (``streams.config``). Production never uses it: passwords come from Secrets.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path

from streams.config import read_kafka_passwords
from streams.stack.private_file import write_private

PASSWORD_BYTES = 24


def ensure_passwords(path: Path, users: Iterable[str]) -> dict[str, str]:
    """User -> password for every user, generating the missing ones and (re)writing the file
    with mode 0600."""
    passwords = read_kafka_passwords(path)
    for user in users:
        # URL-safe base64: no ':' (the separator) and nothing a JAAS string would need escaped.
        passwords.setdefault(user, secrets.token_urlsafe(PASSWORD_BYTES))
    lines = ["# Managed by `nezlam stack up`: local Kafka SCRAM passwords (user:password)."]
    lines += [f"{user}:{password}" for user, password in passwords.items()]
    write_private(path, lines)
    return passwords
