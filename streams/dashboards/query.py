"""A typed SQL target for Grafana's PostgreSQL datasource.

grafana-foundation-sdk has query builders for Prometheus, Loki and others, but none for SQL.
:class:`SqlQuery` is the SDK's dataquery variant for it: a panel takes it as a target (it is
its own builder), and it serialises to what Grafana's PostgreSQL datasource stores for a query
typed in code mode.
"""

from __future__ import annotations

import enum
import textwrap
from dataclasses import dataclass, field

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from streams.dashboards import datasources


class ResultFormat(enum.StrEnum):
    """How Grafana turns the rows into a data frame."""

    # Rows as they are: tables, stats, geomaps, bar charts.
    TABLE = "table"
    # A ``time`` column plus numeric columns; a text column (``metric``) names the series.
    TIME_SERIES = "time_series"


@dataclass(frozen=True)
class SqlQuery(cogvariants.Dataquery, cogbuilder.Builder[cogvariants.Dataquery]):
    """One SQL query of a panel.

    ``sql`` may use Grafana's macros (``$__timeFilter``, ``$__timeGroupAlias``, ...) and the
    dashboard's variables; it is dedented so the stored query reads well in Grafana's editor.
    ``columns`` are the result columns the panel reads: not sent to Grafana, checked by the
    integration tests against the real database.
    """

    sql: str
    columns: tuple[str, ...]
    format: ResultFormat = ResultFormat.TABLE
    ref_id: str = "A"
    datasource: DataSourceRef = field(default_factory=datasources.postgres)

    def build(self) -> SqlQuery:
        """The query itself: it is complete when constructed."""
        return self

    @property
    def raw_sql(self) -> str:
        """The SQL as Grafana stores it."""
        return textwrap.dedent(self.sql).strip()

    def to_json(self) -> dict[str, object]:
        """The target as Grafana's PostgreSQL datasource stores a query in code mode."""
        return {
            "refId": self.ref_id,
            "datasource": self.datasource,
            "editorMode": "code",
            "format": str(self.format),
            "rawQuery": True,
            "rawSql": self.raw_sql,
        }
