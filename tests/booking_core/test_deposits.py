"""Deposits paid by a deadline: a booking the deposit policy covers is
pending until paid, a payment is recorded once by its reference, a booking
still owing at its deadline is released by the restaurant (no fee, its
table free again), a change of party size asks for or gives back the
difference, and what is held settles when the booking ends: kept against a
fee, refunded, or applied to the bill. Every unit of money received is
accounted for exactly once by the events."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking_core.audit import audit_ledger
from booking_core.deposits import DepositStatus, PaymentSource, payments_of, record_payment
from booking_core.errors import (
    Conflict,
    IllegalTransition,
    InvalidRequest,
    Unavailable,
    UnknownReservation,
)
from booking_core.fees import waive_fee
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
    seat_walk_in,
)
from booking_core.restaurants import add_restaurant
from booking_core.schema import deposit_payments, outbox, reservations
from booking_core.unpaid_deposits import REASON, release_unpaid
from tests.conftest import NOW, bistro_spec, down_and_up_again, outbox_payloads

DAY = date(2026, 3, 10)
PER_COVER = 2000  # the bistro asks a deposit from parties of six
SIX = 6 * PER_COVER


@pytest.fixture
def bistro(ledger: Ledger) -> int:
    return add_restaurant(ledger, bistro_spec(cancellation_fee_minor=1500))


def _book(ledger: Ledger, rid: int, party: int = 6, hhmm: str = "19:00", **kw: Any) -> Reservation:
    day = kw.pop("day", DAY)
    now = kw.pop("now", NOW)
    return book(ledger, BookingRequest(rid, day, hhmm, party, guest_name="Ada"), now=now)


def _pay(ledger: Ledger, r: Reservation, amount: int | None = None, **kw: Any) -> Any:
    kw.setdefault("now", NOW + timedelta(minutes=5))
    return record_payment(
        ledger,
        r.id,
        amount_minor=r.deposit_minor if amount is None else amount,
        currency=kw.pop("currency", "GBP"),
        payment_ref=kw.pop("ref", f"pi_{r.id}"),
        **kw,
    )


def _clean(ledger: Ledger) -> None:
    with ledger.read() as conn:
        report = audit_ledger(conn)
    assert report.ok, report.to_text()


def test_a_booking_owing_a_deposit_is_pending_until_its_deadline(
    ledger: Ledger, bistro: int
) -> None:
    r = _book(ledger, bistro)
    assert r.deposit.amount_minor == SIX
    assert r.deposit.due_at == NOW + timedelta(minutes=60)
    assert r.deposit_status is DepositStatus.PENDING
    assert get_reservation(ledger, r.id).deposit == r.deposit
    booked = outbox_payloads(ledger, "reservation.booked")[-1]
    assert booked["deposit_minor"] == SIX  # type: ignore[index]
    assert booked["deposit_due_at"] == (NOW + timedelta(minutes=60)).isoformat()  # type: ignore[index]
    small = _book(ledger, bistro, party=2, hhmm="20:00")
    assert (small.deposit.due_at, small.deposit_status) == (None, DepositStatus.NONE)


def test_the_deadline_is_the_restaurants_and_never_after_the_start(
    ledger: Ledger, bistro: int
) -> None:
    update_profile(ledger, bistro, {"deposit_pay_within_minutes": 15})
    r = _book(ledger, bistro)
    assert r.deposit.due_at == NOW + timedelta(minutes=15)
    soon = NOW.replace(hour=18, minute=50)  # ten minutes before 19:00 on the day
    late = _book(ledger, bistro, day=NOW.date(), now=soon)
    assert late.deposit.due_at == late.start_at
    with pytest.raises(InvalidRequest, match="deposit_pay_within_minutes"):
        update_profile(ledger, bistro, {"deposit_pay_within_minutes": 2})


def test_a_walk_in_owes_no_deposit(ledger: Ledger, bistro: int) -> None:
    at = NOW.replace(day=DAY.day, hour=18)
    walk_in = seat_walk_in(ledger, bistro, 6, now=at)
    assert (walk_in.deposit_minor, walk_in.deposit_required) == (0, False)
    assert walk_in.deposit_status is DepositStatus.NONE


def test_a_payment_is_recorded_once_by_its_reference(ledger: Ledger, bistro: int) -> None:
    r = _book(ledger, bistro)
    first = _pay(ledger, r, 5000)
    assert first.recorded and first.source is PaymentSource.PROVIDER
    assert get_reservation(ledger, r.id).deposit_status is DepositStatus.PENDING
    again = _pay(ledger, r, 5000)
    assert not again.recorded and again.paid_at == first.paid_at
    _pay(ledger, r, SIX - 5000, ref="pi_rest", source="restaurant")
    paid = get_reservation(ledger, r.id)
    assert paid.deposit_status is DepositStatus.PAID
    assert (paid.deposit.paid_minor, paid.deposit.held_minor) == (SIX, SIX)
    assert paid.deposit.paid_at == NOW + timedelta(minutes=5)
    assert [p.amount_minor for p in payments_of(ledger, r.id)] == [5000, SIX - 5000]
    events = outbox_payloads(ledger, "reservation.deposit_paid")
    assert [(e["amount_minor"], e["paid_in_full"]) for e in events] == [  # type: ignore[index]
        (5000, False),
        (SIX - 5000, True),
    ]
    _clean(ledger)


def test_payments_that_cannot_be_taken_are_refused_and_write_nothing(
    ledger: Ledger, bistro: int
) -> None:
    r = _book(ledger, bistro)
    other = _book(ledger, bistro, day=DAY + timedelta(days=1))
    _pay(ledger, r, 1000, ref="pi_same")
    with pytest.raises(Conflict, match="names one payment"):
        _pay(ledger, other, 1000, ref="pi_same")
    # A restaurant's receipt is its own: another restaurant's 1001 is another payment.
    elsewhere = add_restaurant(ledger, bistro_spec(name="Elsewhere"))
    theirs = _book(ledger, elsewhere)
    for booking in (r, theirs):
        _pay(ledger, booking, 1000, ref="1001", source="restaurant")
    assert [p.payment_ref for p in payments_of(ledger, theirs.id)] == ["1001"]
    with pytest.raises(Conflict, match="names one payment"):
        _pay(ledger, other, 1000, ref="1001", source="restaurant")
    assert not _pay(ledger, theirs, 1000, ref="1001", source="restaurant").recorded
    with pytest.raises(InvalidRequest, match="owes 10000"):
        _pay(ledger, r, SIX, ref="pi_too_much")
    with pytest.raises(InvalidRequest, match="paid in GBP, not EUR"):
        _pay(ledger, r, 1000, ref="pi_eur", currency="EUR")
    for amount in (0, -5):
        with pytest.raises(InvalidRequest, match="above 0"):
            _pay(ledger, r, amount, ref="pi_zero")
    with pytest.raises(InvalidRequest, match="reference"):
        _pay(ledger, r, 1000, ref="  ")
    with pytest.raises(UnknownReservation):
        record_payment(ledger, 999_999, amount_minor=1, currency="GBP", payment_ref="pi_x")
    cancel(ledger, other.id, by="diner", now=NOW + timedelta(minutes=10))
    with pytest.raises(IllegalTransition, match="to be refunded"):
        _pay(ledger, other, 1000, ref="pi_late", now=NOW + timedelta(minutes=11))
    with ledger.read() as conn:
        refs = conn.execute(sa.select(deposit_payments.c.payment_ref)).scalars().all()
    assert refs == ["pi_same", "1001", "1001"]
    _clean(ledger)


def test_a_booking_still_owing_at_its_deadline_is_released(ledger: Ledger, bistro: int) -> None:
    unpaid = _book(ledger, bistro)
    paid = _book(ledger, bistro, day=DAY + timedelta(days=1))
    part = _book(ledger, bistro, day=DAY + timedelta(days=2))
    small = _book(ledger, bistro, party=2, hhmm="19:00")
    _pay(ledger, paid)
    _pay(ledger, part, 3000)
    deadline = NOW + timedelta(minutes=60)
    assert release_unpaid(ledger, now=deadline - timedelta(seconds=1)) == []
    seen: list[tuple[int, int]] = []
    released = release_unpaid(ledger, now=deadline, progress=lambda i, n: seen.append((i, n)))
    assert sorted(r.id for r in released) == sorted([unpaid.id, part.id])
    assert seen == [(1, 2), (2, 2)]
    for r in released:
        assert (r.state, r.cancelled_by, r.fee, r.table_ids) == (
            "cancelled",
            "restaurant",
            None,
            (),
        )
    assert get_reservation(ledger, paid.id).state == "booked"
    assert get_reservation(ledger, small.id).state == "booked"
    events = {
        e.get("deposit_refund_minor", 0): e  # type: ignore[union-attr]
        for e in outbox_payloads(ledger, "reservation.cancelled")
    }
    assert set(events) == {0, 3000}  # the part paid goes back
    assert all(e["reason"] == REASON for e in events.values())  # type: ignore[index]
    assert get_reservation(ledger, part.id).deposit_status is DepositStatus.REFUNDED
    assert get_reservation(ledger, unpaid.id).deposit_status is DepositStatus.UNPAID
    # Its table is free again: the same time can be booked.
    again = _book(ledger, bistro, now=deadline + timedelta(minutes=1))
    assert again.table_ids == unpaid.table_ids
    assert release_unpaid(ledger, now=deadline + timedelta(hours=1)) == []
    _clean(ledger)


def test_a_party_already_here_is_never_released(ledger: Ledger, bistro: int) -> None:
    r = _book(ledger, bistro, day=NOW.date(), hhmm="18:00")  # due at 10:00
    here = advance(ledger, r.id, "arrived", now=r.start_at - timedelta(minutes=30))
    assert here.deposit_status is DepositStatus.PENDING
    assert release_unpaid(ledger, now=r.start_at) == []
    assert release_unpaid(ledger, now=r.start_at, restaurant_id=bistro) == []


def test_a_larger_party_owes_the_difference_and_a_smaller_gets_it_back(
    ledger: Ledger, bistro: int
) -> None:
    r = _book(ledger, bistro)
    _pay(ledger, r)
    later = NOW + timedelta(hours=3)
    eight = modify(ledger, r.id, party_size=8, now=later)
    assert eight.deposit.outstanding_minor == 2 * PER_COVER
    assert eight.deposit.due_at == later + timedelta(minutes=60)
    assert eight.deposit_status is DepositStatus.PENDING
    # Back to two before the top-up is due: no deposit asked, the six refunded.
    two = modify(ledger, r.id, party_size=2, now=later + timedelta(minutes=30))
    assert (two.deposit_minor, two.deposit.held_minor, two.deposit.refunded_minor) == (0, 0, SIX)
    assert two.deposit_status is DepositStatus.NONE and two.deposit.due_at is None
    changes = outbox_payloads(ledger, "reservation.modified")
    assert changes[-1]["deposit_refund_minor"] == SIX  # type: ignore[index]
    assert release_unpaid(ledger, now=later + timedelta(hours=2)) == []
    _clean(ledger)


def test_a_bigger_party_still_owing_keeps_its_deadline(ledger: Ledger, bistro: int) -> None:
    r = _book(ledger, bistro)
    _pay(ledger, r, 1000)
    overdue_at = NOW + timedelta(minutes=61)
    eight = modify(ledger, r.id, party_size=8, now=overdue_at)
    assert eight.deposit.due_at == r.deposit.due_at  # no new time to pay
    (released,) = release_unpaid(ledger, now=overdue_at)
    assert released.id == r.id


def test_an_unpaid_top_up_releases_the_booking_and_refunds_what_was_held(
    ledger: Ledger, bistro: int
) -> None:
    r = _book(ledger, bistro)
    _pay(ledger, r)
    later = NOW + timedelta(hours=3)
    modify(ledger, r.id, party_size=7, now=later)
    (released,) = release_unpaid(ledger, now=later + timedelta(minutes=60))
    assert released.id == r.id
    assert outbox_payloads(ledger, "reservation.cancelled")[-1]["deposit_refund_minor"] == SIX  # type: ignore[index]
    _clean(ledger)


def test_what_is_held_settles_when_the_booking_ends(ledger: Ledger, bistro: int) -> None:
    came = _book(ledger, bistro)
    missed = _book(ledger, bistro, day=DAY + timedelta(days=1))
    for r in (came, missed):
        _pay(ledger, r)
    start = came.start_at
    advance(ledger, came.id, "arrived", now=start)
    advance(ledger, came.id, "seated", now=start + timedelta(minutes=2))
    done = advance(ledger, came.id, "completed", now=start + timedelta(minutes=90))
    assert done.deposit_status is DepositStatus.APPLIED
    completed = outbox_payloads(ledger, "reservation.completed")[-1]
    assert completed["deposit_applied_minor"] == SIX  # type: ignore[index]

    gone = advance(ledger, missed.id, "no_show", now=missed.start_at + timedelta(minutes=30))
    assert gone.deposit_status is DepositStatus.KEPT
    no_show = outbox_payloads(ledger, "reservation.no_show")[-1]
    assert (no_show["fee_minor"], no_show["deposit_kept_minor"], no_show["charge_minor"]) == (  # type: ignore[index]
        SIX,
        SIX,
        0,
    )
    waive_fee(ledger, missed.id, by="manager:1", now=missed.start_at + timedelta(hours=1))
    assert get_reservation(ledger, missed.id).deposit_status is DepositStatus.REFUNDED
    waived = outbox_payloads(ledger, "reservation.fee_waived")[-1]
    assert waived["deposit_refund_minor"] == SIX  # type: ignore[index]
    _clean(ledger)


def test_an_unpaid_deposit_is_charged_in_full_on_a_no_show(ledger: Ledger, bistro: int) -> None:
    r = _book(ledger, bistro, day=NOW.date(), hhmm="18:00")
    advance(ledger, r.id, "no_show", now=r.start_at + timedelta(minutes=30))
    payload = outbox_payloads(ledger, "reservation.no_show")[-1]
    assert (payload["deposit_kept_minor"], payload["charge_minor"]) == (0, SIX)  # type: ignore[index]


def test_deposits_taken_before_the_migration_count_as_paid_when_booked(
    ledger: Ledger, bistro: int
) -> None:
    r = _book(ledger, bistro)
    down_and_up_again(ledger, "0010")
    after = get_reservation(ledger, r.id)
    assert after.deposit.due_at is None  # no deadline was asked then
    assert (after.deposit.paid_minor, after.deposit.paid_at) == (SIX, r.booked_at)
    assert after.deposit_status is DepositStatus.PAID
    (payment,) = payments_of(ledger, r.id)
    assert (payment.payment_ref, payment.amount_minor) == (f"booked-{r.id}", SIX)
    _clean(ledger)


# ---------------------------------------------------------------- property

_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 14_000)),
        st.tuples(st.just("size"), st.integers(2, 10)),
    ),
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=_STEPS,
    end=st.sampled_from(["cancel_diner", "cancel_restaurant", "no_show", "completed", "stands"]),
    fee=st.integers(0, 20_000),
    waive=st.booleans(),
)
def test_every_unit_received_is_accounted_for_once(
    ledger: Ledger, steps: list[tuple[str, int]], end: str, fee: int, waive: bool
) -> None:
    rid = add_restaurant(
        ledger, bistro_spec(name=f"Money {len(steps)}-{end}-{fee}", cancellation_fee_minor=fee)
    )
    r = _book(ledger, rid)
    clock = _Clock()
    for i, (kind, value) in enumerate(steps):
        now = clock.tick()
        current = get_reservation(ledger, r.id)
        if kind == "pay" and current.deposit.outstanding_minor:
            amount = min(value, current.deposit.outstanding_minor)
            _pay(ledger, current, amount, ref=f"p{rid}-{i}", now=now)
        elif kind == "size":
            with contextlib.suppress(Unavailable):  # no table for that many: kept as it was
                modify(ledger, r.id, party_size=value, now=now)
        deposit = get_reservation(ledger, r.id).deposit
        assert 0 <= deposit.held_minor <= deposit.amount_minor
    start = r.start_at
    if end == "cancel_diner":
        cancel(ledger, r.id, by="diner", now=start - timedelta(hours=1))
    elif end == "cancel_restaurant":
        cancel(ledger, r.id, by="restaurant", now=start - timedelta(hours=1))
    elif end == "no_show":
        advance(ledger, r.id, "no_show", now=start + timedelta(minutes=30))
    elif end == "completed":
        advance(ledger, r.id, "seated", now=start)
        advance(ledger, r.id, "completed", now=start + timedelta(hours=2))
    final = get_reservation(ledger, r.id)
    if waive and final.fee is not None:
        waive_fee(ledger, r.id, by="manager:1", now=start + timedelta(hours=3))
        final = get_reservation(ledger, r.id)

    received = sum(p.amount_minor for p in payments_of(ledger, r.id))
    events = list(_events(ledger, r.id))
    refunded = sum(e.get("deposit_refund_minor", 0) for _, e in events)
    given_back_with_a_waiver = sum(
        e.get("deposit_refund_minor", 0) for t, e in events if t == "reservation.fee_waived"
    )
    kept = sum(e.get("deposit_kept_minor", 0) for _, e in events) - given_back_with_a_waiver
    applied = sum(e.get("deposit_applied_minor", 0) for _, e in events)
    still_held = final.deposit.held_minor if end == "stands" else 0
    assert received == final.deposit.paid_minor
    assert kept >= 0
    assert received == refunded + kept + applied + still_held
    # What a fee still charges plus what it keeps is the fee.
    for _, e in events:
        if "charge_minor" in e:
            assert e["charge_minor"] + e["deposit_kept_minor"] == e["fee_minor"]
    with ledger.read() as conn:
        report = audit_ledger(conn, restaurant_ids=[rid])
    assert report.ok, report.to_text()


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def tick(self) -> Any:
        self.now += timedelta(minutes=7)
        return self.now


def _events(ledger: Ledger, reservation_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.payload)
            .where(outbox.c.entity == "reservation", outbox.c.entity_id == reservation_id)
            .order_by(outbox.c.event_offset)
        ).all()
    yield from ((event_type, payload) for event_type, payload in rows)


def test_the_reservation_row_and_its_payments_agree(ledger: Ledger, bistro: int) -> None:
    r = _book(ledger, bistro)
    _pay(ledger, r, 4000)
    with ledger.read() as conn:
        row = conn.execute(
            sa.select(reservations.c.deposit_paid_minor, reservations.c.deposit_paid_at).where(
                reservations.c.id == r.id
            )
        ).one()
    assert tuple(row) == (4000, None)  # paid_at only once paid in full
