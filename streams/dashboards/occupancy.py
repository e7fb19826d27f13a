"""Occupancy: where people are crowding, per oblast over time and per point now."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import heatmap, stat, table, timeseries
from grafana_foundation_sdk.models import common, dashboard
from grafana_foundation_sdk.models import heatmap as heatmap_model

from streams.dashboards import base, datasources
from streams.dashboards.fragments import POINT_FILTER, ROLLUP_FILTER, points_now, with_cte
from streams.dashboards.query import ResultFormat, SqlQuery

UID = "nezlam-occupancy"
_CROWDED_ROWS = 20


def build() -> dashboard.Dashboard:
    """The occupancy dashboard."""
    builder = (
        base.new_dashboard(
            UID,
            "Nezlam: occupancy",
            "People inside and visits per oblast over time (hourly rollups and raw visits), "
            "the most crowded points now, and utilisation against capacity by oblast and hour.",
            time_from="now-2d",
        )
        .with_variable(base.oblast_variable())
        .with_variable(base.kind_variable())
        .with_panel(_now())
        .with_panel(_people_inside())
        .with_panel(_visits())
        .with_panel(_most_crowded())
        .with_panel(_utilisation_heatmap())
    )
    return base.finish(builder)


def _now() -> stat.Panel:
    query = SqlQuery(
        with_cte(
            "points_now",
            points_now(),
            f"""
            SELECT
                sum(people_inside) AS people_inside,
                count(*) FILTER (WHERE utilisation >= 1) AS points_full,
                (SELECT coalesce(sum(v.people), 0)
                 FROM visits AS v JOIN points AS p USING (point_id)
                 WHERE v.kind = 'arrival' AND v.ts > now() - INTERVAL '24 hours'
                     AND {POINT_FILTER}) AS visitors_24h
            FROM points_now
            """,
        ),
        columns=("people_inside", "points_full", "visitors_24h"),
    )
    return (
        base.stat_panel(
            "Now",
            "People inside now; points at or over capacity; people who arrived in the last 24 h.",
            query,
            datasources.postgres(),
        )
        .span(24)
        .height(4)
    )


def _people_inside() -> timeseries.Panel:
    query = SqlQuery(
        f"""
        SELECT bucket AS time, oblast AS metric, sum(people_inside_avg) AS people_inside
        FROM occupancy_oblast_hourly
        WHERE $__timeFilter(bucket) AND {ROLLUP_FILTER}
        GROUP BY 1, 2
        ORDER BY 1
        """,
        columns=("time", "metric", "people_inside"),
        format=ResultFormat.TIME_SERIES,
    )
    return (
        timeseries.Panel()
        .title("People inside, by oblast (hourly mean)")
        .datasource(datasources.postgres())
        .with_target(query)
        .interval("1h")
        .fill_opacity(10)
        .span(12)
        .height(9)
    )


def _visits() -> timeseries.Panel:
    query = SqlQuery(
        f"""
        SELECT $__timeGroupAlias(v.ts, $__interval), p.oblast AS metric, sum(v.people) AS visitors
        FROM visits AS v
        JOIN points AS p USING (point_id)
        WHERE v.kind = 'arrival' AND $__timeFilter(v.ts) AND {POINT_FILTER}
        GROUP BY 1, 2
        ORDER BY 1
        """,
        columns=("time", "metric", "visitors"),
        format=ResultFormat.TIME_SERIES,
    )
    return (
        timeseries.Panel()
        .title("Visitors arriving, by oblast")
        .description("People arriving per interval (visits, kind = arrival).")
        .datasource(datasources.postgres())
        .with_target(query)
        .interval("15m")
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .span(12)
        .height(9)
    )


def _most_crowded() -> table.Panel:
    query = SqlQuery(
        with_cte(
            "points_now",
            points_now(),
            f"""
            SELECT point_id, name, oblast, hromada, kind, state, people_inside,
                   capacity_people, utilisation
            FROM points_now
            WHERE utilisation IS NOT NULL
            ORDER BY utilisation DESC, people_inside DESC, point_id
            LIMIT {_CROWDED_ROWS}
            """,
        ),
        columns=("point_id", "name", "oblast", "people_inside", "capacity_people", "utilisation"),
    )
    gauge = dashboard.DynamicConfigValue(
        id_val="custom.cellOptions", value={"type": "gauge", "mode": "basic"}
    )
    return (
        table.Panel()
        .title("Most crowded points now")
        .description("People inside against capacity, from the latest occupancy report.")
        .datasource(datasources.postgres())
        .with_target(query)
        .span(10)
        .height(10)
        .override_by_name("utilisation", [base.unit("percentunit"), gauge])
    )


def _utilisation_heatmap() -> heatmap.Panel:
    query = SqlQuery(
        f"""
        SELECT bucket AS time, oblast AS metric,
               sum(people_inside_avg) / nullif(sum(capacity_people), 0) AS utilisation
        FROM occupancy_oblast_hourly
        WHERE $__timeFilter(bucket) AND {ROLLUP_FILTER}
        GROUP BY 1, 2
        ORDER BY 1
        """,
        columns=("time", "metric", "utilisation"),
        format=ResultFormat.TIME_SERIES,
    )
    return (
        heatmap.Panel()
        .title("Utilisation by oblast and hour")
        .description(
            "Mean people inside over the capacity of the oblast's reporting points, per hour."
        )
        .datasource(datasources.postgres())
        .with_target(query)
        .interval("1h")
        .calculate(False)
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_model.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .scale(heatmap_model.HeatmapColorScale.LINEAR)
            .min(0)
            .max(1)
        )
        .cell_values(heatmap.CellValues().unit("percentunit"))
        .span(14)
        .height(10)
    )
