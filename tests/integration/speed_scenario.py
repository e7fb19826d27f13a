"""The speed-invariance scenario (tests/integration/test_speed_invariance.py): its messages, the
alert history and occupancy rows a run of it leaves, and what that history must be.

Four hours of event time, a report a minute per point (times below are minutes from the
scenario's start):

- ``steady``: reports, nothing else (no alert);
- ``burner``: a generator burning 10 l/h from 60 l, refuelled at 120 (fuel_low, fuel_critical,
  both resolved by the refuel);
- ``silent``: no report from 60 to 100 (point_silent 59 + 5 -> 100);
- ``power``: no grid and no generator from 90 to 115 (no_power 90 -> 115);
- ``crowd`` (50 places): a headcount of 30, 70 from 120 to 160 (over_capacity 120 -> 160), and
  arrivals between the headcounts from 110 to 170: its occupancy rows come from both;
- ``hall`` (40 places): occupancy from visits alone (reports carry no headcount): 3 people
  arrive each minute from 10 to 39 (over 40 from the 14th arrival, at 23:30), 3 leave each
  minute from 50 to 79 (under 36, the clearing level, from the 19th departure, at 68:30):
  over_capacity 24 -> 69, as the reports that follow see it;
- standby points, all ordered to activate at 30 (deadline 150): ``on-time`` opens at 60;
  ``late`` opens at 180 (overdue 150 -> 180); ``stood-down`` is stood down at 60, before its
  deadline; ``stood-down-late`` is stood down at 180, after it (overdue 150 -> 180, resolved by
  the stand-down); ``opens-and-closes`` is open from 60 to 100 only (opened on time: no alert);
  ``no-reports`` never sends a report at all: it is silent from the order's ts plus the standby
  threshold (30 + 15 = 45) and overdue at the deadline (150), both still firing at the end.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import TopicPartition

from streams.config import Settings
from streams.kafka.topics import ACTIVATIONS, REGISTRY, TELEMETRY, VISITS
from streams.simulate.producer import partition_for
from tests.integration.conftest import registry_record, telemetry_record
from tests.integration.worker_process import query, read_from

MINUTES = 240
MINUTE = 60.0
# The last minute that has messages, as an offset in seconds from the scenario's start.
LAST = (MINUTES - 1) * MINUTE

Message = tuple[str, str, Any]
# One alert event: (point, alertname, status, ts, starts_at, ends_at), times as offsets in
# seconds from the scenario's start.
Event = tuple[str, str, str, float, float, float | None]
History = list[Event]
# One occupancy row: (point, ts, people_inside, visits_15m, visits_1h, visits_24h, utilisation).
Row = tuple[str, float, int, int, int, int, float | None]


def iso(ts: float) -> str:
    """RFC 3339 in UTC."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


class Scenario:
    """The messages of one run, its points named ``IT-<run>-<name>``."""

    ORDERED = ("on-time", "late", "stood-down", "stood-down-late", "opens-and-closes",
               "no-reports")

    def __init__(self, run: str, t0: float, partitions: int = 12) -> None:
        # In event time only a partition's own messages move its time: "no-reports" (which
        # sends one order) shares its partition with "steady" (which reports to the end), so
        # its silence and deadline are judged in both clock modes.
        numbers = list(range(partitions))
        for attempt in itertools.count():
            self.prefix = f"IT-{run}-{attempt}-"
            if (partition_for(self.point("no-reports").encode(), numbers)
                    == partition_for(self.point("steady").encode(), numbers)):
                break
        self.t0 = t0

    def point(self, name: str) -> str:
        """The point id of ``name`` in this run."""
        return self.prefix + name

    def registry(self) -> list[Message]:
        """The registry messages of every point."""
        points: dict[str, dict[str, object]] = {
            "steady": {}, "burner": {}, "silent": {}, "power": {},
            "crowd": {"capacity_people": 50}, "hall": {"capacity_people": 40},
            **{name: {"kind": "standby"} for name in self.ORDERED},
        }
        return [(REGISTRY, self.point(name), registry_record(self.point(name), **fields))
                for name, fields in points.items()]

    def messages(self) -> list[Message]:
        """The whole scenario: the registry, then every minute."""
        return [*self.registry(), *(m for minute in range(MINUTES) for m in self.minute(minute))]

    def minute(self, m: int) -> list[Message]:
        """Every message of minute ``m``, in event-time order (the visits come half a minute
        after the minute's reports and orders)."""
        ts = self.t0 + m * MINUTE
        out: list[Message] = []
        visits: list[Message] = []

        def report(name: str, **fields: Any) -> None:
            point = self.point(name)
            base = {"power": "grid", "generator_running": False, "fuel_level_l": None,
                    "headcount": None}
            out.append((TELEMETRY, point, telemetry_record(point, iso(ts), **{**base,
                                                                               **fields})))

        def order(name: str, action: str) -> None:
            point = self.point(name)
            out.append((ACTIVATIONS, point, {"point_id": point, "ts": iso(ts),
                                             "action": action, "requested_by": "ДСНС test"}))

        def visit(name: str, kind: str, people: int) -> None:
            point = self.point(name)
            visits.append((VISITS, point, {"event_id": f"{point}-{kind}-{m}", "point_id": point,
                                           "ts": iso(ts + 30), "kind": kind, "people": people}))

        report("steady")
        # 10 l/h from 60 l (six hours left: fuel_low, then fuel_critical), refilled at 2 h.
        fuel = 60.0 - 10.0 * m / 60 if m < 120 else 190.0 - 10.0 * (m - 120) / 60
        report("burner", power="generator", generator_running=True,
               fuel_level_l=round(fuel, 1))
        if not 60 <= m < 100:
            report("silent")
        lost = 90 <= m < 115
        report("power", power="none" if lost else "grid")
        report("crowd", headcount=70 if 120 <= m < 160 else 30)
        if 110 <= m < 170:
            visit("crowd", "arrival", 2)
        report("hall")
        if 10 <= m < 40:
            visit("hall", "arrival", 3)
        if 50 <= m < 80:
            visit("hall", "departure", 3)
        if m == 30:
            for name in self.ORDERED:
                order(name, "activate")
        if m == 60:
            order("stood-down", "stand_down")
        if m == 180:
            order("stood-down-late", "stand_down")  # 30 min after its deadline
        report("on-time", status="open" if m >= 60 else "standby")
        report("late", status="open" if m >= 180 else "standby")
        report("stood-down", status="standby")
        report("stood-down-late", status="standby")
        report("opens-and-closes", status="open" if 60 <= m < 100 else "standby")
        # "no-reports": its order above is all it ever sends.
        return out + visits


def history(settings: Settings, start: dict[TopicPartition, int], scenario: Scenario) -> History:
    """The scenario's alert events on the ``alerts`` topic, in order, duplicates included."""
    found: History = []
    for key, value in read_from(settings, start):
        if key is None or not key.decode().startswith(scenario.prefix):
            continue
        alert = orjson.loads(value)
        ends = alert["ends_at"]
        found.append((
            alert["point_id"].removeprefix(scenario.prefix), alert["alertname"], alert["status"],
            datetime.fromisoformat(alert["ts"]).timestamp() - scenario.t0,
            datetime.fromisoformat(alert["starts_at"]).timestamp() - scenario.t0,
            None if ends is None else datetime.fromisoformat(ends).timestamp() - scenario.t0,
        ))
    return sorted(found, key=_order)


def _order(event: Event) -> tuple[str, str, float, str]:
    return event[0], event[1], event[3], event[2]


def once(events: Iterable[Event]) -> History:
    """Each event once, as the topic's consumers key them ((fingerprint, ts, status), as
    ``alert_events`` does): what a replayed batch repeats counts once."""
    return sorted(set(events), key=_order)


def repeats(events: History) -> int:
    """Events sent more than once."""
    return len(events) - len(set(events))


def repeated(events: History) -> str:
    """The events sent more than once, with how often."""
    counts = Counter(events)
    return "; ".join(f"{n} x {event}" for event, n in counts.most_common() if n > 1)


def started_by_the_end(events: Iterable[Event]) -> History:
    """The events of episodes that started before the scenario's last minute.

    A wall-clock worker keeps judging after the scenario's end (the present): a point whose
    last report is at the last minute goes silent (with its onset after ``LAST``) if the run
    outlasts its threshold; an event-clock worker stops at the last minute. Episodes that
    start before ``LAST`` mean the same to both: those are compared. Every point but
    ``no-reports`` reports up to the last minute, and ``no-reports``' two episodes start at
    45 and 150, long before it, so nothing the scenario means is left out.
    """
    return [event for event in events if event[4] < LAST]


Episode = tuple[float, float | None]  # (starts_at, ends_at: None while still firing)


def episodes(events: Iterable[Event]) -> dict[tuple[str, str], list[Episode]]:
    """Each (point, alertname)'s episodes, in order; an episode is an alert's events with one
    ``starts_at``, ended by its ``resolved`` event (None: still firing)."""
    ends: dict[tuple[str, str, float], float | None] = {}
    for point, name, status, _, starts, ended in events:
        key = (point, name, starts)
        if status == "resolved":
            ends[key] = ended
        else:
            ends.setdefault(key, None)
    found: dict[tuple[str, str], list[Episode]] = defaultdict(list)
    for (point, name, starts), ended in sorted(ends.items()):
        found[(point, name)].append((starts, ended))
    return dict(found)


@dataclass(frozen=True)
class Expected:
    """One episode the scenario must raise: onset and end in minutes (None: not checked for
    ``starts``; still firing at the end for ``ends``), within ``slack`` report intervals."""

    starts: float | None
    ends: float | None
    slack: int = 1


EXPECTED: Mapping[tuple[str, str], Expected] = {
    # The refuel resolves both; the forecaster takes a jump in level for a refuel once a
    # second reading confirms it (one reading could be a sensor glitch).
    ("burner", "fuel_low"): Expected(None, 120, slack=3),
    ("burner", "fuel_critical"): Expected(None, 120, slack=3),
    ("silent", "point_silent"): Expected(59 + 5, 100),  # last report + 5 min threshold
    ("power", "no_power"): Expected(90, 115),
    ("crowd", "over_capacity"): Expected(120, 160),
    # The report after the 14th arrival (42 people) to the report after the 19th departure
    # (33 people, under 90 %); two intervals of slack for a rule that reads occupancy as of a
    # report.
    ("hall", "over_capacity"): Expected(24, 69, slack=2),
    ("late", "activation_overdue"): Expected(30 + 120, 180),
    ("stood-down-late", "activation_overdue"): Expected(30 + 120, 180),  # the stand-down
    # Never reported: silent from its order's ts plus the standby threshold, overdue at the
    # deadline, both still firing when the scenario ends.
    ("no-reports", "point_silent"): Expected(30 + 15, None),
    ("no-reports", "activation_overdue"): Expected(30 + 120, None),
}
QUIET = ("steady", "on-time", "stood-down", "opens-and-closes")


def expectation_problems(events: History) -> list[str]:
    """What in a run's alert history (each event once) differs from what the scenario
    should raise; empty when it is all as it should be."""
    problems: list[str] = []
    found = episodes(events)
    for key in sorted(set(found) - set(EXPECTED)):
        problems.append(f"unexpected alert {key}: episodes {_minutes(found[key])}")
    for key, want in EXPECTED.items():
        got = found.get(key, [])
        if len(got) != 1:
            problems.append(f"{key}: {len(got)} episodes {_minutes(got)}, expected one "
                            f"{_expected(want)}")
            continue
        starts, ends = got[0]
        statuses = [e[2] for e in events if (e[0], e[1]) == key]
        if statuses.count("firing") != 1:
            problems.append(f"{key}: fired {statuses.count('firing')} times ({statuses})")
        if want.starts is not None and not _near(starts, want.starts, want.slack):
            problems.append(f"{key}: starts at {_minutes(got)}, expected {_expected(want)}")
        if want.ends is None:
            if "resolved" in statuses:
                problems.append(f"{key}: resolved {_minutes(got)}, expected still firing")
        elif ends is None or not _near(ends, want.ends, want.slack):
            problems.append(f"{key}: {_minutes(got)}, expected {_expected(want)}")
    quiet = [e for e in events if e[0] in QUIET]
    if quiet:
        problems.append(f"alerts for points that did their job: {quiet}")
    return problems


def _near(actual: float, minute: float, slack: int) -> bool:
    return abs(actual - minute * MINUTE) <= slack * MINUTE


def _minutes(found: Iterable[Episode]) -> str:
    def m(t: float | None) -> str:
        return "firing" if t is None else f"{t / MINUTE:g}"
    return ", ".join(f"{m(s)} -> {m(e)}" for s, e in found) or "none"


def _expected(want: Expected) -> str:
    starts = "?" if want.starts is None else f"{want.starts:g}"
    ends = "still firing" if want.ends is None else f"{want.ends:g}"
    return f"{starts} -> {ends} (minutes, ±{want.slack})"


def history_difference(name: str, actual: History, reference: History) -> list[str]:
    """The events one run has and the reference run has not, and the other way round."""
    missing = sorted(set(reference) - set(actual), key=_order)
    extra = sorted(set(actual) - set(reference), key=_order)
    if not missing and not extra:
        return []
    lines = [f"{name}: alert history differs from the reference "
             f"(event: point, alertname, status, ts, starts_at, ends_at in s from start)"]
    lines += [f"  only in the reference: {e}" for e in missing]
    lines += [f"  only in {name}: {e}" for e in extra]
    return lines


def occupancy_rows(admin_dsn: str, scenario: Scenario) -> set[Row]:
    """The scenario's rows of the ``occupancy`` table, times as offsets from its start."""
    rows = query(admin_dsn, "SELECT point_id, extract(epoch FROM ts)::float8, people_inside, "
                 "visits_15m, visits_1h, visits_24h, utilisation FROM occupancy "
                 "WHERE point_id LIKE %s", [scenario.prefix + "%"])
    return {(p.removeprefix(scenario.prefix), ts - scenario.t0, inside, v15, v1h, v24,
             None if util is None else round(util, 6))
            for p, ts, inside, v15, v1h, v24, util in rows}


def occupancy_difference(name: str, actual: set[Row], reference: set[Row]) -> list[str]:
    """How one run's occupancy rows differ from the reference run's: first rows at the same
    (point, ts) with different figures (the order the worker applied visits and headcounts
    in changed the answer), then rows only one run wrote (the rows depend on the batches)."""
    by_key = {(r[0], r[1]): r for r in reference}
    mine = {(r[0], r[1]): r for r in actual}
    lines: list[str] = []
    differ = [(by_key[k], mine[k]) for k in sorted(set(by_key) & set(mine))
              if by_key[k] != mine[k]]
    if differ:
        lines.append(f"{name}: {len(differ)} occupancy rows at the same (point, ts) differ "
                     "(reference, then this run; point, ts s, inside, 15m, 1h, 24h, util):")
        lines += [f"  {ref}\n  {got}" for ref, got in differ[:10]]
    only_ref = sorted(set(by_key) - set(mine))
    only_mine = sorted(set(mine) - set(by_key))
    if only_ref or only_mine:
        lines.append(
            f"{name}: occupancy rows at different times: {len(reference)} rows in the "
            f"reference, {len(actual)} here; {len(only_ref)} only in the reference "
            f"(first {only_ref[:5]}), {len(only_mine)} only here (first {only_mine[:5]})")
    return lines
