"""What Grafana does to a PostgreSQL panel's SQL before the database sees it, so tests can run
the dashboards' queries as Grafana would.

Two steps, in Grafana's order:

1. the frontend interpolates template variables: a multi-value or include-All variable becomes
   a comma-separated list of quoted literals (All: every option), a single-value one its value
   with quotes doubled (public/app/plugins/datasource/... SqlDatasource.interpolateVariable);
2. the PostgreSQL datasource replaces ``$__interval`` and expands the macros
   (pkg/tsdb/grafana-postgresql-datasource/macros.go): ``$__timeFilter(c)``,
   ``$__timeFrom()``, ``$__timeTo()``, ``$__timeGroup(c, interval)`` and
   ``$__timeGroupAlias(c, interval)``; with the datasource's TimescaleDB toggle on,
   ``$__timeGroup`` is ``time_bucket('<seconds>.000s',c)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_RELATIVE = re.compile(r"^now(?:([+-])(\d+)(s|m|h|d|w|y))?$")
# $name or ${name}; Grafana leaves names it does not know alone.
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
# A macro call: $__name(arguments without parentheses), as in macros.go.
_MACRO = re.compile(r"\$(__\w+)\(([^)]*)\)")


class MacroError(ValueError):
    """A macro Grafana would refuse (unknown, or with the wrong arguments)."""


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time range, in UTC."""

    start: datetime
    end: datetime

    @classmethod
    def relative(cls, start: str, end: str, now: datetime) -> TimeRange:
        """A range written as Grafana writes it (``now-6h``, ``now``, ``now+24h``)."""
        return cls(_resolve(start, now), _resolve(end, now))


@dataclass(frozen=True)
class Variable:
    """A template variable's selected values and how Grafana formats them."""

    values: Sequence[str]
    # A variable with "multi" or "include All" quotes its values; a single-value one does not.
    quoted: bool


def parse_duration(text: str) -> timedelta:
    """Grafana's interval syntax: ``30s``, ``5m``, ``1h``, ``1d`` (gtime.ParseInterval)."""
    match = _DURATION.match(text.strip().strip("'\""))
    if match is None:
        raise MacroError(f"not an interval: {text!r}")
    return int(match[1]) * _UNITS[match[2]]


def format_interval(interval: timedelta) -> str:
    """``$__interval`` as Grafana writes it: the largest whole unit (gtime.FormatInterval)."""
    for unit in ("y", "d", "h", "m", "s", "ms"):
        if interval >= _UNITS[unit]:
            return f"{interval // _UNITS[unit]}{unit}"
    return "1ms"


def interpolate(sql: str, variables: Mapping[str, Variable]) -> str:
    """Step 1: replace the template variables Grafana's frontend knows."""

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        variable = variables.get(name)
        if variable is None:
            return match[0]
        if variable.quoted:
            return ",".join(_literal(value) for value in variable.values)
        return ",".join(value.replace("'", "''") for value in variable.values)

    return _VARIABLE.sub(replace, sql)


def expand_macros(
    sql: str, time_range: TimeRange, interval: timedelta, *, timescaledb: bool = True
) -> str:
    """Step 2: ``$__interval`` and the macros, as the PostgreSQL datasource expands them."""
    sql = sql.replace("$__interval_ms", str(interval // timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(interval))

    def replace(match: re.Match[str]) -> str:
        args = [arg.strip() for arg in match[2].split(",")] if match[2].strip() else []
        return _macro(match[1], args, time_range, timescaledb)

    return _MACRO.sub(replace, sql)


def expand(
    sql: str,
    *,
    time_range: TimeRange,
    interval: timedelta,
    variables: Mapping[str, Variable],
    timescaledb: bool = True,
) -> str:
    """Both steps: the SQL the database receives from Grafana."""
    return expand_macros(interpolate(sql, variables), time_range, interval, timescaledb=timescaledb)


def _macro(name: str, args: list[str], time_range: TimeRange, timescaledb: bool) -> str:
    if name == "__timeFilter":
        (column,) = _arity(name, args, 1)
        return f"{column} BETWEEN {_timestamp(time_range.start)} AND {_timestamp(time_range.end)}"
    if name == "__timeFrom":
        _arity(name, args, 0)
        return _timestamp(time_range.start)
    if name == "__timeTo":
        _arity(name, args, 0)
        return _timestamp(time_range.end)
    if name == "__timeGroup":
        column, interval = _arity(name, args, 2)
        seconds = parse_duration(interval).total_seconds()
        if timescaledb:
            return f"time_bucket('{seconds:.3f}s',{column})"
        return f"floor(extract(epoch from {column})/{seconds:g})*{seconds:g}"
    if name == "__timeGroupAlias":
        return _macro("__timeGroup", args, time_range, timescaledb) + ' AS "time"'
    raise MacroError(f"macro ${name} is not implemented here (nor used by the dashboards)")


def _arity(name: str, args: list[str], count: int) -> list[str]:
    if len(args) != count:
        raise MacroError(f"${name} takes {count} argument(s), got {args!r}")
    return args


def _timestamp(moment: datetime) -> str:
    """A quoted RFC 3339 UTC timestamp, like Go's time.RFC3339Nano."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return f"'{text}Z'"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _resolve(expression: str, now: datetime) -> datetime:
    match = _RELATIVE.match(expression)
    if match is None:
        raise MacroError(f"not a relative time: {expression!r}")
    if match[1] is None:
        return now
    offset = int(match[2]) * _UNITS[match[3]]
    return now + offset if match[1] == "+" else now - offset
