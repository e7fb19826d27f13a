"""Fuel forecaster: one test per sensor phenomenon, and properties over random readings."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.fuel_forecast import (
    Forecast,
    FuelReading,
    FuelState,
    forecast_of,
    update,
)

T0 = 1_767_225_600.0
TANK = 200.0
RATE = 8.0  # litres per running hour
MINUTE = 60.0


def feed(
    readings: Iterable[FuelReading], state: FuelState | None = None, tank: float = TANK
) -> tuple[FuelState | None, list[Forecast]]:
    """Run readings through the forecaster; the last state and every forecast."""
    out: list[Forecast] = []
    for reading in readings:
        state, forecast = update(state, reading, tank)
        out.append(forecast)
    return state, out


def burning(
    start: float,
    minutes: int,
    level: float,
    rate: float = RATE,
    noise: float = 0.0,
    seed: int = 1,
    running: bool = True,
) -> list[FuelReading]:
    """A reading a minute while the level falls at ``rate`` (or stays, when not running)."""
    rng = random.Random(seed)
    out = []
    for i in range(minutes):
        true = level - (rate * i / 60.0 if running else 0.0)
        out.append(FuelReading(start + i * MINUTE, true + rng.gauss(0.0, noise), running))
    return out


def converged(noise: float = 1.0) -> tuple[FuelState, list[Forecast]]:
    """Four hours at 8 L/h from 180 L: ends at 148 L, state settled."""
    state, forecasts = feed(burning(T0, 240, 180.0, noise=noise))
    assert state is not None
    return state, forecasts


def test_constant_burn_converges_to_the_true_rate() -> None:
    _, forecasts = converged()
    last = forecasts[-1]
    true_level = 180.0 - RATE * 239 / 60.0
    assert last.burn_rate_lph == pytest.approx(RATE, rel=0.05)
    assert last.level_l == pytest.approx(true_level, abs=1.5)
    assert last.hours_to_empty == pytest.approx(true_level / RATE, rel=0.06)
    assert last.hours_to_empty is not None
    assert last.empty_at == pytest.approx(last.ts + last.hours_to_empty * 3600.0)
    assert last.confidence > 0.7


def test_no_forecast_until_the_rate_is_known() -> None:
    _, forecasts = feed(burning(T0, 3, 180.0))
    first = forecasts[0]
    assert first.level_l == pytest.approx(180.0)
    assert first.hours_to_empty is None and first.burn_rate_lph is None
    assert first.empty_at is None and first.confidence == 0.0


@pytest.mark.parametrize("spikes", [[0.0], [TANK], [0.0, 0.0], [35.0, 190.0]])
def test_spikes_do_not_reset_or_bend_the_estimate(spikes: list[float]) -> None:
    state, before = converged()
    ts = before[-1].ts
    wild = [FuelReading(ts + (i + 1) * MINUTE, v, True) for i, v in enumerate(spikes)]
    level = 180.0 - RATE * 4
    after = burning(ts + (len(spikes) + 1) * MINUTE, 5, level, seed=2, noise=1.0)
    _, forecasts = feed(wild + after, state)
    assert not any(f.refuel_detected for f in forecasts)
    assert all(f.level_l == pytest.approx(level, abs=2.0) for f in forecasts)
    assert forecasts[-1].burn_rate_lph == pytest.approx(RATE, rel=0.08)


@pytest.mark.parametrize("new_level", [TANK, 175.0], ids=["full", "partial"])
def test_refuel_is_detected_once_and_the_level_restarts(new_level: float) -> None:
    state, before = converged()
    ts = before[-1].ts + MINUTE
    _, forecasts = feed(burning(ts, 60, new_level, noise=1.0, seed=3), state)
    flagged = [i for i, f in enumerate(forecasts) if f.refuel_detected]
    assert len(flagged) == 1 and flagged[0] <= 3
    after = forecasts[flagged[0]]
    assert after.level_l == pytest.approx(new_level, abs=3.0)
    # the burn rate belongs to the generator, not to the tank: it survives the refuel
    assert after.burn_rate_lph == pytest.approx(RATE, rel=0.08)
    last = forecasts[-1]
    assert last.level_l is not None
    assert last.level_l == pytest.approx(new_level - RATE * 59 / 60.0, abs=2.0)
    assert last.hours_to_empty == pytest.approx(last.level_l / RATE, rel=0.1)


def test_a_refuel_while_the_generator_is_off_is_detected() -> None:
    state, before = converged()
    ts = before[-1].ts + MINUTE
    _, forecasts = feed(burning(ts, 20, 190.0, running=False, noise=1.0), state)
    assert sum(f.refuel_detected for f in forecasts) == 1
    assert forecasts[-1].level_l == pytest.approx(190.0, abs=2.0)


def test_generator_off_reports_runtime_left_and_no_countdown() -> None:
    state, before = converged()
    level = before[-1].level_l
    hours = before[-1].hours_to_empty
    assert level is not None and hours is not None
    ts = before[-1].ts + MINUTE
    _, forecasts = feed(burning(ts, 300, level, running=False, noise=1.0), state)
    for forecast in forecasts:
        assert forecast.empty_at is None
        # five hours later the runtime left is what it was: nothing burned, no countdown
        assert forecast.hours_to_empty == pytest.approx(hours, rel=0.05)
        assert forecast.hours_to_empty == pytest.approx(level / RATE, rel=0.1)
        assert forecast.level_l == pytest.approx(level, abs=1.5)


def test_off_periods_do_not_bend_the_burn_rate() -> None:
    first = burning(T0, 120, 180.0, noise=1.0, seed=4)
    idle = burning(T0 + 120 * MINUTE, 240, 164.0, running=False, noise=1.0, seed=5)
    again = burning(T0 + 360 * MINUTE, 120, 164.0, noise=1.0, seed=6)
    _, forecasts = feed(first + idle + again)
    assert forecasts[-1].burn_rate_lph == pytest.approx(RATE, rel=0.08)


def test_missing_readings_only_advance_time() -> None:
    state, before = converged()
    ts = before[-1].ts
    level = before[-1].level_l
    assert level is not None
    blanks = [FuelReading(ts + i * MINUTE, None, True) for i in range(1, 31)]
    nans = [FuelReading(ts + 31 * MINUTE, math.nan, True)]
    _, forecasts = feed(blanks + nans, state)
    assert all(f.hours_to_empty is not None for f in forecasts)
    assert forecasts[-1].level_l == pytest.approx(level - RATE * 31 / 60.0, abs=1.0)
    assert forecasts[-1].burn_rate_lph == pytest.approx(RATE, rel=0.05)


def test_a_stuck_sensor_lowers_confidence_and_dead_reckons() -> None:
    state, before = converged()
    ts = before[-1].ts
    frozen = [FuelReading(ts + i * MINUTE, 148.3, True) for i in range(1, 121)]
    _, forecasts = feed(frozen, state)
    last = forecasts[-1]
    assert last.sensor_stuck
    assert last.confidence < before[-1].confidence
    # it kept burning at the known rate while the sensor showed nothing
    assert last.level_l == pytest.approx(148.0 - RATE * 2.0, abs=3.0)
    assert last.burn_rate_lph == pytest.approx(RATE, rel=0.08)
    recovered = burning(ts + 121 * MINUTE, 3, 148.0 - RATE * 121 / 60.0, seed=7)
    _, forecasts = feed(recovered, _last_state(frozen, state))
    assert not forecasts[-1].sensor_stuck


def _last_state(readings: list[FuelReading], state: FuelState) -> FuelState:
    final, _ = feed(readings, state)
    assert final is not None
    return final


def test_a_steady_level_while_off_is_not_a_stuck_sensor() -> None:
    state, before = converged()
    ts = before[-1].ts
    idle = [FuelReading(ts + i * MINUTE, 148.0, False) for i in range(1, 600)]
    _, forecasts = feed(idle, state)
    assert not any(f.sensor_stuck for f in forecasts)


def test_levels_are_clamped_to_the_tank_and_impossible_ones_dropped() -> None:
    _, forecasts = feed([FuelReading(T0, TANK * 1.03, True)])
    assert forecasts[0].level_l == TANK
    _, forecasts = feed([FuelReading(T0, TANK * 3.0, True), FuelReading(T0 + 60, -50.0, True)])
    assert all(f.level_l is None for f in forecasts)


def test_hours_to_empty_never_go_negative_past_empty() -> None:
    # a small tank burned dry: readings clamp at 0, the generator coughs on a while, stops
    down = burning(T0, 200, 20.0, noise=0.5, seed=8)
    dry = [FuelReading(T0 + (200 + i) * MINUTE, 0.0, i < 10) for i in range(60)]
    _, forecasts = feed(down + dry, tank=60.0)
    hours = [f.hours_to_empty for f in forecasts if f.hours_to_empty is not None]
    assert hours and min(hours) >= 0.0
    assert forecasts[-1].level_l == pytest.approx(0.0, abs=1.0)
    assert forecasts[-1].hours_to_empty == pytest.approx(0.0, abs=0.2)


def test_a_sensor_reading_zero_while_the_generator_runs_on_is_not_believed() -> None:
    state, before = converged()
    ts = before[-1].ts
    dead = [FuelReading(ts + i * MINUTE, 0.0, True) for i in range(1, 121)]
    _, forecasts = feed(dead, state)
    # the generator kept running for two hours: the fuel was there, the sensor was not
    assert forecasts[-1].sensor_stuck
    assert forecasts[-1].level_l == pytest.approx(148.0 - RATE * 2.0, abs=3.0)


def test_duplicates_and_late_readings_change_nothing() -> None:
    state, before = converged()
    last = before[-1]
    for ts in (last.ts, last.ts - 600.0):
        again, forecast = update(state, FuelReading(ts, 10.0, False), TANK)
        assert again is state
        assert forecast == forecast_of(state, TANK)


def test_state_round_trips_through_json() -> None:
    state, _ = converged()
    restored = FuelState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    reading = FuelReading(state.ts + MINUTE, 147.0, True)
    assert update(restored, reading, TANK) == update(state, reading, TANK)


def test_from_dict_rejects_other_versions_and_missing_keys() -> None:
    state, _ = converged()
    data = state.to_dict()
    with pytest.raises(ValueError, match="version"):
        FuelState.from_dict({**data, "version": 99})
    del data["rate"]
    with pytest.raises(ValueError, match="rate"):
        FuelState.from_dict(data)


@pytest.mark.parametrize("tank", [0.0, -5.0, math.nan, math.inf])
def test_a_tank_must_have_a_size(tank: float) -> None:
    with pytest.raises(ValueError):
        update(None, FuelReading(T0, 10.0, True), tank)


# --- properties ------------------------------------------------------------------------------

levels = st.one_of(
    st.none(),
    st.just(math.nan),
    st.floats(min_value=-100.0, max_value=1500.0, allow_nan=False),
)
steps = st.tuples(st.floats(min_value=0.0, max_value=7200.0), levels, st.booleans())


@settings(max_examples=200, deadline=None)
@given(
    tank=st.floats(min_value=60.0, max_value=1000.0),
    raw=st.lists(steps, min_size=1, max_size=300),
)
def test_forecasts_stay_sane_on_any_input(
    tank: float, raw: list[tuple[float, float | None, bool]]
) -> None:
    readings, ts = [], T0
    for gap, level, running in raw:
        ts += gap
        readings.append(FuelReading(ts, level, running))
    state, forecasts = feed(readings, tank=tank)
    assert state is not None
    for forecast in forecasts:
        assert 0.0 <= forecast.confidence <= 1.0
        assert forecast.hours_to_empty is None or forecast.hours_to_empty >= 0.0
        assert forecast.level_l is None or 0.0 <= forecast.level_l <= tank
        assert forecast.generator_running or forecast.empty_at is None
    encoded = json.dumps(state.to_dict(), allow_nan=False)
    assert len(encoded) < 2000  # fixed fields of floats: bounded whatever the history
    assert set(json.loads(encoded)) == {*FuelState._fields, "version"}
    # deterministic: the same readings give the same state and forecasts
    assert feed(readings, tank=tank) == (state, forecasts)
