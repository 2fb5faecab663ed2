"""A freed table and the parties waiting without one: with every table
taken at 18:00 and two parties taken overbooked, the table a no-show frees
is suggested to the party it fits best (fewest seats wasted, then the one
waiting longest), nobody is seated until the host says so, and the seat
call then gives that party that table. Parties whose time has not come,
or who already hold a table, are not suggested."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import pytest

from booking_core.domain import ReservationState
from booking_core.freed_tables import suggest_seating
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, Reservation, advance, book, get_reservation
from booking_core.restaurants import PeriodSpec, TableSpec, add_restaurant, table_ids_by_name
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import bistro_spec, local_time

DAY = date(2026, 3, 10)  # London is on UTC then


def _unlikely(ids: Sequence[int], now: datetime | None) -> Mapping[int, float]:
    """Show probabilities in which every booked party is a likely no-show,
    so that overbooking takes whatever the tests ask of it."""
    return dict.fromkeys(ids, 0.05)


OVERBOOKING = PooledAcceptance(time_limit_s=5.0, show_probabilities=_unlikely)


def full_at_six(ledger: Ledger) -> tuple[int, dict[str, int], dict[str, Reservation]]:
    """Two tables for two (A, C) and one for four (B), all taken at 18:00."""
    spec = bistro_spec(
        tables=(
            TableSpec("A", "Main", 1, 2),
            TableSpec("C", "Main", 1, 2),
            TableSpec("B", "Main", 2, 4),
        ),
        combinations=(),
        periods=(PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {4: 90}),),
        deposit_min_party=None,
        table_policy="pooled",
        overbooking_max_wait_risk=0.2,
    )
    rid = add_restaurant(ledger, spec)
    with ledger.read() as conn:
        table = table_ids_by_name(conn, rid)
    held = {
        name: book(ledger, BookingRequest(rid, DAY, "18:00", size, guest_name=name))
        for name, size in (("a", 2), ("c", 2), ("b", 4))
    }
    assert {n: r.table_ids for n, r in held.items()} == {
        "a": (table["A"],),
        "c": (table["C"],),
        "b": (table["B"],),
    }
    return rid, table, held


def overbooked(ledger: Ledger, rid: int, at: str, size: int, name: str) -> Reservation:
    taken = book(ledger, BookingRequest(rid, DAY, at, size, guest_name=name), policy=OVERBOOKING)
    assert taken.overbooked and taken.table_ids == ()
    return taken


def _at(hhmm: str) -> datetime:
    return local_time(DAY, hhmm)


def test_the_freed_four_top_goes_to_the_party_it_fits_best(ledger: Ledger) -> None:
    rid, table, held = full_at_six(ledger)
    two = overbooked(ledger, rid, "18:00", 2, "two, waiting longest")
    four = overbooked(ledger, rid, "18:15", 4, "four")
    later = overbooked(ledger, rid, "19:00", 2, "not yet")
    now = _at("18:30")
    assert suggest_seating(ledger, rid, DAY, now) == []  # every table is held
    advance(ledger, held["b"].id, ReservationState.NO_SHOW, now=now)
    [best] = suggest_seating(ledger, rid, DAY, now)
    # B seats four: the four wastes no seat there, the two would waste two.
    assert (best.reservation_id, best.table_ids, best.seats) == (four.id, (table["B"],), 4)
    assert best.waiting_since == four.start_at
    # Nobody was seated; the host's seat call gives the four that table.
    assert get_reservation(ledger, four.id).state == ReservationState.BOOKED
    seated = advance(ledger, four.id, ReservationState.SEATED, now=now)
    assert seated.table_ids == (table["B"],)
    assert suggest_seating(ledger, rid, DAY, now) == []
    # A table for two frees: the two waiting since 18:00 (the 19:00 party's
    # time has not come) gets it.
    seat_a = _at("18:05")
    advance(ledger, held["a"].id, ReservationState.SEATED, now=seat_a)
    advance(ledger, held["a"].id, ReservationState.COMPLETED, now=_at("19:10"))
    [next_up] = suggest_seating(ledger, rid, DAY, _at("19:10"))
    assert (next_up.reservation_id, next_up.table_ids) == (two.id, (table["A"],))
    assert later.id not in {s.reservation_id for s in suggest_seating(ledger, rid, DAY, now)}


def test_equal_fits_go_longest_waiting_first_and_never_share_a_table(ledger: Ledger) -> None:
    rid, table, held = full_at_six(ledger)
    second = overbooked(ledger, rid, "18:15", 2, "second")
    first = overbooked(ledger, rid, "18:00", 2, "first")  # booked later, waiting longer
    now = _at("18:40")
    advance(ledger, first.id, ReservationState.ARRIVED, now=_at("18:10"))
    advance(ledger, held["a"].id, ReservationState.NO_SHOW, now=now)
    assert [(s.reservation_id, s.table_ids) for s in suggest_seating(ledger, rid, DAY, now)] == [
        (first.id, (table["A"],))
    ]
    advance(ledger, held["c"].id, ReservationState.NO_SHOW, now=now)
    suggested = suggest_seating(ledger, rid, DAY, now)
    assert [s.reservation_id for s in suggested] == [first.id, second.id]
    assert suggested[0].waiting_since == _at("18:10")  # since it arrived
    assert len({s.table_ids for s in suggested}) == 2
    # Seating them in that order gives each the table suggested.
    for s in suggested:
        assert advance(ledger, s.reservation_id, "seated", now=now).table_ids == s.table_ids


@pytest.mark.parametrize("state", [ReservationState.CANCELLED, ReservationState.NO_SHOW])
def test_a_party_no_longer_waiting_is_not_suggested(ledger: Ledger, state: str) -> None:
    rid, _, held = full_at_six(ledger)
    gone = overbooked(ledger, rid, "18:00", 2, "gone")
    late = overbooked(ledger, rid, "18:15", 2, "late")
    now = _at("18:30")
    advance(ledger, gone.id, state, now=now)
    advance(ledger, held["a"].id, ReservationState.NO_SHOW, now=now)
    assert [s.reservation_id for s in suggest_seating(ledger, rid, DAY, now)] == [late.id]
    # Past its booked stay the party is a walk-in, not a suggestion either.
    assert suggest_seating(ledger, rid, DAY, late.end_at + timedelta(minutes=1)) == []
