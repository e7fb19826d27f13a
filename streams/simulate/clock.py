"""How simulated time maps to wall time: speed, start, duration, and the never-ahead rule.

The pipeline rejects messages stamped in the future, so the simulated clock must never run
ahead of the wall clock. With ``--speed S`` the simulation covers ``duration`` of simulated
time in ``duration / S`` of wall time; starting at ``now - duration * (1 - 1/S)`` makes it
reach the wall clock exactly when it ends (``--speed max``: ``now - duration``). Whatever the
start, :meth:`Pacer.target` caps the simulated time at the wall clock, so a run that catches
up continues in real time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.ASCII)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration like ``90s``, ``10m``, ``2h``, ``1d`` or ``1h30m``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != compact:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 10m, 2h, 1d, 1h30m)")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def parse_speed(text: str) -> float:
    """Simulated seconds per wall second: a positive number, or ``max`` (infinity)."""
    if text.strip().lower() == "max":
        return math.inf
    speed = float(text)
    if not speed > 0 or math.isinf(speed):
        raise ValueError(f"speed must be a positive number or 'max', not {text!r}")
    return speed


def default_start(now: float, speed: float, duration: float | None) -> float:
    """The start that ends the run at the wall clock: ``now - duration * (1 - 1/speed)``.

    Without a duration, or slower than real time, the run starts now (and then any speed
    above 1 is capped to real time).
    """
    if duration is None or speed <= 1.0:
        return now
    return now - duration * (1.0 - 1.0 / speed)


@dataclass(frozen=True, slots=True)
class Pacer:
    """Simulated time a run may have reached after some wall time, never ahead of the wall."""

    start: float  # simulated start, epoch seconds
    wall_start: float  # wall clock when the run began, epoch seconds
    speed: float  # simulated seconds per wall second; math.inf for as fast as possible
    end: float | None  # simulated end, epoch seconds; None to run until stopped

    def target(self, wall_now: float) -> float:
        """How far the simulation may advance at wall time ``wall_now``."""
        elapsed = max(0.0, wall_now - self.wall_start)
        reach = math.inf if math.isinf(self.speed) else self.start + elapsed * self.speed
        target = min(reach, wall_now)
        return target if self.end is None else min(target, self.end)

    def finished(self, reached: float) -> bool:
        """Whether the simulation reached its end (never, without a duration)."""
        return self.end is not None and reached >= self.end
