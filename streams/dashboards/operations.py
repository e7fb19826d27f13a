"""Operations overview: which points are open, on standby, closed or silent, where, and how
many people are inside now. What the operations centre has on the wall all day."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import geomap, stat, table
from grafana_foundation_sdk.models import common, dashboard
from grafana_foundation_sdk.models import geomap as geomap_model

from streams.dashboards import base, datasources
from streams.dashboards.fragments import STATE_COLOURS, STATES, points_now, with_cte
from streams.dashboards.query import SqlQuery

UID = "nezlam-operations"

# Ukraine fits the panel at zoom 5 around this centre.
_MAP_CENTRE = (49, 31)
_MAP_ZOOM = 5


def build() -> dashboard.Dashboard:
    """The operations overview dashboard."""
    builder = (
        base.new_dashboard(
            UID,
            "Nezlam: operations overview",
            "Every Invincibility Point now: state (silent = no report for longer than its kind "
            "allows, unknown = never reported), people inside, generators, per oblast.",
            time_from="now-6h",
        )
        .with_variable(base.oblast_variable())
        .with_variable(base.kind_variable())
        .with_panel(_points_by_state())
        .with_panel(_people_inside())
        .with_panel(_on_generator())
        .with_panel(_map())
        .with_panel(_by_oblast())
    )
    return base.finish(builder)


def _points_by_state() -> stat.Panel:
    counts = ",\n".join(
        f"    count(*) FILTER (WHERE state = '{state}') AS \"{state}\"" for state in STATES
    )
    query = SqlQuery(
        with_cte("points_now", points_now(), f"SELECT\n{counts}\nFROM points_now"),
        columns=STATES,
    )
    panel = (
        base.stat_panel(
            "Points by state", "Unknown: registered, never reported.", query,
            datasources.postgres(),
        )
        .span(12)
        .height(5)
        .color_mode(common.BigValueColorMode.BACKGROUND)
    )
    for state in STATES:
        panel = panel.override_by_name(state, [base.fixed_colour(STATE_COLOURS[state])])
    return panel


def _people_inside() -> stat.Panel:
    query = SqlQuery(
        with_cte("points_now", points_now(),
                 "SELECT sum(people_inside) AS people_inside FROM points_now"),
        columns=("people_inside",),
    )
    return base.stat_panel(
        "People inside now",
        "From each point's latest occupancy report of the last hour.",
        query,
        datasources.postgres(),
    ).span(6).height(5)


def _on_generator() -> stat.Panel:
    query = SqlQuery(
        with_cte(
            "points_now",
            points_now(),
            """
            SELECT
                count(*) FILTER (WHERE power = 'generator') AS on_generator,
                count(*) FILTER (WHERE power = 'generator' AND NOT generator_running)
                    AS generator_stopped
            FROM points_now
            WHERE state <> 'silent'
            """,
        ),
        columns=("on_generator", "generator_stopped"),
    )
    return base.stat_panel(
        "Points on generator",
        "Reporting points whose latest report says power = generator; generator_stopped: "
        "of those, the generator is not running.",
        query,
        datasources.postgres(),
    ).span(6).height(5)


def _map() -> geomap.Panel:
    query = SqlQuery(
        with_cte(
            "points_now",
            points_now(),
            """
            SELECT point_id, name, kind, oblast, hromada, lat, lon, state, last_seen, power,
                   fuel_level_l, people_inside, capacity_people
            FROM points_now
            """,
        ),
        columns=("lat", "lon", "state", "name", "point_id"),
    )
    markers = (
        common_builders.MapLayerOptions()
        .type("markers")
        .name("Points")
        .location(
            common_builders.FrameGeometrySource()
            .mode(common.FrameGeometrySourceMode.COORDS)
            .latitude("lat")
            .longitude("lon")
        )
        .tooltip(True)
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "state", "fixed": "text"},
                    "opacity": 0.8,
                    "size": {"fixed": 5},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                },
            }
        )
    )
    lat, lon = _MAP_CENTRE
    return (
        geomap.Panel()
        .title("Map of points")
        .description("Colour: state now. Hover a point for its latest report.")
        .datasource(datasources.postgres())
        .with_target(query)
        .span(14)
        .height(16)
        .view(geomap.MapViewConfig().id("coords").lat(lat).lon(lon).zoom(_MAP_ZOOM))
        .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
        .layers([markers])
        .tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS))
        .mappings([_state_colours()])
    )


def _state_colours() -> dashboard.ValueMap:
    return dashboard.ValueMap(
        options={
            state: dashboard.ValueMappingResult(color=STATE_COLOURS[state], index=index)
            for index, state in enumerate(STATES)
        }
    )


def _by_oblast() -> table.Panel:
    counts = "".join(
        f"    count(*) FILTER (WHERE state = '{state}') AS \"{state}\",\n" for state in STATES
    )
    query = SqlQuery(
        with_cte(
            "points_now",
            points_now(),
            "SELECT\n"
            "    oblast,\n"
            "    count(*) AS points,\n"
            f"{counts}"
            "    count(*) FILTER (WHERE state <> 'silent' AND power = 'generator')"
            " AS on_generator,\n"
            "    sum(people_inside) AS people_inside,\n"
            "    sum(capacity_people) AS capacity\n"
            "FROM points_now\n"
            "GROUP BY oblast\n"
            "ORDER BY oblast",
        ),
        columns=("oblast", "points", *STATES, "on_generator", "people_inside", "capacity"),
    )
    return (
        table.Panel()
        .title("By oblast")
        .datasource(datasources.postgres())
        .with_target(query)
        .span(10)
        .height(16)
        .sort_by([common_builders.TableSortByFieldState().display_name("oblast")])
    )
