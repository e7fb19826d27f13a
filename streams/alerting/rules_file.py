"""The alert rules file (``config/alert_rules.yaml``, ``NEZLAM_ALERT_RULES_FILE``).

Read once at start and validated whole: a bad file stops the worker with one line per problem,
each naming the key (``thresholds.oblasts.Харківська.fuel_lead_time_hours: Input should be
greater than 0 (got -1)``), instead of running with rules nobody meant. The file format is
documented in the shipped file itself and in ``docs/oncall.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from streams.domain.alert_model import KINDS, PointKind, RuleSpec, Thresholds
from streams.domain.alert_rules import ALERTNAMES, AlertRules
from streams.domain.alert_text import check_zone


class AlertConfigError(ValueError):
    """The alert rules file cannot be used; the message names the file and every bad key."""


class _Strict(BaseModel):
    # extra="forbid": a misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    enabled: bool = True
    severity: Literal["info", "warning", "critical"]
    pending_seconds: float = Field(ge=0)
    clear_seconds: float = Field(ge=0)


# One required entry per rule of the domain's list: a rule added there is a key the file must
# have, a key for no rule is an error.
_Rules = create_model(  # type: ignore[call-overload]
    "_Rules", __base__=_Strict, **{name: (_Rule, ...) for name in ALERTNAMES}
)


class _ThresholdValues(_Strict):
    """Any subset of the thresholds; what is left out comes from the broader level."""

    fuel_lead_time_hours: float | None = Field(None, gt=0)
    fuel_low_factor: float | None = Field(None, gt=0)
    fuel_critical_factor: float | None = Field(None, gt=0)
    fuel_clear_margin: float | None = Field(None, ge=0, le=1)
    fuel_min_confidence: float | None = Field(None, ge=0, le=1)
    over_capacity_utilisation: float | None = Field(None, gt=0)
    over_capacity_clear_utilisation: float | None = Field(None, gt=0)
    cold_below_c: float | None = None
    warm_above_c: float | None = None


class _OblastValues(_ThresholdValues):
    kinds: dict[PointKind, _ThresholdValues] = Field(default_factory=dict)


class _Thresholds(_Strict):
    defaults: _ThresholdValues = Field(default_factory=_ThresholdValues)
    kinds: dict[PointKind, _ThresholdValues] = Field(default_factory=dict)
    oblasts: dict[str, _OblastValues] = Field(default_factory=dict)


class _AlertConfig(_Strict):
    version: Literal[1]
    language: Literal["en", "uk"] = "en"
    timezone: str = "Europe/Kyiv"
    runbook_url: str = Field(min_length=1)
    update_interval_seconds: float = Field(900.0, ge=0)
    rules: _Rules
    thresholds: _Thresholds = Field(default_factory=_Thresholds)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        check_zone(zone)
        return zone


def load_alert_rules(path: Path) -> AlertRules:
    """Read and validate the rules file at ``path``; :class:`AlertConfigError` if unusable."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlertConfigError(
            f"{path}: cannot read the alert rules file ({exc.strerror})"
        ) from exc
    return parse_alert_rules(source, str(path))


def parse_alert_rules(source: str, name: str = "<alert rules>") -> AlertRules:
    """Validate the YAML text ``source`` (``name`` labels the messages)."""
    try:
        data = yaml.load(source, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise AlertConfigError(f"{name}: not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise AlertConfigError(f"{name}: expected a mapping of settings at the top level")
    try:
        config = _AlertConfig.model_validate(data)
    except ValidationError as exc:
        raise AlertConfigError(_describe_errors(name, exc)) from None
    return _build(config, name)


def _build(config: _AlertConfig, name: str) -> AlertRules:
    """Resolve every threshold level, check each one, and build the domain's rules."""
    section = config.thresholds
    defaults = _values(section.defaults)
    kind_values = {kind: {**defaults, **_values(section.kinds.get(kind))} for kind in KINDS}
    entries: dict[str, Thresholds] = {"thresholds.defaults": Thresholds(**defaults)}
    kinds: dict[str, Thresholds] = {}
    for kind in section.kinds:
        kinds[kind] = entries[f"thresholds.kinds.{kind}"] = Thresholds(**kind_values[kind])
    oblasts: dict[tuple[str, str], Thresholds] = {}
    for oblast, values in section.oblasts.items():
        oblast_wide = _values(values)
        for kind in KINDS:
            # every kind of an oblast is resolved and checked: an oblast-wide factor may
            # clash with a kind's own (e.g. fuel_low_factor below a kind's critical factor)
            key = f"thresholds.oblasts.{oblast}" + (
                f".kinds.{kind}" if kind in values.kinds else f" (for {kind} points)"
            )
            merged = {**kind_values[kind], **oblast_wide, **_values(values.kinds.get(kind))}
            oblasts[(oblast, kind)] = entries[key] = Thresholds(**merged)
    problems: dict[str, str] = {}  # problem -> the broadest entry that has it
    for key, found in entries.items():
        for problem in found.problems():
            problems.setdefault(problem, key)  # an inherited mistake is reported once
    if problems:
        raise AlertConfigError(_join(name, [f"{key}: {p}" for p, key in problems.items()]))
    return AlertRules(
        rules={rule: _spec(getattr(config.rules, rule)) for rule in _Rules.model_fields},
        thresholds=entries["thresholds.defaults"],
        kind_thresholds=kinds,
        oblast_thresholds=oblasts,
        runbook_url=config.runbook_url,
        language=config.language,
        timezone=config.timezone,
        update_interval_seconds=config.update_interval_seconds,
    )


def _values(model: _ThresholdValues | None) -> dict[str, Any]:
    if model is None:
        return {}
    return model.model_dump(exclude_none=True, exclude={"kinds"})


def _spec(rule: _Rule) -> RuleSpec:
    return RuleSpec(
        severity=rule.severity,
        pending_seconds=rule.pending_seconds,
        clear_seconds=rule.clear_seconds,
        enabled=rule.enabled,
    )


def _describe_errors(name: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"] if part != "[key]")
        if "[key]" in error["loc"]:
            lines.append(f"{key}: not a known name here: {error['msg']}")
        elif error["type"] == "missing":
            lines.append(f"{key}: required, missing")
        elif error["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown setting (misspelt?)")
        elif error["type"] == "value_error":
            lines.append(f"{key}: {error['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{key}: {error['msg']} (got {error['input']!r})")
    return _join(name, lines)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what is wrong and where (PyYAML's own message spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).replace("\n", " ")


def _join(name: str, problems: Iterable[str]) -> str:
    listed = list(problems)
    head = f"{name}: {len(listed)} problem{'s' if len(listed) > 1 else ''} in the alert rules"
    return "\n".join([head, *(f"  {problem}" for problem in listed)])


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (YAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
