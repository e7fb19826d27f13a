"""Pacing: simulated time never runs ahead of the wall clock, whatever the speed."""

from __future__ import annotations

import math

import pytest

from streams.simulate.clock import Pacer, default_start, parse_duration, parse_speed
from streams.simulate.localtime import KyivClock, Stamper

NOW = 1_736_935_200.0  # 2025-01-15T10:00:00Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("0.5h", 1800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "1h-5m", "ten minutes"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_speed() -> None:
    assert parse_speed("1") == 1.0
    assert parse_speed("60") == 60.0
    assert parse_speed("MAX") == math.inf
    for bad in ("0", "-2", "inf", "fast"):
        with pytest.raises(ValueError):
            parse_speed(bad)


def test_default_start_ends_the_run_at_the_wall_clock() -> None:
    assert default_start(NOW, 1.0, 600.0) == NOW
    assert default_start(NOW, 10.0, 600.0) == NOW - 540.0
    assert default_start(NOW, math.inf, 600.0) == NOW - 600.0
    assert default_start(NOW, 10.0, None) == NOW
    # With the default start, the simulated end coincides with the wall clock at the end.
    for speed in (1.0, 4.0, 60.0):
        start = default_start(NOW, speed, 3600.0)
        assert start + 3600.0 == pytest.approx(NOW + 3600.0 / speed)


@pytest.mark.parametrize("speed", [1.0, 7.0, 60.0, math.inf])
def test_pacer_never_runs_ahead_of_the_wall_clock(speed: float) -> None:
    duration = 3600.0
    pacer = Pacer(default_start(NOW, speed, duration), NOW, speed, None)
    for elapsed in (0.0, 0.5, 10.0, 59.9, 600.0, 5000.0):
        assert pacer.target(NOW + elapsed) <= NOW + elapsed


def test_pacer_moves_at_its_speed_and_stops_at_the_end() -> None:
    pacer = Pacer(NOW - 1000.0, NOW, 10.0, NOW - 400.0)
    assert pacer.target(NOW) == NOW - 1000.0
    assert pacer.target(NOW + 30.0) == NOW - 700.0
    assert pacer.target(NOW + 300.0) == NOW - 400.0
    assert not pacer.finished(NOW - 401.0)
    assert pacer.finished(NOW - 400.0)
    assert not Pacer(NOW, NOW, 1.0, None).finished(NOW + 1e9)


def test_a_run_that_catches_up_continues_in_real_time() -> None:
    pacer = Pacer(NOW - 100.0, NOW, 100.0, None)
    assert pacer.target(NOW + 0.5) == NOW - 50.0
    assert pacer.target(NOW + 2.0) == NOW + 2.0
    assert pacer.target(NOW + 50.0) == NOW + 50.0


def test_stamps_are_rfc3339_utc_with_milliseconds() -> None:
    stamp = Stamper()
    assert stamp(NOW) == "2025-01-15T10:00:00.000Z"
    assert stamp(NOW + 0.25) == "2025-01-15T10:00:00.250Z"
    assert stamp(NOW + 61.999) == "2025-01-15T10:01:01.999Z"


def test_kyiv_local_hour_follows_daylight_saving() -> None:
    kyiv = KyivClock()
    assert kyiv.hour(NOW) == 12.0  # winter: UTC+2
    july = 1_752_577_200.0  # 2025-07-15T11:00:00Z
    assert kyiv.hour(july) == 14.0  # summer: UTC+3


def test_slower_than_real_time_starts_now() -> None:
    assert default_start(NOW, 0.5, 600.0) == NOW
