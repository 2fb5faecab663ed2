"""The audit's ``deposits`` rule: a ledger whose deposits were asked, paid,
partly given back and settled through the booking core is clean; each sum
tampered with afterwards is reported by this rule alone, against the
reservation, naming the numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from booking_core.audit import DEPOSITS, FEES, RULES, AuditReport, Violation, audit_ledger
from booking_core.deposits import record_payment
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    cancel,
    get_reservation,
    modify,
    seat_walk_in,
)
from booking_core.reservations import book as book_table
from booking_core.restaurants import add_restaurant
from booking_core.schema import deposit_payments, reservations
from booking_core.unpaid_deposits import release_unpaid
from tests.conftest import NOW, bistro_spec

DAY = date(2026, 3, 10)  # London is on UTC: local times are UTC times
PER_COVER = 2000  # the bistro asks a deposit per cover from parties of six


@pytest.fixture
def bistro(ledger: Ledger) -> int:
    return add_restaurant(ledger, bistro_spec(cancellation_fee_minor=1500))


def book(ledger: Ledger, rid: int, party: int, hhmm: str, **kw: Any) -> Reservation:
    day = kw.pop("day", DAY)
    request = BookingRequest(rid, day, hhmm, party, guest_name="Ada")
    return book_table(ledger, request, now=kw.pop("now", NOW))


def pay(ledger: Ledger, r: Reservation, amount: int, ref: str, minutes: int = 5) -> None:
    record_payment(
        ledger,
        r.id,
        amount_minor=amount,
        currency="GBP",
        payment_ref=ref,
        now=NOW + timedelta(minutes=minutes),
    )


def run_audit(ledger: Ledger, restaurant_ids: list[int] | None = None) -> AuditReport:
    with ledger.read() as conn:
        return audit_ledger(conn, restaurant_ids=restaurant_ids)


def only(report: AuditReport) -> Violation:
    [violation] = report.violations
    assert violation.rule == DEPOSITS and violation.entity == "reservation"
    return violation


def set_row(ledger: Ledger, reservation_id: int, **values: Any) -> None:
    with ledger.write() as conn:
        conn.execute(
            reservations.update().where(reservations.c.id == reservation_id).values(values)
        )


def test_the_rule_follows_fees() -> None:
    assert RULES.index(DEPOSITS) == RULES.index(FEES) + 1


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=UTC)


@pytest.fixture
def paid(ledger: Ledger, bistro: int) -> Reservation:
    """A party of six that paid its deposit in two parts."""
    r = book(ledger, bistro, 6, "19:00")
    pay(ledger, r, 5000, "pi_first")
    pay(ledger, r, 6 * PER_COVER - 5000, "pi_rest", minutes=10)
    return get_reservation(ledger, r.id)


def test_a_ledger_of_real_deposits_is_clean(ledger: Ledger, bistro: int, paid: Reservation) -> None:
    # The bistro seats one party of six at a time: one a night.
    night = [DAY + timedelta(days=k) for k in range(5)]
    assert (paid.deposit.paid_minor, paid.deposit.held_minor) == (6 * PER_COVER,) * 2
    # Paid for eight, then down to six: the difference goes back while it stands.
    shrunk = book(ledger, bistro, 8, "20:00", day=night[1])
    pay(ledger, shrunk, 8 * PER_COVER, "pi_eight")
    cancelled = book(ledger, bistro, 6, "19:00", day=night[2])
    pay(ledger, cancelled, 6 * PER_COVER, "pi_cancelled")
    no_show = book(ledger, bistro, 6, "19:00", day=night[3])
    pay(ledger, no_show, 6 * PER_COVER, "pi_no_show")
    part = book(ledger, bistro, 6, "19:00", day=night[4])
    pay(ledger, part, 1000, "pi_part")
    book(ledger, bistro, 2, "18:00")  # asks none
    modify(ledger, shrunk.id, party_size=6, now=NOW + timedelta(hours=1))
    assert get_reservation(ledger, shrunk.id).deposit.refunded_minor == 2 * PER_COVER
    # Cancelled in time (refunded), then released at its deadline part paid.
    cancel(ledger, cancelled.id, now=NOW + timedelta(hours=2))
    assert [r.id for r in release_unpaid(ledger, now=NOW + timedelta(hours=3))] == [part.id]
    # On the nights: completed (applied to the bill), a walk-in, a no-show (kept).
    advance(ledger, paid.id, "arrived", now=at(DAY, "18:55"))
    advance(ledger, paid.id, "seated", now=at(DAY, "19:00"))
    advance(ledger, paid.id, "completed", now=at(DAY, "21:00"))
    walk_in = seat_walk_in(ledger, bistro, 6, now=at(DAY, "21:30"))
    advance(ledger, no_show.id, "no_show", now=at(night[3], "19:30"))

    report = run_audit(ledger)
    assert report.ok, report.to_text()
    assert report.checked["deposits"] == 5  # the big parties; not the two, not the walk-in
    assert report.checked["deposit_payments"] == 6
    assert (walk_in.deposit_minor, walk_in.deposit_required) == (0, False)


def test_paid_that_is_not_the_sum_of_the_payments(ledger: Ledger, paid: Reservation) -> None:
    set_row(ledger, paid.id, deposit_paid_minor=6 * PER_COVER - 100)
    message = only(run_audit(ledger)).message
    assert f"reservation {paid.id}" in message
    assert f"records {6 * PER_COVER - 100} GBP paid" in message
    assert f"its 2 deposit payment(s) sum to {6 * PER_COVER}" in message


def test_a_payment_lost_from_the_ledger(ledger: Ledger, paid: Reservation) -> None:
    with ledger.write() as conn:
        conn.execute(deposit_payments.delete().where(deposit_payments.c.payment_ref == "pi_first"))
    message = only(run_audit(ledger)).message
    assert f"its 1 deposit payment(s) sum to {6 * PER_COVER - 5000}" in message


def test_paid_without_any_payment(ledger: Ledger, bistro: int) -> None:
    r = book(ledger, bistro, 6, "19:00")
    set_row(ledger, r.id, deposit_paid_minor=6 * PER_COVER)
    assert "its 0 deposit payment(s) sum to 0" in only(run_audit(ledger)).message


def test_refunded_above_paid(ledger: Ledger, paid: Reservation) -> None:
    set_row(ledger, paid.id, deposit_refunded_minor=6 * PER_COVER + 1)
    message = only(run_audit(ledger)).message
    assert f"records {6 * PER_COVER + 1} GBP refunded, more than the {6 * PER_COVER} paid" in (
        message
    )
    assert "holds" not in message


def test_refunded_below_nothing(ledger: Ledger, bistro: int) -> None:
    r = book(ledger, bistro, 6, "19:00")
    set_row(ledger, r.id, deposit_refunded_minor=-1)
    message = only(run_audit(ledger)).message
    assert "records -1 GBP refunded, below 0" in message
    assert "holds" not in message  # one held: within the 12000 asked


def test_held_above_the_deposit(ledger: Ledger, paid: Reservation) -> None:
    # A payment beyond what was asked, recorded consistently: only the held
    # amount is wrong.
    with ledger.write() as conn:
        conn.execute(
            deposit_payments.insert().values(
                reservation_id=paid.id,
                payment_ref="pi_extra",
                ref_key="provider:pi_extra",
                amount_minor=500,
                currency="GBP",
                source="provider",
                paid_at=NOW + timedelta(minutes=20),
            )
        )
    set_row(ledger, paid.id, deposit_paid_minor=6 * PER_COVER + 500)
    message = only(run_audit(ledger)).message
    held = 6 * PER_COVER + 500
    assert f"holds {held} GBP ({held} paid - 0 refunded), more than its deposit of 12000" in (
        message
    )


def test_a_payment_in_another_currency(ledger: Ledger, bistro: int, paid: Reservation) -> None:
    with ledger.write() as conn:
        conn.execute(
            deposit_payments.update()
            .where(deposit_payments.c.payment_ref == "pi_rest")
            .values(currency="EUR")
        )
    report = run_audit(ledger)
    message = only(report).message
    assert f"reservation {paid.id}: 1 deposit payment(s) not in its currency GBP" in message
    assert f"'pi_rest' ({6 * PER_COVER - 5000} EUR)" in message
    assert "pi_first" not in message
    # The rule reads only the restaurants audited.
    other = add_restaurant(ledger, bistro_spec(name="Elsewhere"))
    scoped = run_audit(ledger, restaurant_ids=[other])
    assert scoped.ok and scoped.checked["deposit_payments"] == 0
    assert run_audit(ledger, restaurant_ids=[bistro]).violations == report.violations


def test_every_fault_of_one_reservation_in_one_violation(
    ledger: Ledger, bistro: int, paid: Reservation
) -> None:
    clean = book(ledger, bistro, 6, "20:00", day=DAY + timedelta(days=1))
    pay(ledger, clean, 6 * PER_COVER, "pi_clean")
    set_row(ledger, paid.id, deposit_paid_minor=99_999, deposit_refunded_minor=100_000)
    message = only(run_audit(ledger)).message
    assert "records 99999 GBP paid" in message
    assert "records 100000 GBP refunded, more than the 99999 paid" in message
