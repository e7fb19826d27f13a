"""The simulated world: deterministic, plausible, and honest about its ground truth."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.contract import Contract, Rejection
from streams.kafka.topics import ACTIVATIONS, TELEMETRY, VISITS
from streams.simulate.registry import build_registry
from streams.simulate.world import Message, PointTruth, Scenario, Simulation

# 02:30 Kyiv time on a January night: the run covers the small hours and the evening peak.
START = datetime(2025, 1, 15, 0, 30, tzinfo=UTC)
HOURS = 16
SNAPSHOT = timedelta(minutes=10)


@dataclass
class Run:
    """A simulated day of a small network: the messages and periodic ground-truth snapshots."""

    registry: list[dict[str, Any]]
    messages: list[Message]
    snapshots: list[list[PointTruth]]

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [value for topic, _, value in self.messages if topic == name]


@pytest.fixture(scope="module")
def run() -> Run:
    registry = build_registry(11, 300)
    # Thirty times the real visit rates, so a few hundred points show the day's rhythm.
    simulation = Simulation(registry, 11, START, Scenario(visit_scale=30.0))
    messages: list[Message] = []
    snapshots = []
    moment = START
    while moment < START + timedelta(hours=HOURS):
        moment += SNAPSHOT
        messages.extend(simulation.advance(moment))
        snapshots.append([simulation.truth(pid) for pid in simulation.point_ids()])
    return Run(registry, messages, snapshots)


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


def test_same_seed_same_messages_however_sliced() -> None:
    registry = build_registry(5, 200)
    end = START + timedelta(minutes=20)
    whole = list(Simulation(registry, 5, START).advance(end))
    sliced_sim = Simulation(registry, 5, START)
    sliced: list[Message] = []
    for minute in range(1, 21):
        sliced.extend(sliced_sim.advance(START + timedelta(minutes=minute)))
    assert whole == sliced
    assert len(whole) > 5_000
    other_seed = list(Simulation(registry, 6, START).advance(end))
    assert other_seed != whole


def test_messages_come_in_timestamp_order(run: Run) -> None:
    stamps = [_epoch(value["ts"]) for _, _, value in run.messages]
    assert stamps == sorted(stamps)
    assert START.timestamp() <= stamps[0]
    assert stamps[-1] <= (START + timedelta(hours=HOURS)).timestamp()


def test_keys_are_point_ids(run: Run) -> None:
    known = {p["point_id"] for p in run.registry}
    for _, key, value in run.messages:
        assert key == value["point_id"]
        assert key in known


def test_each_point_reports_every_30_to_60_seconds(run: Run) -> None:
    last: dict[str, float] = {}
    gaps = []
    for value in run.topic(TELEMETRY):
        t = _epoch(value["ts"])
        if value["point_id"] in last:
            gaps.append(t - last[value["point_id"]])
        last[value["point_id"]] = t
    assert len(last) == len(run.registry)
    assert min(gaps) >= 30.0 - 1e-3
    regular = [gap for gap in gaps if gap <= 60.0 + 1e-3]
    # The rest are silences: a gateway that stopped reporting for a while.
    assert len(regular) / len(gaps) > 0.99
    assert len(regular) < len(gaps)


def test_fuel_never_negative_nor_above_the_tank(run: Run) -> None:
    tanks = {p["point_id"]: p["fuel_tank_l"] for p in run.registry}
    levels = [v["fuel_level_l"] for v in run.topic(TELEMETRY)]
    assert any(level is None for level in levels)  # points without a sensor
    for value in run.topic(TELEMETRY):
        level = value["fuel_level_l"]
        assert level is None or 0.0 <= level <= tanks[value["point_id"]]
    for snapshot in run.snapshots:
        for truth in snapshot:
            assert 0.0 <= truth.fuel_l <= truth.tank_l


def test_generators_burn_fuel_and_refuels_happen(run: Run) -> None:
    first, last = run.snapshots[0], run.snapshots[-1]
    refuels = [r for truth in last for r in truth.refuels]
    assert refuels
    assert all(r.before_l < r.after_l <= truth.tank_l for truth in last for r in truth.refuels)
    partial = [r for truth in last for r in truth.refuels if r.after_l < truth.tank_l]
    assert partial and len(partial) < len(refuels)  # both partial and full deliveries
    burnt = [
        a.fuel_l - b.fuel_l
        for a, b in zip(first, last, strict=True)
        if not b.refuels and b.fuel_l < a.fuel_l
    ]
    assert len(burnt) > 20


def test_true_level_falls_at_the_true_burn_rate(run: Run) -> None:
    checked = 0
    for before, after in zip(run.snapshots, run.snapshots[1:], strict=False):
        for a, b in zip(before, after, strict=True):
            steady = a.generator_running and b.generator_running and a.refuels == b.refuels
            if not steady:
                continue
            hours = (b.at - a.at).total_seconds() / 3600
            # The rate changes with load at each report, within the 0.55-1.0 load band.
            assert 0.0 < a.fuel_l - b.fuel_l <= hours * 6.0 + 1e-9
            assert 0.5 <= a.burn_rate_lph <= 6.0
            assert a.hours_to_empty == pytest.approx(a.fuel_l / a.burn_rate_lph)
            checked += 1
    assert checked > 500


def test_reported_power_matches_the_generator(run: Run) -> None:
    powers = Counter(v["power"] for v in run.topic(TELEMETRY))
    assert set(powers) == {"grid", "generator", "battery", "none"}
    for value in run.topic(TELEMETRY):
        assert value["generator_running"] == (value["power"] == "generator")


def test_telemetry_fields_vary_like_a_real_network(run: Run) -> None:
    telemetry = run.topic(TELEMETRY)
    assert {v["status"] for v in telemetry} == {"open", "standby", "closed"}
    assert {type(v["headcount"]) for v in telemetry} == {int, type(None)}
    assert {v["internet_up"] for v in telemetry} == {True, False, None}
    temps = [v["indoor_temp_c"] for v in telemetry if v["indoor_temp_c"] is not None]
    assert -30 < min(temps) < 10 < 18 < max(temps) < 25
    assert {v["heating_on"] for v in telemetry} == {True, False, None}


def test_silent_points_send_nothing_while_silent(run: Run) -> None:
    silent = {
        (truth.point_id, snapshot[0].at)
        for snapshot in run.snapshots
        for truth in snapshot
        if truth.silent
    }
    assert silent
    # No telemetry from a point within a report period before a snapshot that finds it silent.
    for value in run.topic(TELEMETRY):
        t = datetime.fromisoformat(value["ts"])
        at = START + SNAPSHOT * ((t - START) // SNAPSHOT + 1)
        if (at - t).total_seconds() < 1:
            assert (value["point_id"], at) not in silent


def test_visits_have_unique_ids_and_departures_never_outnumber_arrivals(run: Run) -> None:
    visits = run.topic(VISITS)
    assert len({v["event_id"] for v in visits}) == len(visits)
    inside: Counter[str] = Counter()
    for visit in visits:
        assert 1 <= visit["people"] <= 6
        inside[visit["point_id"]] += (
            visit["people"] if visit["kind"] == "arrival" else -visit["people"]
        )
        assert inside[visit["point_id"]] >= 0
    kinds = Counter(v["kind"] for v in visits)
    # Some departures are missed on purpose; arrivals are reliable.
    assert kinds["departure"] < kinds["arrival"] * 0.95


def test_more_arrivals_in_the_evening_than_at_night(run: Run) -> None:
    by_local_hour: Counter[int] = Counter()
    for visit in run.topic(VISITS):
        if visit["kind"] == "arrival":
            local = datetime.fromisoformat(visit["ts"]).astimezone(_kyiv())
            by_local_hour[local.hour] += visit["people"]
    assert by_local_hour[18] > 3 * max(1, by_local_hour[4])


def test_standby_points_open_after_activation_and_stand_down_later(run: Run) -> None:
    orders: dict[str, list[str]] = defaultdict(list)
    for order in run.topic(ACTIVATIONS):
        orders[order["point_id"]].append(order["action"])
        assert order["requested_by"]
    kinds = {p["point_id"]: p["kind"] for p in run.registry}
    assert orders
    for point_id, actions in orders.items():
        assert kinds[point_id] == "standby"
        assert actions[0] == "activate"
        assert all(a != b for a, b in itertools.pairwise(actions))
    delays = [
        (truth.opened_at - truth.activation_ordered_at).total_seconds() / 60
        for truth in run.snapshots[-1]
        if truth.opened_at is not None and truth.activation_ordered_at is not None
    ]
    assert delays and all(10 <= d <= 180 for d in delays)


def test_orders_of_both_kinds_validate(run: Run) -> None:
    contract = Contract(max_future_skew_seconds=300)
    orders = run.topic(ACTIVATIONS)
    assert {order["action"] for order in orders} == {"activate", "stand_down"}
    for order in orders:
        result = contract.validate(ACTIVATIONS, orjson.dumps(order), now=_epoch(order["ts"]))
        assert not isinstance(result, Rejection), result


def test_standby_points_report_standby_until_activated(run: Run) -> None:
    first_order: dict[str, float] = {}
    for order in run.topic(ACTIVATIONS):
        first_order.setdefault(order["point_id"], _epoch(order["ts"]))
    standby = {p["point_id"] for p in run.registry if p["kind"] == "standby"}
    for value in run.topic(TELEMETRY):
        point = value["point_id"]
        if point in standby and _epoch(value["ts"]) < first_order.get(point, float("inf")):
            assert value["status"] == "standby"


def test_truth_does_not_change_the_world() -> None:
    registry = build_registry(9, 100)
    end = START + timedelta(minutes=30)
    plain = list(Simulation(registry, 9, START).advance(end))
    observed_sim = Simulation(registry, 9, START)
    observed: list[Message] = []
    for minute in range(1, 31):
        observed.extend(observed_sim.advance(START + timedelta(minutes=minute)))
        for point_id in observed_sim.point_ids():
            observed_sim.truth(point_id)
    assert observed == plain


def test_start_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Simulation(build_registry(1, 10), 1, datetime(2025, 1, 15))


def test_the_model_imports_no_kafka() -> None:
    code = (
        "import sys, streams.simulate.world, streams.simulate.registry, streams.simulate.faults;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiokafka', 'faust', 'psycopg')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _kyiv() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Kyiv")
