"""The migration files' naming rules, the per-mode plan and the choice of mode (no server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.db.migrate import MigrationError, choose_mode
from streams.db.migration_files import (
    MIGRATIONS_DIR,
    POSTGRES,
    TIMESCALEDB,
    MigrationFileError,
    discover,
    parse_filename,
    plan,
)

# Functions and procedures that exist only with the TimescaleDB extension.
_TIMESCALEDB_ONLY = re.compile(
    r"\b(first|last|create_hypertable|add_\w+_policy|timescaledb\.\w+)\s*[(=]", re.IGNORECASE
)


def _write(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_text("SELECT 1;\n")


def test_repository_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = list(discover())
    assert versions == list(range(1, len(versions) + 1))


def test_both_modes_plan_the_same_versions_and_share_the_common_files() -> None:
    timescale = plan(TIMESCALEDB)
    postgres = plan(POSTGRES)
    assert [m.label for m in timescale] == [m.label for m in postgres]
    for version, files in discover().items():
        if files[0].mode is None:
            assert timescale[version - 1].checksum == postgres[version - 1].checksum


def test_plain_and_shared_files_use_no_timescaledb_only_function() -> None:
    for files in discover().values():
        for migration_file in files:
            if migration_file.mode == TIMESCALEDB:
                continue
            text = migration_file.path.read_text()
            assert _TIMESCALEDB_ONLY.search(text) is None, migration_file.path.name


def test_parse_filename_reads_version_name_and_mode() -> None:
    parsed = parse_filename(MIGRATIONS_DIR / "004_timeseries.timescaledb.sql")
    assert (parsed.version, parsed.name, parsed.mode) == (4, "timeseries", TIMESCALEDB)
    assert parse_filename(Path("001_roles.sql")).mode is None


@pytest.mark.parametrize(
    "name",
    ["1_roles.sql", "001-roles.sql", "001_roles.mysql.sql", "001_Roles.sql", "001_roles.txt"],
)
def test_parse_filename_rejects_bad_names(name: str) -> None:
    with pytest.raises(MigrationFileError):
        parse_filename(Path(name))


def test_a_mode_file_without_its_counterpart_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "001_roles.sql", "002_extension.timescaledb.sql")
    with pytest.raises(MigrationFileError, match="002"):
        discover(tmp_path)


def test_a_shared_file_beside_mode_files_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "001_x.sql", "001_x.timescaledb.sql", "001_x.postgres.sql")
    with pytest.raises(MigrationFileError, match="001"):
        discover(tmp_path)


def test_different_descriptions_for_one_version_are_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "001_a.timescaledb.sql", "001_b.postgres.sql")
    with pytest.raises(MigrationFileError, match="descriptions"):
        discover(tmp_path)


def test_plan_picks_the_file_of_the_mode(tmp_path: Path) -> None:
    _write(tmp_path, "001_a.sql", "002_b.timescaledb.sql", "002_b.postgres.sql")
    (tmp_path / "002_b.postgres.sql").write_text("SELECT 2;\n")
    assert [m.sql for m in plan(POSTGRES, tmp_path)] == [b"SELECT 1;\n", b"SELECT 2;\n"]
    assert [m.sql for m in plan(TIMESCALEDB, tmp_path)] == [b"SELECT 1;\n", b"SELECT 1;\n"]


@pytest.mark.parametrize(
    ("requested", "recorded", "available", "expected"),
    [
        ("auto", None, True, TIMESCALEDB),
        ("auto", None, False, POSTGRES),
        ("on", None, True, TIMESCALEDB),
        ("off", None, True, POSTGRES),
        ("auto", POSTGRES, True, POSTGRES),
        ("auto", TIMESCALEDB, False, TIMESCALEDB),
        ("off", POSTGRES, True, POSTGRES),
    ],
)
def test_choose_mode(requested: str, recorded: str | None, available: bool, expected: str) -> None:
    assert choose_mode(requested, recorded, available) == expected


@pytest.mark.parametrize(
    ("requested", "recorded", "available"),
    [("on", None, False), ("on", POSTGRES, True), ("off", TIMESCALEDB, True), ("yes", None, True)],
)
def test_choose_mode_refuses(requested: str, recorded: str | None, available: bool) -> None:
    with pytest.raises(MigrationError):
        choose_mode(requested, recorded, available)
