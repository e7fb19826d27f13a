"""What every Nezlam dashboard shares: tags, links, time settings, variables, panel ids."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from streams.dashboards import datasources

TAG = "nezlam"
POINT_KINDS = ("permanent", "standby", "mobile")
# Grafana's value for "All" of a variable; the SQL datasource expands it to every option.
ALL = "$__all"


def new_dashboard(
    uid: str, title: str, description: str, *, time_from: str = "now-24h", time_to: str = "now"
) -> dash.Dashboard:
    """A dashboard with the project's tag, a menu of the other dashboards and a 1 min refresh."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .time(time_from, time_to)
        .refresh("1m")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .link(
            dash.DashboardLink("Nezlam dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def oblast_variable() -> dash.QueryVariable:
    """``$oblast``: any of the oblasts in the registry, all by default."""
    return (
        dash.QueryVariable("oblast")
        .label("Oblast")
        .datasource(datasources.postgres())
        .query("SELECT DISTINCT oblast FROM points ORDER BY 1")
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(True)
        .include_all(True)
        .current(_all_selected())
    )


def kind_variable() -> dash.CustomVariable:
    """``$kind``: permanent, standby or mobile points, all by default."""
    return (
        dash.CustomVariable("kind")
        .label("Point kind")
        .values(",".join(POINT_KINDS))
        .multi(True)
        .include_all(True)
        .current(_all_selected())
    )


def _all_selected() -> model.VariableOption:
    return model.VariableOption(text="All", value=ALL, selected=True)


def stat_panel(
    title: str,
    description: str,
    target: cogbuilder.Builder[cogvariants.Dataquery],
    datasource: model.DataSourceRef,
) -> stat.Panel:
    """A stat panel showing the last value of every numeric column, with its name."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(datasource)
        .with_target(target)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
    )


def unit(unit_id: str) -> model.DynamicConfigValue:
    """A field override: Grafana's unit ``unit_id`` (``h``, ``s``, ``litre``, ...)."""
    return model.DynamicConfigValue(id_val="unit", value=unit_id)


def decimals(places: int) -> model.DynamicConfigValue:
    """A field override: show ``places`` decimals."""
    return model.DynamicConfigValue(id_val="decimals", value=places)


def fixed_colour(colour: str) -> model.DynamicConfigValue:
    """A field override: always draw the field in ``colour``."""
    return model.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})


def finish(builder: dash.Dashboard) -> model.Dashboard:
    """Build the dashboard and number its panels 1, 2, ... in layout order.

    Grafana needs ids unique within a dashboard (links to one panel, ``viewPanel``); stable
    ids keep the generated JSON identical from run to run.
    """
    built = builder.build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return built
