"""The Kafka topics of the message contract: names, roles and the schema that validates each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name, whether it is compacted, and its JSON Schema file in ``schemas/``."""

    name: str
    schema: str | None
    compacted: bool = False
    is_input: bool = False


REGISTRY = "points.registry"
TELEMETRY = "points.telemetry"
VISITS = "points.visits"
ACTIVATIONS = "points.activations"
OCCUPANCY = "points.occupancy"
FUEL_FORECAST = "points.fuel_forecast"
POINT_STATE = "points.state"
ALERTS = "alerts"

INPUT_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(REGISTRY, "points.registry.schema.json", compacted=True, is_input=True),
    TopicSpec(TELEMETRY, "points.telemetry.schema.json", is_input=True),
    TopicSpec(VISITS, "points.visits.schema.json", is_input=True),
    TopicSpec(ACTIVATIONS, "points.activations.schema.json", is_input=True),
)

OUTPUT_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(OCCUPANCY, "points.occupancy.schema.json"),
    TopicSpec(FUEL_FORECAST, "points.fuel_forecast.schema.json"),
    TopicSpec(POINT_STATE, "points.state.schema.json"),
    TopicSpec(ALERTS, "alerts.schema.json"),
)


def deadletter_spec(name: str) -> TopicSpec:
    """The dead-letter topic; its name is configurable (``NEZLAM_DEADLETTER_TOPIC``)."""
    return TopicSpec(name, "deadletter.schema.json")


def all_topics(deadletter_topic: str) -> tuple[TopicSpec, ...]:
    """Every topic the project creates, inputs first."""
    return (*INPUT_TOPICS, *OUTPUT_TOPICS, deadletter_spec(deadletter_topic))
