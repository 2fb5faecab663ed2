"""Turn-aways recorded on the live path: a booking, a batch item, a change
or a walk-in refused for lack of room, the kitchen's pacing or on price
leaves one ``turnaways`` row (committed although the booking rolled back),
a retry of it within 30 minutes none, bad input none; and the restaurant's
history reads them as demand."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking_core.availability import get_floor
from booking_core.daybook import load_day_book
from booking_core.errors import (
    BookingError,
    DinerAlreadyBooked,
    InvalidRequest,
    NoTableFree,
    OutsideServiceHours,
    PacingLimitReached,
    PartyTooLarge,
    TablesKeptForLaterParties,
    UnknownRestaurant,
)
from booking_core.guests import DinerSpec, create_diner
from booking_core.ledger import Ledger
from booking_core.past_demand import service_demand, service_history
from booking_core.privacy import erase_diner, export_diner
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    book,
    book_many,
    get_reservation,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import PeriodSpec, TableSpec, add_restaurant
from booking_core.schema import turnaways
from booking_core.turnaways import DEDUP_WINDOW, Refusal, record
from tests.booking_core.test_table_policy import (
    DAY,
    PAST_NIGHTS,
    book_past_nights,
    request_at,
    three_tables,
)
from tests.conftest import NOW, bistro_spec, local_time

pytestmark = pytest.mark.usefixtures("policies_plugged_in")


def one_table(ledger: Ledger) -> int:
    """One table for up to four; dinner 17:00-23:00, 90 minutes for two."""
    spec = bistro_spec(
        name="One Table",
        tables=(TableSpec("A", "Main", 1, 4),),
        combinations=(),
        periods=(PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {4: 90}),),
        deposit_min_party=None,
    )
    return add_restaurant(ledger, spec)


def rows(ledger: Ledger) -> list[sa.Row]:
    with ledger.read() as conn:
        return list(conn.execute(sa.select(turnaways).order_by(turnaways.c.id)))


def _at(day: date, hhmm: str) -> datetime:
    return local_time(day, hhmm)


def test_a_refusal_is_recorded_once_per_diner_and_retry_window(ledger: Ledger) -> None:
    rid = one_table(ledger)
    book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name="first"))
    ana = create_diner(ledger, DinerSpec("Ana"))
    asked = BookingRequest(rid, DAY, "19:00", 3, diner_id=ana, channel="web")
    with pytest.raises(NoTableFree):
        book(ledger, asked)
    [row] = rows(ledger)
    assert row.restaurant_id == rid and row.service_date == DAY
    assert row.requested_start_at == _at(DAY, "19:00") and row.requested_at == NOW
    assert (row.party_size, row.channel, row.reason, row.diner_id) == (3, "web", "no_table", ana)
    # The same diner trying again, at another time of the same service or
    # another size, within half an hour: the same demand, not recorded again.
    for retry, at in (
        ("19:15", NOW + timedelta(minutes=5)),
        ("18:30", NOW + timedelta(minutes=29)),
    ):
        with pytest.raises(NoTableFree):
            book(ledger, BookingRequest(rid, DAY, retry, 2, diner_id=ana), now=at)
    assert len(rows(ledger)) == 1
    # Half an hour after the one recorded, it counts again.
    with pytest.raises(NoTableFree):
        book(ledger, asked, now=NOW + DEDUP_WINDOW)
    assert [r.requested_at for r in rows(ledger)] == [NOW, NOW + DEDUP_WINDOW]
    # A guest without an account: the same channel, size and start is a
    # retry; another size or channel is another request.
    guest = BookingRequest(rid, DAY, "19:00", 4, guest_name="Bo", channel="phone")
    for request in (guest, guest, BookingRequest(rid, DAY, "19:00", 4, channel="widget")):
        with pytest.raises(NoTableFree):
            book(ledger, request)
    anonymous = [(r.channel, r.party_size) for r in rows(ledger) if r.diner_id is None]
    assert anonymous == [("phone", 4), ("widget", 4)]


def test_bad_input_and_refusals_that_are_not_for_room_record_nothing(ledger: Ledger) -> None:
    rid = one_table(ledger)
    ana = create_diner(ledger, DinerSpec("Ana"))
    book(ledger, BookingRequest(rid, DAY, "19:00", 2, diner_id=ana))
    refused: list[tuple[BookingRequest, type[BookingError]]] = [
        (BookingRequest(9999, DAY, "19:00", 2), UnknownRestaurant),
        (BookingRequest(rid, DAY, "19:00", 6), PartyTooLarge),
        (BookingRequest(rid, DAY, "12:00", 2), OutsideServiceHours),
        (BookingRequest(rid, NOW.date() - timedelta(days=1), "19:00", 2), InvalidRequest),
        (BookingRequest(rid, DAY, "19:00", 0), InvalidRequest),
        (BookingRequest(rid, DAY, "20:00", 2, diner_id=ana), DinerAlreadyBooked),
    ]
    for request, error in refused:
        with pytest.raises(error):
            book(ledger, request)
    results = book_many(ledger, [r for r, _ in refused])
    assert [type(r) for r in results] == [e for _, e in refused]
    with pytest.raises(PartyTooLarge):
        seat_walk_in(ledger, rid, 9, now=_at(DAY, "18:00"))
    assert rows(ledger) == []


def test_a_batch_records_only_its_refused_items_and_keeps_the_accepted(ledger: Ledger) -> None:
    rid = one_table(ledger)
    results = book_many(
        ledger,
        [
            BookingRequest(rid, DAY, "19:00", 2, guest_name="taken"),
            BookingRequest(rid, DAY, "19:00", 3, guest_name="no room", channel="widget"),
            BookingRequest(rid, DAY, "21:00", 2, guest_name="also taken"),
            BookingRequest(rid, DAY, "25:00", 2, guest_name="bad input"),
            BookingRequest(rid, DAY, "21:00", 4, guest_name="no room either"),
        ],
    )
    first, no_room, later, bad, no_room_either = results
    assert isinstance(first, Reservation) and isinstance(later, Reservation)
    assert isinstance(no_room, NoTableFree) and isinstance(no_room_either, NoTableFree)
    assert isinstance(bad, InvalidRequest)
    assert get_reservation(ledger, first.id).table_ids == first.table_ids
    assert get_reservation(ledger, later.id).state == "booked"
    assert [(r.requested_start_at, r.party_size, r.channel) for r in rows(ledger)] == [
        (_at(DAY, "19:00"), 3, "widget"),
        (_at(DAY, "21:00"), 4, "web"),
    ]


def test_a_refused_change_is_recorded_and_the_booking_stands(ledger: Ledger) -> None:
    rid = one_table(ledger)
    ana = create_diner(ledger, DinerSpec("Ana"))
    book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name="at seven"))
    mine = book(ledger, BookingRequest(rid, DAY, "17:00", 2, diner_id=ana, channel="phone"))
    with pytest.raises(NoTableFree):
        modify(ledger, mine.id, local_time="19:30", party_size=4)
    assert get_reservation(ledger, mine.id).start_at == _at(DAY, "17:00")
    [row] = rows(ledger)
    assert (row.requested_start_at, row.party_size, row.channel, row.diner_id) == (
        _at(DAY, "19:30"),
        4,
        "phone",
        ana,
    )
    with pytest.raises(InvalidRequest):  # bad input: nothing
        modify(ledger, mine.id, local_date=NOW.date() - timedelta(days=2))
    assert len(rows(ledger)) == 1


def test_pacing_and_price_refusals_have_their_own_reasons(ledger: Ledger, bistro: int) -> None:
    # The bistro's kitchen takes four parties a slot.
    for _ in range(4):
        book(ledger, BookingRequest(bistro, DAY, "19:00", 2))
    with pytest.raises(PacingLimitReached):
        book(ledger, BookingRequest(bistro, DAY, "19:00", 2))
    # Admission control keeps the four-top for the fours still expected.
    rid, _ = three_tables(ledger, "lock_at_booking", admission_control=True)
    book_past_nights(ledger, rid)
    for _ in range(2):
        book(ledger, request_at(rid, DAY, "19:00", 2))
    with pytest.raises(TablesKeptForLaterParties):
        book(ledger, request_at(rid, DAY, "19:00", 2))
    assert [(r.restaurant_id, r.reason) for r in rows(ledger)] == [
        (bistro, "pacing"),
        (rid, "price"),
    ]


def test_a_walk_in_with_no_table_is_recorded_apart_from_bookings(ledger: Ledger) -> None:
    rid = one_table(ledger)
    seat_walk_in(ledger, rid, 2, now=_at(DAY, "18:00"))
    for minutes in (5, 10):  # the host trying again for the same party
        with pytest.raises(NoTableFree, match="offer the waitlist"):
            seat_walk_in(ledger, rid, 3, now=_at(DAY, "18:00") + timedelta(minutes=minutes))
    [row] = rows(ledger)
    assert (row.channel, row.reason, row.party_size) == ("walk_in", "walk_in_no_table", 3)
    assert row.requested_start_at == _at(DAY, "18:00")  # its quarter-hour
    # A host naming a table held by another party is no turn-away.
    with ledger.read() as conn:
        [table] = get_floor(ledger, conn, rid).tables
    with pytest.raises(NoTableFree, match="held for another party"):
        seat_walk_in(ledger, rid, 2, table_ids=(table,), now=_at(DAY, "18:20"))
    assert len(rows(ledger)) == 1


def test_past_demand_reads_live_turn_aways_as_demand(ledger: Ledger) -> None:
    rid, _ = three_tables(ledger, "lock_at_booking")
    book_past_nights(ledger, rid)  # every table taken at 19:00 each night
    nights = PAST_NIGHTS[:5]
    for night in nights:
        seven = _at(night, "19:00")
        with pytest.raises(NoTableFree):
            book(ledger, request_at(rid, night, "19:00", 3), now=seven - timedelta(minutes=30))
        with pytest.raises(NoTableFree):  # walk-ins never asked ahead: not this demand
            seat_walk_in(ledger, rid, 2, now=seven + timedelta(minutes=10))
    # Tonight: the tables for two are taken at 19:00 and a third two asks.
    for _ in range(3):
        book(ledger, request_at(rid, DAY, "19:00", 2))
    with pytest.raises(NoTableFree):
        book(ledger, request_at(rid, DAY, "19:00", 3))
    assert len(rows(ledger)) == 11
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, rid)
        period = floor.periods_on(DAY)[0]
        history = service_history(ledger, conn, floor, period, DAY, NOW)
        tonight = service_demand(
            ledger, conn, floor, period, DAY, load_day_book(conn, floor, DAY), NOW
        )
    assert history is not None and tonight is not None
    assert sorted(history.sizes) == [2] * 40 + [3] * 5 + [4] * 20
    assert history.leads.count(30) == 5
    assert tonight.received == 3 + 1  # the bookings, and the request turned away


def test_erasing_a_diner_keeps_the_demand_but_not_who_asked(ledger: Ledger) -> None:
    rid = one_table(ledger)
    book(ledger, BookingRequest(rid, DAY, "19:00", 2))
    ana = create_diner(ledger, DinerSpec("Ana"))
    with pytest.raises(NoTableFree):
        book(ledger, BookingRequest(rid, DAY, "19:00", 2, diner_id=ana))
    assert [r["party_size"] for r in export_diner(ledger, ana)["turned_away"]] == [2]
    erase_diner(ledger, ana, requested_by="test")
    [row] = rows(ledger)
    assert row.diner_id is None and row.party_size == 2


_dates = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(gaps=st.lists(st.integers(min_value=0, max_value=45), min_size=1, max_size=8))
def test_retries_are_recorded_once_per_window_from_the_last_recorded(
    ledger: Ledger, gaps: list[int]
) -> None:
    """Whatever the spacing of retries, a request is recorded exactly when
    half an hour has passed since the last one recorded."""
    with ledger.read() as conn:
        known = conn.execute(sa.text("SELECT id FROM restaurants LIMIT 1")).scalar()
    rid = known or one_table(ledger)
    day = DAY + timedelta(days=next(_dates))
    start = _at(day, "19:00")
    refusal = Refusal(rid, day, start, 2, "web", "no_table", None, start, start)
    at, last, expected = NOW, None, 0
    for gap in gaps:
        at += timedelta(minutes=gap)
        if last is None or at - last >= DEDUP_WINDOW:
            last, expected = at, expected + 1
        record(ledger, refusal, at)
    with ledger.read() as conn:
        found = conn.execute(
            sa.select(sa.func.count()).where(turnaways.c.service_date == day)
        ).scalar_one()
    assert found == expected
