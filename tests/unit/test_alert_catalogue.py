"""The on-call catalogue and the rules file's model derive from the one list of rules."""

from __future__ import annotations

import pytest

from streams.alerting import catalogue as alert_catalogue
from streams.alerting.rules_file import AlertConfigError, parse_alert_rules
from streams.domain.alert_rules import ALERTNAMES, DEFAULT_RULES, RULES
from streams.resources import default_alert_rules
from tests import REPO_ROOT


def test_the_oncall_catalogue_is_generated_from_the_rules() -> None:
    guide = (REPO_ROOT / "docs" / "oncall.md").read_text(encoding="utf-8")
    assert alert_catalogue.section(guide) == alert_catalogue.markdown(), (
        "docs/oncall.md's alert catalogue is out of date: replace it with the output of "
        "`python -m streams.alerting.catalogue`"
    )


def test_every_rule_has_a_section_in_the_oncall_guide() -> None:
    guide = (REPO_ROOT / "docs" / "oncall.md").read_text(encoding="utf-8")
    assert [name for name in ALERTNAMES if f"\n## {name}\n" not in guide] == []


def test_the_names_and_defaults_are_the_records() -> None:
    assert tuple(rule.name for rule in RULES) == ALERTNAMES
    assert {rule.name: rule.default for rule in RULES} == DEFAULT_RULES
    assert {rule.name for rule in RULES if rule.refuel_clears} == {
        "fuel_low", "fuel_critical", "fuel_unreachable"}


def test_the_rules_file_must_name_every_rule_and_no_other() -> None:
    shipped = default_alert_rules().read_text(encoding="utf-8")
    assert set(parse_alert_rules(shipped).rules) == set(ALERTNAMES)
    without = shipped.replace("  internet_down:", "  internet_downx:")
    with pytest.raises(AlertConfigError, match="internet_down"):
        parse_alert_rules(without)
