"""Single dates that differ from the week: a closure or the day's own hours.
Bookings already taken are honoured and those the day no longer serves are
listed; searches and bookings follow at once; past dates are refused; the
week's hours come back when the date is removed; the ledger stays clean."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from booking_core.audit import audit_ledger
from booking_core.availability import find_times
from booking_core.errors import (
    InvalidRequest,
    OutsideServiceHours,
    RestaurantClosed,
    UnknownRestaurant,
    UnknownSpecialDate,
)
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book, cancel, get_reservation
from booking_core.restaurants import (
    PeriodSpec,
    remove_special_date,
    set_special_date,
    special_dates_between,
)
from booking_core.schema import outbox
from tests.conftest import NOW, add_three_tables

XMAS = date(2026, 3, 25)  # a Wednesday after the tests' NOW (1 March)
MONDAY = date(2026, 3, 23)


def _times(ledger: Ledger, rid: int, day: date, size: int = 2) -> list[str]:
    return [t.local_time for t in find_times(ledger, rid, day, size, now=NOW)]


def _events(ledger: Ledger, rid: int) -> list[tuple[str, dict[str, object]]]:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.payload)
            .where(outbox.c.restaurant_id == rid, outbox.c.event_type.like("%special%"))
            .order_by(outbox.c.event_offset)
        )
        return [(t, dict(p)) for t, p in rows]


def test_closing_a_date_keeps_its_bookings_and_lists_them(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Closes For A Party")
    early = book(ledger, BookingRequest(rid, XMAS, "18:00", 2))
    late = book(ledger, BookingRequest(rid, XMAS, "21:00", 4))
    gone = book(ledger, BookingRequest(rid, XMAS, "19:00", 2))
    cancel(ledger, gone.id, now=NOW)
    other_day = book(ledger, BookingRequest(rid, XMAS + timedelta(1), "19:00", 2))

    outside = set_special_date(ledger, rid, XMAS, note="Private party")

    assert [o.reservation_id for o in outside] == [early.id, late.id]
    assert get_reservation(ledger, early.id).state == "booked"  # honoured, not cancelled
    assert _times(ledger, rid, XMAS) == []
    assert _times(ledger, rid, XMAS + timedelta(1))  # the next day is untouched
    with pytest.raises(RestaurantClosed, match="Private party"):
        book(ledger, BookingRequest(rid, XMAS, "19:00", 2))
    assert other_day.id not in {o.reservation_id for o in outside}
    assert [d.local_date for d in special_dates_between(ledger, rid, XMAS, XMAS)] == [XMAS]
    with ledger.read() as conn:
        assert audit_ledger(conn).violations == []

    # Reopened: the week's hours again, and an event for each change.
    remove_special_date(ledger, rid, XMAS)
    assert "19:00" in _times(ledger, rid, XMAS)
    assert special_dates_between(ledger, rid, XMAS, XMAS) == []
    events = _events(ledger, rid)
    assert [t for t, _ in events] == [
        "restaurant.special_date_set",
        "restaurant.special_date_removed",
    ]
    assert events[0][1]["closed"] is True and events[0][1]["note"] == "Private party"


def test_special_hours_replace_the_day_and_can_open_a_closed_weekday(ledger: Ledger) -> None:
    dinner = PeriodSpec("dinner", (1, 2, 3, 4, 5), "17:00", "23:00", "21:30", {2: 90, 4: 120})
    lunch = PeriodSpec("lunch", (1, 2, 3, 4, 5), "12:00", "15:00", "14:00", {2: 60, 4: 75})
    rid, _ = add_three_tables(ledger, name="New Year", periods=(lunch, dinner))
    lunch_booking = book(ledger, BookingRequest(rid, XMAS, "12:30", 2))
    dinner_booking = book(ledger, BookingRequest(rid, XMAS, "20:00", 2))

    # One sitting from 19:00 to 01:00 (last seating 22:30): lunch is gone.
    outside = set_special_date(
        ledger, rid, XMAS, closed=False, note="Gala", opens="19:00", closes="01:00",
        last_seating="22:30",
    )  # fmt: skip
    assert [o.reservation_id for o in outside] == [lunch_booking.id]
    times = _times(ledger, rid, XMAS)
    assert times[0] == "19:00" and times[-1] == "22:30"
    with pytest.raises(OutsideServiceHours):
        book(ledger, BookingRequest(rid, XMAS, "12:30", 2))
    assert dinner_booking.id not in {o.reservation_id for o in outside}

    # Mondays are closed in the week; a special Monday opens with the
    # nearest period's turn times (dinner's 120 minutes for four).
    assert _times(ledger, rid, MONDAY) == []
    set_special_date(
        ledger, rid, MONDAY, closed=False, opens="18:00", closes="23:00", last_seating="21:00"
    )
    assert _times(ledger, rid, MONDAY)[0] == "18:00"
    four = book(ledger, BookingRequest(rid, MONDAY, "18:00", 4))
    assert (four.end_at - four.start_at) == timedelta(minutes=120)

    # Setting the date again replaces it: now it closes.
    outside = set_special_date(ledger, rid, MONDAY, note="Staff party")
    assert [o.reservation_id for o in outside] == [four.id]
    assert [(d.local_date, d.closed) for d in special_dates_between(
        ledger, rid, MONDAY, XMAS
    )] == [(MONDAY, True), (XMAS, False)]  # fmt: skip
    with ledger.read() as conn:
        assert audit_ledger(conn).violations == []


def test_bad_special_dates_are_refused_and_change_nothing(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Careful Dates")
    yesterday = NOW.date() - timedelta(days=1)
    cases = [
        (dict(local_date=yesterday), InvalidRequest, "past nights keep"),
        (dict(local_date=XMAS, closed=False, opens="19:00"), InvalidRequest, "need opening"),
        (
            dict(
                local_date=XMAS, closed=False, opens="19:00", closes="22:00", last_seating="23:00"
            ),
            InvalidRequest,
            "must fall between",
        ),
        (
            dict(local_date=XMAS, closed=False, opens="7pm", closes="22:00", last_seating="21:00"),
            InvalidRequest,
            "opening time",
        ),
        (dict(local_date=XMAS, note="x" * 201), InvalidRequest, "200 characters"),
    ]
    for kwargs, error, message in cases:
        day = kwargs.pop("local_date")
        assert isinstance(day, date)
        with pytest.raises(error, match=message):
            set_special_date(ledger, rid, day, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UnknownRestaurant):
        set_special_date(ledger, 999_999, XMAS)
    with pytest.raises(UnknownSpecialDate, match="nothing set"):
        remove_special_date(ledger, rid, XMAS)
    with pytest.raises(InvalidRequest, match="past nights keep"):
        remove_special_date(ledger, rid, yesterday)
    assert special_dates_between(ledger, rid, yesterday, XMAS) == []
    assert _events(ledger, rid) == []


def test_special_hours_need_weekly_hours_to_borrow_from(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="No Hours Yet", periods=())
    with pytest.raises(InvalidRequest, match="no weekly hours"):
        set_special_date(
            ledger, rid, XMAS, closed=False, opens="18:00", closes="22:00", last_seating="21:00"
        )
    set_special_date(ledger, rid, XMAS)  # closing needs no hours
