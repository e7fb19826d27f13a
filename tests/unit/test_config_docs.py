"""The README's configuration tables are the settings' own descriptions, regenerated."""

from __future__ import annotations

import pytest

from streams.cli import config_docs
from streams.config import Settings
from streams.stack.settings import StackSettings
from tests import REPO_ROOT


def test_readme_configuration_tables_are_generated_from_the_settings() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert config_docs.readme_section(readme) == config_docs.markdown(), (
        "README.md's configuration tables are out of date: replace them with the output of "
        "`nezlam config --markdown`"
    )


def test_every_setting_is_described() -> None:
    undescribed = [name for name, field in StackSettings.model_fields.items()
                   if not field.description]
    assert undescribed == []


def test_worker_settings_carry_no_local_stack_setting() -> None:
    assert not {"kafka_version", "kafka_controller_port", "pg_port", "cache_dir",
                "prometheus_port", "alertmanager_port"} & Settings.model_fields.keys()


def test_lists_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEZLAM_KAFKA_BOOTSTRAP", "a:1, b:2")
    monkeypatch.setenv("NEZLAM_ALERTMANAGER_URLS", "http://x:1,")
    settings = Settings()
    assert settings.kafka_bootstrap == ["a:1", "b:2"]
    assert settings.alertmanager_urls == ["http://x:1"]


def test_the_dead_letter_topic_follows_the_topic_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEZLAM_TOPIC_PREFIX", raising=False)
    assert Settings(topic_prefix="test.").deadletter_topic == "test.points.deadletter"
    assert Settings().deadletter_topic == "points.deadletter"
