"""`nezlam topics create`, the deployment's topic job, against the real local broker."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from streams.cli.topics import topics
from streams.config import Settings, get_settings
from streams.kafka.topic_admin import new_topics

pytestmark = pytest.mark.integration


def test_create_is_idempotent_on_a_prepared_cluster(kafka: str, settings: Settings) -> None:
    """`nezlam stack up` created the topics already: the job changes nothing and succeeds."""
    result = CliRunner().invoke(topics, ["create"])
    assert result.exit_code == 0, result.output
    count = len(new_topics(settings))  # contract topics and the tables' changelogs
    assert f"0 created ({settings.topic_partitions} partitions" in result.output
    assert f"{count} already present" in result.output


def test_an_unreachable_broker_fails_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEZLAM_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    get_settings.cache_clear()  # the job reads the settings from the environment
    try:
        result = CliRunner().invoke(topics, ["create"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "could not create the topics" in result.output
