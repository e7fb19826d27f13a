"""Alerts: what fires now, what fired, and how long alerts take to resolve.

Reads ``alert_events`` (every firing, updated and resolved event the pipeline raised) and its
view ``alerts_active``; the alerts themselves reach on-call through Alertmanager.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common, dashboard

from streams.dashboards import base, datasources
from streams.dashboards.fragments import POINT_FILTER
from streams.dashboards.query import ResultFormat, SqlQuery

UID = "nezlam-alerts"
SEVERITIES = ("critical", "warning", "info")
_HISTORY_ROWS = 500

# When the episode of alert event ``a`` began: its first firing event after the resolution
# before ``a`` (alerts fire, update and resolve; a fingerprint may fire again later).
_EPISODE_START = " ".join(
    (
        "SELECT min(e.ts) FROM alert_events AS e",
        "WHERE e.fingerprint = a.fingerprint AND e.status = 'firing' AND e.ts <= a.ts",
        "AND e.ts > coalesce((SELECT max(r.ts) FROM alert_events AS r",
        "WHERE r.fingerprint = a.fingerprint AND r.status = 'resolved' AND r.ts < a.ts),",
        "'-infinity')",
    )
)


def build() -> dashboard.Dashboard:
    """The alerts dashboard."""
    builder = (
        base.new_dashboard(
            UID,
            "Nezlam: alerts",
            "Alerts raised by the pipeline: active now, history, and time to resolve.",
            time_from="now-7d",
        )
        .with_variable(base.oblast_variable())
        .with_variable(base.kind_variable())
        .with_panel(_active_counts())
        .with_panel(_active())
        .with_panel(_raised())
        .with_panel(_time_to_resolve())
        .with_panel(_history())
    )
    return base.finish(builder)


def _active_counts() -> stat.Panel:
    counts = ",\n".join(
        f"    count(*) FILTER (WHERE a.severity = '{severity}') AS {severity}"
        for severity in SEVERITIES
    )
    query = SqlQuery(
        f"SELECT\n{counts}\n"
        "FROM alerts_active AS a\n"
        "JOIN points AS p USING (point_id)\n"
        f"WHERE {POINT_FILTER}",
        columns=SEVERITIES,
    )
    panel = (
        base.stat_panel("Active alerts by severity", "Alerts firing now.", query,
                        datasources.postgres())
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .span(24)
        .height(4)
    )
    for severity, colour in zip(SEVERITIES, ("red", "orange", "blue"), strict=True):
        panel = panel.override_by_name(severity, [base.fixed_colour(colour)])
    return panel


def _active() -> table.Panel:
    query = SqlQuery(
        f"""
        SELECT
            coalesce(({_EPISODE_START}), a.ts) AS since,
            a.severity, a.alertname, a.point_id, p.name, p.oblast, p.kind, a.summary,
            CASE a.annotations->>'planned_truck'
                WHEN 'none' THEN 'none: ' || (a.annotations->>'unreachable_reason')
                ELSE concat_ws(', ', a.annotations->>'planned_truck',
                               a.annotations->>'planned_depot',
                               'arrives ' || (a.annotations->>'planned_arrival'),
                               (a.annotations->>'planned_litres') || ' l')
            END AS truck,
            a.ts AS last_event
        FROM alerts_active AS a
        JOIN points AS p USING (point_id)
        WHERE {POINT_FILTER}
        ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, since
        """,
        columns=("since", "severity", "alertname", "point_id", "name", "oblast", "summary",
                 "truck"),
    )
    return (
        table.Panel()
        .title("Active alerts")
        .description("Most severe first, then the longest firing. `truck`: what the current "
                     "dispatch plan sends to a fuel alert's point (truck, depot, arrival, litres "
                     "at arrival), or `none:` and why no truck can make it.")
        .datasource(datasources.postgres())
        .with_target(query)
        .span(24)
        .height(9)
        .mappings([_severity_colours()])
    )


def _raised() -> timeseries.Panel:
    query = SqlQuery(
        f"""
        SELECT $__timeGroupAlias(a.ts, $__interval), a.alertname AS metric, count(*) AS raised
        FROM alert_events AS a
        JOIN points AS p USING (point_id)
        WHERE a.status = 'firing' AND $__timeFilter(a.ts) AND {POINT_FILTER}
        GROUP BY 1, 2
        ORDER BY 1
        """,
        columns=("time", "metric", "raised"),
        format=ResultFormat.TIME_SERIES,
    )
    return (
        timeseries.Panel()
        .title("Alerts raised, by alert")
        .datasource(datasources.postgres())
        .with_target(query)
        .interval("1h")
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .span(12)
        .height(9)
    )


def _time_to_resolve() -> table.Panel:
    # MATERIALIZED: each resolution's episode start is looked up once, not again in every
    # aggregate that reads `seconds` (461 -> 165 ms over 7 days of national alert events).
    query = SqlQuery(
        f"""
        WITH episodes AS MATERIALIZED (
            SELECT
                a.alertname,
                extract(epoch FROM a.ts - ({_EPISODE_START}))
                    AS seconds
            FROM alert_events AS a
            JOIN points AS p USING (point_id)
            WHERE a.status = 'resolved' AND $__timeFilter(a.ts) AND {POINT_FILTER}
        )
        SELECT
            alertname,
            count(*) AS resolved,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90,
            max(seconds) AS longest
        FROM episodes
        WHERE seconds IS NOT NULL
        GROUP BY alertname
        ORDER BY alertname
        """,
        columns=("alertname", "resolved", "median", "p90", "longest"),
    )
    panel = (
        table.Panel()
        .title("Time to resolve")
        .description(
            "Alerts resolved in the time range: from the first firing event of the episode "
            "to its resolution."
        )
        .datasource(datasources.postgres())
        .with_target(query)
        .span(12)
        .height(9)
    )
    for column in ("median", "p90", "longest"):
        panel = panel.override_by_name(column, [base.unit("s")])
    return panel


def _history() -> table.Panel:
    query = SqlQuery(
        f"""
        SELECT a.ts AS time, a.status, a.severity, a.alertname, a.point_id, p.name, p.oblast,
               a.summary
        FROM alert_events AS a
        JOIN points AS p USING (point_id)
        WHERE $__timeFilter(a.ts) AND {POINT_FILTER}
        ORDER BY a.ts DESC
        LIMIT {_HISTORY_ROWS}
        """,
        columns=("time", "status", "severity", "alertname", "point_id", "summary"),
    )
    return (
        table.Panel()
        .title("History")
        .description(f"Alert events in the time range, newest first (at most {_HISTORY_ROWS}).")
        .datasource(datasources.postgres())
        .with_target(query)
        .span(24)
        .height(12)
        .mappings([_severity_colours()])
    )


def _severity_colours() -> dashboard.ValueMap:
    colours = {"critical": "red", "warning": "orange", "info": "blue", "resolved": "green"}
    return dashboard.ValueMap(
        options={
            value: dashboard.ValueMappingResult(color=colour, index=index)
            for index, (value, colour) in enumerate(colours.items())
        }
    )
