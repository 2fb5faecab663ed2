"""Waitlist, walk-ins, POS check linking, guest tags and reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from booking_core import guests, pos, reviews, waitlist
from booking_core.domain import TagSource
from booking_core.errors import (
    IllegalTransition,
    InvalidRequest,
    NoTableFree,
    OutsideServiceHours,
    UnknownDiner,
)
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book, get_reservation, seat_walk_in
from booking_core.schema import outbox, reservations

# 2026-03-10 is a Tuesday; London is on GMT, so local time equals UTC.
SERVICE = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)


def test_walk_in_takes_best_free_table_and_is_seated(ledger: Ledger, bistro: int) -> None:
    r = seat_walk_in(ledger, bistro, 2, now=SERVICE)
    assert r.state == "seated" and r.channel == "walk_in"
    assert r.timestamps["seated_at"] == SERVICE
    floor_tables = {t.id: t for t in _floor(ledger, bistro).tables.values()}
    assert floor_tables[r.table_ids[0]].max_covers == 2  # best fit: a two-top


def test_walk_in_outside_service_is_refused(ledger: Ledger, bistro: int) -> None:
    with pytest.raises(OutsideServiceHours):
        seat_walk_in(ledger, bistro, 2, now=SERVICE.replace(hour=10))


def test_walk_in_on_a_held_table_is_refused(ledger: Ledger, bistro: int) -> None:
    r = book(
        ledger, BookingRequest(bistro, "2026-03-10", "19:30", 2), now=SERVICE - timedelta(days=1)
    )
    with pytest.raises(NoTableFree):
        seat_walk_in(ledger, bistro, 2, table_ids=r.table_ids, now=SERVICE)


def test_waitlist_quotes_the_next_free_table_and_seats(ledger: Ledger, bistro: int) -> None:
    # Fill every table that fits a four until 21:00.
    held = [seat_walk_in(ledger, bistro, 4, now=SERVICE) for _ in range(4)]
    assert len({r.table_ids for r in held}) == 4
    entry = waitlist.join(ledger, bistro, 4, guest_name="Ng", now=SERVICE + timedelta(minutes=5))
    assert entry.state == "waiting"
    assert entry.quoted_wait_min is not None and entry.quoted_wait_min > 60
    # A party leaves early: its check closes and frees the table.
    first = held[0]
    pos.open_check(
        ledger,
        bistro,
        "chk-1",
        table_id=first.table_ids[0],
        covers=4,
        opened_at=SERVICE + timedelta(minutes=3),
    )
    pos.close_check(
        ledger, bistro, "chk-1", subtotal_minor=12000, closed_at=SERVICE + timedelta(minutes=40)
    )
    assert get_reservation(ledger, first.id).state == "completed"
    quote = waitlist.quote(ledger, bistro, 4, now=SERVICE + timedelta(minutes=41))
    assert quote is not None and quote < 15
    notified = waitlist.notify(ledger, entry.id, now=SERVICE + timedelta(minutes=42))
    assert notified.state == "notified"
    seated, walk_in = waitlist.seat(ledger, entry.id, now=SERVICE + timedelta(minutes=45))
    assert seated.state == "seated" and seated.reservation_id == walk_in.id
    assert walk_in.table_ids == first.table_ids
    with pytest.raises(IllegalTransition):
        waitlist.leave(ledger, entry.id)
    with ledger.read() as conn:
        kinds = conn.execute(
            sa.select(outbox.c.event_type)
            .where(outbox.c.entity == "waitlist")
            .order_by(outbox.c.event_offset)
        ).scalars()
        assert list(kinds) == ["waitlist.joined", "waitlist.notified", "waitlist.seated"]


def test_pos_check_links_to_the_seated_party_and_completes_it(ledger: Ledger, bistro: int) -> None:
    r = book(
        ledger, BookingRequest(bistro, "2026-03-10", "19:00", 3), now=SERVICE - timedelta(days=2)
    )
    advance(ledger, r.id, "seated", now=SERVICE + timedelta(minutes=4))
    check = pos.open_check(
        ledger,
        bistro,
        "pos-77",
        table_id=r.table_ids[0],
        covers=3,
        opened_at=SERVICE + timedelta(minutes=9),
    )
    assert check.reservation_id == r.id
    again = pos.open_check(ledger, bistro, "pos-77", table_id=r.table_ids[0], covers=3)
    assert again.id == check.id  # a retried webhook changes nothing
    closed = pos.close_check(
        ledger, bistro, "pos-77", subtotal_minor=9150, closed_at=SERVICE + timedelta(minutes=95)
    )
    assert closed.subtotal_minor == 9150 and closed.currency == "GBP"
    done = get_reservation(ledger, r.id)
    assert done.state == "completed" and done.table_ids == ()
    with pytest.raises(IllegalTransition):
        pos.close_check(ledger, bistro, "pos-77", subtotal_minor=1)


def test_pos_check_outside_the_window_is_not_linked(ledger: Ledger, bistro: int) -> None:
    r = book(
        ledger, BookingRequest(bistro, "2026-03-10", "19:00", 2), now=SERVICE - timedelta(days=2)
    )
    advance(ledger, r.id, "seated", now=SERVICE)
    late = pos.open_check(
        ledger,
        bistro,
        "pos-late",
        table_id=r.table_ids[0],
        covers=2,
        opened_at=SERVICE + timedelta(hours=3),
    )
    assert late.reservation_id is None
    with pytest.raises(InvalidRequest):
        pos.open_check(ledger, bistro, "pos-bad", table_id=r.table_ids[0], covers=0)


def test_machine_tags_never_override_a_host(ledger: Ledger) -> None:
    diner = guests.create_diner(ledger, guests.DinerSpec("Ada Lovelace", email="ada@example.com"))
    assert guests.set_tag(
        ledger, diner, "Anniversary", source=TagSource.MACHINE, set_by="profiler", confidence=0.8
    )
    guests.remove_tag(ledger, diner, "anniversary", removed_by="host:sam")
    assert not guests.set_tag(ledger, diner, "anniversary", source="machine", set_by="profiler")
    assert guests.set_tag(ledger, diner, "vip", source="host", set_by="host:sam")
    assert not guests.set_tag(
        ledger, diner, "vip", source="machine", set_by="profiler", confidence=0.2
    )
    profile = guests.get_profile(ledger, diner)
    tags = {t.tag: t for t in profile.tags}
    assert tags["anniversary"].removed_at is not None and tags["anniversary"].source == "host"
    assert tags["vip"].source == "host" and tags["vip"].confidence == 1.0
    with pytest.raises(InvalidRequest):
        guests.create_diner(ledger, guests.DinerSpec("Ada Again", email="ada@example.com"))
    with pytest.raises(UnknownDiner):
        guests.set_tag(ledger, 999, "vip", source="host", set_by="x")


def test_reviews_need_a_completed_visit_and_valid_stars(ledger: Ledger, bistro: int) -> None:
    r = book(
        ledger, BookingRequest(bistro, "2026-03-10", "19:00", 2), now=SERVICE - timedelta(days=2)
    )
    with pytest.raises(IllegalTransition):
        reviews.submit_review(ledger, bistro, 5, "Lovely", reservation_id=r.id)
    advance(ledger, r.id, "seated", now=SERVICE)
    advance(ledger, r.id, "completed", now=SERVICE + timedelta(minutes=80))
    review_id = reviews.submit_review(ledger, bistro, 5, "Lovely", reservation_id=r.id)
    reviews.moderate(ledger, review_id, "approved")
    for stars in (0, 6):
        with pytest.raises(InvalidRequest):
            reviews.submit_review(ledger, bistro, stars, "x")
    with pytest.raises(InvalidRequest):
        reviews.submit_review(ledger, bistro, 4, "again", reservation_id=r.id)


def test_terminal_states_free_the_table(ledger: Ledger, bistro: int) -> None:
    r = book(
        ledger, BookingRequest(bistro, "2026-03-10", "19:00", 2), now=SERVICE - timedelta(days=2)
    )
    advance(ledger, r.id, "no_show", now=SERVICE + timedelta(minutes=20))
    with ledger.read() as conn:
        state = conn.execute(
            sa.select(reservations.c.state).where(reservations.c.id == r.id)
        ).scalar()
    assert state == "no_show"
    walk_in = seat_walk_in(
        ledger, bistro, 2, table_ids=r.table_ids, now=SERVICE + timedelta(minutes=25)
    )
    assert walk_in.table_ids == r.table_ids


def _floor(ledger: Ledger, restaurant_id: int):  # type: ignore[no-untyped-def]
    from booking_core.availability import get_floor

    with ledger.read() as conn:
        return get_floor(ledger, conn, restaurant_id)
