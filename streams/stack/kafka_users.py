"""The local Kafka's SCRAM passwords: one per principal, generated once, kept in a file.

Like the PostgreSQL passwords (``streams.stack.pgpass``): the file (``settings.kafka_passfile``,
git-ignored under ``.local/``) is readable by its owner only (0600) and holds ``user:password``
lines. A client on the loopback address with ``NEZLAM_KAFKA_SASL_USERNAME`` and no password reads
its password from it (``streams.config``). Production never uses it: passwords come from Secrets.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from streams.config import read_kafka_passwords

PASSWORD_BYTES = 24


def ensure_passwords(path: Path, users: Iterable[str]) -> dict[str, str]:
    """User -> password for every user, generating the missing ones and (re)writing the file
    with mode 0600."""
    passwords = read_kafka_passwords(path)
    for user in users:
        # URL-safe base64: no ':' (the separator) and nothing a JAAS string would need escaped.
        passwords.setdefault(user, secrets.token_urlsafe(PASSWORD_BYTES))
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Managed by `nezlam stack up`: local Kafka SCRAM passwords (user:password)."]
    lines += [f"{user}:{password}" for user, password in passwords.items()]
    staging = path.with_name(path.name + ".new")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(staging, 0o600)  # an older staging file may have had another mode
    os.replace(staging, path)
    return passwords
