"""The JSON Schemas in ``schemas/``: valid draft-07, documented, and true to the contract."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import fastjsonschema
import jsonschema
import orjson
import pytest

from streams.contract import REASONS, Contract, load_schema
from streams.kafka.topics import all_topics
from streams.resources import schema_file

DEADLETTER = "points.deadletter"
TOPICS = {spec.schema: spec.name for spec in all_topics(DEADLETTER)}
SCHEMA_FILES = sorted(name for name in TOPICS if name is not None)
NOW = datetime(2025, 2, 1, tzinfo=UTC).timestamp()

# The required fields of the message contract, version 1 (product brief and lead's design).
# Outside producers rely on these names: changing this table is a breaking change.
CONTRACT_REQUIRED: dict[str, list[str]] = {
    "points.registry.schema.json": [
        "point_id", "name", "kind", "oblast", "hromada", "lat", "lon", "capacity_people",
        "fuel_tank_l",
    ],
    "points.telemetry.schema.json": [
        "point_id", "ts", "status", "power", "generator_running", "fuel_level_l", "heating_on",
        "internet_up", "indoor_temp_c", "headcount",
    ],
    "points.visits.schema.json": ["event_id", "point_id", "ts", "kind", "people"],
    "points.activations.schema.json": ["point_id", "ts", "action", "requested_by"],
    "points.occupancy.schema.json": [
        "point_id", "ts", "oblast", "people_inside", "visits_15m", "visits_1h", "visits_24h",
        "capacity_people", "utilisation",
    ],
    "points.fuel_forecast.schema.json": [
        "point_id", "ts", "fuel_level_l", "burn_rate_lph", "hours_to_empty", "empty_at",
        "confidence", "generator_running", "refuel_detected", "method",
    ],
    "points.state.schema.json": [
        "point_id", "ts", "state", "previous_state", "activation_overdue", "since", "oblast",
        "kind",
    ],
    "alerts.schema.json": [
        "fingerprint", "alertname", "status", "severity", "point_id", "oblast", "point_kind",
        "ts", "starts_at", "ends_at", "summary", "labels", "annotations",
    ],
    "deadletter.schema.json": [
        "source_topic", "partition", "offset", "key", "reason", "field", "value", "rule",
        "message", "payload", "payload_encoding", "payload_truncated", "payload_bytes",
        "payload_sha256", "rejected_at",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(max_future_skew_seconds=300, deadletter_topic=DEADLETTER)


def test_schema_dir_holds_one_schema_per_topic() -> None:
    assert sorted(path.name for path in schema_file("").glob("*.schema.json")) == SCHEMA_FILES
    assert sorted(CONTRACT_REQUIRED) == SCHEMA_FILES


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_valid_draft07(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)  # against the draft-07 meta-schema
    fastjsonschema.compile(schema)  # the engine the pipeline validates with


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_documents_itself(name: str) -> None:
    schema = load_schema(name)
    assert schema["$id"].startswith("urn:nezlam:schema:")
    assert schema["title"]
    assert schema["description"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    for prop, definition in schema["properties"].items():
        assert definition.get("description"), f"{name}: {prop} has no description"
        unit = definition.get("x-unit")
        if unit is not None:
            assert unit in definition["description"], f"{name}: {prop} does not name its unit"


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_required_fields_are_the_contract(name: str) -> None:
    schema = load_schema(name)
    assert schema["required"] == CONTRACT_REQUIRED[name]
    assert set(schema["required"]) <= set(schema["properties"])


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_examples_are_valid_complete_messages(name: str, contract: Contract) -> None:
    schema = load_schema(name)
    examples: list[dict[str, Any]] = schema["examples"]
    assert len(examples) >= 2
    for example in examples:
        assert set(schema["required"]) <= set(example)
        jsonschema.validate(example, schema)  # a second, independent implementation
        result = contract.validate(TOPICS[name], orjson.dumps(example), now=NOW)
        assert isinstance(result, dict), result


def test_shared_fields_are_defined_once() -> None:
    """point_id and ts mean the same on every topic; only the wording of ts may differ."""
    point_ids, timestamps = [], []
    for name in SCHEMA_FILES:
        properties = load_schema(name)["properties"]
        if "point_id" in properties:
            point_ids.append(properties["point_id"])
        if "ts" in properties:
            timestamps.append({k: v for k, v in properties["ts"].items() if k != "description"})
    assert len(point_ids) == 8
    assert all(definition == point_ids[0] for definition in point_ids)
    assert all(definition == {"type": "string", "format": "date-time"} for definition in timestamps)


def test_deadletter_reasons_are_the_contract_reasons() -> None:
    assert load_schema("deadletter")["properties"]["reason"]["enum"] == list(REASONS)


def test_load_schema_takes_file_name_or_stem() -> None:
    assert load_schema("alerts") == load_schema("alerts.schema.json")
