"""`nezlam deadletter`: counts, one in full, and an idempotent replay, on the real stack."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from streams.cli.deadletter import DeadLetter, deadletter, read_dead_letters, replay, select
from streams.config import Settings
from streams.kafka.topics import REGISTRY, VISITS
from tests.integration.conftest import registry_record
from tests.integration.worker_process import Worker, produce, query, wait_for

pytestmark = pytest.mark.integration


def test_an_unknown_point_visit_is_replayed_once_after_its_point_registers(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-late-registry"
    visit = {"event_id": f"{run_id}-late-1", "point_id": point, "ts": "2026-02-05T10:00:00Z",
             "kind": "arrival", "people": 4}
    produce(settings, [(VISITS, point, visit)])

    def mine() -> list[DeadLetter] | None:
        letters = asyncio.run(read_dead_letters(settings, 3600))
        found = [d for d in select(letters, reason="unknown_point", topic=VISITS)
                 if d.record["key"] == point]
        return found or None

    letters = wait_for("the visit's dead letter", mine)
    listing = CliRunner().invoke(deadletter, ["list", "--since", "1"])
    assert listing.exit_code == 0, listing.output
    assert "unknown_point" in listing.output
    shown = CliRunner().invoke(deadletter, ["show", letters[0].id])
    assert point in shown.output

    produce(settings, [(REGISTRY, point, registry_record(point))])
    wait_for("the point's registry row", lambda: query(
        admin_dsn, "SELECT 1 FROM points WHERE point_id = %s", [point]))
    replayed, skipped, failed = asyncio.run(replay(settings, letters, dry_run=False))
    assert (len(replayed), len(skipped), failed) == (1, 0, [])
    wait_for("the replayed visit's row", lambda: query(
        admin_dsn, "SELECT people FROM visits WHERE event_id = %s", [visit["event_id"]]))

    again = asyncio.run(replay(settings, letters, dry_run=False))
    assert (len(again[0]), len(again[1])) == (0, 1), "a second replay sends nothing"
