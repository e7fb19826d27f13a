"""The dispatch plan from the database's forecasts to its tables, on the local PostgreSQL, in a
throwaway database: ``nezlam dispatch-plan`` reads the refuel plan, solves, writes as the
worker's role (append-only), and the newest plan is what the views show."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from streams.config import Settings
from streams.db.migrate import apply_migrations
from streams.logistics.dispatch_plan import call_in, compute, dispatch_plan, load_depots, write
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration

OBLAST = "Вінницька область"  # depot VN-1 at 49.233, 28.468 in the shipped depots file
# point_id, lat, lon, litres in the tank (of 200), hours until it runs dry
GENERATORS = (
    ("dp-near", 49.25, 28.50, 30.0, 3.0),  # a few km from the depot
    ("dp-town", 49.40, 28.70, 60.0, 6.0),  # ~30 km
    ("dp-late", 49.23, 28.47, 5.0, 0.5),  # at the depot, but dry within the safety margin
    ("dp-full", 49.30, 28.60, 190.0, 30.0),  # beyond the horizon: not in the plan
)


@pytest.fixture(scope="module")
def writer_dsn() -> Iterator[str]:
    """The writer's DSN on a fresh, migrated database with the generators and forecasts."""
    with scratch_postgres() as dsn:
        apply_migrations(dsn, mode="off")
        with psycopg.connect(dsn, autocommit=True) as conn:
            for point_id, lat, lon, level, dry_in in GENERATORS:
                conn.execute(
                    "INSERT INTO points (point_id, name, kind, oblast, hromada, lat, lon,"
                    " capacity_people, fuel_tank_l) VALUES (%s, %s, 'permanent', %s, 'Громада',"
                    " %s, %s, 80, 200)", [point_id, f"Point {point_id}", OBLAST, lat, lon])
                conn.execute(
                    "INSERT INTO fuel_forecast (point_id, ts, fuel_level_l, burn_rate_lph,"
                    " hours_to_empty, empty_at, confidence, generator_running) VALUES"
                    " (%s, now(), %s, 10, %s, now() + %s * interval '1 hour', 0.9, true)",
                    [point_id, level, dry_in, dry_in])
        yield make_conninfo(dsn, user="nezlam_writer")


def test_the_plan_reads_the_forecasts_and_is_written_append_only(
    writer_dsn: str, settings: Settings
) -> None:
    config = settings.model_copy(update={"dispatch_time_limit_seconds": 2.0})
    with psycopg.connect(writer_dsn, autocommit=True) as conn:
        first = compute(conn, "Вінницька", config)
        write(conn, first)
        second = compute(conn, "вінницька область", config)
        write(conn, second)

        stops = conn.execute(
            "SELECT point_id, litres, slack_hours FROM dispatch_stops_latest ORDER BY point_id"
        ).fetchall()
        unreached = conn.execute(
            "SELECT point_id, reason FROM dispatch_unreached_latest").fetchall()
        plans = conn.execute("SELECT count(*) FROM dispatch_plans").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM dispatch_stops")

    assert [point for point, _, _ in stops] == ["dp-near", "dp-town"]
    # Each tank filled as it is when the truck arrives: the fill of now (170 l, 140 l) plus what
    # burns (10 l/h) on the way, at most the 200 l tank.
    near, town = (litres for _, litres, _ in stops)
    assert 170.0 < near <= 200.0 and 140.0 < town <= 200.0
    assert all(slack >= 0 for _, _, slack in stops)
    assert unreached == [("dp-late", "runs dry in 0.5 h: within the safety margin, too late "
                                     "for any truck")]
    assert plans == (2,)
    assert second.oblast == OBLAST


def test_the_command_prints_the_plan_as_geojson(writer_dsn: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEZLAM_DATABASE_URL", writer_dsn)
    monkeypatch.setenv("NEZLAM_DISPATCH_TIME_LIMIT_SECONDS", "1")
    from streams.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(dispatch_plan, ["--oblast", "Вінницька", "--format",
                                                    "geojson"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    features = json.loads(result.output)["features"]
    lines = [f for f in features if f["geometry"]["type"] == "LineString"]
    points = {f["properties"]["point_id"]: f["properties"] for f in features
              if f["geometry"]["type"] == "Point"}
    assert len(lines) >= 1
    assert points["dp-late"]["note"].startswith("NOT REACHED")
    assert points["dp-near"]["truck"] is not None


def test_a_driver_called_in_drives_in_the_next_plans(writer_dsn: str, settings: Settings) -> None:
    config = settings.model_copy(update={"dispatch_time_limit_seconds": 1.0})
    depots = load_depots(config.depots_file)
    with psycopg.connect(writer_dsn, autocommit=True) as conn:
        assert "VN-1n" not in {t.truck_id for t in compute(conn, "Вінницька", config,
                                                            depots).instance.trucks}
        said = call_in(conn, depots, "VN-1n")
        trucks = {t.truck_id: t for t in compute(conn, "Вінницька", config,
                                                  depots).instance.trucks}
    assert said.startswith("night driver VN-1n at Вінницька обласна нафтобаза called in")
    assert trucks["VN-1n"].shift_start_h == pytest.approx(1.0, abs=0.05)  # 60 min to leave


def test_a_truck_that_has_left_keeps_its_run_when_the_plan_is_made_again(
    writer_dsn: str, settings: Settings
) -> None:
    config = settings.model_copy(update={"dispatch_time_limit_seconds": 1.0})
    with psycopg.connect(writer_dsn, autocommit=True) as conn:
        first = compute(conn, "Вінницька", config)
        write(conn, first)
        second = compute(conn, "Вінницька", config)
    # A truck on shift leaves at once: by the second plan it is on the road.
    left = {r.truck.truck_id: [s.point_id for s in r.stops]
            for r in first.plan.routes if r.leaves_h <= 0}
    assert {t: [s.point_id for s in c.stops] for t, c in second.committed.items()} == left
    runs = {r.truck.truck_id: [s.point_id for s in r.stops] for r in second.plan.routes}
    for truck_id, stops in left.items():
        assert runs[truck_id][:len(stops)] == stops  # the same stops, in the same order
    served = [p for stops in runs.values() for p in stops]
    assert len(served) == len(set(served))  # nobody planned twice
