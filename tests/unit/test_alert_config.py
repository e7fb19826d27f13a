"""The alert rules file: the shipped one loads, and a bad one fails naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.alerting.rules_file import AlertConfigError, load_alert_rules, parse_alert_rules
from streams.config import Settings
from streams.domain.alert_model import Thresholds
from streams.domain.alert_rules import ALERTNAMES

SHIPPED = Settings().alert_rules_file
SOURCE = SHIPPED.read_text(encoding="utf-8")

MINIMAL = """
version: 1
runbook_url: https://wiki.example.org/oncall
rules:
  fuel_critical: {severity: critical, pending_seconds: 300, clear_seconds: 900}
  fuel_unreachable: {severity: critical, pending_seconds: 0, clear_seconds: 0}
  fuel_low: {severity: warning, pending_seconds: 300, clear_seconds: 900}
  point_silent: {severity: warning, pending_seconds: 0, clear_seconds: 0}
  activation_overdue: {severity: critical, pending_seconds: 0, clear_seconds: 0}
  over_capacity: {severity: warning, pending_seconds: 600, clear_seconds: 900}
  no_power: {severity: critical, pending_seconds: 300, clear_seconds: 300}
  heating_off: {severity: warning, pending_seconds: 900, clear_seconds: 600}
  internet_down: {severity: info, pending_seconds: 900, clear_seconds: 600, enabled: false}
"""


def problems(source: str) -> list[str]:
    """The lines of the error a bad file raises, without the heading."""
    with pytest.raises(AlertConfigError) as caught:
        parse_alert_rules(source, "rules.yaml")
    head, *lines = str(caught.value).splitlines()
    assert head.startswith("rules.yaml: ")
    return [line.strip() for line in lines] or [head.removeprefix("rules.yaml: ")]


def test_the_shipped_file_loads() -> None:
    rules = load_alert_rules(SHIPPED)
    assert set(rules.rules) == set(ALERTNAMES)
    assert rules.rules["fuel_critical"].severity == "critical"
    assert rules.rules["point_silent"].clear_seconds == 0
    assert rules.thresholds == Thresholds()
    assert rules.language == "en" and rules.timezone == "Europe/Kyiv"
    assert rules.thresholds_for("mobile", "Київська область").fuel_lead_time_hours == 4
    assert rules.thresholds_for("permanent", "Харківська область").fuel_lead_time_hours == 10
    # an oblast-wide value beats a kind's; an oblast's own kind entry beats both
    assert rules.thresholds_for("mobile", "Харківська область").fuel_lead_time_hours == 10
    assert rules.thresholds_for("mobile", "Херсонська область").fuel_lead_time_hours == 8
    # what an oblast does not override comes from the kind
    assert rules.thresholds_for("mobile", "Херсонська область").over_capacity_utilisation == 1.2


def test_a_minimal_file_takes_the_defaults() -> None:
    rules = parse_alert_rules(MINIMAL)
    assert rules.thresholds == Thresholds()
    assert rules.kind_thresholds == {} and rules.oblast_thresholds == {}
    assert not rules.rules["internet_down"].enabled
    assert rules.update_interval_seconds == 900
    assert rules.runbook_url == "https://wiki.example.org/oncall"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("version: 1", "version: 2"), "version: Input should be 1 (got 2)"),
        (("language: en", "language: de"), "language: Input should be 'en' or 'uk' (got 'de')"),
        (
            ("timezone: Europe/Kyiv", "timezone: Europe/Kiev_"),
            "timezone: unknown time zone 'Europe/Kiev_' (expected e.g. Europe/Kyiv)",
        ),
        (
            ("    severity: info", "    severity: page"),
            "rules.internet_down.severity: Input should be 'info', 'warning' or 'critical' "
            "(got 'page')",
        ),
        (
            ("  kinds:\n    mobile:", "  kinds:\n    tent:"),
            "thresholds.kinds.tent: not a known name here: Input should be 'permanent', "
            "'standby' or 'mobile'",
        ),
        (
            ("fuel_lead_time_hours: 12\n      kinds", "fuel_lead_time_hours: 0\n      kinds"),
            "thresholds.oblasts.Херсонська область.fuel_lead_time_hours: Input should be "
            "greater than 0 (got 0)",
        ),
        (
            ("    fuel_clear_margin: 0.1", "    fuel_clear_margn: 0.1"),
            "thresholds.defaults.fuel_clear_margn: unknown setting (misspelt?)",
        ),
        (
            ("  internet_down:   # open without internet\n", "  internet_gone:\n"),
            "rules.internet_down: required, missing",
        ),
        (
            ("    pending_seconds: 600\n", "    pending_seconds: -600\n"),
            "rules.over_capacity.pending_seconds: Input should be greater than or equal to 0 "
            "(got -600)",
        ),
    ],
)
def test_a_bad_value_names_its_key(edit: tuple[str, str], expected: str) -> None:
    old, new = edit
    assert SOURCE.count(old) == 1, old
    assert expected in problems(SOURCE.replace(old, new))


def test_inconsistent_thresholds_are_reported_once_where_they_are_set() -> None:
    found = problems(SOURCE.replace("fuel_critical_factor: 1.0", "fuel_critical_factor: 2.5"))
    assert found == [
        "thresholds.defaults: fuel_low_factor (2.0) must be greater than fuel_critical_factor "
        "(2.5): fuel_low warns first"
    ]
    broken_oblast = SOURCE.replace(
        "      fuel_lead_time_hours: 12\n      kinds",
        "      fuel_lead_time_hours: 12\n      over_capacity_clear_utilisation: 1.5\n      kinds",
    )
    assert problems(broken_oblast) == [
        "thresholds.oblasts.Херсонська область (for permanent points): "
        "over_capacity_clear_utilisation (1.5) must be above 0 and at most "
        "over_capacity_utilisation (1.0)",
        # mobile points there inherit 1.2 from their kind: a separate problem
        "thresholds.oblasts.Херсонська область.kinds.mobile: "
        "over_capacity_clear_utilisation (1.5) must be above 0 and at most "
        "over_capacity_utilisation (1.2)",
    ]


def test_a_key_given_twice_is_an_error() -> None:
    [line] = problems(SOURCE + "language: uk\n")
    last_line = SOURCE.count("\n") + 1
    assert line == f"not valid YAML: key 'language' is given twice (line {last_line}, column 1)"


def test_broken_yaml_and_wrong_shapes() -> None:
    assert problems("rules: [") == [
        "not valid YAML: expected the node content, but found '<stream end>' (line 1, column 9)"
    ]
    assert problems("- 1\n- 2\n") == ["expected a mapping of settings at the top level"]
    assert problems("") == ["expected a mapping of settings at the top level"]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(AlertConfigError, match=f"{missing}: cannot read the alert rules file"):
        load_alert_rules(missing)
