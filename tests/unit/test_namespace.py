"""Namespaces keep tests and benchmarks off the topics, groups and database of `make run`."""

from __future__ import annotations

import click
import pytest
from psycopg.conninfo import conninfo_to_dict

from streams.config import Settings
from streams.stack.namespace import namespace_environment


def test_a_namespace_has_its_own_topics_group_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEZLAM_TOPIC_PREFIX", raising=False)
    base = Settings(database_url="postgresql://nezlam_writer@127.0.0.1:25432/nezlam",
                    admin_database_url="postgresql://nezlam_owner@127.0.0.1:25432/nezlam")
    env = namespace_environment(base, "test")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    inside = Settings()
    assert inside.topic_prefix == "test."
    assert inside.deadletter_topic == "test.points.deadletter"
    assert inside.app_id == "nezlam-test"
    for dsn in (inside.database_url, inside.admin_database_url):
        params = conninfo_to_dict(dsn)
        assert (params["dbname"], params["port"]) == ("nezlam_test", "25432")
    assert conninfo_to_dict(inside.database_url)["user"] == "nezlam_writer"


def test_a_namespace_name_must_be_an_identifier() -> None:
    with pytest.raises(click.BadParameter):
        namespace_environment(Settings(), "bad-name; drop")
