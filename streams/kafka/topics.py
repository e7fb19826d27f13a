"""The Kafka topics of the message contract: names, roles and the schema that validates each.

Every name carries ``NEZLAM_TOPIC_PREFIX`` (empty by default, so producers write to the
contract's names): tests and benchmarks run in their own namespace (``nezlam namespace``) and
never touch the topics of ``make run``. The prefix is read once, when this module is imported:
the names are constants every agent, sink and test compares against.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.config import TopicNamespace

PREFIX = TopicNamespace().topic_prefix


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name, whether it is compacted, and its JSON Schema file in ``schemas/``."""

    name: str
    schema: str | None
    compacted: bool = False
    is_input: bool = False


REGISTRY = PREFIX + "points.registry"
TELEMETRY = PREFIX + "points.telemetry"
VISITS = PREFIX + "points.visits"
ACTIVATIONS = PREFIX + "points.activations"
OCCUPANCY = PREFIX + "points.occupancy"
FUEL_FORECAST = PREFIX + "points.fuel_forecast"
POINT_STATE = PREFIX + "points.state"
ALERTS = PREFIX + "alerts"

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


#: The Faust table of per-point records, with a compacted ``<app id>-points-changelog`` topic.
STATE_TABLE = "points"


def changelog_topics(app_id: str) -> tuple[TopicSpec, ...]:
    """The state table's changelog topic. Created before a worker starts: a changelog that
    Faust creates on the fly is missing from its metadata for a moment, which crashes the
    first table write with a partition-count mismatch."""
    return (TopicSpec(f"{app_id}-{STATE_TABLE}-changelog", None, compacted=True),)


def deadletter_spec(name: str) -> TopicSpec:
    """The dead-letter topic; its name is configurable (``NEZLAM_DEADLETTER_TOPIC``)."""
    return TopicSpec(name, "deadletter.schema.json")


def replay_marker_spec(deadletter_topic: str) -> TopicSpec:
    """Where ``nezlam deadletter replay`` marks the dead letters it replayed."""
    return TopicSpec(f"{deadletter_topic}.replayed", None, compacted=True)


def all_topics(deadletter_topic: str) -> tuple[TopicSpec, ...]:
    """Every topic the project creates, inputs first."""
    return (*INPUT_TOPICS, *OUTPUT_TOPICS, deadletter_spec(deadletter_topic),
            replay_marker_spec(deadletter_topic))
