"""Pipeline health (Prometheus): is the pipeline keeping up, and is it losing anything?

Every query reads the workers' metrics (``streams/worker/metrics.py``); each worker exports its own
share (its partitions), so the queries sum over workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.models import common, dashboard

from streams.dashboards import base, datasources

UID = "nezlam-pipeline"
RATE = "[$__rate_interval]"


@dataclass(frozen=True)
class Series:
    """One PromQL query of a panel and the legend of its series."""

    expr: str
    legend: str


def build() -> dashboard.Dashboard:
    """The pipeline health dashboard."""
    builder = (
        base.new_dashboard(
            UID,
            "Nezlam: pipeline health",
            "Throughput, consumer lag, dead letters, database sink latency and points by state, "
            "from the workers' Prometheus metrics.",
            time_from="now-3h",
        )
        .with_panel(_summary())
        .with_panel(_panel(
            "Messages in, per second", "Consumed from each input topic.", "reqps",
            Series(f"sum by (topic) (rate(nezlam_ingest_messages_in_total{RATE}))", "{{topic}}"),
        ))
        .with_panel(_panel(
            "Messages out, per second", "Produced to each output topic.", "reqps",
            Series(f"sum by (topic) (rate(nezlam_pipeline_messages_out_total{RATE}))",
                   "{{topic}}"),
        ))
        .with_panel(_panel(
            "Consumer lag", "Messages behind the end of each input topic, all workers.", "short",
            Series("sum by (topic) (nezlam_consumer_lag_messages)", "{{topic}}"),
        ))
        .with_panel(_panel(
            "Event delay (p95)", "Wall clock minus message ts when a message is processed.", "s",
            Series(
                "histogram_quantile(0.95, sum by (le, topic) "
                f"(rate(nezlam_ingest_event_delay_seconds_bucket{RATE})))",
                "{{topic}}",
            ),
        ))
        .with_panel(_panel(
            "Dead letters, per second", "Messages refused, by topic and reason.", "reqps",
            Series(f"sum by (topic, reason) (rate(nezlam_ingest_rejects_total{RATE}))",
                   "{{topic}}: {{reason}}"),
        ))
        .with_panel(_panel(
            "Late events, per second",
            "Stored but left out of the computations (older than the lateness bound).", "reqps",
            Series(f"sum by (topic) (rate(nezlam_pipeline_late_events_total{RATE}))",
                   "{{topic}}"),
        ))
        .with_panel(_panel(
            "Sink write latency", "Time to write one batch to the database.", "s",
            Series(
                "histogram_quantile(0.5, sum by (le, table) "
                f"(rate(nezlam_sink_write_seconds_bucket{RATE})))",
                "p50 {{table}}",
            ),
            Series(
                "histogram_quantile(0.95, sum by (le, table) "
                f"(rate(nezlam_sink_write_seconds_bucket{RATE})))",
                "p95 {{table}}",
            ),
        ))
        .with_panel(_panel(
            "Sink rows, per second", "Rows given to the database: written or duplicate (replay).",
            "reqps",
            Series(f"sum by (table, outcome) (rate(nezlam_sink_rows_total{RATE}))",
                   "{{table}} {{outcome}}"),
            Series(f"sum by (table) (rate(nezlam_sink_errors_total{RATE}))", "{{table}} errors"),
        ))
        .with_panel(_panel(
            "Points by state", "As the stream processor judges them, all workers.", "short",
            Series("sum by (state) (nezlam_points_by_state)", "{{state}}"),
            Series("sum(nezlam_points_activation_overdue)", "activation overdue"),
            stacked=True,
        ))
    )
    return base.finish(builder)


def _summary() -> stat.Panel:
    targets = [
        _target(Series("count(nezlam_registry_points_known)", "workers"), "A"),
        _target(Series("max(nezlam_registry_points_known)", "points known"), "B"),
        _target(Series("sum(nezlam_consumer_lag_messages)", "lag"), "C"),
        _target(Series(f"sum(rate(nezlam_ingest_rejects_total{RATE}))", "dead letters/s"), "D"),
    ]
    panel = base.stat_panel(
        "Now", "Workers reporting, points in the registry, total lag, dead-letter rate.",
        targets[0], datasources.prometheus(),
    )
    for target in targets[1:]:
        panel = panel.with_target(target)
    return panel.span(24).height(4)


def _panel(
    title: str, description: str, unit: str, *series: Series, stacked: bool = False
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(datasources.prometheus())
        .unit(unit)
        .min(0)
        .span(12)
        .height(8)
    )
    for ref_id, one in zip("ABCDEFGH", series, strict=False):
        panel = panel.with_target(_target(one, ref_id))
    if stacked:
        panel = panel.fill_opacity(30).stacking(
            common_builders.StackingConfig().mode(common.StackingMode.NORMAL)
        )
    return panel


def _target(series: Series, ref_id: str) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(series.expr)
        .legend_format(series.legend)
        .ref_id(ref_id)
        .range()
        .datasource(datasources.prometheus())
    )
