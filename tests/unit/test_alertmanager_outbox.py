"""Delivery scheduling for one Alertmanager: re-sends, resolutions, backoff, ordering."""

from __future__ import annotations

import itertools

import pytest

from streams.alerting.alertmanager import AlertmanagerNotifier
from streams.alerting.outbox import Batch, DeliveryPolicy, Outbox, to_alertmanager
from streams.domain.alert_model import AlertEvent, EventStatus
from streams.domain.timestamps import iso

T0 = 1_767_225_600.0
POLICY = DeliveryPolicy(
    resend_seconds=60, resolved_resend_seconds=300, backoff_initial_seconds=1,
    backoff_max_seconds=30, batch_size=3,
)  # fmt: skip


def event(
    fp: str = "f1", status: EventStatus = "firing", ts: float = T0, **extra: str
) -> AlertEvent:
    """An event of alert ``fp``."""
    summary = f"{fp} {status} at {ts}"
    return AlertEvent(
        fingerprint=fp,
        alertname="fuel_low",
        status=status,
        severity="warning",
        point_id=fp,
        oblast="Київська",
        point_kind="school",
        ts=ts,
        starts_at=T0 - 600,
        ends_at=ts if status == "resolved" else None,
        summary=summary,
        labels={"alertname": "fuel_low", "point_id": fp},
        annotations={"summary": summary, **extra},
    )


def fingerprints(batch: Batch | None) -> list[str]:
    return [] if batch is None else [fp for fp, _ in batch.versions]


def test_a_new_alert_is_due_at_once_then_every_resend_period() -> None:
    outbox = Outbox(POLICY)
    assert outbox.offer(event(), T0)
    batch = outbox.due(T0)
    assert batch is not None and batch.alerts == [to_alertmanager(event())]
    outbox.delivered(batch, T0)
    assert outbox.due(T0 + 59) is None
    assert fingerprints(outbox.due(T0 + 60)) == ["f1"]


def test_firing_alerts_carry_no_ends_at_and_resolutions_do() -> None:
    firing = to_alertmanager(event())
    assert firing == {
        "labels": {"alertname": "fuel_low", "point_id": "f1"},
        "annotations": {"summary": f"f1 firing at {T0}"},
        "startsAt": iso(T0 - 600),
    }
    resolved = to_alertmanager(event(status="resolved", ts=T0 + 5))
    assert resolved["endsAt"] == iso(T0 + 5)


def test_a_resolution_is_repeated_for_a_while_after_its_first_delivery() -> None:
    outbox = Outbox(POLICY)
    outbox.offer(event(), T0)
    outbox.delivered(outbox.due(T0) or pytest.fail("due"), T0)
    outbox.offer(event(status="resolved", ts=T0 + 10), T0 + 10)
    sends = []
    now = T0 + 10
    while now < T0 + 1000:
        batch = outbox.due(now)
        if batch is not None:
            assert batch.alerts[0]["endsAt"] == iso(T0 + 10)
            sends.append(now)
            outbox.delivered(batch, now)
        now += 1
    assert sends == [T0 + 10 + 60 * i for i in range(5)]
    assert len(outbox) == 0


def test_nothing_is_lost_while_alertmanager_is_down() -> None:
    outbox = Outbox(POLICY)
    outbox.offer(event("a"), T0)
    outbox.offer(event("b"), T0)
    attempts = []
    now = T0
    while now < T0 + 600:  # down for ten minutes; meanwhile b resolves
        if now == T0 + 100:
            outbox.offer(event("b", "resolved", ts=now), now)
        if outbox.due(now) is not None:
            attempts.append(now - T0)
            outbox.failed(now)
        now += 1
    # exponential backoff, capped at 30 s
    assert attempts[:7] == [0, 1, 3, 7, 15, 31, 61]
    assert all(b - a == 30 for a, b in itertools.pairwise(attempts[6:]))
    batch = outbox.due(T0 + 700)
    assert batch is not None
    assert {a["labels"]["point_id"]: "endsAt" in a for a in batch.alerts} == {"a": False, "b": True}
    outbox.delivered(batch, T0 + 700)
    assert outbox.failures == 0 and outbox.retry_at == 0
    assert len(outbox) == 2  # the resolution is repeated for another five minutes


def test_older_or_repeated_messages_change_nothing() -> None:
    outbox = Outbox(POLICY)
    assert outbox.offer(event(ts=T0 + 10), T0)
    outbox.delivered(outbox.due(T0) or pytest.fail("due"), T0)
    assert not outbox.offer(event(ts=T0 + 10), T0 + 1)  # a redelivery
    assert not outbox.offer(event(ts=T0 + 5), T0 + 1)  # an older event
    assert outbox.due(T0 + 1) is None
    assert outbox.offer(event(status="resolved", ts=T0 + 20), T0 + 2)
    # a re-offered firing snapshot older than the resolution must not revive the alert
    assert not outbox.offer(event(ts=T0 + 20), T0 + 3)
    assert not outbox.offer(event(ts=T0 + 15), T0 + 3)
    batch = outbox.due(T0 + 3)
    assert batch is not None and "endsAt" in batch.alerts[0]
    # the same alert firing again later is news
    assert outbox.offer(event(ts=T0 + 30), T0 + 4)


def test_a_version_replaced_in_flight_is_sent_again() -> None:
    outbox = Outbox(POLICY)
    outbox.offer(event(), T0)
    in_flight = outbox.due(T0)
    assert in_flight is not None
    outbox.offer(event(status="resolved", ts=T0 + 1), T0 + 0.5)
    outbox.delivered(in_flight, T0 + 1)
    batch = outbox.due(T0 + 1)
    assert batch is not None and "endsAt" in batch.alerts[0]


def test_batches_are_bounded_and_oldest_first() -> None:
    outbox = Outbox(POLICY)
    for i in range(7):
        outbox.offer(event(f"f{i}"), T0 + i)
    sent = []
    while (batch := outbox.due(T0 + 10)) is not None:
        assert len(batch.alerts) <= 3
        sent.extend(fingerprints(batch))
        outbox.delivered(batch, T0 + 10)
    assert sent == [f"f{i}" for i in range(7)]


def test_policy_is_checked() -> None:
    with pytest.raises(ValueError):
        DeliveryPolicy(resend_seconds=0)
    with pytest.raises(ValueError):
        DeliveryPolicy(backoff_initial_seconds=10, backoff_max_seconds=1)


def test_only_the_firing_alerts_taken_over_are_sent_again_and_resolutions_stay() -> None:
    outbox = Outbox(POLICY)
    outbox.offer(event("kept"), T0)
    outbox.offer(event("moved"), T0)  # its point went to another worker in a rebalance
    outbox.offer(event("ended", "resolved", ts=T0 + 1), T0 + 1)
    assert outbox.keep_firing_only({"kept"}) == 1
    assert sorted(fingerprints(outbox.due(T0 + 2))) == ["ended", "kept"]


def test_a_worker_takes_over_the_firing_alerts_of_the_points_it_owns_now() -> None:
    notifier = AlertmanagerNotifier(["http://am-1", "http://am-2"], POLICY)
    notifier.offer(event("stays"), T0)
    notifier.offer(event("moved"), T0)
    # After a rebalance: "stays" and "gained" fire on points this worker owns now.
    notifier.take_over([event("stays"), event("gained")], T0 + 1)
    for outbox in notifier.outboxes.values():
        assert sorted(fingerprints(outbox.due(T0 + 1))) == ["gained", "stays"]
