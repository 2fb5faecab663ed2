"""Listing reservations (``booking_core.bookings``): a restaurant's book or a
diner's bookings, by service date, start and id, a page at a time with the
total; each listed reservation is the one ``get_reservation`` reads (tables
held now, cancellation terms, fee); spans, states, limits and offsets are
checked; a page costs the same few queries however many it holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from booking_core.bookings import MAX_LIMIT, list_reservations
from booking_core.domain import ReservationState
from booking_core.errors import InvalidRequest
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    book,
    cancel,
    get_reservation,
    modify,
)
from booking_core.restaurants import add_restaurant
from booking_core.service_report import MAX_SPAN_DAYS
from tests.conftest import NOW, bistro_spec, insert_diner, local_time

DAY = date(2026, 3, 10)
FEE = 1500


@pytest.fixture
def fee_bistro(ledger: Ledger) -> int:
    """The bistro with a fee for a diner's cancellation inside 24 h."""
    return add_restaurant(
        ledger, bistro_spec(cancellation_fee_minor=FEE, cancellation_window_hours=24)
    )


def _book(
    ledger: Ledger,
    rid: int,
    hhmm: str,
    day: date = DAY,
    party: int = 2,
    diner_id: int | None = None,
    name: str = "Ada",
) -> Reservation:
    request = BookingRequest(
        rid, day, hhmm, party, diner_id=diner_id, guest_name=name, special_requests=f"{name}'s"
    )
    return book(ledger, request, now=NOW)


def _ids(found: list[Reservation]) -> list[int]:
    return [r.id for r in found]


def test_a_nights_book_in_order_each_as_get_reservation_reads_it(
    ledger: Ledger, fee_bistro: int
) -> None:
    rid = fee_bistro
    other = add_restaurant(ledger, bistro_spec(name="Elsewhere"))
    late = _book(ledger, rid, "20:00", name="Late")
    early = _book(ledger, rid, "17:30", name="Early")
    same_a = _book(ledger, rid, "19:00", name="Same A")
    same_b = _book(ledger, rid, "19:00", name="Same B")
    big = _book(ledger, rid, "18:00", party=6, name="Big")  # a deposit, two tables
    gone = _book(ledger, rid, "21:00", name="Gone")
    cancel(ledger, gone.id, now=local_time(DAY, "19:00"))  # late: the fee falls due
    _book(ledger, rid, "19:00", day=DAY + timedelta(days=1))  # the next night
    _book(ledger, rid, "19:00", day=DAY - timedelta(days=1))  # the night before
    _book(ledger, other, "19:00")  # another restaurant

    found, total = list_reservations(ledger, restaurant_id=rid, first=DAY, last=DAY)

    assert total == 6
    assert _ids(found) == [early.id, big.id, same_a.id, same_b.id, late.id, gone.id]
    # Built exactly as a single read builds it: tables, terms, fee, timestamps.
    assert found == [get_reservation(ledger, r.id) for r in found]
    listed = {r.id: r for r in found}
    assert len(listed[big.id].table_ids) == 2 and listed[big.id].deposit_required
    assert listed[gone.id].table_ids == ()  # released when cancelled
    fee = listed[gone.id].fee
    assert fee is not None and fee.amount_minor == FEE and fee.due
    assert listed[early.id].terms.fee_minor == FEE and listed[early.id].fee is None
    assert listed[early.id].special_requests == "Early's"


def test_order_is_service_date_then_start_then_id(ledger: Ledger, bistro: int) -> None:
    later_day = _book(ledger, bistro, "17:00", day=DAY + timedelta(days=1))
    evening = _book(ledger, bistro, "21:00")
    first_at_seven = _book(ledger, bistro, "19:00")
    second_at_seven = _book(ledger, bistro, "19:00")
    found, total = list_reservations(ledger, restaurant_id=bistro)
    assert _ids(found) == [first_at_seven.id, second_at_seven.id, evening.id, later_day.id]
    assert total == 4


def test_only_tables_held_now_are_listed(ledger: Ledger, bistro: int) -> None:
    moved = _book(ledger, bistro, "19:00", party=2)
    before = moved.table_ids
    grown = modify(ledger, moved.id, party_size=6, now=NOW + timedelta(hours=1))
    assert len(before) == 1 and len(grown.table_ids) == 2  # a table for two, then W1+W2
    assert not set(before) & set(grown.table_ids)
    (listed,), _ = list_reservations(ledger, restaurant_id=bistro, first=DAY, last=DAY)
    assert listed.table_ids == grown.table_ids == get_reservation(ledger, moved.id).table_ids
    assert listed.party_size == 6 and len(listed.table_ids) == 2  # the first table let go


def test_a_diners_bookings_across_restaurants_and_filters(ledger: Ledger, bistro: int) -> None:
    other = add_restaurant(ledger, bistro_spec(name="Elsewhere"))
    ana, ben = insert_diner(ledger, "Ana"), insert_diner(ledger, "Ben")
    a1 = _book(ledger, bistro, "19:00", diner_id=ana)
    a2 = _book(ledger, other, "19:00", day=DAY + timedelta(days=2), diner_id=ana)
    a3 = _book(ledger, bistro, "19:00", day=DAY + timedelta(days=5), diner_id=ana)
    b1 = _book(ledger, bistro, "19:30", diner_id=ben)
    _book(ledger, bistro, "20:00")  # no diner

    mine, total = list_reservations(ledger, diner_id=ana)
    assert (_ids(mine), total) == ([a1.id, a2.id, a3.id], 3)
    here, total = list_reservations(ledger, diner_id=ana, restaurant_id=bistro)
    assert (_ids(here), total) == ([a1.id, a3.id], 2)
    upcoming, _ = list_reservations(ledger, diner_id=ana, first=DAY + timedelta(days=1))
    assert _ids(upcoming) == [a2.id, a3.id]
    until, _ = list_reservations(ledger, diner_id=ana, last=DAY + timedelta(days=2))
    assert _ids(until) == [a1.id, a2.id]
    assert _ids(list_reservations(ledger, diner_id=ben)[0]) == [b1.id]
    assert list_reservations(ledger, diner_id=999_999) == ([], 0)


def test_states_filter_and_unknown_states_refused(ledger: Ledger, bistro: int) -> None:
    booked = _book(ledger, bistro, "19:00")
    confirmed = _book(ledger, bistro, "19:15")
    advance(ledger, confirmed.id, ReservationState.CONFIRMED, now=NOW)
    cancelled = _book(ledger, bistro, "19:30")
    cancel(ledger, cancelled.id, now=NOW)

    def states(*wanted: Any) -> list[int]:
        return _ids(list_reservations(ledger, restaurant_id=bistro, states=wanted)[0])

    assert states("booked") == [booked.id]
    assert states(ReservationState.CANCELLED) == [cancelled.id]
    assert states("booked", "confirmed") == [booked.id, confirmed.id]
    assert states("no_show") == []
    # One state as a plain string is that state, not its letters.
    single = list_reservations(ledger, restaurant_id=bistro, states="cancelled")
    assert single == ([get_reservation(ledger, cancelled.id)], 1)
    with pytest.raises(InvalidRequest, match=r"Unknown state 'gone'.*booked, confirmed"):
        list_reservations(ledger, restaurant_id=bistro, states=["booked", "gone"])
    with pytest.raises(InvalidRequest, match="at least one state"):
        list_reservations(ledger, restaurant_id=bistro, states=[])


def test_pages_add_up_to_the_whole_with_the_total_on_each(ledger: Ledger, bistro: int) -> None:
    made = [_book(ledger, bistro, t) for t in ("17:00", "17:15", "18:00", "19:00", "20:00")]
    whole, total = list_reservations(ledger, restaurant_id=bistro)
    assert _ids(whole) == _ids(made) and total == 5
    pages = [list_reservations(ledger, restaurant_id=bistro, limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(p) for p, _ in pages] == [2, 2, 1]
    assert {t for _, t in pages} == {5}
    assert [r.id for p, _ in pages for r in p] == _ids(made)
    assert list_reservations(ledger, restaurant_id=bistro, limit=2, offset=10) == ([], 5)
    only_booked, n = list_reservations(ledger, restaurant_id=bistro, limit=1, states=["booked"])
    assert (_ids(only_booked), n) == ([made[0].id], 5)


def test_spans_are_checked(ledger: Ledger, bistro: int) -> None:
    r = _book(ledger, bistro, "19:00")
    with pytest.raises(InvalidRequest, match="'to' is before 'from'"):
        list_reservations(ledger, restaurant_id=bistro, first=DAY, last=DAY - timedelta(days=1))
    longest = DAY + timedelta(days=MAX_SPAN_DAYS - 1)
    assert list_reservations(ledger, restaurant_id=bistro, first=DAY, last=longest)[1] == 1
    with pytest.raises(InvalidRequest, match=rf"at most {MAX_SPAN_DAYS} days.*is 93"):
        list_reservations(ledger, restaurant_id=bistro, first=DAY, last=longest + timedelta(days=1))
    # An open end is not limited: the page bounds the read.
    assert _ids(list_reservations(ledger, restaurant_id=bistro, first=date(2000, 1, 1))[0]) == [
        r.id
    ]
    assert list_reservations(ledger, restaurant_id=bistro, last=DAY - timedelta(days=1)) == (
        [],
        0,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "restaurant or of a diner"),
        ({"first": DAY, "last": DAY}, "restaurant or of a diner"),
        ({"restaurant_id": 1, "limit": 0}, f"1 to {MAX_LIMIT}"),
        ({"restaurant_id": 1, "limit": MAX_LIMIT + 1}, f"1 to {MAX_LIMIT}"),
        ({"diner_id": 1, "offset": -1}, "offset"),
    ],
)
def test_refusals(ledger: Ledger, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        list_reservations(ledger, **kwargs)


@contextmanager
def _statements(ledger: Ledger) -> Iterator[list[str]]:
    """The SQL statements run on ``ledger`` meanwhile."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(ledger.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(ledger.engine, "before_cursor_execute", count)


def test_a_page_costs_the_same_few_queries_however_long(ledger: Ledger, bistro: int) -> None:
    days = [DAY + timedelta(days=d) for d in range(4)]
    times = ("17:00", "17:15", "19:00", "19:15")
    made = [
        _book(ledger, bistro, t, day=d, party=2, name=f"{d:%a}-{t}-{i}")
        for d in days
        for t in times
        for i in range(3)
    ]
    assert len(made) == 48 and all(r.table_ids for r in made)

    list_reservations(ledger, restaurant_id=bistro, limit=1)  # the pool warm
    with _statements(ledger) as one:
        small, total = list_reservations(ledger, restaurant_id=bistro, limit=1)
    with _statements(ledger) as many:
        page, total_again = list_reservations(ledger, restaurant_id=bistro, limit=MAX_LIMIT)

    assert total == total_again == 48 and len(small) == 1 and len(page) == 48
    assert page == [get_reservation(ledger, r.id) for r in page]
    assert [r.start_at for r in page] == sorted(r.start_at for r in made)
    reads = [s for s in many if "reservation" in s]
    assert len(reads) == len([s for s in one if "reservation" in s]) <= 3, reads
    assert sum("reservation_tables" in s for s in reads) == 1


def test_get_reservation_still_reads_one(ledger: Ledger, bistro: int) -> None:
    """The refactored single read: tables held, the missing one refused."""
    r = _book(ledger, bistro, "19:00", party=6)
    again = get_reservation(ledger, r.id)
    assert again == r and len(again.table_ids) == 2
    assert again.start_at == local_time(DAY, "19:00")
    assert isinstance(again.booked_at, datetime)
