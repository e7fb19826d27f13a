"""The test-side Grafana macro expander produces what Grafana's PostgreSQL datasource sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.dashboards.grafana_macros import (
    MacroError,
    TimeRange,
    Variable,
    expand,
    expand_macros,
    format_interval,
    interpolate,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
RANGE = TimeRange.relative("now-6h", "now", NOW)


def test_time_filter_and_bounds_are_rfc3339_utc() -> None:
    sql = expand_macros("WHERE $__timeFilter(t.ts) AND x < $__timeTo() AND y > $__timeFrom()",
                        RANGE, timedelta(minutes=1))
    assert sql == (
        "WHERE t.ts BETWEEN '2026-01-01T06:00:00.5Z' AND '2026-01-01T12:00:00.5Z'"
        " AND x < '2026-01-01T12:00:00.5Z' AND y > '2026-01-01T06:00:00.5Z'"
    )


def test_time_group_with_and_without_the_timescaledb_toggle() -> None:
    sql = "SELECT $__timeGroupAlias(ts, '5m'), $__timeGroup(ts, $__interval)"
    assert expand_macros(sql, RANGE, timedelta(hours=1)) == (
        "SELECT time_bucket('300.000s',ts) AS \"time\", time_bucket('3600.000s',ts)"
    )
    assert expand_macros(sql, RANGE, timedelta(hours=1), timescaledb=False) == (
        'SELECT floor(extract(epoch from ts)/300)*300 AS "time",'
        " floor(extract(epoch from ts)/3600)*3600"
    )


def test_intervals_are_written_in_the_largest_whole_unit() -> None:
    assert format_interval(timedelta(seconds=90)) == "1m"
    assert format_interval(timedelta(hours=2)) == "2h"
    assert format_interval(timedelta(milliseconds=20)) == "20ms"


def test_multi_value_variables_are_quoted_lists_single_values_are_escaped() -> None:
    variables = {
        "oblast": Variable(["Київська", "Zakarpattia's"], quoted=True),
        "point": Variable(["p'1"], quoted=False),
    }
    sql = interpolate("oblast IN ($oblast) AND id = '${point}' AND $unknown", variables)
    assert sql == "oblast IN ('Київська','Zakarpattia''s') AND id = 'p''1' AND $unknown"


def test_relative_ranges_reach_into_the_future() -> None:
    assert TimeRange.relative("now-1d", "now+24h", NOW) == TimeRange(
        NOW - timedelta(days=1), NOW + timedelta(hours=24)
    )


def test_unknown_macros_are_refused() -> None:
    with pytest.raises(MacroError):
        expand("SELECT $__unixEpochGroup(ts, '5m')", time_range=RANGE,
               interval=timedelta(minutes=1), variables={})
