"""Taking a table out of service moves the parties booked on it to other
free tables, as the restaurant's own seating setting would place them; a
party with no other table at its time keeps its booking and is reported;
putting the table back moves nobody; the ledger stays clean."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from booking_core.audit import audit_ledger
from booking_core.availability import find_times
from booking_core.domain import ReservationState
from booking_core.errors import NoTableFree, UnknownTable
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, advance, book, get_reservation
from booking_core.schema import outbox
from booking_core.table_service import REASON, set_in_service
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import add_three_tables, local_time

DAY = date(2026, 3, 12)


def _moves(ledger: Ledger, rid: int) -> list[tuple[int, dict[str, object]]]:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(outbox.c.entity_id, outbox.c.payload)
            .where(outbox.c.restaurant_id == rid, outbox.c.event_type == "reservation.modified")
            .order_by(outbox.c.event_offset)
        ).all()
    return [(int(i), p) for i, p in rows]


def _clean(ledger: Ledger) -> None:
    with ledger.read() as conn:
        assert audit_ledger(conn).violations == []


def test_its_parties_move_to_the_best_free_fit_and_the_rest_are_reported(ledger: Ledger) -> None:
    rid, table = add_three_tables(ledger, name="Wobbly Leg")
    # 19:00: a two on A, a two on C; 21:00: a two on A. Seated at 17:00: a two on A.
    seated = book(ledger, BookingRequest(rid, DAY, "17:00", 2, guest_name="Here"))
    seven = [book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name=n)) for n in "xy"]
    nine = book(ledger, BookingRequest(rid, DAY, "21:00", 2, guest_name="Late"))
    assert [r.table_ids for r in (seated, *seven, nine)] == [
        (table["A"],),
        (table["A"],),
        (table["C"],),
        (table["A"],),
    ]
    now = local_time(DAY, "17:05")
    for state in (ReservationState.ARRIVED, ReservationState.SEATED):
        advance(ledger, seated.id, state, now=now)

    holders = set_in_service(ledger, rid, table["A"], False, now=now)

    # The seated party stays where it is; 19:00's two takes B (C is held),
    # 21:00's two takes C, the best fit then.
    assert [(h.reservation_id, h.from_tables, h.to_tables) for h in holders] == [
        (seven[0].id, (table["A"],), (table["B"],)),
        (nine.id, (table["A"],), (table["C"],)),
    ]
    assert get_reservation(ledger, seven[0].id).table_ids == (table["B"],)
    assert get_reservation(ledger, nine.id).table_ids == (table["C"],)
    assert get_reservation(ledger, seated.id).table_ids == (table["A"],)
    assert _moves(ledger, rid) == [
        (seven[0].id, {"tables": {"from": [table["A"]], "to": [table["B"]]}, "reason": REASON}),
        (nine.id, {"tables": {"from": [table["A"]], "to": [table["C"]]}, "reason": REASON}),
    ]
    _clean(ledger)
    # 19:00 is now full (B and C held, A out): a third two is refused there.
    assert "19:00" not in [t.local_time for t in find_times(ledger, rid, DAY, 2, now=now)]


def test_a_party_with_no_other_table_keeps_its_booking(ledger: Ledger) -> None:
    rid, table = add_three_tables(ledger, name="Full House")
    taken = [book(ledger, BookingRequest(rid, DAY, "19:00", n)) for n in (2, 2, 4)]
    on_a = next(r for r in taken if r.table_ids == (table["A"],))
    before = _moves(ledger, rid)
    [holder] = set_in_service(ledger, rid, table["A"], False, now=local_time(DAY, "09:00"))
    assert (holder.reservation_id, holder.moved, holder.from_tables) == (
        on_a.id,
        False,
        (table["A"],),
    )
    assert get_reservation(ledger, on_a.id).table_ids == (table["A"],)
    assert _moves(ledger, rid) == before
    _clean(ledger)


def test_moving_nobody_and_putting_it_back(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Host Decides")
    kept = book(ledger, BookingRequest(rid, DAY, "19:00", 2))
    now = local_time(DAY, "09:00")
    [listed] = set_in_service(ledger, rid, kept.table_ids[0], False, move_holders=False, now=now)
    assert (listed.reservation_id, listed.moved) == (kept.id, False)
    [back] = set_in_service(ledger, rid, kept.table_ids[0], True, now=now)
    assert (back.reservation_id, back.moved) == (kept.id, False)
    assert get_reservation(ledger, kept.id).table_ids == kept.table_ids
    assert _moves(ledger, rid) == []
    with pytest.raises(UnknownTable):
        set_in_service(ledger, rid, 999_999, False, now=now)


def test_a_pooled_restaurant_moves_another_party_to_make_room(ledger: Ledger) -> None:
    """The two on A at 19:00 fits nowhere as the night stands: C is held
    until 19:30 and the four-top from 20:00. A pooled restaurant moves C's
    earlier two to the four-top (free until 20:00) and seats it on C; a
    restaurant that locks at booking could not."""
    rid, table = add_three_tables(ledger, name="Pooled Night", table_policy="pooled")
    on_a = book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name="On A"))
    on_c = book(ledger, BookingRequest(rid, DAY, "18:00", 2, guest_name="On C"))
    four = book(ledger, BookingRequest(rid, DAY, "20:00", 4, guest_name="Four"))
    assert (on_a.table_ids, on_c.table_ids, four.table_ids) == (
        (table["A"],),
        (table["C"],),
        (table["B"],),
    )
    holders = set_in_service(
        ledger,
        rid,
        table["A"],
        False,
        policy=PooledAcceptance(time_limit_s=5.0),
        now=local_time(DAY, "09:00"),
    )
    assert [(h.reservation_id, h.to_tables) for h in holders] == [(on_a.id, (table["C"],))]
    assert get_reservation(ledger, on_c.id).table_ids == (table["B"],)
    assert get_reservation(ledger, four.id).table_ids == (table["B"],)
    moved = [(i, p["tables"]) for i, p in _moves(ledger, rid)]  # type: ignore[index]
    assert moved[-2:] == [
        (on_c.id, {"from": [table["C"]], "to": [table["B"]]}),
        (on_a.id, {"from": [table["A"]], "to": [table["C"]]}),
    ]
    _clean(ledger)
    # Locking at booking, the same night leaves the two on A.
    lock, t = add_three_tables(ledger, name="Locked Night")
    first = book(ledger, BookingRequest(lock, DAY, "19:00", 2))
    book(ledger, BookingRequest(lock, DAY, "18:00", 2))
    book(ledger, BookingRequest(lock, DAY, "20:00", 4))
    [kept] = set_in_service(ledger, lock, t["A"], False, now=local_time(DAY, "09:00"))
    assert (kept.reservation_id, kept.moved) == (first.id, False)


def test_a_pooled_night_still_books_around_a_party_left_on_the_table(ledger: Ledger) -> None:
    """Nobody moved (the host's choice): the party keeps the table out of
    service, and the pooled re-plan of a later booking leaves it there
    rather than failing on a table the floor no longer has."""
    rid, _ = add_three_tables(ledger, name="Left In Place", table_policy="pooled")
    pooled = PooledAcceptance(time_limit_s=5.0)
    kept = book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name="Kept"))
    out = kept.table_ids[0]
    set_in_service(ledger, rid, out, False, move_holders=False, now=local_time(DAY, "09:00"))
    later = [
        book(ledger, BookingRequest(rid, DAY, "19:00", n, guest_name=f"{n}"), policy=pooled)
        for n in (2, 4)
    ]
    assert all(out not in r.table_ids for r in later)
    assert get_reservation(ledger, kept.id).table_ids == (out,)
    with pytest.raises(NoTableFree):  # A is out, C and B are taken
        book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name="One more"), policy=pooled)
    _clean(ledger)
