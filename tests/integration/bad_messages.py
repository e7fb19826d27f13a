"""A seeded generator of bad input messages: every one must be refused with a dead letter."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from streams.kafka.topics import ACTIVATIONS, REGISTRY, TELEMETRY, VISITS

INPUTS = (REGISTRY, TELEMETRY, VISITS, ACTIVATIONS)
BadMessage = tuple[str, str | None, bytes]  # topic, key (None: no key), value


def _good(topic: str, point_id: str, n: int) -> dict[str, object]:
    """A valid message of ``topic`` about ``point_id`` (made bad by the caller); ``n``, an
    extra field, makes every message distinct."""
    ts = f"2026-02-01T{n % 24:02d}:{n % 60:02d}:00Z"
    by_topic: dict[str, dict[str, object]] = {
        REGISTRY: {"point_id": point_id, "name": f"P {n}", "kind": "permanent", "oblast": "o",
                   "hromada": "h", "lat": 50.0, "lon": 30.0, "capacity_people": 10,
                   "fuel_tank_l": 100.0},
        TELEMETRY: {"point_id": point_id, "ts": ts, "status": "open", "power": "grid",
                    "generator_running": False, "fuel_level_l": 50.0, "heating_on": True,
                    "internet_up": True, "indoor_temp_c": 20.0, "headcount": 3},
        VISITS: {"event_id": f"fuzz-{n}", "point_id": point_id, "ts": ts, "kind": "arrival",
                 "people": 1},
        ACTIVATIONS: {"point_id": point_id, "ts": ts, "action": "activate",
                      "requested_by": "fuzz"},
    }
    return {"n": n, **by_topic[topic]}


def bad_messages(count: int, known_point: str, seed: int = 20261128) -> Iterator[BadMessage]:
    """``count`` distinct bad messages over every input topic and every kind of badness.

    ``known_point`` is registered, so that a message about it fails for the intended reason
    only (a mismatched key, a wrong type...), never for being about an unknown point.
    """
    rng = random.Random(seed)
    kinds = (
        _random_bytes, _invalid_utf8, _truncated_json, _wrong_type, _nan_or_infinity,
        _huge_string, _deep_nesting, _extreme_timestamp, _missing_key, _mismatched_key,
        _not_an_object, _unknown_point, _missing_field,
    )
    for n in range(count):
        topic = INPUTS[n % len(INPUTS)]
        yield kinds[n % len(kinds)](rng, topic, known_point, n)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()  # json writes NaN and Infinity, as a broken sender might


def _random_bytes(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    return topic, point, rng.randbytes(rng.randint(16, 400))


def _invalid_utf8(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    return topic, point, b'{"point_id": "' + point.encode() + b'", "n": "\xff\xfe' + str(
        n).encode() + b'"}'


def _truncated_json(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    text = _json(_good(topic, point, n))
    return topic, point, text[: rng.randint(1, len(text) - 1)] + f"#{n}".encode()


def _wrong_type(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    message = _good(topic, point, n)
    field = rng.choice([name for name in message if name not in ("point_id", "n")])
    message[field] = rng.choice([[n], {"n": n}])  # no contract field takes these
    return topic, point, _json(message)


def _nan_or_infinity(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    message = _good(topic, point, n)
    numeric = [name for name, value in message.items() if isinstance(value, float)]
    message[rng.choice(numeric or ["x"])] = rng.choice([float("nan"), float("inf"), -float("inf")])
    return topic, point, _json(message)


def _huge_string(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    message = _good(topic, point, n)
    message["point_id" if n % 2 else "note"] = "x" * rng.randint(70_000, 200_000)
    return topic, point, _json(message)


def _deep_nesting(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    depth = rng.randint(2_000, 20_000)
    return topic, point, b'{"point_id": "' + point.encode() + b'", "x": ' + b"[" * depth + str(
        n).encode() + b"]" * depth + b"}"


def _extreme_timestamp(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    if topic == REGISTRY:  # no ts there: a coordinate out of range instead
        return topic, point, _json({**_good(topic, point, n), "lat": 1000.0 + n})
    ts = rng.choice(["0001-01-01T00:30:00+01:00", "1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                     "1969-12-31T23:59:59Z", "2999-01-01T00:00:00-12:00"])
    return topic, point, _json({**_good(topic, point, n), "ts": ts, "n": n})


def _missing_key(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    if topic == REGISTRY:  # a compacted topic refuses records without a key at the broker
        return _mismatched_key(rng, topic, point, n)
    return topic, None, _json(_good(topic, point, n))


def _mismatched_key(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    return topic, f"{point}-other-{n}", _json(_good(topic, point, n))


def _not_an_object(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    return topic, point, _json(rng.choice([[point, n], n, f"{point} {n}", [None, n], [True, n]]))


def _unknown_point(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    if topic == REGISTRY:  # any point may register: a registry entry without a name instead
        message = _good(topic, point, n)
        del message["name"]
        return topic, point, _json(message)
    stranger = f"{point}-unregistered-{n}"
    return topic, stranger, _json({**_good(topic, stranger, n), "n": n})


def _missing_field(rng: random.Random, topic: str, point: str, n: int) -> BadMessage:
    message = _good(topic, point, n)
    del message[rng.choice([name for name in message if name not in ("point_id", "n")])]
    return topic, point, _json(message)
