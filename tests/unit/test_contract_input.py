"""The input path of the contract (``Contract.accept``): no input crashes it, every refusal
is bounded and says why."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract import (
    DEADLETTER_EXCERPT_BYTES,
    Contract,
    Rejection,
    dead_letter,
)
from streams.kafka.topics import ACTIVATIONS, INPUT_TOPICS, REGISTRY, TELEMETRY, VISITS

DEADLETTER = "points.deadletter"
NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC).timestamp()
WEEK = 7 * 24 * 3600.0
REPORT = {
    "point_id": "UA-KY-00042", "ts": "2025-01-15T08:30:00+02:00", "status": "open",
    "power": "generator", "generator_running": True, "fuel_level_l": 150.0,
    "heating_on": True, "internet_up": True, "indoor_temp_c": 19.5, "headcount": 12,
}
KEY = b"UA-KY-00042"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(max_future_skew_seconds=300, max_age_seconds=WEEK,
                    max_message_bytes=64 * 1024, deadletter_topic=DEADLETTER)


def report(**changes: object) -> bytes:
    return orjson.dumps({**REPORT, **changes})


def reason(result: object) -> str:
    assert isinstance(result, Rejection), result
    return result.reason


def test_a_valid_keyed_report_is_accepted(contract: Contract) -> None:
    result = contract.accept(TELEMETRY, KEY, report(), now=NOW)
    assert isinstance(result, dict) and result["point_id"] == "UA-KY-00042"


def test_a_message_above_the_size_limit_is_refused_before_parsing(contract: Contract) -> None:
    big = report(note="x" * 70_000)  # valid JSON, valid report, just too large
    assert reason(contract.accept(TELEMETRY, KEY, big, now=NOW)) == "too_large"


@pytest.mark.parametrize(
    "ts",
    ["0001-01-01T00:30:00+01:00", "1900-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
     "2025-01-01T00:00:00Z"],  # the last: two weeks before NOW, older than the week allowed
)
def test_implausibly_old_timestamps_are_refused_without_date_arithmetic(
    contract: Contract, ts: str
) -> None:
    result = contract.accept(TELEMETRY, KEY, report(ts=ts), now=NOW)
    assert reason(result) == "old_timestamp"
    assert isinstance(result, Rejection) and result.field == "ts"


def test_the_key_must_be_present_and_equal_the_point_id(contract: Contract) -> None:
    assert reason(contract.accept(TELEMETRY, None, report(), now=NOW)) == "missing_key"
    assert reason(contract.accept(TELEMETRY, b"UA-KY-00043", report(), now=NOW)) == "key_mismatch"


@pytest.mark.parametrize("topic", [spec.name for spec in INPUT_TOPICS])
def test_every_input_topic_checks_its_key(contract: Contract, topic: str) -> None:
    examples = {
        REGISTRY: {"point_id": "P1", "name": "n", "kind": "permanent", "oblast": "o",
                   "hromada": "h", "lat": 50.0, "lon": 30.0, "capacity_people": 10,
                   "fuel_tank_l": 100.0},
        TELEMETRY: {**REPORT, "point_id": "P1"},
        VISITS: {"event_id": "e1", "point_id": "P1", "ts": REPORT["ts"], "kind": "arrival",
                 "people": 1},
        ACTIVATIONS: {"point_id": "P1", "ts": REPORT["ts"], "action": "activate",
                      "requested_by": "ODA"},
    }
    raw = orjson.dumps(examples[topic])
    assert isinstance(contract.accept(topic, b"P1", raw, now=NOW), dict)
    assert reason(contract.accept(topic, b"P2", raw, now=NOW)) == "key_mismatch"


def test_an_unexpected_error_becomes_an_internal_error(
    contract: Contract, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(contract, "validate", explode)
    result = contract.accept(TELEMETRY, KEY, report(), now=NOW)
    assert reason(result) == "internal_error"
    assert isinstance(result, Rejection) and "RuntimeError: boom" in result.message


def test_the_dead_letter_of_a_900_kb_message_is_small_and_identifies_it(
    contract: Contract,
) -> None:
    raw = bytes(range(256)) * 3600  # 921,600 bytes of garbage, not UTF-8
    rejection = contract.accept(TELEMETRY, b"k" * 100_000, raw, now=NOW)
    assert isinstance(rejection, Rejection)
    record = dead_letter(TELEMETRY, 3, 17, b"k" * 100_000, raw, rejection, now=NOW)
    assert len(record) < 32 * 1024
    assert isinstance(contract.validate(DEADLETTER, record, now=NOW), dict)
    parsed = orjson.loads(record)
    assert parsed["payload_truncated"] is True
    assert parsed["payload_bytes"] == len(raw)
    assert parsed["payload_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_cut_inside_a_utf8_character_keeps_the_excerpt_as_text() -> None:
    raw = ("я" * DEADLETTER_EXCERPT_BYTES).encode()  # two bytes a character
    rejection = Rejection("too_large", None, len(raw), None, "too large")
    parsed = orjson.loads(dead_letter(TELEMETRY, 0, 0, None, raw[1:], rejection, now=NOW))
    assert parsed["payload_encoding"] == "base64"  # starts mid-character: not UTF-8 at all
    parsed = orjson.loads(dead_letter(TELEMETRY, 0, 0, None, raw, rejection, now=NOW))
    assert parsed["payload_encoding"] == "utf-8"
    assert raw.startswith(parsed["payload"].encode())


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(
    topic=st.sampled_from([spec.name for spec in INPUT_TOPICS]),
    key=st.none() | st.binary(max_size=40),
    raw=st.binary(max_size=300)
    # json, not orjson: it writes NaN, Infinity and integers beyond 64 bits, as senders may
    | _json.map(lambda value: json.dumps(value).encode())
    | st.builds(lambda changes: json.dumps({**REPORT, **changes}).encode(),
                st.dictionaries(st.sampled_from(sorted(REPORT)), _json, max_size=3)),
)
def test_no_input_raises_and_every_refusal_makes_a_valid_bounded_dead_letter(
    contract: Contract, topic: str, key: bytes | None, raw: bytes
) -> None:
    result = contract.accept(topic, key, raw, now=NOW)
    if isinstance(result, Rejection):
        assert result.reason != "internal_error", result
        record = dead_letter(topic, 0, 0, key, raw, result, now=NOW)
        assert len(record) < 32 * 1024
        assert isinstance(contract.validate(DEADLETTER, record, now=NOW), dict)
