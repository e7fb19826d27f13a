"""Activations and reports, some arriving after a refresh and out of order, for checking that
``activation_openings`` (migration 017) answers what the raw lookup answers at every step. The
same in both modes; only plain ``execute()`` calls (the TimescaleDB-in-WASM server). Point ids
start with ``ao-``."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tests.integration.privileges import AsRole

Conn = psycopg.Connection[tuple[object, ...]]
Row = tuple[object, ...]

# What docs/analysts.md queries 5 and 6 asked before 017: the first open report within a day
# after each activation order, looked up in the raw reports.
RAW = (
    "SELECT a.point_id, a.ts,"
    " (SELECT min(t.ts) FROM telemetry AS t WHERE t.point_id = a.point_id"
    "  AND t.status = 'open' AND t.ts >= a.ts AND t.ts < a.ts + INTERVAL '1 day')"
    " FROM activations AS a WHERE a.action = 'activate' AND a.point_id LIKE 'ao-%'"
    " ORDER BY 1, 2"
)
VIEW = (
    "SELECT point_id, activated_at, opened_at FROM activation_openings"
    " WHERE point_id LIKE 'ao-%' ORDER BY 1, 2"
)
STORED = (
    "SELECT point_id, activated_at, opened_at FROM activation_openings_stored"
    " WHERE point_id LIKE 'ao-%' ORDER BY 1, 2"
)
H = timedelta(hours=1)
M = timedelta(minutes=1)
D = timedelta(days=1)


def _report(conn: Conn, point_id: str, ts: datetime, status: str) -> None:
    conn.execute(
        "INSERT INTO telemetry (point_id, ts, status, power, generator_running)"
        " VALUES (%s, %s, %s, 'grid', false)",
        [point_id, ts, status],
    )


def _order(conn: Conn, point_id: str, ts: datetime, action: str = "activate") -> None:
    conn.execute(
        "INSERT INTO activations (point_id, ts, action, requested_by) VALUES (%s, %s, %s, 'ОДА')",
        [point_id, ts, action],
    )


def _rows(conn: Conn, query: str) -> list[Row]:
    return conn.execute(query.encode()).fetchall()


def check_openings_answer_as_the_raw_lookup(owner: Conn, as_role: AsRole) -> None:
    """Walk the scenario: before any refresh, after one, after late and out-of-order arrivals,
    after another refresh; the view equals the raw lookup at each step."""
    # As never refreshed (another test may have refreshed): rows arrive here days late.
    owner.execute("TRUNCATE activation_openings_stored, activation_openings_watermark")
    found = owner.execute("SELECT now()").fetchone()
    assert found is not None and isinstance(found[0], datetime)
    now = found[0]
    with as_role("nezlam_writer") as writer:
        # Opened 40 min after its order (a stand-down later is no activation).
        _order(writer, "ao-quick", now - 2 * D)
        _report(writer, "ao-quick", now - 2 * D + 10 * M, "standby")
        _report(writer, "ao-quick", now - 2 * D + 40 * M, "open")
        _report(writer, "ao-quick", now - 2 * D + 50 * M, "open")
        _order(writer, "ao-quick", now - 2 * D + 5 * H, "stand_down")
        # Never opened.
        _order(writer, "ao-never", now - 2 * D)
        _report(writer, "ao-never", now - 2 * D + H, "standby")
        # Open before its order, then only after its day: no opening.
        _report(writer, "ao-past", now - 3 * D - H, "open")
        _order(writer, "ao-past", now - 3 * D)
        _report(writer, "ao-past", now - 2 * D + 10 * M, "open")
        # Two orders, one opening within a day of both.
        _order(writer, "ao-twice", now - 30 * H)
        _order(writer, "ao-twice", now - 20 * H)
        _report(writer, "ao-twice", now - 19 * H, "open")
        # Ordered before the refresh's lookback, opened within it; an earlier open report
        # arrives after the refresh (2 h late).
        _order(writer, "ao-reorder", now - 4 * H)
        _report(writer, "ao-reorder", now - H, "open")
        # Ordered before the lookback, not open yet at the refresh; it opens afterwards.
        _order(writer, "ao-pending", now - 5 * H)
        _report(writer, "ao-pending", now - 4 * H, "standby")
        # Its order arrives only after the refresh.
        _report(writer, "ao-late-order", now - 40 * M, "open")

    raw = [(str(p), a, o) for p, a, o in _check(as_role, "before any refresh")]
    assert raw == [
        ("ao-never", now - 2 * D, None),
        ("ao-past", now - 3 * D, None),
        ("ao-pending", now - 5 * H, None),
        ("ao-quick", now - 2 * D, now - 2 * D + 40 * M),
        ("ao-reorder", now - 4 * H, now - H),
        ("ao-twice", now - 30 * H, now - 19 * H),
        ("ao-twice", now - 20 * H, now - 19 * H),
    ]

    with as_role("nezlam_writer") as writer:
        writer.execute("SELECT refresh_activation_openings()")
    _check(as_role, "after a refresh")
    assert _rows(owner, STORED) == raw, "a refresh stores every activation's answer"
    _check_final_rows_are_read_from_the_stored_table(owner)

    with as_role("nezlam_writer") as writer:
        _report(writer, "ao-reorder", now - 2 * H, "open")
        _report(writer, "ao-pending", now - 30 * M, "open")
        _order(writer, "ao-late-order", now - H)
    changed = _check(as_role, "after late and out-of-order arrivals")
    assert changed != raw, "the arrivals change the answer"
    assert _rows(owner, STORED) == raw, "nothing is stored until the next refresh"

    with as_role("nezlam_writer") as writer:
        writer.execute("SELECT refresh_activation_openings()")
    assert _check(as_role, "after a second refresh") == changed
    assert _rows(owner, STORED) == changed


def _check(as_role: AsRole, step: str) -> list[Row]:
    """The view's rows, asserted equal to the raw lookup's (read as the analyst)."""
    with as_role("nezlam_analyst") as analyst:
        raw = _rows(analyst, RAW)
        assert _rows(analyst, VIEW) == raw, step
    return raw


def _check_final_rows_are_read_from_the_stored_table(owner: Conn) -> None:
    """Shift every stored opening by a second: the view shows the shift exactly for the rows
    that are final (opened before the lookback), and the raw answer for the rest."""
    with owner.transaction(force_rollback=True):
        owner.execute("UPDATE activation_openings_stored SET opened_at = opened_at + %s",
                      [timedelta(seconds=1)])
        view, raw = _rows(owner, VIEW), _rows(owner, RAW)
    differs = [str(v[0]) for v, r in zip(view, raw, strict=True) if v != r]
    assert differs == ["ao-quick", "ao-twice", "ao-twice"]
