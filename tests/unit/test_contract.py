"""streams.contract: what is accepted, and what is rejected with which field, rule and reason."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract import (
    REASONS,
    Contract,
    Rejection,
    dead_letter,
    load_schema,
    unknown_point,
)
from streams.kafka.topics import ACTIVATIONS, ALERTS, REGISTRY, TELEMETRY, VISITS

DEADLETTER = "points.deadletter"
NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC).timestamp()
SKEW = 300
EXAMPLES: dict[str, dict[str, Any]] = {
    topic: load_schema(topic)["examples"][0]
    for topic in (REGISTRY, TELEMETRY, VISITS, ACTIVATIONS, ALERTS)
}
DELETE = object()  # a change that removes the field


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(max_future_skew_seconds=SKEW, deadletter_topic=DEADLETTER)


def message(topic: str, **changes: object) -> dict[str, Any]:
    """The topic's first schema example with fields replaced (or removed with DELETE)."""
    result = dict(EXAMPLES[topic])
    for name, value in changes.items():
        if value is DELETE:
            del result[name]
        else:
            result[name] = value
    return result


def shown(value: object) -> str:
    """How a value must appear in a rejection message."""
    return repr(value) if isinstance(value, str) else orjson.dumps(value).decode()


# ---------------------------------------------------------------------------------------------
# Broken messages: (topic, field, value sent, rule expected). Every one is reason 'schema'.
# ---------------------------------------------------------------------------------------------
MISSING = [
    (topic, name, DELETE, "required")
    for topic in (REGISTRY, TELEMETRY, VISITS, ACTIVATIONS)
    for name in load_schema(topic)["required"]
]

POINT_ID = "pattern: ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
BAD_TS = [
    (1736922600, "type: string"),
    ("yesterday", "format: date-time"),
    ("2025-01-15T06:30:00", "format: date-time with offset"),
    ("2025-01-15T06:30:00.5", "format: date-time with offset"),
    ("2025-01-15T06:30:00+0200", "format: date-time"),
    ("2025-01-15 06:30:00Z", "format: date-time"),
    ("2025-02-30T06:30:00Z", "format: date-time"),
    ("2025-01-15T24:30:00Z", "format: date-time"),
    ("", "format: date-time"),
]

WRONG = [
    # points.registry
    (REGISTRY, "point_id", 42, "type: string"),
    (REGISTRY, "point_id", "", POINT_ID),
    (REGISTRY, "point_id", "-UA-KY-1", POINT_ID),
    (REGISTRY, "point_id", "UA KY 1", POINT_ID),
    (REGISTRY, "point_id", "U" * 65, POINT_ID),
    (REGISTRY, "point_id", "UA-KY-1\n", POINT_ID),
    (REGISTRY, "name", "", "minLength: 1"),
    (REGISTRY, "name", None, "type: string"),
    (REGISTRY, "kind", "temporary", "enum: permanent|standby|mobile"),
    (REGISTRY, "kind", "Permanent", "enum: permanent|standby|mobile"),
    (REGISTRY, "oblast", "", "minLength: 1"),
    (REGISTRY, "hromada", "h" * 101, "maxLength: 100"),
    (REGISTRY, "lat", "50.45", "type: number"),
    (REGISTRY, "lat", 43.9, "minimum: 44"),
    (REGISTRY, "lat", 53.5, "maximum: 53"),
    (REGISTRY, "lon", 21.5, "minimum: 22"),
    (REGISTRY, "lon", 41.2, "maximum: 41"),
    (REGISTRY, "lon", None, "type: number"),
    (REGISTRY, "capacity_people", 0, "minimum: 1"),
    (REGISTRY, "capacity_people", 12.5, "type: integer"),
    (REGISTRY, "capacity_people", True, "type: integer"),
    (REGISTRY, "fuel_tank_l", 0, "exclusiveMinimum: 0"),
    (REGISTRY, "fuel_tank_l", -20, "exclusiveMinimum: 0"),
    (REGISTRY, "fuel_tank_l", 100001, "maximum: 100000"),
    # points.telemetry
    (TELEMETRY, "point_id", None, "type: string"),
    (TELEMETRY, "status", "opened", "enum: open|standby|closed"),
    (TELEMETRY, "status", None, "type: string"),
    (TELEMETRY, "power", "diesel", "enum: grid|generator|battery|none"),
    (TELEMETRY, "generator_running", "yes", "type: boolean"),
    (TELEMETRY, "generator_running", 1, "type: boolean"),
    (TELEMETRY, "generator_running", None, "type: boolean"),
    (TELEMETRY, "fuel_level_l", -3.5, "minimum: 0"),
    (TELEMETRY, "fuel_level_l", "12.5", "type: number|null"),
    (TELEMETRY, "fuel_level_l", 100001, "maximum: 100000"),
    (TELEMETRY, "heating_on", "on", "type: boolean|null"),
    (TELEMETRY, "internet_up", 0, "type: boolean|null"),
    (TELEMETRY, "indoor_temp_c", -51, "minimum: -50"),
    (TELEMETRY, "indoor_temp_c", 60.5, "maximum: 60"),
    (TELEMETRY, "indoor_temp_c", True, "type: number|null"),
    (TELEMETRY, "headcount", -1, "minimum: 0"),
    (TELEMETRY, "headcount", 2.5, "type: integer|null"),
    (TELEMETRY, "headcount", "12", "type: integer|null"),
    (TELEMETRY, "headcount", 100001, "maximum: 100000"),
    # points.visits
    (VISITS, "event_id", "", "minLength: 1"),
    (VISITS, "event_id", 17, "type: string"),
    (VISITS, "point_id", "UA/KY/1", POINT_ID),
    (VISITS, "kind", "arrive", "enum: arrival|departure"),
    (VISITS, "people", 0, "minimum: 1"),
    (VISITS, "people", -2, "minimum: 1"),
    (VISITS, "people", 1.5, "type: integer"),
    (VISITS, "people", None, "type: integer"),
    (VISITS, "people", 10001, "maximum: 10000"),
    # points.activations
    (ACTIVATIONS, "action", "activated", "enum: activate|stand_down"),
    (ACTIVATIONS, "action", "ACTIVATE", "enum: activate|stand_down"),
    (ACTIVATIONS, "requested_by", "", "minLength: 1"),
    (ACTIVATIONS, "requested_by", None, "type: string"),
    # ts on every input topic that has it
    *[
        (topic, "ts", value, rule)
        for topic in (TELEMETRY, VISITS, ACTIVATIONS)
        for value, rule in BAD_TS
    ],
]


def _case_id(case: tuple[str, str, object, str]) -> str:
    topic, field, value, _rule = case
    return f"{topic}-{field}-{'missing' if value is DELETE else repr(value)[:20]}"


@pytest.mark.parametrize("case", MISSING + WRONG, ids=_case_id)
def test_broken_field_is_rejected(case: tuple[str, str, object, str], contract: Contract) -> None:
    topic, field, value, rule = case
    raw = orjson.dumps(message(topic, **{field: value}))
    rejection = contract.validate(topic, raw, now=NOW)
    assert isinstance(rejection, Rejection), rejection
    assert (rejection.reason, rejection.field, rejection.rule) == ("schema", field, rule)
    assert rejection.message.startswith(f"{topic}: ")
    assert f"'{field}'" in rejection.message
    if value is DELETE:
        assert rejection.value is None
        assert "missing" in rejection.message
    else:
        assert rejection.value == value
        assert shown(value)[:70] in rejection.message


def test_message_names_the_unit(contract: Contract) -> None:
    raw = orjson.dumps(message(TELEMETRY, fuel_level_l=-3.5))
    rejection = contract.validate(TELEMETRY, raw, now=NOW)
    assert rejection == Rejection(
        "schema",
        "fuel_level_l",
        -3.5,
        "minimum: 0",
        "points.telemetry: field 'fuel_level_l' is -3.5, must be >= 0 (litres)",
    )


@pytest.mark.parametrize("topic", [TELEMETRY, VISITS, ACTIVATIONS])
def test_ts_ten_minutes_ahead_is_rejected(topic: str, contract: Contract) -> None:
    ts = "2025-01-15T07:10:00Z"
    rejection = contract.validate(topic, orjson.dumps(message(topic, ts=ts)), now=NOW)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field, rejection.value) == ("future_timestamp", "ts", ts)
    assert rejection.rule == "max future skew: 300 s"
    assert "'ts'" in rejection.message
    assert ts in rejection.message
    assert "600 s ahead" in rejection.message


def test_ts_up_to_the_skew_ahead_is_accepted(contract: Contract) -> None:
    at_limit = datetime.fromtimestamp(NOW + SKEW, UTC).isoformat()
    past_limit = datetime.fromtimestamp(NOW + SKEW + 1, UTC).isoformat()
    assert isinstance(
        contract.validate(VISITS, orjson.dumps(message(VISITS, ts=at_limit)), now=NOW), dict
    )
    rejected = contract.validate(VISITS, orjson.dumps(message(VISITS, ts=past_limit)), now=NOW)
    assert isinstance(rejected, Rejection)
    assert rejected.reason == "future_timestamp"


@pytest.mark.parametrize("topic", [REGISTRY, TELEMETRY, VISITS, ACTIVATIONS])
@pytest.mark.parametrize(
    ("raw", "reason", "rule"),
    [
        (b'{"point_id": "UA-KY-00042", ', "invalid_json", "json"),
        (b"", "invalid_json", "json"),
        (b"{'point_id': 'UA-KY-00042'}", "invalid_json", "json"),
        (b'{"fuel_level_l": NaN}', "invalid_json", "json"),
        (b'[{"point_id": "UA-KY-00042"}]', "not_an_object", "type: object"),
        (b'"UA-KY-00042"', "not_an_object", "type: object"),
        (b"null", "not_an_object", "type: object"),
        (
            '{"point_id": "UA-KY-00042", "note": "Пункт"}'.encode("cp1251"),
            "invalid_json",
            "encoding: utf-8",
        ),
        (b"\xff\xfe{\x00}\x00", "invalid_json", "encoding: utf-8"),
    ],
    ids=[
        "truncated",
        "empty",
        "single-quotes",
        "nan",
        "array",
        "string",
        "null",
        "cp1251",
        "utf-16",
    ],
)
def test_unreadable_message_is_rejected(
    topic: str, raw: bytes, reason: str, rule: str, contract: Contract
) -> None:
    rejection = contract.validate(topic, raw, now=NOW)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.field, rejection.value, rejection.rule) == (
        reason,
        None,
        None,
        rule,
    )
    assert rejection.message.startswith(f"{topic}: ")


def test_accepted_message_keeps_ts_and_adds_epoch(contract: Contract) -> None:
    sent = message(TELEMETRY, ts="2025-01-15T08:30:00.250+02:00", firmware="gw-2.4.1")
    result = contract.validate(TELEMETRY, orjson.dumps(sent), now=NOW)
    assert isinstance(result, dict)
    assert result.pop("_ts") == datetime(2025, 1, 15, 6, 30, 0, 250000, UTC).timestamp()
    assert result == sent  # optional fields pass through untouched


def test_text_input_is_accepted(contract: Contract) -> None:
    result = contract.validate(VISITS, orjson.dumps(EXAMPLES[VISITS]).decode(), now=NOW)
    assert isinstance(result, dict)


def test_registry_has_no_ts(contract: Contract) -> None:
    result = contract.validate(REGISTRY, orjson.dumps(EXAMPLES[REGISTRY]), now=NOW)
    assert isinstance(result, dict)
    assert "_ts" not in result


@pytest.mark.parametrize(
    "ts",
    [
        "2025-01-15T06:30:00Z",
        "2025-01-15t06:30:00z",
        "2025-01-15T06:30:00+00:00",
        "2025-01-15T08:30:00+02:00",
        "2025-01-15T01:30:00-05:00",
        "2025-01-15T06:30:00.000000000Z",
    ],
)
def test_rfc3339_forms_are_accepted(ts: str, contract: Contract) -> None:
    result = contract.validate(TELEMETRY, orjson.dumps(message(TELEMETRY, ts=ts)), now=NOW)
    assert isinstance(result, dict), result
    assert result["ts"] == ts
    assert result["_ts"] == datetime(2025, 1, 15, 6, 30, tzinfo=UTC).timestamp()


def test_unknown_topic(contract: Contract) -> None:
    rejection = contract.validate("points.telemtry", b"{}", now=NOW)
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.value) == ("unknown_topic", "points.telemtry")
    assert TELEMETRY in rejection.message


def test_nested_field_has_a_dotted_path(contract: Contract) -> None:
    labels = {**EXAMPLES[ALERTS]["labels"], "oblast": 5}
    rejection = contract.validate(ALERTS, orjson.dumps(message(ALERTS, labels=labels)), now=NOW)
    assert isinstance(rejection, Rejection)
    assert (rejection.field, rejection.value, rejection.rule) == (
        "labels.oblast",
        5,
        "type: string",
    )
    assert "'labels.oblast' is 5" in rejection.message


def test_unknown_point_rejection() -> None:
    rejection = unknown_point(TELEMETRY, "UA-XX-99999")
    assert (rejection.reason, rejection.field, rejection.value) == (
        "unknown_point",
        "point_id",
        "UA-XX-99999",
    )
    assert "'UA-XX-99999'" in rejection.message


# ---------------------------------------------------------------------------------------------
# Dead-letter records
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps(message(TELEMETRY, fuel_level_l=-3.5, note="Пункт")),
        b'{"point_id": ',
        b"",
        '{"note": "Пункт"}'.encode("cp1251"),
        b"\x00\xff\x80binary",
    ],
    ids=["schema", "invalid-json", "empty", "cp1251", "binary"],
)
@pytest.mark.parametrize(
    "key", [b"UA-KY-00042", None, b"UA-\xff"], ids=["key", "no-key", "bad-key"]
)
def test_dead_letter_is_valid_and_keeps_the_payload(
    raw: bytes, key: bytes | None, contract: Contract
) -> None:
    rejection = contract.validate(TELEMETRY, raw, now=NOW)
    assert isinstance(rejection, Rejection)
    record = contract.validate(
        DEADLETTER, dead_letter(TELEMETRY, 3, 1234, key, raw, rejection, now=NOW), now=NOW
    )
    assert isinstance(record, dict), record
    restored = (
        base64.b64decode(record["payload"])
        if record["payload_encoding"] == "base64"
        else record["payload"].encode("utf-8")
    )
    assert restored == raw
    assert record["payload_encoding"] == ("utf-8" if _is_utf8(raw) else "base64")
    assert (record["source_topic"], record["partition"], record["offset"]) == (TELEMETRY, 3, 1234)
    assert record["key"] == (None if key is None else key.decode("utf-8", "backslashreplace"))
    assert [record[k] for k in ("reason", "field", "value", "rule", "message")] == [
        rejection.reason,
        rejection.field,
        rejection.value,
        rejection.rule,
        rejection.message,
    ]
    assert datetime.fromisoformat(record["rejected_at"]).timestamp() == NOW


@pytest.mark.parametrize("reason", REASONS)
def test_dead_letter_accepts_every_reason(reason: str, contract: Contract) -> None:
    rejection = Rejection(reason, None, None, None, f"{VISITS}: example of {reason}")
    record = dead_letter(VISITS, 0, 0, None, b"{}", rejection, now=NOW)
    assert isinstance(contract.validate(DEADLETTER, record, now=NOW), dict)


def test_dead_letter_of_text_input_and_odd_value(contract: Contract) -> None:
    rejection = Rejection("unknown_point", "point_id", b"raw", "registered", "made up")
    record = orjson.loads(dead_letter(VISITS, 0, 0, None, "{}", rejection, now=NOW))
    assert (record["payload"], record["payload_encoding"]) == ("{}", "utf-8")
    assert record["value"] == "b'raw'"


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Property: whatever satisfies the telemetry schema is accepted.
# ---------------------------------------------------------------------------------------------
TELEMETRY_SCHEMA = load_schema(TELEMETRY)


def _timestamps() -> st.SearchStrategy[str]:
    """RFC 3339 date-times from 2000 (older ones are refused) up to NOW, with any minute offset
    and in every spelling we accept."""
    offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    moments = st.datetimes(
        min_value=datetime(2000, 1, 2),
        max_value=datetime.fromtimestamp(NOW, UTC).replace(tzinfo=None) - timedelta(days=1),
        timezones=offsets,
    )
    spellings = st.sampled_from(["seconds", "milliseconds", "microseconds"])
    return st.builds(lambda dt, spec: dt.isoformat(timespec=spec), moments, spellings).map(
        lambda text: text.replace("+00:00", "Z")
    )


def _value(definition: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for one property, read from the keywords the telemetry schema uses."""
    if "enum" in definition:
        return st.sampled_from(definition["enum"])
    types = definition["type"] if isinstance(definition["type"], list) else [definition["type"]]
    low, high = definition.get("minimum"), definition.get("maximum")
    options: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "integer": st.integers(low, high),
        "number": st.floats(low, high, allow_nan=False) | st.integers(low, high),
    }
    if "string" in types:
        if definition.get("format") == "date-time":
            options["string"] = _timestamps()
        else:
            options["string"] = st.from_regex(definition["pattern"], fullmatch=True)
    return st.one_of(*(options[t] for t in types))


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
telemetry_messages = st.fixed_dictionaries(
    {name: _value(definition) for name, definition in TELEMETRY_SCHEMA["properties"].items()},
    optional={"gateway": st.text(), "extra": _json_values},
)


@settings(max_examples=300, deadline=None)
@given(telemetry_messages)
def test_any_message_satisfying_the_telemetry_schema_is_accepted(sent: dict[str, Any]) -> None:
    contract = Contract(max_future_skew_seconds=SKEW)
    result = contract.validate(TELEMETRY, orjson.dumps(sent), now=NOW)
    assert isinstance(result, dict), result
    epoch = result.pop("_ts")
    assert result == sent
    assert epoch == datetime.fromisoformat(sent["ts"]).timestamp()
