"""Deliberately malformed messages, for dead-letter tests (``nezlam simulate --bad-rate F``).

After each valid stream message, with probability ``rate``, a malformed sibling follows on the
same topic and key. It has one flaw (:data:`FLAWS`): the bytes are not JSON, a required field
is missing, a value is out of range or not allowed, or the point id is not in the registry.
The corruptor draws from its own random stream, so the valid messages are the same whatever
the rate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from streams.kafka.topics import ACTIVATIONS, TELEMETRY, VISITS

FLAWS = ("invalid_json", "missing_field", "out_of_range", "unknown_point")

_REQUIRED = {
    TELEMETRY: (
        "point_id", "ts", "status", "power", "generator_running", "fuel_level_l",
        "heating_on", "internet_up", "indoor_temp_c", "headcount",
    ),
    VISITS: ("event_id", "point_id", "ts", "kind", "people"),
    ACTIVATIONS: ("point_id", "ts", "action", "requested_by"),
}  # fmt: skip

# Values each schema refuses: below a minimum, above a maximum, outside an enum, empty, naive.
_OUT_OF_RANGE: dict[str, tuple[tuple[str, Any], ...]] = {
    TELEMETRY: (
        ("fuel_level_l", -12.5),
        ("headcount", -1),
        ("indoor_temp_c", 99.0),
        ("status", "exploded"),
        ("power", "nuclear"),
        ("ts", "2025-01-15 08:30:00"),
    ),
    VISITS: (("people", 0), ("people", -3), ("kind", "teleport")),
    ACTIVATIONS: (("action", "explode"), ("requested_by", "")),
}


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A malformed message: where it goes, its raw bytes and which flaw it carries."""

    topic: str
    key: str
    payload: bytes
    flaw: str


class Corruptor:
    """Makes a malformed sibling for a share ``rate`` of the messages it is shown."""

    def __init__(self, rate: float, seed: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"bad rate must be within 0..1, not {rate}")
        self._rate = rate
        self._rng = random.Random(f"nezlam-bad-{seed}")

    def sibling(self, topic: str, key: str, value: dict[str, Any]) -> BadMessage | None:
        """A malformed copy of ``value`` (drawn with probability ``rate``), or None."""
        if self._rate == 0.0 or topic not in _REQUIRED or self._rng.random() >= self._rate:
            return None
        flaw = self._rng.choice(FLAWS)
        bad = dict(value)
        if flaw == "invalid_json":
            whole = orjson.dumps(bad)
            return BadMessage(topic, key, whole[: len(whole) // 2], flaw)
        if flaw == "missing_field":
            del bad[self._rng.choice(_REQUIRED[topic])]
        elif flaw == "out_of_range":
            name, wrong = self._rng.choice(_OUT_OF_RANGE[topic])
            bad[name] = wrong
        else:
            bad["point_id"] = key = f"UA-ZZ-{self._rng.randrange(100_000):05d}"
        return BadMessage(topic, key, orjson.dumps(bad), flaw)
