"""The outbox feed: ordered, complete, and never skipping a late commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from booking_core import outbox
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book, modify

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_every_change_appends_one_event_in_order(ledger: Ledger, bistro: int) -> None:
    r = book(ledger, BookingRequest(bistro, "2026-03-10", "19:00", 2), now=AT)
    modify(ledger, r.id, local_time="20:00", now=AT + timedelta(hours=1))
    advance(ledger, r.id, "confirmed", now=AT + timedelta(days=7))
    advance(ledger, r.id, "cancelled", cancelled_by="restaurant", now=AT + timedelta(days=8))
    with ledger.read() as conn:
        events = outbox.read_events(conn, entity="reservation")
        last = outbox.last_offset(conn)
    assert [e.event_type for e in events] == [
        "reservation.booked",
        "reservation.modified",
        "reservation.confirmed",
        "reservation.cancelled",
    ]
    assert [e.entity_id for e in events] == [r.id] * 4
    offsets = [e.offset for e in events]
    assert offsets == sorted(offsets) and len(set(offsets)) == 4 and last >= offsets[-1]
    assert events[3].payload == {
        "from": "confirmed",
        "to": "cancelled",
        "cancelled_by": "restaurant",
    }
    with ledger.read() as conn:
        after = outbox.read_events(conn, after=offsets[1], entity="reservation")
    assert [e.offset for e in after] == offsets[2:]


def test_offsets_become_visible_in_order(ledger: Ledger) -> None:
    """A writer that took offset N holds the feed until it commits, so a later
    writer's N+1 can never be seen (and acknowledged) before N."""
    if not ledger.is_postgres:
        pytest.skip("SQLite has one writer at a time: offsets commit in order")
    slow = ledger.engine.connect()
    slow_tx = slow.begin()
    outbox.append(slow, "test.slow", "test", 1, None, {}, AT)  # takes the lower offset
    fast_done = threading.Event()

    def fast_writer() -> None:
        with ledger.engine.begin() as fast:
            outbox.append(fast, "test.fast", "test", 2, None, {}, AT)
        fast_done.set()

    thread = threading.Thread(target=fast_writer)
    thread.start()
    fast_done.wait(timeout=1.0)
    with ledger.read() as conn:
        seen_early = [e.event_type for e in outbox.read_events(conn, entity="test")]
    assert not fast_done.is_set()  # the second writer waits for the first
    slow_tx.commit()
    slow.close()
    thread.join(timeout=10)
    with ledger.read() as conn:
        seen_late = outbox.read_events(conn, entity="test")
    assert seen_early == []
    assert [e.event_type for e in seen_late] == ["test.slow", "test.fast"]
    assert seen_late[0].offset < seen_late[1].offset
