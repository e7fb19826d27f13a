"""What the read side runs: every SQL target of every dashboard panel as Grafana sends it, for
the time ranges the operations centre uses, and the ready queries of docs/analysts.md.

Grafana's steps are :mod:`streams.dashboards.grafana_macros`; the variables resolve as on a
dashboard just opened (their own queries run first, "All" selects every option).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, VariableModel

from streams.dashboards.base import ALL
from streams.dashboards.grafana_macros import TimeRange, Variable, expand, parse_duration
from streams.dashboards.query import SqlQuery
from streams.dashboards.render import REPO_ROOT, build_all

ANALYSTS_DOC = REPO_ROOT / "docs" / "analysts.md"
# A heading "### N. Question" followed, after some prose, by one ```sql block.
_ANALYST_QUERY = re.compile(r"^### (\d+)\. (.+?)$.*?^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The ranges the operations centre picks; 30 d where the history is long enough.
RANGES = ("6h", "24h", "7d", "30d")
# What $__interval is when a panel sets no minimum (Grafana derives it from the panel width).
DEFAULT_INTERVAL = timedelta(minutes=1)
_TIME_MACROS = ("$__timeFilter", "$__timeFrom", "$__timeTo", "$__timeGroup", "$__interval")

# Runs SQL, returns its rows (the variables' queries).
Run = Callable[[str], Sequence[Sequence[object]]]


@dataclass(frozen=True)
class ReadQuery:
    """One statement to time: a panel's target at one time range, or an analyst query."""

    group: str  # dashboard uid, or "analysts"
    name: str  # panel title and refId, or "N. question"
    range_label: str  # "6h" ..., "panel 14d", "now" (no time macro), or "" for analysts
    sql: str


@dataclass(frozen=True)
class PanelTarget:
    """One SQL target of one panel."""

    dashboard: Dashboard
    panel: Panel
    query: SqlQuery

    @property
    def name(self) -> str:
        return f"{self.panel.title} [{self.query.ref_id}]"

    @property
    def uses_time(self) -> bool:
        return any(macro in self.query.raw_sql for macro in _TIME_MACROS)


def panel_targets() -> list[PanelTarget]:
    """Every SQL target of every dashboard."""
    return [
        PanelTarget(dashboard, panel, target)
        for dashboard in build_all().values()
        for panel in dashboard.panels or []
        if isinstance(panel, Panel)
        for target in panel.targets or []
        if isinstance(target, SqlQuery)
    ]


def panel_queries(run: Run, now: datetime, history: timedelta) -> list[ReadQuery]:
    """Each panel target at 6 h, 24 h, 7 d and 30 d (those within ``history``), at its own
    range when the panel forces one, once when it reads no time range."""
    found: list[ReadQuery] = []
    for target in panel_targets():
        labels: list[tuple[str, TimeRange]] = []
        if target.panel.time_from:
            span = parse_duration(target.panel.time_from)
            labels.append((f"panel {target.panel.time_from}", _range(target.dashboard, now, span)))
        elif not target.uses_time:
            labels.append(("now", _range(target.dashboard, now, parse_duration("6h"))))
        else:
            for label in RANGES:
                span = parse_duration(label)
                if span <= max(history, parse_duration("7d")):
                    labels.append((label, _range(target.dashboard, now, span)))
        for label, time_range in labels:
            variables = resolve_variables(run, target.dashboard, time_range)
            interval = (parse_duration(target.panel.interval) if target.panel.interval
                        else DEFAULT_INTERVAL)
            sql = expand(target.query.raw_sql, time_range=time_range, interval=interval,
                         variables=variables)
            found.append(ReadQuery(target.dashboard.uid or "", target.name, label, sql))
    return found


def analyst_queries() -> list[ReadQuery]:
    """The ready queries of docs/analysts.md, as written there."""
    section = ANALYSTS_DOC.read_text(encoding="utf-8").split("## Ready queries", 1)[1]
    return [
        ReadQuery("analysts", f"{number}. {question.strip()}", "", sql)
        for number, question, sql in _ANALYST_QUERY.findall(section)
    ]


def resolve_variables(run: Run, dashboard: Dashboard, time_range: TimeRange) -> dict[str, Variable]:
    """Each variable's selection, in order (a variable's query may use the ones before it)."""
    resolved: dict[str, Variable] = {}
    variables = dashboard.templating.list_val if dashboard.templating else None
    for variable in variables or []:
        options = _options(run, variable, resolved, time_range)
        selects_all = variable.current is not None and variable.current.value == ALL
        resolved[variable.name] = Variable(
            values=options if selects_all else options[:1],
            quoted=bool(variable.multi or variable.include_all),
        )
    return resolved


def _options(
    run: Run, variable: VariableModel, resolved: dict[str, Variable], time_range: TimeRange
) -> list[str]:
    """A variable's options: its custom values, or its query's rows (``__value`` if named)."""
    query = variable.query if isinstance(variable.query, str) else ""
    if variable.type_val == "custom":
        return query.split(",")
    sql = expand(query, time_range=time_range, interval=DEFAULT_INTERVAL, variables=resolved)
    # The value is the first column (``__value`` where a text column follows).
    return [str(row[0]) for row in run(sql)]


def _range(dashboard: Dashboard, now: datetime, span: timedelta) -> TimeRange:
    """``now - span`` to the dashboard's end (``now``, or ``now+24h`` on the fuel dashboard)."""
    end = dashboard.time.to if dashboard.time is not None else "now"
    return TimeRange(now - span, TimeRange.relative("now", end, now).end)
