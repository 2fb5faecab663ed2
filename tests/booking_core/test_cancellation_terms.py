"""Cancellation terms in force: a booking keeps the fee, window and deposit
it was made under; a diner's cancellation after the deadline and a no-show
make the fee due (the deposit counts towards it); a restaurant's
cancellation, an early one or an arrived party's makes nothing due; a
change inside the window does not move the deadline; a manager waives a
fee once; the audit finds a fee its terms do not explain."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking_core.audit import FEES, audit_ledger
from booking_core.cancellation_terms import FeeReason
from booking_core.deposits import record_payment
from booking_core.domain import ReservationState
from booking_core.errors import IllegalTransition, InvalidRequest, UnknownReservation
from booking_core.fees import list_fees, waive_fee
from booking_core.ledger import Ledger
from booking_core.profile import update_profile
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    book,
    cancel,
    get_reservation,
    modify,
)
from booking_core.restaurants import add_restaurant
from booking_core.schema import reservations
from tests.conftest import NOW, bistro_spec, down_and_up_again, outbox_payloads

DAY = date(2026, 3, 10)
FEE = 1500
DEPOSIT_PER_COVER = 2000  # the bistro asks it from parties of six


@pytest.fixture
def terms_bistro(ledger: Ledger) -> int:
    return add_restaurant(
        ledger, bistro_spec(cancellation_fee_minor=FEE, cancellation_window_hours=24)
    )


def _book(
    ledger: Ledger, rid: int, party: int = 2, hhmm: str = "19:00", day: date = DAY
) -> Reservation:
    return book(ledger, BookingRequest(rid, day, hhmm, party, guest_name="Ada"), now=NOW)


def _clean(ledger: Ledger) -> None:
    with ledger.read() as conn:
        report = audit_ledger(conn)
    assert report.ok, report.to_text()


def test_a_booking_shows_its_terms_and_deadline(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    assert r.terms.fee_minor == FEE
    assert r.terms.window_hours == 24
    assert r.terms.free_until == r.start_at - timedelta(hours=24)
    assert r.fee is None
    assert get_reservation(ledger, r.id).terms == r.terms


def test_a_diners_late_cancellation_makes_the_fee_due(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    late = r.terms.free_until + timedelta(minutes=1)
    done = cancel(ledger, r.id, by="diner", now=late)
    assert done.fee is not None
    assert (done.fee.amount_minor, done.fee.reason, done.fee.due) == (
        FEE,
        FeeReason.LATE_CANCELLATION,
        True,
    )
    payload = outbox_payloads(ledger, "reservation.cancelled")[-1]
    assert payload == {
        "from": "booked",
        "to": "cancelled",
        "cancelled_by": "diner",
        "fee_minor": FEE,
        "fee_reason": "late_cancellation",
        "deposit_kept_minor": 0,  # a party of two pays no deposit
        "charge_minor": FEE,
        "currency": "GBP",
    }
    _clean(ledger)


def test_cancelling_by_the_deadline_is_free(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    done = cancel(ledger, r.id, by="diner", now=r.terms.free_until)
    assert done.fee is None
    assert "fee_minor" not in outbox_payloads(ledger, "reservation.cancelled")[-1]
    _clean(ledger)


def test_the_restaurant_cancelling_late_charges_nobody(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    done = cancel(ledger, r.id, by="restaurant", now=r.start_at - timedelta(hours=1))
    assert done.fee is None
    _clean(ledger)


def test_a_no_show_makes_the_fee_due(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    done = advance(ledger, r.id, ReservationState.NO_SHOW, now=r.start_at + timedelta(minutes=30))
    assert done.fee is not None
    assert (done.fee.amount_minor, done.fee.reason) == (FEE, FeeReason.NO_SHOW)
    _clean(ledger)


def test_a_party_that_arrived_and_left_owes_nothing(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    advance(ledger, r.id, "arrived", now=r.start_at - timedelta(minutes=5))
    done = cancel(ledger, r.id, by="diner", now=r.start_at + timedelta(minutes=20))
    assert done.fee is None
    _clean(ledger)


def test_a_deposit_counts_towards_the_fee_and_is_refunded_on_time(ledger: Ledger) -> None:
    rid = add_restaurant(ledger, bistro_spec(cancellation_fee_minor=FEE))
    large = _book(ledger, rid, party=6)
    again = _book(ledger, rid, party=6, day=DAY + timedelta(days=1))
    assert large.deposit_minor == 6 * DEPOSIT_PER_COVER > FEE
    for r in (large, again):
        record_payment(
            ledger,
            r.id,
            amount_minor=r.deposit_minor,
            currency="GBP",
            payment_ref=f"pay-{r.id}",
            now=NOW,
        )
    cancel(ledger, again.id, by="diner", now=NOW + timedelta(hours=1))
    kept = advance(ledger, large.id, "no_show", now=large.start_at + timedelta(minutes=30))
    assert kept.fee is not None and kept.fee.amount_minor == large.deposit_minor

    payload = outbox_payloads(ledger, "reservation.cancelled")[-1]
    assert payload["deposit_refund_minor"] == again.deposit_minor  # type: ignore[index]
    assert "fee_minor" not in payload  # type: ignore[operator]
    no_show = outbox_payloads(ledger, "reservation.no_show")[-1]
    assert (no_show["deposit_kept_minor"], no_show["charge_minor"]) == (  # type: ignore[index]
        large.deposit_minor,
        0,
    )
    _clean(ledger)


def test_no_terms_no_fee(ledger: Ledger) -> None:
    rid = add_restaurant(ledger, bistro_spec())  # no fee; no deposit for two
    r = _book(ledger, rid)
    assert advance(ledger, r.id, "no_show", now=r.start_at + timedelta(hours=1)).fee is None


def test_a_booking_keeps_the_terms_it_was_made_under(ledger: Ledger, terms_bistro: int) -> None:
    before = _book(ledger, terms_bistro)
    update_profile(
        ledger, terms_bistro, {"cancellation_window_hours": 2, "cancellation_fee_minor": 9900}
    )
    after = _book(ledger, terms_bistro, hhmm="20:00")
    assert (after.terms.fee_minor, after.terms.window_hours) == (9900, 2)
    # Twelve hours before: late under the old terms, free under the new.
    old = cancel(ledger, before.id, by="diner", now=before.start_at - timedelta(hours=12))
    new = cancel(ledger, after.id, by="diner", now=after.start_at - timedelta(hours=12))
    assert old.fee is not None and old.fee.amount_minor == FEE
    assert new.fee is None
    _clean(ledger)


def test_a_change_inside_the_window_keeps_the_deadline(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    inside = r.terms.free_until + timedelta(hours=1)
    moved = modify(ledger, r.id, local_date=DAY + timedelta(days=7), now=inside)
    assert moved.terms.free_until == r.terms.free_until
    done = cancel(ledger, r.id, by="diner", now=inside + timedelta(minutes=5))
    assert done.fee is not None and done.fee.reason is FeeReason.LATE_CANCELLATION
    _clean(ledger)


def test_a_change_before_the_deadline_moves_it(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    moved = modify(ledger, r.id, local_date=DAY + timedelta(days=7), now=NOW)
    assert moved.terms.free_until == moved.start_at - timedelta(hours=24)
    # Past the old deadline, well before the new one: free.
    done = cancel(ledger, r.id, by="diner", now=r.terms.free_until + timedelta(hours=2))
    assert done.fee is None
    _clean(ledger)


def test_a_new_party_size_is_priced_by_the_deposit_policy_it_was_booked_under(
    ledger: Ledger, terms_bistro: int
) -> None:
    four = _book(ledger, terms_bistro, party=4)
    assert (four.deposit_required, four.deposit_minor) == (False, 0)
    update_profile(ledger, terms_bistro, {"deposit_min_party": 2, "deposit_per_cover_minor": 5000})
    six = modify(ledger, four.id, party_size=6, now=NOW)
    assert (six.deposit_required, six.deposit_minor) == (True, 6 * DEPOSIT_PER_COVER)
    assert six.terms.amount_due_minor == 6 * DEPOSIT_PER_COVER
    five = modify(ledger, four.id, party_size=5, now=NOW)
    assert (five.deposit_required, five.deposit_minor) == (False, 0)
    changes = [p.get("deposit_minor") for p in outbox_payloads(ledger, "reservation.modified")]
    assert changes == [
        {"from": 0, "to": 6 * DEPOSIT_PER_COVER},
        {"from": 6 * DEPOSIT_PER_COVER, "to": 0},
    ]
    # A booking made after the change is priced by the new policy.
    assert _book(ledger, terms_bistro, party=2, hhmm="21:00").deposit_minor == 2 * 5000
    _clean(ledger)


def test_a_manager_waives_a_fee_once(ledger: Ledger, terms_bistro: int) -> None:
    first = _book(ledger, terms_bistro)
    second = _book(ledger, terms_bistro, hhmm="20:00")
    at = first.start_at + timedelta(minutes=30)
    advance(ledger, first.id, "no_show", now=at)
    advance(ledger, second.id, "no_show", now=second.start_at + timedelta(minutes=30))
    waived_at = waive_fee(ledger, first.id, by="manager:7", note="  called ahead ", now=at)
    assert get_reservation(ledger, first.id).fee.waived_at == waived_at  # type: ignore[union-attr]
    assert outbox_payloads(ledger, "reservation.fee_waived") == [
        {
            "fee_minor": FEE,
            "fee_reason": "no_show",
            "currency": "GBP",
            "by": "manager:7",
            "note": "called ahead",
        }
    ]
    with pytest.raises(IllegalTransition, match="was waived at"):
        waive_fee(ledger, first.id, by="manager:7", now=at)

    lines = list_fees(ledger, terms_bistro, DAY, DAY)
    assert [(x.reservation_id, x.due) for x in lines] == [(first.id, False), (second.id, True)]
    due = list_fees(ledger, terms_bistro, DAY, DAY, include_waived=False)
    assert [x.reservation_id for x in due] == [second.id]
    _clean(ledger)


def test_waiving_nothing_is_refused_and_writes_nothing(ledger: Ledger, terms_bistro: int) -> None:
    r = _book(ledger, terms_bistro)
    with pytest.raises(IllegalTransition, match="no fee to waive"):
        waive_fee(ledger, r.id, by="manager:7")
    with pytest.raises(UnknownReservation):
        waive_fee(ledger, 999_999, by="manager:7")
    with pytest.raises(InvalidRequest, match="at most 500"):
        waive_fee(ledger, r.id, by="manager:7", note="x" * 501)
    with pytest.raises(InvalidRequest, match="ends"):
        list_fees(ledger, terms_bistro, DAY, DAY - timedelta(days=1))
    assert outbox_payloads(ledger, "reservation.fee_waived") == []


def test_the_audit_finds_a_fee_its_terms_do_not_explain(ledger: Ledger, terms_bistro: int) -> None:
    fine = _book(ledger, terms_bistro)
    cancel(ledger, fine.id, by="diner", now=NOW)  # free
    missing = _book(ledger, terms_bistro, hhmm="20:00")
    advance(ledger, missing.id, "no_show", now=missing.start_at + timedelta(hours=1))
    with ledger.write() as conn:
        conn.execute(
            reservations.update()
            .where(reservations.c.id == fine.id)
            .values(fee_minor=FEE, fee_reason="late_cancellation")
        )
        conn.execute(
            reservations.update()
            .where(reservations.c.id == missing.id)
            .values(fee_minor=0, fee_reason=None)
        )
    with ledger.read() as conn:
        report = audit_ledger(conn)
    assert sorted(v.entity_id for v in report.by_rule()[FEES]) == [fine.id, missing.id]


def test_bookings_taken_before_the_migration_get_their_window(
    ledger: Ledger, terms_bistro: int
) -> None:
    r = _book(ledger, terms_bistro)
    down_and_up_again(ledger, "0008")
    with ledger.read() as conn:
        row = conn.execute(
            sa.select(
                reservations.c.cancellation_window_hours,
                reservations.c.free_cancellation_until,
                reservations.c.deposit_min_party,
                reservations.c.deposit_per_cover_minor,
            ).where(reservations.c.id == r.id)
        ).one()
    assert tuple(row) == (24, r.start_at - timedelta(hours=24), 6, DEPOSIT_PER_COVER)
    late = cancel(ledger, r.id, by="diner", now=r.start_at - timedelta(hours=1))
    assert late.fee is not None
    _clean(ledger)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    window=st.integers(0, 72),
    fee=st.integers(0, 5000),
    minutes_before=st.integers(-120, 80 * 60),
    by=st.sampled_from(["diner", "restaurant"]),
    arrived=st.booleans(),
)
def test_any_cancellation_records_the_fee_its_terms_name(
    ledger: Ledger, window: int, fee: int, minutes_before: int, by: str, arrived: bool
) -> None:
    rid = add_restaurant(
        ledger,
        bistro_spec(
            name=f"Terms {window}-{fee}-{minutes_before}-{by}-{arrived}",
            cancellation_fee_minor=fee,
            cancellation_window_hours=window,
        ),
    )
    r = _book(ledger, rid)
    at = max(r.start_at - timedelta(minutes=minutes_before), NOW)
    arrived = arrived and at >= r.start_at - timedelta(hours=2)
    if arrived:
        advance(ledger, r.id, "arrived", now=at)
    done = cancel(ledger, r.id, by=by, now=at)
    late = at > r.start_at - timedelta(hours=window)
    should = fee > 0 and by == "diner" and not arrived and late
    assert (done.fee is not None) == should
    if done.fee is not None:
        assert done.fee.amount_minor == fee
    with ledger.read() as conn:
        report = audit_ledger(conn, restaurant_ids=[rid])
    assert report.ok, report.to_text()
