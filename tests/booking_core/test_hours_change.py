"""A restaurant changes its weekly hours from a date: searches and bookings
on and after that date follow the new hours, earlier dates keep the old
ones, bookings already taken are honoured and those the new hours no longer
serve are listed; bad timetables and past dates are refused; the ledger
stays clean and the change is an event."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from booking_core.audit import audit_ledger
from booking_core.availability import find_times
from booking_core.errors import InvalidRequest, OutsideServiceHours, UnknownRestaurant
from booking_core.floor import load_floor
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book, cancel
from booking_core.restaurants import (
    PeriodSpec,
    add_restaurant,
    period_from_data,
    set_hours,
    set_special_date,
)
from booking_core.schema import outbox
from tests.conftest import NOW, add_three_tables, three_tables_spec

# A Friday service until 02:00 and a Saturday one from 01:00 share an hour.
LATE_FRIDAY = PeriodSpec("late", (4,), "20:00", "02:00", "00:30", {4: 90})
EARLY_SATURDAY = PeriodSpec("brunch", (5,), "01:00", "04:00", "03:00", {4: 60})
THU = date(2026, 3, 12)  # a Thursday, after the tests' NOW (1 March)
CHANGE = date(2026, 3, 16)  # the Monday after
EARLY = PeriodSpec("dinner", (1, 2, 3, 4, 5), "17:00", "22:00", "20:00", {3: 90, 4: 120})


def _times(ledger: Ledger, rid: int, day: date) -> list[str]:
    return [t.local_time for t in find_times(ledger, rid, day, 2, now=NOW)]


def test_new_hours_apply_from_their_date_and_earlier_dates_keep_the_old(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Winter Hours")
    late_before = book(ledger, BookingRequest(rid, THU, "21:00", 2, guest_name="Before"))
    late_after = book(ledger, BookingRequest(rid, CHANGE + timedelta(1), "21:00", 2))
    early_after = book(ledger, BookingRequest(rid, CHANGE + timedelta(1), "19:00", 2))
    monday = book(ledger, BookingRequest(rid, CHANGE, "19:00", 2, guest_name="Monday"))
    gone = book(ledger, BookingRequest(rid, CHANGE + timedelta(2), "21:30", 2))
    cancel(ledger, gone.id, now=NOW)

    # Closed on Mondays from the 16th; last seating 20:00 Tuesday to Saturday;
    # Sundays closed too.
    outside = set_hours(ledger, rid, [EARLY], CHANGE)

    # Bookings are honoured, not cancelled; the ones now outside the hours
    # (Monday's, Tuesday's 21:00) are listed soonest first, the cancelled one not.
    assert [(o.reservation_id, o.service_date) for o in outside] == [
        (monday.id, CHANGE),
        (late_after.id, CHANGE + timedelta(1)),
    ]
    assert early_after.id not in {o.reservation_id for o in outside}
    before = _times(ledger, rid, THU)
    assert "21:00" in before and "21:30" in before  # the old hours still run there
    after = _times(ledger, rid, CHANGE + timedelta(1))
    assert after and max(after) == "20:00" and min(after) == "17:00"
    assert _times(ledger, rid, CHANGE) == []  # Monday: closed now
    assert _times(ledger, rid, CHANGE + timedelta(6)) == []  # Sunday too
    with pytest.raises(OutsideServiceHours, match="17:00-20:00"):
        book(ledger, BookingRequest(rid, CHANGE + timedelta(3), "21:00", 2))
    assert late_before.id  # taken under the old hours, untouched
    with ledger.read() as conn:
        assert audit_ledger(conn).violations == []
        floor = load_floor(conn, rid)
        event = conn.execute(
            sa.select(outbox.c.payload).where(
                outbox.c.restaurant_id == rid, outbox.c.event_type == "restaurant.hours_set"
            )
        ).scalar_one()
    assert [p.effective_from for p in floor.timetable_on(THU)] == [None] * 7
    assert {p.weekday for p in floor.timetable_on(CHANGE)} == {1, 2, 3, 4, 5}
    assert event["effective_from"] == CHANGE.isoformat()
    assert [p["weekday"] for p in event["periods"]] == [1, 2, 3, 4, 5]


def test_a_later_change_replaces_one_scheduled_after_it(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Changes Its Mind")
    set_hours(ledger, rid, [EARLY], CHANGE + timedelta(7))
    lunch = PeriodSpec("lunch", tuple(range(7)), "12:00", "15:00", "14:00", {3: 60, 4: 75})
    set_hours(ledger, rid, [lunch], CHANGE)
    with ledger.read() as conn:
        floor = load_floor(conn, rid)
    # The change on the 23rd is gone: from the 16th on, lunch only, every day.
    for day in (CHANGE, CHANGE + timedelta(8), CHANGE + timedelta(30)):
        assert {(p.name, p.effective_from) for p in floor.timetable_on(day)} == {("lunch", CHANGE)}
    assert _times(ledger, rid, CHANGE + timedelta(8))[-1] == "14:00"
    # A special date still overrides the week.
    set_special_date(
        ledger,
        rid,
        CHANGE + timedelta(2),
        closed=False,
        opens="18:00",
        closes="23:00",
        last_seating="21:00",
    )
    assert _times(ledger, rid, CHANGE + timedelta(2))[0] == "18:00"


def test_bad_hours_are_refused_and_change_nothing(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Careful")
    with ledger.read() as conn:
        version = load_floor(conn, rid).floor_version
    overlapping = PeriodSpec("late", (2,), "19:00", "23:30", "22:00", {4: 90})
    cases = [
        ([EARLY], NOW.date() - timedelta(days=1), "past nights keep"),
        ([], CHANGE, "at least one service period"),
        ([EARLY, overlapping], CHANGE, "overlap on weekday 2"),
        ([PeriodSpec("x", (1,), "18:00", "22:00", "23:00", {2: 90})], CHANGE, "last seating"),
        ([PeriodSpec("x", (9,), "18:00", "22:00", "21:00", {2: 90})], CHANGE, "weekdays"),
        ([LATE_FRIDAY, EARLY_SATURDAY], CHANGE, "runs past midnight into brunch of weekday 5"),
    ]
    for periods, start, message in cases:
        with pytest.raises(InvalidRequest, match=message):
            set_hours(ledger, rid, periods, start)
    with pytest.raises(UnknownRestaurant):
        set_hours(ledger, 999_999, [EARLY], CHANGE)
    with ledger.read() as conn:
        floor = load_floor(conn, rid)
    assert floor.floor_version == version
    assert {p.effective_from for p in floor.periods} == {None}


def test_a_new_restaurant_with_overlapping_hours_is_refused_and_not_created(
    ledger: Ledger,
) -> None:
    lunch = PeriodSpec("lunch", tuple(range(7)), "12:00", "17:30", "16:00", {4: 60})
    with ledger.read() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM restaurants")).scalar_one()
    for periods, message in [
        ((three_tables_spec().periods[0], lunch), "overlap on weekday 0"),
        ((LATE_FRIDAY, EARLY_SATURDAY), "runs past midnight"),
    ]:
        with pytest.raises(InvalidRequest, match=message):
            add_restaurant(ledger, three_tables_spec(name="Overlaps", periods=periods))
    with ledger.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM restaurants")).scalar_one() == before
    # Back to back is fine, and so is a late service that ends before the next opens.
    brunch = PeriodSpec("brunch", (5,), "02:00", "04:00", "03:00", {4: 60})
    lunch = PeriodSpec("lunch", tuple(range(7)), "12:00", "17:00", "16:00", {4: 60})
    rid = add_restaurant(
        ledger, three_tables_spec(name="Busy", periods=(LATE_FRIDAY, brunch, lunch))
    )
    assert rid


def test_a_period_read_from_plain_data_is_checked_field_by_field() -> None:
    data = {
        "name": "dinner",
        "weekdays": [1, 2],
        "opens": "18:00",
        "closes": "23:00",
        "last_seating": "21:30",
        "turn_times": {"2": 90, "4": 120},
        "max_covers_per_slot": 20,
    }
    spec = period_from_data(data)
    assert spec == PeriodSpec(
        "dinner", (1, 2), "18:00", "23:00", "21:30", {2: 90, 4: 120}, 15, 20, None
    )
    cases = [
        ([], "a period is an object"),
        ({**data, "covers": 3}, "unknown field"),
        ({k: v for k, v in data.items() if k != "opens"}, "missing opens"),
        ({**data, "weekdays": "mon"}, "weekdays must be a list"),
        ({**data, "weekdays": [True]}, "whole numbers"),
        ({**data, "slot_interval_min": True}, "slot_interval_min must be a whole number"),
        ({**data, "turn_times": {"two": 90}}, "turn_times maps party sizes"),
    ]
    for bad, message in cases:
        with pytest.raises(InvalidRequest, match=message):
            period_from_data(bad, "periods[0]")
