"""Every simulated message passes the contract; every malformed one (but an unknown id) fails."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.contract import Contract, Rejection
from streams.kafka.topics import ACTIVATIONS, REGISTRY, TELEMETRY, VISITS
from streams.simulate.faults import FLAWS, Corruptor
from streams.simulate.registry import build_registry
from streams.simulate.world import Scenario, Simulation

START = datetime(2025, 1, 15, 13, 0, tzinfo=UTC)
END = START + timedelta(hours=4)
PER_TOPIC = 3_000


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(max_future_skew_seconds=300)


@pytest.fixture(scope="module")
def stream() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Up to 3,000 messages per stream topic; frequent strikes for many activations."""
    registry = build_registry(21, 1_500)
    scenario = Scenario(visit_scale=50.0, strike_interval_h=0.5)
    by_topic: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for topic, key, value in Simulation(registry, 21, START, scenario).advance(END):
        if len(by_topic[topic]) < PER_TOPIC:
            by_topic[topic].append((key, value))
    return by_topic


def test_the_full_registry_validates(contract: Contract) -> None:
    for entry in build_registry(42):
        result = contract.validate(REGISTRY, orjson.dumps(entry), now=START.timestamp())
        assert not isinstance(result, Rejection), result


def test_thousands_of_stream_messages_validate(
    contract: Contract, stream: dict[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    assert len(stream[TELEMETRY]) == len(stream[VISITS]) == PER_TOPIC
    # Orders are rarer: one per standby point and strike (stand-downs: test_simulate_world).
    assert len(stream[ACTIVATIONS]) >= 100
    for topic in (TELEMETRY, VISITS, ACTIVATIONS):
        for _, value in stream[topic]:
            result = contract.validate(topic, orjson.dumps(value), now=END.timestamp())
            assert not isinstance(result, Rejection), result


def test_malformed_siblings_are_rejected_or_name_an_unknown_point(
    contract: Contract, stream: dict[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    corruptor = Corruptor(1.0, 3)
    known = {p["point_id"] for p in build_registry(21, 1_500)}
    flaws: Counter[str] = Counter()
    for topic in (TELEMETRY, VISITS, ACTIVATIONS):
        for key, value in stream[topic][:500]:
            bad = corruptor.sibling(topic, key, value)
            assert bad is not None and bad.topic == topic
            flaws[bad.flaw] += 1
            result = contract.validate(topic, bad.payload, now=END.timestamp())
            if bad.flaw == "unknown_point":
                # Well-formed; the worker's registry check is what refuses it.
                assert not isinstance(result, Rejection)
                assert bad.key == result["point_id"] and bad.key not in known
            else:
                assert isinstance(result, Rejection), (bad.flaw, bad.payload)
    assert set(flaws) == set(FLAWS)


def test_bad_rate_is_about_the_share_asked_for() -> None:
    corruptor = Corruptor(0.05, 1)
    key = "UA-KY-00001"
    value = {"point_id": key, "ts": "2025-01-15T10:00:00Z", "action": "activate"}
    value["requested_by"] = "Kyiv City Military Administration"
    bad = sum(corruptor.sibling(ACTIVATIONS, key, value) is not None for _ in range(20_000))
    assert 800 < bad < 1_200
    assert Corruptor(0.0, 1).sibling(ACTIVATIONS, key, value) is None
    with pytest.raises(ValueError, match="bad rate"):
        Corruptor(1.5, 1)
