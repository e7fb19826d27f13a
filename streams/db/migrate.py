"""Apply the SQL migrations to a database: once each, in order, each in its own transaction.

Applied migrations are recorded in ``schema_migrations`` with the file's checksum and the
database's mode. The mode (``timescaledb`` or ``postgres``) is chosen once, by the first
migration run, and kept: a later run in ``auto`` follows it, an explicit other mode is an
error. Only plain ``execute()`` calls are used (no pipeline, no COPY), which is all the
TimescaleDB-in-WASM test server supports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.rows import class_row

from streams.db.migration_files import MIGRATIONS_DIR, POSTGRES, TIMESCALEDB, Migration, plan

# Any fixed 64-bit key: serialises concurrent `migrate` runs (e.g. several workers starting).
_LOCK_KEY = 0x6E657A6C616D  # "nezlam"

REQUESTED_MODES = ("auto", "on", "off")


class MigrationError(RuntimeError):
    """A migration cannot be applied, or an applied one no longer matches its file."""


@dataclass(frozen=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    checksum: str
    mode: str
    applied_at: datetime

    @property
    def label(self) -> str:
        """``NNN_description``, as reported."""
        return f"{self.version:03d}_{self.name}"


@dataclass(frozen=True)
class MigrationStatus:
    """The database's mode, what was applied and what is still to apply."""

    mode: str
    applied: list[AppliedMigration]
    pending: list[str]


def choose_mode(requested: str, recorded: str | None, timescaledb_available: bool) -> str:
    """The database mode for a run: ``requested`` is auto|on|off, ``recorded`` the mode of
    migrations already applied (None on a fresh database)."""
    if requested not in REQUESTED_MODES:
        raise MigrationError(f"unknown TimescaleDB setting {requested!r}; use auto, on or off")
    wanted = {"on": TIMESCALEDB, "off": POSTGRES}.get(requested)
    if recorded is not None:
        if wanted is not None and wanted != recorded:
            raise MigrationError(
                f"the database was migrated in {recorded} mode; {requested!r} asks for {wanted}"
            )
        return recorded
    if wanted == TIMESCALEDB and not timescaledb_available:
        raise MigrationError("TimescaleDB requested (on) but the server has no timescaledb")
    if wanted is not None:
        return wanted
    return TIMESCALEDB if timescaledb_available else POSTGRES


def apply_migrations(
    dsn: str,
    mode: str = "auto",
    progress: Callable[[str], None] | None = None,
    directory: Path = MIGRATIONS_DIR,
) -> list[str]:
    """Apply every pending migration for the database's mode; return the labels applied.

    ``mode`` is auto|on|off (see :func:`choose_mode`); ``progress`` receives one line for the
    mode and one per migration, applied or skipped.
    """
    report = progress or _ignore
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Session-level lock: released by closing the connection, whatever happens.
        conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        _ensure_table(conn)
        applied = {a.version: a for a in _read_applied(conn)}
        db_mode = _resolve_mode(conn, mode, applied)
        report(f"mode: {db_mode} (requested {mode})")
        for migration in plan(db_mode, directory):
            done = applied.get(migration.version)
            if done is not None:
                _check_unchanged(done, migration)
                report(f"skipped {migration.label} (applied {done.applied_at:%Y-%m-%d %H:%M})")
                continue
            seconds = _apply_one(conn, migration, db_mode)
            report(f"applied {migration.label} ({seconds:.2f} s)")
            applied_now.append(migration.label)
    return applied_now


def read_status(dsn: str, mode: str = "auto", directory: Path = MIGRATIONS_DIR) -> MigrationStatus:
    """The applied migrations of a database and the ones a migrate run would apply."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        table = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        applied = _read_applied(conn) if table and table[0] is not None else []
        db_mode = _resolve_mode(conn, mode, {a.version: a for a in applied})
    done = {a.version for a in applied}
    pending = [m.label for m in plan(db_mode, directory) if m.version not in done]
    return MigrationStatus(db_mode, applied, pending)


def _ignore(_line: str) -> None:
    """Default progress sink: say nothing."""


def _ensure_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            mode       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def _read_applied(conn: psycopg.Connection[tuple[object, ...]]) -> list[AppliedMigration]:
    with conn.cursor(row_factory=class_row(AppliedMigration)) as cur:
        cur.execute(
            "SELECT version, name, checksum, mode, applied_at FROM schema_migrations"
            " ORDER BY version"
        )
        return cur.fetchall()


def _resolve_mode(
    conn: psycopg.Connection[tuple[object, ...]],
    requested: str,
    applied: dict[int, AppliedMigration],
) -> str:
    recorded = {a.mode for a in applied.values()}
    if len(recorded) > 1:
        raise MigrationError(f"schema_migrations mixes modes {sorted(recorded)}; fix by hand")
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')"
    ).fetchone()
    available = bool(row and row[0])
    return choose_mode(requested, next(iter(recorded), None), available)


def _check_unchanged(done: AppliedMigration, migration: Migration) -> None:
    if done.name != migration.name or not migration.matches(done.checksum):
        raise MigrationError(
            f"migration {done.label} was applied (checksum {done.checksum[:12]}) but its file "
            f"is now {migration.label} (checksum {migration.checksum[:12]}); applied "
            "migrations must not change: restore the file and add a new migration instead"
        )


def _apply_one(
    conn: psycopg.Connection[tuple[object, ...]], migration: Migration, mode: str
) -> float:
    """Run one migration and record it in the same transaction; return its duration."""
    started = time.monotonic()
    try:
        with conn.transaction():
            # No parameters: psycopg sends the simple query protocol, which runs the file's
            # many statements in one round trip.
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, mode)"
                " VALUES (%s, %s, %s, %s)",
                [migration.version, migration.name, migration.checksum, mode],
            )
    except psycopg.Error as exc:
        raise MigrationError(f"migration {migration.label} failed: {exc}") from exc
    return time.monotonic() - started
