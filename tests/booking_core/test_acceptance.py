"""Acceptance rules that came out of review: history can't be rewritten, two
hosts can't both change one reservation, late services span midnight."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from booking_core.errors import BookingError, IllegalTransition, InvalidRequest, NoTableFree
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    advance,
    book,
    cancel,
    get_reservation,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import PeriodSpec, add_restaurant
from tests.conftest import bistro_spec

BOOKED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SEVEN_PM = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # London is on GMT in March


def test_history_cannot_be_rewritten(ledger: Ledger, bistro: int) -> None:
    r = book(ledger, BookingRequest(bistro, "2026-03-10", "19:00", 2), now=BOOKED_AT)
    with pytest.raises(InvalidRequest, match="rewrite its history"):
        advance(ledger, r.id, "confirmed", now=BOOKED_AT - timedelta(hours=1))
    with pytest.raises(InvalidRequest, match="no-show before its time"):
        advance(ledger, r.id, "no_show", now=SEVEN_PM - timedelta(minutes=5))
    with pytest.raises(InvalidRequest, match="hours before"):
        advance(ledger, r.id, "seated", now=SEVEN_PM - timedelta(hours=5))
    assert get_reservation(ledger, r.id).state == "booked"


def test_two_hosts_changing_one_reservation_cannot_both_win(ledger: Ledger, bistro: int) -> None:
    r = book(ledger, BookingRequest(bistro, "2026-03-10", "19:00", 2), now=BOOKED_AT)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(target: str) -> None:
        barrier.wait()
        try:
            advance(ledger, r.id, target, now=SEVEN_PM + timedelta(minutes=1))
            outcomes.append(target)
        except BookingError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=act, args=(t,)) for t in ("cancelled", "seated")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = get_reservation(ledger, r.id)
    assert sorted(outcomes).count("IllegalTransition") == 1
    winner = next(o for o in outcomes if o != "IllegalTransition")
    assert final.state == winner
    if winner == "seated":
        assert final.timestamps["cancelled_at"] is None and final.cancelled_by is None
    else:
        assert final.timestamps["seated_at"] is None and final.table_ids == ()


def test_modify_keeps_an_accessible_table(ledger: Ledger, bistro: int) -> None:
    r = book(
        ledger, BookingRequest(bistro, "2026-03-10", "19:00", 2, accessible=True), now=BOOKED_AT
    )
    assert r.accessible and len(r.table_ids) == 1
    moved = modify(ledger, r.id, local_time="20:00", now=BOOKED_AT + timedelta(hours=1))
    assert moved.accessible and moved.table_ids == r.table_ids  # T3 is the one accessible table
    cancel(ledger, moved.id, now=BOOKED_AT + timedelta(hours=2))
    with pytest.raises(IllegalTransition):
        modify(ledger, moved.id, party_size=3, now=BOOKED_AT + timedelta(hours=3))


def test_a_late_service_is_booked_by_calendar_date(ledger: Ledger) -> None:
    late = bistro_spec(
        name="Late Bar",
        periods=(PeriodSpec("late", tuple(range(7)), "21:00", "02:00", "00:30", {2: 60, 8: 90}),),
    )
    rid = add_restaurant(ledger, late)
    r = book(ledger, BookingRequest(rid, "2026-03-11", "00:30", 2), now=BOOKED_AT)
    # 00:30 on Wednesday is Tuesday's late service, seated at 00:30 Wednesday.
    assert str(r.service_date) == "2026-03-10"
    assert r.start_at == datetime(2026, 3, 11, 0, 30, tzinfo=UTC)


def test_seating_a_walk_in_twice_on_one_table_is_refused(ledger: Ledger, bistro: int) -> None:
    first = seat_walk_in(ledger, bistro, 2, now=SEVEN_PM)
    with pytest.raises(NoTableFree):
        seat_walk_in(ledger, bistro, 2, table_ids=first.table_ids * 2, now=SEVEN_PM)
