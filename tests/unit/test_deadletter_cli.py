"""The pure parts of `nezlam deadletter`: counting, selecting, and the original from a letter."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.cli.deadletter import DeadLetter, count_by_topic_and_reason, payload_bytes, select
from streams.contract import DEADLETTER_EXCERPT_BYTES, Rejection, dead_letter
from streams.kafka.topics import TELEMETRY, VISITS

NOW = 1_767_225_600.0


def _letter(offset: int, topic: str, reason: str, raw: bytes = b"{}") -> DeadLetter:
    rejection = Rejection(reason, None, None, None, f"refused: {reason}")
    record = orjson.loads(dead_letter(topic, 0, offset, b"UA-1", raw, rejection, now=NOW))
    return DeadLetter(partition=3, offset=offset, timestamp_ms=0, record=record)


LETTERS = [
    _letter(1, TELEMETRY, "unknown_point"),
    _letter(2, TELEMETRY, "unknown_point"),
    _letter(3, TELEMETRY, "invalid_json"),
    _letter(4, VISITS, "unknown_point"),
]


def test_counts_by_source_topic_and_reason() -> None:
    assert count_by_topic_and_reason(LETTERS) == {
        (TELEMETRY, "unknown_point"): 2, (TELEMETRY, "invalid_json"): 1,
        (VISITS, "unknown_point"): 1,
    }


def test_select_by_reason_and_topic() -> None:
    assert [d.id for d in select(LETTERS, reason="unknown_point", topic=None)] == [
        "3:1", "3:2", "3:4"]
    assert [d.id for d in select(LETTERS, reason="unknown_point", topic=VISITS)] == ["3:4"]
    assert select(LETTERS, reason=None, topic=None) == LETTERS


@given(st.binary(max_size=2 * DEADLETTER_EXCERPT_BYTES))
def test_a_letter_gives_back_its_whole_original_or_nothing(raw: bytes) -> None:
    record = _letter(7, TELEMETRY, "invalid_json", raw).record
    original = payload_bytes(record)
    if len(raw) <= DEADLETTER_EXCERPT_BYTES:
        assert original == raw
    else:
        assert original is None  # only its start: replay must read the source offset
