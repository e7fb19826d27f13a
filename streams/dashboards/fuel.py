"""Fuel and logistics: which generator runs dry when, so a fuel truck leaves in time."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common, dashboard

from streams.dashboards import base, datasources
from streams.dashboards.fragments import POINT_FILTER, latest_forecasts, with_cte
from streams.dashboards.query import ResultFormat, SqlQuery

UID = "nezlam-fuel"
FUEL_ALERTS = "('fuel_low', 'fuel_critical')"


def build() -> dashboard.Dashboard:
    """The fuel and logistics dashboard; the time range reaches a day ahead for forecasts."""
    builder = (
        base.new_dashboard(
            UID,
            "Nezlam: fuel and logistics",
            "Generators' fuel: the refuel plan (most urgent first), the trucks' dispatch plan, "
            "level and forecast per "
            "point, hours to empty across the network, fuel alerts and fuel burned per oblast.",
            time_to="now+24h",
        )
        .with_variable(base.oblast_variable())
        .with_variable(base.kind_variable())
        .with_variable(_point_variable())
        .with_panel(_refuel_plan())
        .with_panel(_dispatch_plan())
        .with_panel(_level_and_forecast())
        .with_panel(_hours_to_empty())
        .with_panel(_active_fuel_alerts())
        .with_panel(_fuel_alerts_raised())
        .with_panel(_fuel_burned())
    )
    return base.finish(builder)


def _point_variable() -> dash.QueryVariable:
    """``$point``: one generator, the soonest to run dry first."""
    return (
        dash.QueryVariable("point")
        .label("Point")
        .datasource(datasources.postgres())
        .query(
            with_cte(
                "latest",
                latest_forecasts(),
                "SELECT point_id AS __value, name || ' (' || point_id || ')' AS __text\n"
                "FROM latest\n"
                "ORDER BY hours_to_empty NULLS LAST, point_id",
            )
        )
        .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard.VariableSort.DISABLED)
    )


def _refuel_plan() -> table.Panel:
    query = SqlQuery(
        f"""
        SELECT
            p.point_id, p.name, p.oblast, p.hromada, p.kind,
            p.fuel_level_l, p.fuel_tank_l, p.litres_to_fill,
            p.hours_until_refuel_due, p.hours_to_empty, p.empty_at,
            p.burn_rate_lph, p.confidence, p.generator_running, p.last_reading_at
        FROM refuel_plan AS p
        WHERE p.hours_to_empty IS NOT NULL AND {POINT_FILTER}
        ORDER BY p.hours_until_refuel_due, p.point_id
        LIMIT 500
        """,
        columns=("point_id", "name", "oblast", "litres_to_fill", "hours_until_refuel_due",
                 "hours_to_empty", "empty_at"),
    )
    return (
        table.Panel()
        .title("Refuel plan")
        .description(
            "The list trucks are sent from: hours until the refuel is due (hours to empty minus "
            "the delivery lead time) first. hours_to_empty counts running hours; empty_at is set "
            "while the generator runs."
        )
        .datasource(datasources.postgres())
        .with_target(query)
        .span(24)
        .height(10)
        .override_by_name("hours_to_empty", [base.unit("h"), base.decimals(1)])
        .override_by_name("hours_until_refuel_due", [base.unit("h"), base.decimals(1)])
        .override_by_name("burn_rate_lph", [base.decimals(2)])
        .override_by_name("confidence", [base.unit("percentunit")])
    )


def _dispatch_plan() -> table.Panel:
    query = SqlQuery(
        """
        SELECT oblast, truck_id, depot, stop_order, point_name, point_id, litres, arrives_at,
               runs_dry_at, slack_hours, note
        FROM (
            SELECT s.oblast, s.truck_id, s.depot, s.stop_order, s.point_name, s.point_id,
                   s.litres, s.arrives_at, s.runs_dry_at, s.slack_hours, '' AS note
            FROM dispatch_stops_latest AS s
            WHERE s.oblast IN ($oblast)
            UNION ALL
            SELECT u.oblast, 'NOT REACHED', NULL, NULL, u.point_name, u.point_id, NULL, NULL,
                   u.runs_dry_at, NULL, u.reason
            FROM dispatch_unreached_latest AS u
            WHERE u.oblast IN ($oblast)
        ) AS plan
        ORDER BY stop_order IS NOT NULL, runs_dry_at, oblast, truck_id, stop_order
        LIMIT 500
        """,
        columns=("oblast", "truck_id", "stop_order", "point_name", "litres", "arrives_at",
                 "runs_dry_at", "slack_hours", "note"),
    )
    return (
        table.Panel()
        .title("Dispatch plan: truck runs")
        .description(
            "The newest dispatch plan of each oblast (`nezlam dispatch-plan --write`, or its "
            "schedule): points no truck reaches before they run dry first, with why; then each "
            "truck's stops in order, the litres to deliver, when it arrives and how many hours "
            "of slack that leaves before the deadline (runs dry minus the safety margin)."
        )
        .datasource(datasources.postgres())
        .with_target(query)
        .span(24)
        .height(10)
        .override_by_name("slack_hours", [base.unit("h"), base.decimals(1)])
        .override_by_name("litres", [base.decimals(0)])
    )


def _level_and_forecast() -> timeseries.Panel:
    measured = SqlQuery(
        """
        SELECT $__timeGroupAlias(ts, $__interval), avg(fuel_level_l) AS measured
        FROM telemetry
        WHERE point_id = '$point' AND $__timeFilter(ts) AND fuel_level_l IS NOT NULL
        GROUP BY 1
        ORDER BY 1
        """,
        columns=("time", "measured"),
        format=ResultFormat.TIME_SERIES,
    )
    # The latest forecast drawn as a line from its level now to zero at empty_at.
    forecast = SqlQuery(
        """
        WITH latest AS (
            SELECT ts, fuel_level_l, empty_at
            FROM fuel_forecast
            WHERE point_id = '$point' AND $__timeFilter(ts) AND empty_at IS NOT NULL
            ORDER BY ts DESC
            LIMIT 1
        )
        SELECT ts AS time, fuel_level_l AS forecast FROM latest
        UNION ALL
        SELECT empty_at, 0 FROM latest
        ORDER BY 1
        """,
        columns=("time", "forecast"),
        format=ResultFormat.TIME_SERIES,
        ref_id="B",
    )
    return (
        timeseries.Panel()
        .title("Fuel level and forecast: $point")
        .description("Measured level (litres) and the latest forecast down to empty.")
        .datasource(datasources.postgres())
        .with_target(measured)
        .with_target(forecast)
        .interval("1m")
        .unit("litre")
        .min(0)
        .span(12)
        .height(9)
        .override_by_name(
            "forecast",
            [dashboard.DynamicConfigValue(id_val="custom.lineStyle",
                                          value={"fill": "dash", "dash": [10, 10]})],
        )
    )


def _hours_to_empty() -> barchart.Panel:
    query = SqlQuery(
        with_cte(
            "latest",
            latest_forecasts(),
            """
            SELECT b.band, count(l.point_id) AS generators
            FROM (VALUES
                (1, '< 6 h', 0, 6), (2, '6-12 h', 6, 12), (3, '12-24 h', 12, 24),
                (4, '24-48 h', 24, 48), (5, '48-72 h', 48, 72), (6, '72 h or more', 72, NULL)
            ) AS b (rank, band, lower_h, upper_h)
            LEFT JOIN latest AS l
                ON l.hours_to_empty >= b.lower_h
                AND (b.upper_h IS NULL OR l.hours_to_empty < b.upper_h)
            GROUP BY b.rank, b.band
            ORDER BY b.rank
            """,
        ),
        columns=("band", "generators"),
    )
    return (
        barchart.Panel()
        .title("Hours to empty")
        .description("Generators by running hours of fuel left (latest forecast).")
        .datasource(datasources.postgres())
        .with_target(query)
        .x_field("band")
        .show_value(common.VisibilityMode.AUTO)
        .span(12)
        .height(9)
    )


def _active_fuel_alerts() -> barchart.Panel:
    query = SqlQuery(
        f"""
        SELECT
            p.oblast,
            count(*) FILTER (WHERE a.alertname = 'fuel_critical') AS fuel_critical,
            count(*) FILTER (WHERE a.alertname = 'fuel_low') AS fuel_low
        FROM alerts_active AS a
        JOIN points AS p USING (point_id)
        WHERE a.alertname IN {FUEL_ALERTS} AND {POINT_FILTER}
        GROUP BY p.oblast
        ORDER BY p.oblast
        """,
        columns=("oblast", "fuel_critical", "fuel_low"),
    )
    return (
        barchart.Panel()
        .title("Active fuel alerts by oblast")
        .datasource(datasources.postgres())
        .with_target(query)
        .x_field("oblast")
        .stacking(common.StackingMode.NORMAL)
        .span(12)
        .height(9)
        .override_by_name("fuel_critical", [base.fixed_colour("red")])
        .override_by_name("fuel_low", [base.fixed_colour("orange")])
    )


def _fuel_alerts_raised() -> timeseries.Panel:
    query = SqlQuery(
        f"""
        SELECT $__timeGroupAlias(a.ts, '1h'), p.oblast AS metric, count(*) AS raised
        FROM alert_events AS a
        JOIN points AS p USING (point_id)
        WHERE a.status = 'firing' AND a.alertname IN {FUEL_ALERTS}
            AND $__timeFilter(a.ts) AND {POINT_FILTER}
        GROUP BY 1, 2
        ORDER BY 1
        """,
        columns=("time", "metric", "raised"),
        format=ResultFormat.TIME_SERIES,
    )
    return (
        timeseries.Panel()
        .title("Fuel alerts raised per hour, by oblast")
        .datasource(datasources.postgres())
        .with_target(query)
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .span(12)
        .height(9)
    )


def _fuel_burned() -> timeseries.Panel:
    query = SqlQuery(
        """
        SELECT day AS time, oblast AS metric, fuel_burned_l
        FROM fuel_use_daily
        WHERE $__timeFilter(day) AND oblast IN ($oblast)
        ORDER BY 1
        """,
        columns=("time", "metric", "fuel_burned_l"),
        format=ResultFormat.TIME_SERIES,
    )
    return (
        timeseries.Panel()
        .title("Fuel burned per day, by oblast")
        .description("Approximate litres per UTC day (fuel_use_daily; all point kinds).")
        .datasource(datasources.postgres())
        .with_target(query)
        .time_from("14d")
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .unit("litre")
        .span(24)
        .height(9)
    )

