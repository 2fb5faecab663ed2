"""Pooled acceptance plugged into the booking core, on SQLite and PostgreSQL:
a booking that lock-at-booking refuses is taken by moving a booked party,
and the ledger stays consistent (claims, outbox, audit)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from booking_core.audit import audit_ledger
from booking_core.availability import find_times
from booking_core.daybook import BestFitAtBooking
from booking_core.errors import NoTableFree
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book, get_reservation
from booking_core.restaurants import PeriodSpec, TableSpec, add_restaurant
from booking_core.schema import outbox
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import bistro_spec

DAY = "2026-03-10"


@pytest.fixture
def two_tables(ledger: Ledger) -> tuple[int, dict[str, int]]:
    spec = bistro_spec(
        tables=(TableSpec("A", "Main", 1, 2), TableSpec("B", "Main", 2, 4)),
        combinations=(),
        periods=(PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {2: 90, 4: 90}),),
        deposit_min_party=None,
    )
    rid = add_restaurant(ledger, spec)
    with ledger.read() as conn:
        names = dict(
            conn.execute(
                sa.text("SELECT name, id FROM dining_tables WHERE restaurant_id = :r"), {"r": rid}
            ).all()
        )
    return rid, names


def _request(rid: int, at: str, size: int) -> BookingRequest:
    return BookingRequest(rid, DAY, at, size, guest_name=f"{size} at {at}")


def test_pooled_acceptance_moves_a_booked_party(
    ledger: Ledger, two_tables: tuple[int, dict[str, int]]
) -> None:
    rid, table = two_tables
    lock = BestFitAtBooking()
    early = book(ledger, _request(rid, "18:00", 2), policy=lock)
    late = book(ledger, _request(rid, "19:30", 3), policy=lock)
    assert early.table_ids == (table["A"],) and late.table_ids == (table["B"],)
    # 18:30-20:00 overlaps A (the early two) and B (the late three).
    with pytest.raises(NoTableFree):
        book(ledger, _request(rid, "18:30", 2), policy=lock)
    pooled = PooledAcceptance(time_limit_s=5.0)  # generous: a loaded machine must not flake
    # A search re-packs quickly (no solver): it offers at least what locking offers.
    offered = {t.local_time for t in find_times(ledger, rid, DAY, 2, policy=pooled)}
    assert offered >= {t.local_time for t in find_times(ledger, rid, DAY, 2, policy=lock)}
    taken = book(ledger, _request(rid, "18:30", 2), policy=pooled)
    assert taken.table_ids == (table["A"],)
    assert get_reservation(ledger, early.id).table_ids == (table["B"],)
    assert get_reservation(ledger, late.id).table_ids == (table["B"],)
    with ledger.read() as conn:
        moved = (
            conn.execute(
                sa.select(outbox.c.payload).where(
                    outbox.c.entity_id == early.id, outbox.c.event_type == "reservation.modified"
                )
            )
            .scalars()
            .all()
        )
    assert len(moved) == 1
    # A fourth party has no room even with moves, and nothing was written.
    with pytest.raises(NoTableFree):
        book(ledger, _request(rid, "18:45", 2), policy=pooled)
    with ledger.read() as conn:
        report = audit_ledger(conn)
    assert report.violations == []


def test_seated_parties_are_never_moved(
    ledger: Ledger, two_tables: tuple[int, dict[str, int]]
) -> None:
    rid, table = two_tables
    lock = BestFitAtBooking()
    early = book(ledger, _request(rid, "18:00", 2), policy=lock)
    book(ledger, _request(rid, "19:30", 3), policy=lock)
    advance(ledger, early.id, "seated", now=early.start_at)
    with pytest.raises(NoTableFree):
        book(
            ledger,
            _request(rid, "18:30", 2),
            policy=PooledAcceptance(time_limit_s=5.0),
            now=early.start_at,
        )
    assert get_reservation(ledger, early.id).table_ids == (table["A"],)
