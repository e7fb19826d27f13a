"""The Prometheus ``predict_linear`` baseline, kept for comparison only.

Prometheus fits an ordinary least-squares line of the sample values against their timestamps
over the range window ``(t - w, t]`` and reads the line at the evaluation time ``t``. Hours to
empty is where that line meets zero. Nothing else: no notion of refuels, spikes, a stopped
generator or a stuck sensor; that is the point of keeping it as the bar to beat.

The window keeps running sums so that adding a sample and evaluating are O(1) amortised; the
benchmark evaluates it on every reading of millions. Times are shifted to the first sample's
time so that the sums of squares stay well conditioned.
"""

from __future__ import annotations

from collections import deque

SECONDS_PER_HOUR = 3600.0


class PredictLinearWindow:
    """Least squares of level against wall time over a sliding window of samples."""

    __slots__ = ("_n", "_origin", "_samples", "_st", "_stt", "_sty", "_sy", "window_s")

    def __init__(self, window_s: float) -> None:
        if window_s <= 0.0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._origin: float | None = None
        self._n = 0
        self._st = self._sy = self._stt = self._sty = 0.0

    def add(self, ts: float, value: float) -> None:
        """Append a sample; ``ts`` must not go backwards."""
        if self._origin is None:
            self._origin = ts
        t = (ts - self._origin) / SECONDS_PER_HOUR
        self._samples.append((t, value))
        self._n += 1
        self._st += t
        self._sy += value
        self._stt += t * t
        self._sty += t * value

    def _evict(self, t_now: float) -> None:
        # Prometheus' range selector is left-open: a sample exactly w old is out
        limit = t_now - self.window_s / SECONDS_PER_HOUR
        samples = self._samples
        while samples and samples[0][0] <= limit:
            t, value = samples.popleft()
            self._n -= 1
            self._st -= t
            self._sy -= value
            self._stt -= t * t
            self._sty -= t * value
        if not samples:
            # start the sums from exact zeros again so rounding never accumulates
            self._st = self._sy = self._stt = self._sty = 0.0

    def fit(self, now: float) -> tuple[float, float] | None:
        """``(value at now, slope per hour)`` of the fitted line, ``None`` with < 2 samples."""
        if self._origin is None:
            return None
        t_now = (now - self._origin) / SECONDS_PER_HOUR
        self._evict(t_now)
        n = self._n
        if n < 2:
            return None
        mean_t = self._st / n
        mean_y = self._sy / n
        var_t = self._stt / n - mean_t * mean_t
        if var_t <= 1e-12:
            return None
        slope = (self._sty / n - mean_t * mean_y) / var_t
        return mean_y + slope * (t_now - mean_t), slope

    def hours_to_empty(self, now: float) -> float | None:
        """Hours until the fitted line reaches zero; ``inf`` when it does not fall."""
        fitted = self.fit(now)
        if fitted is None:
            return None
        level, slope = fitted
        if slope >= 0.0:
            return float("inf")
        return max(level, 0.0) / -slope
