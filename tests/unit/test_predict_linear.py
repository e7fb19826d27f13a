"""The predict_linear baseline: Prometheus' least squares over a window, kept for comparison."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.predict_linear import PredictLinearWindow

T0 = 1_767_225_600.0
HOUR = 3600.0


def test_an_exact_line_meets_zero_where_it_should() -> None:
    window = PredictLinearWindow(HOUR)
    for i in range(61):
        window.add(T0 + i * 60.0, 100.0 - 5.0 * i / 60.0)  # 5 L/h from 100 L
    now = T0 + 60 * 60.0
    fitted = window.fit(now)
    assert fitted is not None
    level, slope = fitted
    assert slope == pytest.approx(-5.0)
    assert level == pytest.approx(95.0)
    assert window.hours_to_empty(now) == pytest.approx(19.0)


def test_it_extrapolates_to_the_evaluation_time() -> None:
    window = PredictLinearWindow(HOUR)
    for i in range(30):
        window.add(T0 + i * 60.0, 100.0 - 6.0 * i / 60.0)
    # evaluated 20 minutes after the last sample, the line has gone on falling
    assert window.hours_to_empty(T0 + 49 * 60.0) == pytest.approx((100.0 - 4.9) / 6.0)


def test_the_window_is_left_open_like_a_range_selector() -> None:
    window = PredictLinearWindow(HOUR)
    window.add(T0, 1000.0)  # exactly an hour old at evaluation: outside
    window.add(T0 + 1800.0, 60.0)
    window.add(T0 + 3600.0, 50.0)
    fitted = window.fit(T0 + 3600.0)
    assert fitted is not None
    assert fitted[1] == pytest.approx(-20.0)


def test_no_answer_without_two_samples_and_infinity_when_not_falling() -> None:
    window = PredictLinearWindow(HOUR)
    assert window.hours_to_empty(T0) is None
    window.add(T0, 50.0)
    assert window.hours_to_empty(T0) is None
    window.add(T0 + 60.0, 50.0)
    assert window.hours_to_empty(T0 + 60.0) == math.inf
    window.add(T0 + 120.0, 80.0)  # a refill inside the window flips the slope
    assert window.hours_to_empty(T0 + 120.0) == math.inf


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PredictLinearWindow(0.0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), window_h=st.sampled_from([1.0, 3.0]))
def test_running_sums_match_a_direct_fit(seed: int, window_h: float) -> None:
    rng = random.Random(seed)
    window = PredictLinearWindow(window_h * HOUR)
    samples: list[tuple[float, float]] = []
    ts = T0
    for _ in range(rng.randint(50, 600)):
        ts += rng.uniform(20.0, 400.0)
        value = rng.uniform(0.0, 1000.0)
        window.add(ts, value)
        samples.append((ts, value))
        if rng.random() < 0.2:
            inside = [(t, v) for t, v in samples if t > ts - window_h * HOUR]
            fitted = window.fit(ts)
            if len(inside) < 2:
                assert fitted is None
                continue
            assert fitted is not None
            slope, intercept = statistics.linear_regression(
                [(t - T0) / HOUR for t, _ in inside], [v for _, v in inside]
            )
            assert fitted[1] == pytest.approx(slope, rel=1e-6, abs=1e-6)
            assert fitted[0] == pytest.approx(intercept + slope * (ts - T0) / HOUR, abs=1e-5)
