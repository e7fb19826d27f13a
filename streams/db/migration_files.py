"""The versioned SQL migrations on disk and the plan for one database mode (no I/O to a server).

Files are named ``NNN_description.sql`` (both modes) or ``NNN_description.<mode>.sql`` with
``<mode>`` one of ``timescaledb`` or ``postgres``; a version has either one shared file or one
file for each mode, with the same description.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from streams.resources import migrations_dir

MIGRATIONS_DIR = migrations_dir()
TIMESCALEDB = "timescaledb"
POSTGRES = "postgres"
MODES = (TIMESCALEDB, POSTGRES)

# Earlier checksums of migrations revised after release, each still accepted as applied. A
# revision may only change how a migration reaches the same end state (001 once created roles
# with CREATE ROLE first, which a schema owner without CREATEROLE may not attempt).
SUPERSEDED_CHECKSUMS: dict[int, frozenset[str]] = {
    1: frozenset({"b2e4dc6926a9948b47cf3f6c3fddfa9713011e3b160769274ac55166a5986e8c"}),
}

_NAME = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9_]+)(?:\.(?P<mode>[a-z]+))?\.sql$")


class MigrationFileError(ValueError):
    """The migrations directory does not follow the naming rules."""


@dataclass(frozen=True)
class MigrationFile:
    """One ``.sql`` file: its version, description, mode (None: shared) and path."""

    version: int
    name: str
    mode: str | None
    path: Path


@dataclass(frozen=True)
class Migration:
    """One step of the plan for a mode: the SQL to run and its checksum."""

    version: int
    name: str
    sql: bytes
    checksum: str

    @property
    def label(self) -> str:
        """``NNN_description``, as reported and recorded."""
        return f"{self.version:03d}_{self.name}"

    def matches(self, checksum: str) -> bool:
        """Whether an applied migration with ``checksum`` is this one (or a superseded version
        of it)."""
        return checksum == self.checksum or checksum in SUPERSEDED_CHECKSUMS.get(self.version, ())


def parse_filename(path: Path) -> MigrationFile:
    """Read version, description and mode from a migration file's name."""
    match = _NAME.match(path.name)
    if match is None:
        raise MigrationFileError(
            f"{path.name}: expected NNN_description.sql or NNN_description.<mode>.sql"
        )
    mode = match["mode"]
    if mode is not None and mode not in MODES:
        raise MigrationFileError(f"{path.name}: unknown mode {mode!r}; expected one of {MODES}")
    return MigrationFile(int(match["version"]), match["name"], mode, path)


def discover(directory: Path = MIGRATIONS_DIR) -> dict[int, list[MigrationFile]]:
    """All migration files by version, checked against the naming rules."""
    by_version: dict[int, list[MigrationFile]] = {}
    for path in sorted(directory.glob("*.sql")):
        parsed = parse_filename(path)
        by_version.setdefault(parsed.version, []).append(parsed)
    for version, files in by_version.items():
        _check_version(version, files)
    return dict(sorted(by_version.items()))


def _check_version(version: int, files: list[MigrationFile]) -> None:
    names = {f.name for f in files}
    if len(names) != 1:
        raise MigrationFileError(f"version {version:03d} has different descriptions: {names}")
    modes = sorted(f.mode or "" for f in files)
    if modes != [""] and modes != sorted(MODES):
        found = ", ".join(f.path.name for f in files)
        raise MigrationFileError(
            f"version {version:03d} needs one shared file or one file per mode {MODES}: {found}"
        )


def plan(mode: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations to run for ``mode`` (``timescaledb`` or ``postgres``), in order."""
    if mode not in MODES:
        raise MigrationFileError(f"unknown mode {mode!r}; expected one of {MODES}")
    steps = []
    for files in discover(directory).values():
        chosen = next(f for f in files if f.mode in (None, mode))
        body = chosen.path.read_bytes()
        steps.append(Migration(chosen.version, chosen.name, body, hashlib.sha256(body).hexdigest()))
    return steps
