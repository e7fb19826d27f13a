"""The local stack's PostgreSQL passwords: one per role, generated once, kept in a libpq passfile.

The file (``settings.pg_passfile``, git-ignored under ``.local/``) is readable by its owner
only (0600, which libpq also insists on) and holds lines ``host:port:database:role:password``
for the loopback addresses, any port and database. libpq reads it through the ``passfile``
parameter that the settings add to loopback DSNs, so the worker, the tools and ``psql`` log in
without anyone typing a password. Production never uses it: passwords come from Secrets.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from streams.stack.private_file import write_private

OWNER = "nezlam_owner"
WRITER = "nezlam_writer"
READER = "nezlam_reader"
ANALYST = "nezlam_analyst"
# Every login role of the local stack except the superuser, which logs in over the unix
# socket only (peer authentication) and so has no password.
ROLES = (OWNER, WRITER, READER, ANALYST)
HOSTS = ("127.0.0.1", "localhost")
PASSWORD_BYTES = 24


def read_passwords(path: Path) -> dict[str, str]:
    """Role -> password from a passfile written by :func:`ensure_passwords` (empty if none)."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if len(fields) == 5 and not line.startswith("#"):
            found[fields[3]] = fields[4]
    return found


def ensure_passwords(path: Path) -> dict[str, str]:
    """Role -> password for every role of :data:`ROLES`, generating the missing ones and
    (re)writing the file with mode 0600."""
    passwords = read_passwords(path)
    for role in ROLES:
        # URL-safe base64: no ':' or '\\', which the passfile format would need escaped.
        passwords.setdefault(role, secrets.token_urlsafe(PASSWORD_BYTES))
    _write(path, {role: passwords[role] for role in ROLES})
    return passwords


def _write(path: Path, passwords: Mapping[str, str]) -> None:
    lines = ["# Managed by `nezlam stack up`: local PostgreSQL passwords (libpq passfile)."]
    lines += [f"{host}:*:*:{role}:{password}"
              for role, password in passwords.items() for host in HOSTS]
    write_private(path, lines)
