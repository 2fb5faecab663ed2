"""The service report of a small restaurant whose night is played by hand:
every column checked against figures worked out on paper, seat-minutes
included (clipped at the close), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking_core.deposits import record_payment
from booking_core.errors import InvalidRequest, NoTableFree, UnknownRestaurant
from booking_core.fees import waive_fee
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book, cancel, seat_walk_in
from booking_core.restaurants import PeriodSpec, set_table_active
from booking_core.schema import turnaways
from booking_core.service_report import ServiceFigures, TurnedAway, service_report
from booking_core.turnaways import NO_TABLE, PACING, PRICE, WALK_IN_NO_TABLE
from booking_core.unpaid_deposits import release_unpaid
from tests.conftest import NOW, add_three_tables, local_time

DAY = date(2026, 3, 10)  # London is on UTC: local times are UTC times
NEXT = DAY + timedelta(days=1)
# Tables A and C seat two, B four: 8 seats; dinner 17:00-23:00 is 360 minutes.
AVAILABLE = 8 * 360
FEE = 1000  # "Reported"'s cancellation fee, inside the usual 24 h


def _at(hhmm: str, day: date = DAY) -> datetime:
    return local_time(day, hhmm)


def _book(ledger: Ledger, rid: int, at: str, size: int, day: date = DAY) -> int:
    return book(ledger, BookingRequest(rid, day, at, size, guest_name=f"{size} at {at}")).id


def _play_the_night(ledger: Ledger) -> int:
    rid, _ = add_three_tables(ledger, name="Reported", cancellation_fee_minor=FEE)
    other, _ = add_three_tables(ledger, name="Someone Else")
    _book(ledger, other, "19:00", 2)  # another restaurant's: never counted
    early = _book(ledger, rid, "18:00", 2)
    four = _book(ledger, rid, "19:00", 4)
    gone = _book(ledger, rid, "19:00", 2)
    late = _book(ledger, rid, "20:00", 2)
    cancelled = _book(ledger, rid, "21:00", 2)
    overstays = _book(ledger, rid, "21:30", 2)
    _book(ledger, rid, "18:00", 2, day=NEXT)  # tomorrow's, still booked
    # At 19:00 every table is held: a two and a four asking are turned away.
    for size in (2, 4):
        with pytest.raises(NoTableFree):
            _book(ledger, rid, "19:00", size)
    cancel(ledger, cancelled, now=NOW)  # nine days ahead: not late
    cancel(ledger, late, now=_at("10:00"))  # ten hours before: late
    # The night in order: a table is freed when its party leaves.
    advance(ledger, early, "seated", now=_at("18:05"))
    advance(ledger, four, "seated", now=_at("18:50"))
    with pytest.raises(NoTableFree):  # a walk-in three at 19:10: B is taken
        seat_walk_in(ledger, rid, 3, now=_at("19:10"))
    advance(ledger, gone, "no_show", now=_at("19:30"))
    waive_fee(ledger, gone, by="manager", note="stuck on a train", now=_at("19:32"))
    advance(ledger, early, "completed", now=_at("19:35"))  # 90 min
    advance(ledger, four, "completed", now=_at("21:00"))  # 130 min
    advance(ledger, overstays, "seated", now=_at("21:30"))
    walk_in = seat_walk_in(ledger, rid, 2, now=_at("22:00"))  # still seated: until 23:30
    assert walk_in.end_at == _at("23:30")
    advance(ledger, overstays, "completed", now=_at("23:20"))  # 110 min, 90 before the close
    # Refused by pacing and on price (paths of their own tests), as recorded.
    with ledger.write() as conn:
        conn.execute(
            turnaways.insert(),
            [
                {
                    "restaurant_id": rid,
                    "service_date": DAY,
                    "requested_start_at": _at("20:00"),
                    "requested_at": NOW,
                    "party_size": size,
                    "channel": "web",
                    "reason": reason,
                }
                for size, reason in ((4, PACING), (2, PRICE))
            ],
        )
    return rid


EXPECTED_DAY = {
    "bookings": 4,  # early, four, gone, overstays: the cancelled two left out
    "covers_booked": 2 + 4 + 2 + 2,
    "parties_seated": 4,  # early, four, overstays, the walk-in
    "covers_seated": 2 + 4 + 2 + 2,
    "no_shows": 1,
    "no_show_covers": 2,
    "cancellations": 2,
    "late_cancellations": 1,
    "late_cancelled_covers": 2,
    "fees_due_minor": FEE,  # the late cancellation's; the no-show's was waived
    "fees_waived_minor": FEE,
    "walk_ins": 1,
    "walk_in_covers": 2,
    # 2 x 90 + 4 x 130 + 2 x 90 (clipped at 23:00) + 2 x 60 (the walk-in, to 23:00)
    "seat_minutes_used": 180 + 520 + 180 + 120,
    "seat_minutes_available": AVAILABLE,
    "completed_stays": 3,
    "stay_minutes": 90 + 130 + 110,
}
EXPECTED_AWAY = {
    NO_TABLE: TurnedAway(2, 6),
    PACING: TurnedAway(1, 4),
    PRICE: TurnedAway(1, 2),
    WALK_IN_NO_TABLE: TurnedAway(1, 3),
}


def _figures(row: ServiceFigures) -> dict[str, object]:
    return {name: getattr(row, name) for name in EXPECTED_DAY}


def test_every_column_of_a_night_played_by_hand(ledger: Ledger) -> None:
    rid = _play_the_night(ledger)
    report = service_report(ledger, rid, DAY - timedelta(days=1), NEXT, now=_at("12:00", NEXT))
    assert [(r.service_date, r.period) for r in report.rows] == [
        (DAY - timedelta(days=1), "dinner"),
        (DAY, "dinner"),
        (NEXT, "dinner"),
    ]
    quiet, night, tomorrow = report.rows
    assert _figures(night) == EXPECTED_DAY
    assert night.turned_away == EXPECTED_AWAY
    assert (night.turned_away_requests, night.turned_away_covers) == (5, 15)
    assert night.utilisation == pytest.approx(1000 / 2880)
    assert night.average_stay_min == pytest.approx(110)
    assert (night.seats, night.opens_at, night.closes_at) == (8, _at("17:00"), _at("23:00"))
    # Tomorrow: one booking, nobody seated yet; the day before: nothing.
    assert (tomorrow.bookings, tomorrow.covers_booked, tomorrow.parties_seated) == (1, 2, 0)
    assert (tomorrow.utilisation, tomorrow.average_stay_min) == (0.0, None)
    assert quiet.bookings == quiet.turned_away_requests == 0
    # Totals are the sums, their ratios the span's own.
    totals = report.totals
    assert totals.bookings == 5 and totals.covers_booked == 12
    assert totals.seat_minutes_available == 3 * AVAILABLE
    assert totals.utilisation == pytest.approx(1000 / (3 * 2880))
    assert totals.average_stay_min == pytest.approx(110)
    assert totals.turned_away == EXPECTED_AWAY


def test_a_nights_deposits_held_owed_and_released(ledger: Ledger) -> None:
    """A deposit of 500 a cover from parties of two: one two pays and is
    seated, one pays half, one never pays and is released at its deadline
    (an hour after booking), one pays and cancels in time (refunded)."""
    rid, _ = add_three_tables(
        ledger, name="Deposits", deposit_min_party=2, deposit_per_cover_minor=500
    )
    seated, half, never, refunded = (
        _book(ledger, rid, at, 2) for at in ("18:00", "19:00", "20:00", "21:00")
    )
    for rid_, amount in ((seated, 1000), (half, 500), (refunded, 1000)):
        record_payment(
            ledger, rid_, amount_minor=amount, currency="GBP", payment_ref=f"p{rid_}", now=NOW
        )
    assert [r.id for r in release_unpaid(ledger, now=NOW + timedelta(hours=1))] == [
        half,
        never,
    ]
    cancel(ledger, refunded, now=NOW + timedelta(hours=2))
    advance(ledger, seated, "seated", now=_at("18:00"))
    night = service_report(ledger, rid, DAY, DAY, now=_at("18:30")).rows[0]
    assert (night.deposits_held_minor, night.deposits_outstanding_minor) == (1000, 0)
    assert night.released_unpaid == 2
    # A restaurant cancelling a booking before its deadline is no release.
    later = _book(ledger, rid, "18:00", 2, day=NEXT)
    cancel(ledger, later, by="restaurant", now=NOW + timedelta(minutes=30))
    owing = _book(ledger, rid, "19:00", 2, day=NEXT)
    record_payment(ledger, owing, amount_minor=300, currency="GBP", payment_ref="p-owing", now=NOW)
    tomorrow = service_report(ledger, rid, NEXT, NEXT, now=_at("12:00")).rows[0]
    assert (tomorrow.deposits_held_minor, tomorrow.deposits_outstanding_minor) == (300, 700)
    assert tomorrow.released_unpaid == 0


def test_a_party_still_seated_counts_only_until_now(ledger: Ledger) -> None:
    rid = _play_the_night(ledger)
    # At 22:30 the walk-in has sat 30 minutes; the overstaying two is done.
    night = service_report(ledger, rid, DAY, DAY, now=_at("22:30")).rows[0]
    assert night.seat_minutes_used == 180 + 520 + 180 + 2 * 30


def test_a_table_out_of_service_counts_until_it_is_taken_out(ledger: Ledger) -> None:
    """A past night is measured against the tables it had: B (four seats)
    goes out of service the morning after DAY and comes back during the
    dinner after that, counted from the next opening."""
    rid, ids = add_three_tables(ledger, name="Reported")
    other, other_ids = add_three_tables(ledger, name="Someone Else")
    later = NEXT + timedelta(days=1)
    ledger.clock = lambda: _at("10:00", NEXT)
    set_table_active(ledger, rid, ids["B"], False)
    set_table_active(ledger, other, other_ids["A"], False)  # another restaurant's
    ledger.clock = lambda: _at("19:00", later)
    set_table_active(ledger, rid, ids["B"], True)
    last = later + timedelta(days=1)
    report = service_report(ledger, rid, DAY, last, now=_at("12:00", last))
    assert [r.seats for r in report.rows] == [8, 4, 4, 8]
    assert [r.seat_minutes_available for r in report.rows] == [8 * 360, 4 * 360, 4 * 360, 8 * 360]
    # Putting back a table already in service changes nothing before or after.
    set_table_active(ledger, rid, ids["A"], True)
    again = service_report(ledger, rid, DAY, last, now=_at("12:00", last))
    assert [r.seats for r in again.rows] == [8, 4, 4, 8]


def test_bad_spans_and_unknown_restaurants_are_refused(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger)
    with pytest.raises(InvalidRequest, match="from is after to"):
        service_report(ledger, rid, NEXT, DAY)
    with pytest.raises(InvalidRequest, match="at most 92 days"):
        service_report(ledger, rid, DAY, DAY + timedelta(days=92))
    assert len(service_report(ledger, rid, DAY, DAY + timedelta(days=91)).rows) == 92
    with pytest.raises(UnknownRestaurant):
        service_report(ledger, rid + 100, DAY, DAY)


def test_each_record_goes_to_the_period_it_starts_in(ledger: Ledger) -> None:
    rid, _ = add_three_tables(
        ledger,
        periods=(
            PeriodSpec("lunch", tuple(range(7)), "12:00", "15:00", "14:00", {3: 90, 4: 120}),
            PeriodSpec("dinner", tuple(range(7)), "18:00", "23:00", "21:30", {3: 90, 4: 120}),
        ),
    )
    _book(ledger, rid, "13:00", 2)
    _book(ledger, rid, "19:00", 4)
    _book(ledger, rid, "21:00", 3)
    lunch, dinner = service_report(ledger, rid, DAY, DAY).rows
    assert (lunch.period, lunch.bookings, lunch.covers_booked) == ("lunch", 1, 2)
    assert (dinner.period, dinner.bookings, dinner.covers_booked) == ("dinner", 2, 7)
    assert (lunch.seat_minutes_available, dinner.seat_minutes_available) == (8 * 180, 8 * 300)


@pytest.mark.parametrize(
    ("first", "last"), [(date.min, date.min), (date.max, date.max), (date(1, 1, 2), date(1, 1, 2))]
)
def test_the_ends_of_the_calendar(ledger: Ledger, first: date, last: date) -> None:
    rid, _ = add_three_tables(ledger)
    if first in (date.min, date.max):
        with pytest.raises(InvalidRequest, match="exclusive"):
            service_report(ledger, rid, first, last)
    else:
        assert service_report(ledger, rid, first, last).totals.bookings == 0


# One booking: seated for so many minutes, a no-show, cancelled or still booked.
Outcome = tuple[int, int, str, int]  # slot (quarter-hours from 17:00), size, fate, minutes


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 18),
            st.integers(1, 4),
            st.sampled_from(["stay", "no_show", "cancel", "booked"]),
            st.integers(15, 90),  # within the booked stay: no two parties at one table
        ),
        max_size=8,
    )
)
def test_any_night_adds_up(ledger: Ledger, night: list[Outcome]) -> None:
    """Whatever the night: the totals are the rows' sums, seats are never
    more than full, and every booking taken is counted once."""
    rid, _ = add_three_tables(ledger, name=f"Any Night {len(night)}")
    taken = 0
    for slot, size, fate, minutes in night:
        start = _at("17:00") + timedelta(minutes=15 * slot)
        try:
            booking = _book(ledger, rid, f"{start:%H:%M}", size)
        except NoTableFree:
            continue
        taken += fate != "cancel"
        if fate == "stay":
            advance(ledger, booking, "seated", now=start)
            advance(ledger, booking, "completed", now=start + timedelta(minutes=minutes))
        elif fate == "no_show":
            advance(ledger, booking, "no_show", now=start + timedelta(minutes=20))
        elif fate == "cancel":
            cancel(ledger, booking, now=NOW)
    report = service_report(ledger, rid, DAY - timedelta(days=1), DAY, now=_at("12:00", NEXT))
    assert report.totals.bookings == sum(r.bookings for r in report.rows) == taken
    for row in (*report.rows, report.totals):
        assert row.utilisation is not None and 0 <= row.utilisation <= 1
        assert row.covers_seated <= row.covers_booked
        assert row.no_shows + row.parties_seated <= row.bookings
    assert report.totals.seat_minutes_used == pytest.approx(
        sum(r.seat_minutes_used for r in report.rows)
    )
