"""The per-restaurant seating setting: a restaurant set to pooled takes a
booking that lock-at-booking refuses by moving a party not yet seated (in
the booking's own transaction, under its day lock), and refuses a small
party that would take the table the larger parties still expected need,
which lock-at-booking takes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from booking_core.audit import audit_ledger
from booking_core.availability import find_times, get_day_book, get_floor
from booking_core.daybook import (
    BestFitAtBooking,
    TableChoice,
    TablePolicy,
    load_day_book,
    table_policy,
)
from booking_core.errors import InvalidRequest, NoTableFree, TablesKeptForLaterParties
from booking_core.ledger import Ledger
from booking_core.past_demand import MIN_PAST_BOOKINGS
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    book,
    book_many,
    get_reservation,
)
from booking_core.restaurants import (
    CombinationSpec,
    PeriodSpec,
    TableSpec,
    add_restaurant,
    get_table_policy,
    set_table_policy,
)
from booking_core.schema import outbox, restaurants, service_days
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import NOW, add_three_tables, bistro_spec

DAY = date(2026, 3, 10)  # after NOW (2026-03-01 09:00 UTC)
PAST_NIGHTS = [NOW.date() - timedelta(days=d) for d in range(1, 21)]


@pytest.fixture(autouse=True)
def pooled_plugged_in() -> Iterator[None]:
    """What the application does at start-up: plug pooled acceptance in."""
    before = table_policy.pooled
    table_policy.pooled = PooledAcceptance(time_limit_s=5.0)  # generous: no flakes when loaded
    yield
    table_policy.pooled = before


def three_tables(
    ledger: Ledger, setting: str = "pooled", *, admission_control: bool = False
) -> tuple[int, dict[str, int]]:
    """Two tables for two and one for four; dinner 17:00-23:00 (London is
    on UTC in March), 90 minutes for two or three, 120 for four."""
    return add_three_tables(
        ledger,
        table_policy=setting,
        admission_control=admission_control,
    )


def request_at(rid: int, day: date, at: str, size: int) -> BookingRequest:
    return BookingRequest(rid, day, at, size, guest_name=f"{size} at {at}")


def _day_version(ledger: Ledger, rid: int, day: date) -> int:
    with ledger.read() as conn:
        return int(
            conn.execute(
                sa.select(service_days.c.bookings_version).where(
                    service_days.c.restaurant_id == rid, service_days.c.local_date == day
                )
            ).scalar_one()
        )


def test_the_setting_round_trips_and_refuses_unknown_values(ledger: Ledger, bistro: int) -> None:
    assert get_table_policy(ledger, bistro) is TablePolicy.LOCK_AT_BOOKING
    with ledger.read() as conn:
        version = conn.execute(
            sa.select(restaurants.c.floor_version).where(restaurants.c.id == bistro)
        ).scalar_one()
    assert set_table_policy(ledger, bistro, "pooled") is TablePolicy.POOLED
    assert get_table_policy(ledger, bistro) is TablePolicy.POOLED
    with ledger.read() as conn:
        after = conn.execute(
            sa.select(restaurants.c.floor_version).where(restaurants.c.id == bistro)
        ).scalar_one()
        events = (
            conn.execute(
                sa.select(outbox.c.payload).where(
                    outbox.c.event_type == "restaurant.table_policy_set"
                )
            )
            .scalars()
            .all()
        )
    assert after == version + 1  # cached floors, and the setting with them, reload
    assert events == [{"table_policy": "pooled"}]
    for bad in ("best_fit", "", "POOLED"):
        with pytest.raises(InvalidRequest, match="'lock_at_booking' or 'pooled'"):
            set_table_policy(ledger, bistro, bad)
    assert get_table_policy(ledger, bistro) is TablePolicy.POOLED
    with pytest.raises(InvalidRequest, match="not a table policy"):
        add_restaurant(ledger, bistro_spec(name="Other", table_policy="sometimes"))


def test_pooled_restaurant_moves_a_booked_party_in_the_bookings_transaction(
    ledger: Ledger,
) -> None:
    rid, table = three_tables(ledger)
    lock = BestFitAtBooking()
    early = book(ledger, request_at(rid, DAY, "18:00", 2), policy=lock)  # A 18:00-19:30
    late = book(ledger, request_at(rid, DAY, "19:30", 3), policy=lock)  # B 19:30-21:00
    middle = book(ledger, request_at(rid, DAY, "18:15", 2), policy=lock)  # C 18:15-19:45
    assert (early.table_ids, late.table_ids, middle.table_ids) == (
        (table["A"],),
        (table["B"],),
        (table["C"],),
    )
    # 18:30-20:00: A and C are taken, B from 19:30. Locking refuses ...
    with pytest.raises(NoTableFree):
        book(ledger, request_at(rid, DAY, "18:30", 2), policy=lock)
    # ... the pooled restaurant (no policy given: its setting decides, as
    # for the API's booking writer) moves the early party to B.
    version = _day_version(ledger, rid, DAY)
    [taken] = book_many(ledger, [request_at(rid, DAY, "18:30", 2)])
    assert not isinstance(taken, Exception)
    assert taken.table_ids == (table["A"],)
    assert get_reservation(ledger, early.id).table_ids == (table["B"],)
    assert get_reservation(ledger, late.id).table_ids == (table["B"],)
    assert get_reservation(ledger, middle.id).table_ids == (table["C"],)
    # One write under one day lock: the day's version moved once, and the
    # move's event sits right before the booking's, stamped with its time.
    assert _day_version(ledger, rid, DAY) == version + 1
    with ledger.read() as conn:
        last_two = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.entity_id, outbox.c.occurred_at)
            .where(outbox.c.restaurant_id == rid)
            .order_by(outbox.c.event_offset.desc())
            .limit(2)
        ).all()
        report = audit_ledger(conn)
    assert [(e, i) for e, i, _ in reversed(last_two)] == [
        ("reservation.modified", early.id),
        ("reservation.booked", taken.id),
    ]
    assert last_two[0].occurred_at == last_two[1].occurred_at
    assert report.violations == []
    # A restaurant that locks at booking still refuses it.
    set_table_policy(ledger, rid, "lock_at_booking")
    with pytest.raises(NoTableFree):
        book(ledger, request_at(rid, DAY, "18:45", 1))


def test_pooled_moves_in_a_chain_release_every_table_before_claiming(ledger: Ledger) -> None:
    """A re-plan may move one party onto the tables another moved party
    leaves: the booking writes every move and the new party without
    tripping over its own claims, and the day book it leaves for the next
    booking matches the ledger. (Written one move at a time, the last
    booking here claimed a table its party had not left yet and was
    refused as "taken a moment ago".)"""
    spec = bistro_spec(
        name="Chain",
        tables=(
            TableSpec("A", "Main", 1, 2),
            TableSpec("B", "Main", 1, 2),
            TableSpec("C", "Main", 1, 4),
            TableSpec("D", "Main", 2, 4),
        ),
        combinations=(CombinationSpec("A+B", ("A", "B"), 3, 4),),
        periods=(
            PeriodSpec("dinner", tuple(range(7)), "18:00", "23:00", "21:00", {2: 90, 4: 120}),
        ),
        table_policy="pooled",
    )
    rid = add_restaurant(ledger, spec)
    asks = [
        ("18:00", 4),
        ("19:30", 3),
        ("18:00", 4),
        ("19:30", 2),
        ("19:00", 3),
        ("18:00", 2),
        ("19:30", 4),
        ("18:00", 2),
    ]
    decided: list[Reservation | NoTableFree] = []
    for at, size in asks:
        try:
            decided.append(book(ledger, request_at(rid, DAY, at, size)))
        except NoTableFree as exc:
            decided.append(exc)
    assert not [e for e in decided if "moment ago" in str(e)]
    assert isinstance(decided[-1], Reservation)
    taken = [r for r in decided if isinstance(r, Reservation)]
    assert any(get_reservation(ledger, r.id).table_ids != r.table_ids for r in taken)
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, rid)
        remembered = get_day_book(ledger, conn, floor, DAY)
        fresh = load_day_book(conn, floor, DAY)
        report = audit_ledger(conn)
    assert {t: m for t, m in remembered.busy.items() if m} == {
        t: m for t, m in fresh.busy.items() if m
    }
    assert report.violations == []


def book_past_nights(
    ledger: Ledger,
    rid: int,
    nights: Sequence[date] = PAST_NIGHTS,
    *,
    policy: TableChoice | None = None,
) -> None:
    """Twenty past nights, each: two parties of two at 19:00 booked a
    fortnight ahead, and a party of four at 19:00 booked an hour ahead.
    Nine days before a night, the twos have come and the four has not."""
    for night in nights:
        seating = datetime.combine(night, time(19, 0), tzinfo=NOW.tzinfo)
        for size, lead in (
            (2, timedelta(days=14)),
            (2, timedelta(days=14)),
            (4, timedelta(hours=1)),
        ):
            request = request_at(rid, night, "19:00", size)
            book(ledger, request, now=seating - lead, policy=policy)


def test_admission_keeps_the_big_table_for_the_parties_still_expected(ledger: Ledger) -> None:
    rid, table = three_tables(ledger)
    book_past_nights(ledger, rid)
    assert 3 * len(PAST_NIGHTS) >= MIN_PAST_BOOKINGS
    # Tonight so far: the two tables for two are taken at 19:00.
    for _ in range(2):
        book(ledger, request_at(rid, DAY, "19:00", 2))
    # Two of every three requests have usually arrived by now, so about one
    # party of four is still to come, at 18:45, 19:00 or 19:15: any of them
    # needs B from 19:15 to 20:45, and B is the only table that seats four.
    # A party of two at 19:00 would hold B until 20:30: it displaces the
    # four covers expected, more than its two.
    with pytest.raises(TablesKeptForLaterParties, match="19:00") as refused:
        book(ledger, request_at(rid, DAY, "19:00", 2))
    assert "larger parties still expected" in str(refused.value)
    # Early in the evening B is free before any four could want it: once the
    # tables for two are taken at 17:00, a third party of two gets B.
    for _ in range(2):
        book(ledger, request_at(rid, DAY, "17:00", 2))
    early = book(ledger, request_at(rid, DAY, "17:00", 2))
    assert early.table_ids == (table["B"],)  # 17:00-18:30, before the fours
    # Searches agree: 19:00 is not offered to two, but is to four.
    for_two = {t.local_time for t in find_times(ledger, rid, DAY, 2)}
    assert "19:00" not in for_two and "21:00" in for_two
    assert "19:00" in {t.local_time for t in find_times(ledger, rid, DAY, 4)}
    # A party of four brings what it displaces (a tie is taken).
    four = book(ledger, request_at(rid, DAY, "19:00", 4))
    assert four.table_ids == (table["B"],)
    # Lock-at-booking would have taken the party of two at 19:00.
    rid2, table2 = three_tables(ledger, "lock_at_booking")
    for _ in range(2):
        book(ledger, request_at(rid2, DAY, "19:00", 2))
    assert book(ledger, request_at(rid2, DAY, "19:00", 2)).table_ids == (table2["B"],)


def test_without_history_pooled_admits_whatever_fits(ledger: Ledger) -> None:
    rid, table = three_tables(ledger)
    for _ in range(2):
        book(ledger, request_at(rid, DAY, "19:00", 2))
    assert book(ledger, request_at(rid, DAY, "19:00", 2)).table_ids == (table["B"],)
