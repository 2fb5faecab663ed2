"""Bookings racing a change of the floor (hours, a closed date, a table out of
service). A booking reads the floor before it takes its service-day lock and
floor changes take no day lock, so a change can commit while a booking is in
flight: the booking must then be checked against the new floor, and a change's
list of bookings its hours no longer serve must see every booking taken
before it. On PostgreSQL each race is made exact by waiting until the second
party is blocked on a lock (``pg_stat_activity``); on SQLite the one writer at
a time makes the same sequences pass as a check of the outcome only. A batch
takes its service-day locks before it holds the outbox feed for the same
reason it pins its floors first: a writer it would wait for may wait for the
feed; and its diners' rows too. A change of booking takes its day before its
reservation's row, the order in which the moves of other parties take them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from booking_core import outbox
from booking_core import reservations as booking
from booking_core.daybook import BestFitAtBooking
from booking_core.errors import OutsideServiceHours, PartyTooLarge, RestaurantClosed
from booking_core.ledger import Ledger, lock_service_days
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    book,
    book_many,
    get_reservation,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import PeriodSpec, set_hours
from booking_core.schema import (
    dining_tables,
    reservations,
    restaurants,
    service_periods,
)
from booking_core.schema import special_dates as special_dates_table
from tests.conftest import NOW, add_three_tables, insert_diner, local_time

DAY = date(2026, 3, 25)  # a Wednesday after the tests' NOW (1 March); London is on UTC
WAIT_S = 10.0


class _InThread:
    """``call`` run in a thread of its own: its result or the error it raised."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.outcome: Any = None
        self._call = call
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.outcome = self._call()
        except Exception as exc:
            self.outcome = exc

    def result(self) -> Any:
        self.thread.join(timeout=WAIT_S * 3)
        assert not self.thread.is_alive(), "the call never finished"
        return self.outcome


def _wait_until_blocked(ledger: Ledger, running: _InThread) -> None:
    """PostgreSQL: until some backend of this database waits on a lock (the
    call in ``running``, as nothing else runs), or the call ended without
    waiting. SQLite has no such view: a pause long enough for the call to
    reach the write lock."""
    if not ledger.is_postgres:
        running.thread.join(timeout=0.3)
        return
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + WAIT_S
    with ledger.engine.connect() as conn:
        while running.thread.is_alive() and time.monotonic() < deadline:
            if conn.execute(waiting).scalar_one():
                return
            conn.rollback()  # a fresh snapshot of the view on each look
            time.sleep(0.01)


@contextmanager
def _floor_change_in_flight(ledger: Ledger, restaurant_id: int) -> Iterator[sa.Connection]:
    """An open write transaction that changes the restaurant's floor the way
    the booking core's floor changes do: the floor version is bumped first,
    then the caller changes what it likes; it commits when the block ends."""
    conn = ledger.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    try:
        with conn.begin():
            conn.execute(
                restaurants.update()
                .where(restaurants.c.id == restaurant_id)
                .values(floor_version=restaurants.c.floor_version + 1)
            )
            yield conn
    finally:
        conn.close()


def _race(
    ledger: Ledger, restaurant_id: int, change: Callable[[sa.Connection], object], write: Any
) -> Any:
    """``write`` started while ``change`` is in flight, the change committed
    once the write waits for it: what the write returned or raised."""
    with _floor_change_in_flight(ledger, restaurant_id) as conn:
        change(conn)
        running = _InThread(write)
        _wait_until_blocked(ledger, running)
    return running.result()


def _bookings_on(ledger: Ledger, restaurant_id: int, day: date) -> list[int]:
    with ledger.read() as conn:
        return list(
            conn.execute(
                sa.select(reservations.c.id).where(
                    reservations.c.restaurant_id == restaurant_id,
                    reservations.c.service_date == day,
                )
            ).scalars()
        )


def _close(restaurant_id: int, day: date) -> Callable[[sa.Connection], object]:
    return lambda conn: conn.execute(
        special_dates_table.insert().values(
            restaurant_id=restaurant_id, local_date=day, closed=True, note="Private party"
        )
    )


def test_a_booking_in_flight_when_its_date_closes_is_refused(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Closes Mid-Booking")
    book(ledger, BookingRequest(rid, DAY, "18:00", 2))  # the floor is cached, the day used
    outcome = _race(
        ledger, rid, _close(rid, DAY), lambda: book(ledger, BookingRequest(rid, DAY, "19:00", 2))
    )
    assert isinstance(outcome, RestaurantClosed), outcome
    assert len(_bookings_on(ledger, rid, DAY)) == 1


def test_a_change_in_flight_when_the_hours_end_earlier_is_refused_and_kept(
    ledger: Ledger,
) -> None:
    rid, _ = add_three_tables(ledger, name="Shorter Hours")
    taken = book(ledger, BookingRequest(rid, DAY, "18:00", 2))

    def last_seating_at_six(conn: sa.Connection) -> object:
        return conn.execute(
            service_periods.update()
            .where(service_periods.c.restaurant_id == rid)
            .values(last_seating_min=18 * 60)
        )

    outcome = _race(
        ledger, rid, last_seating_at_six, lambda: modify(ledger, taken.id, local_time="19:00")
    )
    assert isinstance(outcome, OutsideServiceHours), outcome
    assert get_reservation(ledger, taken.id).start_at == taken.start_at


def test_a_walk_in_when_the_date_closes_meanwhile_is_refused(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Walk-In Closure")
    outcome = _race(
        ledger,
        rid,
        _close(rid, DAY),
        lambda: seat_walk_in(ledger, rid, 2, now=local_time(DAY, "19:00")),
    )
    assert isinstance(outcome, OutsideServiceHours), outcome
    assert _bookings_on(ledger, rid, DAY) == []


def test_a_batch_is_not_given_a_table_taken_out_of_service_meanwhile(ledger: Ledger) -> None:
    """Only table B seats three: out of service, a party of three is too large
    for the restaurant, while the batch's couple still gets a table."""
    rid, ids = add_three_tables(ledger, name="Table Goes Out")
    book(ledger, BookingRequest(rid, DAY, "18:00", 2))

    def b_out(conn: sa.Connection) -> object:
        return conn.execute(
            dining_tables.update().where(dining_tables.c.id == ids["B"]).values(active=False)
        )

    outcome = _race(
        ledger,
        rid,
        b_out,
        lambda: book_many(
            ledger,
            [BookingRequest(rid, DAY, "19:00", 2), BookingRequest(rid, DAY, "19:00", 3)],
        ),
    )
    couple, three = outcome
    assert isinstance(couple, Reservation), couple
    assert ids["B"] not in couple.table_ids
    assert isinstance(three, PartyTooLarge), three


def test_a_batch_waits_for_a_floor_change_instead_of_deadlocking_on_the_feed(
    ledger: Ledger,
) -> None:
    """A batch holds the outbox feed lock from its first booking to commit,
    and a floor change holds the restaurant row before it writes its event:
    the batch pins its restaurants before its first booking, so it waits
    for the change rather than hold the feed the change then waits for."""
    first, _ = add_three_tables(ledger, name="First In The Batch")
    second, _ = add_three_tables(ledger, name="Changes Mid-Batch")
    with _floor_change_in_flight(ledger, second) as conn:
        batch = _InThread(
            lambda: book_many(
                ledger,
                [BookingRequest(first, DAY, "19:00", 2), BookingRequest(second, DAY, "19:00", 2)],
            )
        )
        _wait_until_blocked(ledger, batch)
        outbox.append(conn, "restaurant.hours_set", "restaurant", second, second, {}, NOW)
    outcomes = batch.result()
    assert isinstance(outcomes, list), outcomes  # not a deadlock error for the whole batch
    assert all(isinstance(o, Reservation) for o in outcomes), outcomes


class _HeldAtTheTable(BestFitAtBooking):
    """Best fit, but a booking waits here (after its locks, before it writes)
    until the test lets it go."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.go = threading.Event()

    def choose(self, *args: Any, **kwargs: Any) -> Any:
        self.inside.set()
        assert self.go.wait(WAIT_S * 3)
        return super().choose(*args, **kwargs)


def test_new_hours_list_a_booking_that_was_being_taken_as_they_were_set(
    ledger: Ledger,
) -> None:
    rid, _ = add_three_tables(ledger, name="Hours Wait For A Booking")
    held = _HeldAtTheTable()
    booking = _InThread(lambda: book(ledger, BookingRequest(rid, DAY, "19:00", 2), policy=held))
    assert held.inside.wait(WAIT_S)
    earlier = PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "18:00", {3: 90, 4: 120})
    change = _InThread(lambda: set_hours(ledger, rid, [earlier], DAY))
    _wait_until_blocked(ledger, change)
    held.go.set()
    taken = booking.result()
    outside = change.result()
    assert isinstance(taken, Reservation), taken
    assert [o.reservation_id for o in outside] == [taken.id]


def test_a_batch_locks_every_day_before_the_feed_so_a_booking_holding_one_is_not_deadlocked(
    ledger: Ledger,
) -> None:
    """A batch holds the outbox feed lock from its first booking's event to
    commit, and a single booking holds its service day while it chooses a
    table, then waits for the feed to write its event. The batch takes the
    day locks of all its bookings before its first event, so it waits for
    that booking's day instead of holding the feed the booking waits for:
    PostgreSQL would otherwise refuse one of the two as a deadlock, and a
    refused batch fails every booking in it."""
    rid, _ = add_three_tables(ledger, name="Two Days In One Batch")
    later = DAY + timedelta(days=1)
    held = _HeldAtTheTable()
    single = _InThread(lambda: book(ledger, BookingRequest(rid, later, "18:00", 2), policy=held))
    assert held.inside.wait(WAIT_S)  # it holds the later day's lock
    batch = _InThread(
        lambda: book_many(
            ledger, [BookingRequest(rid, DAY, "19:00", 2), BookingRequest(rid, later, "19:00", 2)]
        )
    )
    _wait_until_blocked(ledger, batch)
    held.go.set()
    taken = single.result()
    outcomes = batch.result()
    assert isinstance(taken, Reservation), taken
    assert isinstance(outcomes, list), outcomes  # not a deadlock error for the whole batch
    assert all(isinstance(o, Reservation) for o in outcomes), outcomes
    assert [o.service_date for o in outcomes] == [DAY, later]


def test_a_batch_reuses_the_day_book_a_committed_booking_left(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taking a batch's day locks up front changes no day's version: the
    first booking of a day in a batch still finds the day book the last
    committed booking of that day remembered, instead of reading it again."""
    rid, _ = add_three_tables(ledger, name="Warm Day Book")
    book(ledger, BookingRequest(rid, DAY, "18:00", 2))
    loads: list[date] = []
    real = booking.load_day_book

    def counted(conn: sa.Connection, floor: Any, day: date, **kwargs: Any) -> Any:
        loads.append(day)
        return real(conn, floor, day, **kwargs)

    monkeypatch.setattr(booking, "load_day_book", counted)
    outcomes = book_many(
        ledger, [BookingRequest(rid, DAY, "19:00", 2), BookingRequest(rid, DAY, "20:00", 2)]
    )
    assert all(isinstance(o, Reservation) for o in outcomes), outcomes
    assert loads == []


def test_a_batch_locks_its_diners_before_the_feed(ledger: Ledger) -> None:
    """A booking locks its diner's row after its day and before its event.
    A batch locks its diners' rows before its first event: a single booking
    of the same diner at another restaurant, holding that row while it
    chooses a table, is waited for instead of waiting for the feed the
    batch would hold (a deadlock PostgreSQL would end by failing one)."""
    here, _ = add_three_tables(ledger, name="Batch Books Two Diners")
    there, _ = add_three_tables(ledger, name="Single Books One")
    ada, bea = insert_diner(ledger, "Ada"), insert_diner(ledger, "Bea")
    held = _HeldAtTheTable()
    single = _InThread(
        lambda: book(ledger, BookingRequest(there, DAY, "19:00", 2, diner_id=ada), policy=held)
    )
    assert held.inside.wait(WAIT_S)  # it holds its day and Ada's row
    later = DAY + timedelta(days=1)
    batch = _InThread(
        lambda: book_many(
            ledger,
            [
                BookingRequest(here, DAY, "19:00", 2, diner_id=bea),  # its event: the feed
                BookingRequest(here, later, "19:00", 2, diner_id=ada),
            ],
        )
    )
    _wait_until_blocked(ledger, batch)
    held.go.set()
    taken = single.result()
    outcomes = batch.result()
    assert isinstance(taken, Reservation), taken
    assert isinstance(outcomes, list), outcomes
    assert all(isinstance(o, Reservation) for o in outcomes), outcomes


@pytest.mark.parametrize("change", ["modify", "cancel"])
def test_a_change_of_booking_takes_its_day_before_its_row(ledger: Ledger, change: str) -> None:
    """Moves of other parties (a pooled booking, a table out of service)
    lock a reservation's row while they hold its day. A change or a
    cancellation of that reservation waits for the day before it locks the
    row, so the mover is not left waiting for a row whose holder waits for
    the day (PostgreSQL would end that deadlock by failing one of them)."""
    rid, _ = add_three_tables(ledger, name=f"Day Before Row ({change})")
    party = book(ledger, BookingRequest(rid, DAY, "19:00", 2))
    conn = ledger.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    try:
        with conn.begin():
            lock_service_days(conn, rid, [DAY])  # a mover holds the day...
            if change == "modify":
                call = lambda: modify(ledger, party.id, local_time="20:00")  # noqa: E731
            else:
                call = lambda: booking.cancel(ledger, party.id)  # noqa: E731
            running = _InThread(call)
            _wait_until_blocked(ledger, running)
            # ...and then locks the party's row, as it moves it.
            conn.execute(
                sa.select(reservations.c.id).where(reservations.c.id == party.id).with_for_update()
            ).one()
    finally:
        conn.close()
    outcome = running.result()
    assert isinstance(outcome, Reservation), outcome
    assert get_reservation(ledger, party.id).state == (
        "booked" if change == "modify" else "cancelled"
    )
