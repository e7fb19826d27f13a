"""The fuel model's pieces: generator sizes, load, sensors, deliveries."""

from __future__ import annotations

import random

import pytest

from streams.simulate import fuel, people
from streams.simulate.fuel import FuelSensor, SensorKind


def test_bigger_tanks_feed_bigger_generators() -> None:
    rng = random.Random(1)
    for tank in (60.0, 200.0, 500.0, 1000.0):
        assert fuel.NOMINAL_LPH_MIN <= fuel.nominal_lph(rng, tank) <= fuel.NOMINAL_LPH_MAX
    small = sum(fuel.nominal_lph(rng, 60.0) for _ in range(100))
    large = sum(fuel.nominal_lph(rng, 1000.0) for _ in range(100))
    assert large > 3 * small


def test_load_is_lowest_before_dawn_and_grows_with_people() -> None:
    assert fuel.load_factor(4.0, 0.0) == pytest.approx(0.55)
    assert fuel.load_factor(16.0, 1.0) == pytest.approx(1.0)
    assert fuel.load_factor(16.0, 5.0) == pytest.approx(1.0)
    assert fuel.load_factor(12.0, 0.5) > fuel.load_factor(12.0, 0.0)
    for hour in range(24):
        assert 0.55 <= fuel.load_factor(hour, 0.3) <= 1.0


def test_deliveries_fill_the_tank_fully_or_partly() -> None:
    rng = random.Random(2)
    levels = [fuel.refuel_level(rng, 30.0, 200.0) for _ in range(500)]
    assert all(30.0 + 20.0 <= level <= 200.0 for level in levels)
    full = levels.count(200.0)
    assert 0.5 < full / len(levels) < 0.7


def test_lead_times_and_thresholds_stay_in_their_ranges() -> None:
    rng = random.Random(3)
    leads = [fuel.lead_time_s(rng) for _ in range(1000)]
    assert min(leads) >= 1800.0 and max(leads) <= 18 * 3600.0
    thresholds = [fuel.refuel_threshold(rng, 100.0) for _ in range(1000)]
    assert min(thresholds) >= 2.0 and max(thresholds) <= 30.0
    assert any(t < 8.0 for t in thresholds) and any(t > 15.0 for t in thresholds)


def test_noisy_sensor_reads_near_the_truth_within_the_tank() -> None:
    rng = random.Random(4)
    sensor = FuelSensor(SensorKind.NOISY, noise_sd_l=2.0, step_l=5.0, stuck_from=0.0)
    readings = [sensor.read(rng, 0.0, 150.0, 200.0) for _ in range(5000)]
    values = [r for r in readings if r is not None]
    assert len(values) == len(readings)
    assert all(0.0 <= v <= 200.0 for v in values)
    near = [v for v in values if abs(v - 150.0) < 8.0]
    assert len(near) / len(values) > 0.99  # spikes are rare
    assert len(near) < len(values)  # but they happen
    assert sensor.read(rng, 0.0, 199.9, 200.0) <= 200.0  # type: ignore[operator]


def test_quantised_sensor_reads_in_steps() -> None:
    rng = random.Random(5)
    sensor = FuelSensor(SensorKind.QUANTISED, noise_sd_l=1.0, step_l=10.0, stuck_from=0.0)
    values = [sensor.read(rng, 0.0, 123.0, 300.0) for _ in range(200)]
    assert sum(v is not None and v % 10.0 == 0.0 for v in values) > 190


def test_stuck_sensor_repeats_its_value_from_some_moment() -> None:
    rng = random.Random(6)
    sensor = FuelSensor(SensorKind.STUCK, noise_sd_l=1.0, step_l=5.0, stuck_from=100.0)
    assert sensor.read(rng, 50.0, 80.0, 100.0) != sensor.read(rng, 60.0, 80.0, 100.0)
    assert sensor.read(rng, 100.0, 70.0, 100.0) == 70.0
    assert sensor.read(rng, 500.0, 10.0, 100.0) == 70.0


def test_no_sensor_reports_null() -> None:
    sensor = FuelSensor(SensorKind.NONE, noise_sd_l=1.0, step_l=5.0, stuck_from=0.0)
    assert sensor.read(random.Random(7), 0.0, 50.0, 100.0) is None


def test_arrivals_follow_the_day_and_surge_without_power() -> None:
    assert people.diurnal(18.5) > 10 * people.diurnal(4.0)
    assert sum(people.diurnal(h) for h in range(24)) == pytest.approx(24.0)
    assert people.surge(False, None) == people.NO_GRID_SURGE
    assert people.surge(True, 0.0) == pytest.approx(1.0 + people.STRIKE_SURGE)
    assert people.surge(True, 10 * 86400.0) == pytest.approx(1.0)


def test_poisson_draws_have_the_right_mean() -> None:
    rng = random.Random(8)
    for mean in (0.01, 0.5, 3.0, 50.0):
        draws = [people.poisson(rng, mean) for _ in range(4000)]
        assert sum(draws) / len(draws) == pytest.approx(mean, rel=0.15, abs=0.01)
    assert people.poisson(rng, 0.0) == 0
