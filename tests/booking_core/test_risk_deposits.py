"""Risk-based deposits: a restaurant that sets a threshold on no-show risk
asks its per-cover deposit of any booking scored at or above it, besides the
parties its size rule covers. The booking keeps why its deposit was asked and
the risk it was scored at; a change of party size reprices a deposit asked by
risk instead of dropping it; the audit refuses a deposit without a reason."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking_core.audit import audit_ledger
from booking_core.deposits import DepositReason, DepositStatus, NoShowRisk, reason_to_ask
from booking_core.errors import InvalidRequest
from booking_core.ledger import Ledger
from booking_core.profile import get_profile, update_profile
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    book,
    get_reservation,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import add_restaurant
from booking_core.schema import reservations
from tests.conftest import NOW, bistro_spec, down_and_up_again, outbox_payloads

DAY = date(2026, 3, 10)
PER_COVER = 2000  # the bistro's deposit per cover, from parties of six
MODEL = "attendance-risk v4"


@pytest.fixture
def bistro(ledger: Ledger) -> int:
    return add_restaurant(ledger, bistro_spec(deposit_risk_threshold=0.3))


def _book(
    ledger: Ledger,
    rid: int,
    party: int = 2,
    risk: float | None = None,
    hhmm: str = "19:00",
    draw: float | None = None,
    **kw: Any,
) -> Reservation:
    scored = NoShowRisk(risk, MODEL, draw) if risk is not None else None
    request = BookingRequest(rid, DAY, hhmm, party, guest_name="Ada", no_show_risk=scored, **kw)
    return book(ledger, request, now=NOW)


def _audit_problems(ledger: Ledger) -> list[str]:
    with ledger.read() as conn:
        return [v.message for v in audit_ledger(conn).violations]


def test_a_risky_booking_owes_the_per_cover_deposit(ledger: Ledger, bistro: int) -> None:
    risky = _book(ledger, bistro, party=2, risk=0.42)
    assert (risky.deposit_required, risky.deposit_minor) == (True, 2 * PER_COVER)
    assert risky.deposit_reason is DepositReason.RISK
    assert risky.no_show_risk == NoShowRisk(0.42, MODEL)
    assert risky.deposit_status is DepositStatus.PENDING
    assert risky.deposit.due_at == NOW + timedelta(minutes=60)
    assert get_reservation(ledger, risky.id) == risky
    booked = outbox_payloads(ledger, "reservation.booked")[-1]
    assert booked["deposit_reason"] == "risk"  # type: ignore[index]
    assert booked["no_show_risk"] == {"probability": 0.42, "model": MODEL}  # type: ignore[index]
    assert _audit_problems(ledger) == []


def test_below_the_threshold_only_the_size_rule_asks(ledger: Ledger, bistro: int) -> None:
    calm = _book(ledger, bistro, party=2, risk=0.29, hhmm="18:00")
    assert (calm.deposit_minor, calm.deposit_reason) == (0, None)
    assert calm.no_show_risk == NoShowRisk(0.29, MODEL)  # kept to measure calibration
    at_threshold = _book(ledger, bistro, party=2, risk=0.3, hhmm="18:30")
    assert at_threshold.deposit_reason is DepositReason.RISK
    large = _book(ledger, bistro, party=6, risk=0.9, hhmm="20:00")
    assert large.deposit_reason is DepositReason.PARTY_SIZE  # the rule a diner can read first
    unscored = _book(ledger, bistro, party=2, hhmm="21:00")
    assert (unscored.deposit_minor, unscored.no_show_risk) == (0, None)


def test_a_restaurant_without_a_threshold_ignores_the_risk(ledger: Ledger) -> None:
    plain = add_restaurant(ledger, bistro_spec(name="Plain"))
    r = _book(ledger, plain, party=2, risk=0.99)
    assert (r.deposit_minor, r.deposit_reason) == (0, None)


def test_a_walk_in_owes_none_whatever_its_risk(ledger: Ledger, bistro: int) -> None:
    # A walk-in is scored by nobody, and is here already.
    walk_in = seat_walk_in(ledger, bistro, 2, now=NOW.replace(day=DAY.day, hour=18))
    assert (walk_in.deposit_minor, walk_in.deposit_reason) == (0, None)


def test_a_change_of_size_reprices_a_deposit_asked_by_risk(ledger: Ledger, bistro: int) -> None:
    r = _book(ledger, bistro, party=2, risk=0.5)
    assert r.terms.deposit_min_party == 1  # kept per cover from one guest
    bigger = modify(ledger, r.id, party_size=4, now=NOW + timedelta(minutes=1))
    assert (bigger.deposit_minor, bigger.deposit_reason) == (4 * PER_COVER, DepositReason.RISK)
    smaller = modify(ledger, r.id, party_size=1, now=NOW + timedelta(minutes=2))
    assert (smaller.deposit_minor, smaller.deposit_reason) == (PER_COVER, DepositReason.RISK)
    # One asked by size comes and goes with the size.
    s = _book(ledger, bistro, party=6, hhmm="20:30")
    down = modify(ledger, s.id, party_size=4, now=NOW + timedelta(minutes=3))
    assert (down.deposit_minor, down.deposit_reason) == (0, None)
    up = modify(ledger, s.id, party_size=7, now=NOW + timedelta(minutes=4))
    assert (up.deposit_minor, up.deposit_reason) == (7 * PER_COVER, DepositReason.PARTY_SIZE)
    assert _audit_problems(ledger) == []


def test_a_retry_is_the_same_booking_whatever_it_scored(ledger: Ledger, bistro: int) -> None:
    first = _book(ledger, bistro, risk=0.5, idempotency_key="k-1")
    again = _book(ledger, bistro, risk=0.1, idempotency_key="k-1")
    assert again.id == first.id and again.deposit_reason is DepositReason.RISK


def test_the_threshold_is_a_probability_and_needs_a_deposit_per_cover(ledger: Ledger) -> None:
    with pytest.raises(InvalidRequest, match="deposit_per_cover_minor above 0"):
        add_restaurant(ledger, bistro_spec(deposit_risk_threshold=0.3, deposit_per_cover_minor=0))
    rid = add_restaurant(ledger, bistro_spec(name="Editable"))
    for bad in (0.0, 0.99, 1.5, "0.3", True, float("nan")):
        with pytest.raises(InvalidRequest, match="deposit_risk_threshold"):
            update_profile(ledger, rid, {"deposit_risk_threshold": bad})
    assert (
        update_profile(ledger, rid, {"deposit_risk_threshold": 0.25}).deposit_risk_threshold == 0.25
    )
    with pytest.raises(InvalidRequest, match="deposit_per_cover_minor above 0"):
        update_profile(ledger, rid, {"deposit_per_cover_minor": 0})
    assert get_profile(ledger, rid).deposit_per_cover_minor == PER_COVER  # nothing half-written
    cleared = update_profile(ledger, rid, {"deposit_risk_threshold": None})
    assert cleared.deposit_risk_threshold is None
    assert update_profile(ledger, rid, {"deposit_per_cover_minor": 0}).deposit_per_cover_minor == 0
    changes = outbox_payloads(ledger, "restaurant.profile_changed")
    assert {"deposit_risk_threshold": {"from": None, "to": 0.25}} in changes


def test_a_share_over_the_threshold_is_left_without_a_deposit_as_a_control(
    ledger: Ledger,
) -> None:
    rid = add_restaurant(
        ledger,
        bistro_spec(name="Measured", deposit_risk_threshold=0.3, deposit_risk_control_share=0.2),
    )
    control = _book(ledger, rid, party=2, risk=0.6, draw=0.19, hhmm="18:00")
    assert (control.deposit_minor, control.deposit_reason) == (0, None)
    assert control.deposit_risk_control and control.deposit_status is DepositStatus.NONE
    assert control.no_show_risk == NoShowRisk(0.6, MODEL)  # the draw was the request's
    assert get_reservation(ledger, control.id) == control
    booked = outbox_payloads(ledger, "reservation.booked")[-1]
    assert booked["deposit_risk_control"] is True  # type: ignore[index]
    asked = _book(ledger, rid, party=2, risk=0.6, draw=0.2, hhmm="18:30")
    assert (asked.deposit_reason, asked.deposit_risk_control) == (DepositReason.RISK, False)
    # Only a deposit asked by risk is held back: not one below the threshold,
    # nor one the size rule asks.
    calm = _book(ledger, rid, party=2, risk=0.1, draw=0.01, hhmm="19:00")
    large = _book(ledger, rid, party=6, risk=0.9, draw=0.01, hhmm="20:00")
    assert not calm.deposit_risk_control and not large.deposit_risk_control
    assert large.deposit_reason is DepositReason.PARTY_SIZE
    unscored_draw = _book(ledger, rid, party=2, risk=0.6, hhmm="21:00")
    assert unscored_draw.deposit_reason is DepositReason.RISK  # no draw, never held back
    assert _audit_problems(ledger) == []
    for bad in (0.51, -0.1, None, "0.1"):
        with pytest.raises(InvalidRequest, match="deposit_risk_control_share"):
            update_profile(ledger, rid, {"deposit_risk_control_share": bad})
    assert (
        update_profile(ledger, rid, {"deposit_risk_control_share": 0.5}).deposit_risk_control_share
        == 0.5
    )
    with ledger.write() as conn:
        conn.execute(
            sa.update(reservations)
            .where(reservations.c.id == asked.id)
            .values(deposit_risk_control=True)
        )
    assert any("in the control group" in p for p in _audit_problems(ledger))


def test_a_risk_is_a_probability_named_by_its_model() -> None:
    for bad in (-0.1, 1.01, float("nan")):
        with pytest.raises(ValueError, match="probability"):
            NoShowRisk(bad, MODEL)
    with pytest.raises(ValueError, match="names its model"):
        NoShowRisk(0.2, "")
    for bad_draw in (1.0, -0.01):
        with pytest.raises(ValueError, match="draw"):
            NoShowRisk(0.2, MODEL, bad_draw)


def test_the_audit_refuses_a_deposit_without_its_reason(ledger: Ledger, bistro: int) -> None:
    risky = _book(ledger, bistro, party=2, risk=0.6)
    large = _book(ledger, bistro, party=6, hhmm="20:00")
    with ledger.write() as conn:
        conn.execute(
            sa.update(reservations).where(reservations.c.id == risky.id).values(no_show_risk=None)
        )
        conn.execute(
            sa.update(reservations).where(reservations.c.id == large.id).values(deposit_reason=None)
        )
    problems = _audit_problems(ledger)
    assert any(f"reservation {risky.id}:" in p and "no risk recorded" in p for p in problems)
    assert any(f"reservation {large.id}:" in p and "without a reason" in p for p in problems)


def test_migration_names_earlier_deposits_as_asked_by_size(ledger: Ledger, bistro: int) -> None:
    large = _book(ledger, bistro, party=6)
    small = _book(ledger, bistro, party=2, hhmm="20:00")
    down_and_up_again(ledger, "0011")
    assert get_reservation(ledger, large.id).deposit_reason is DepositReason.PARTY_SIZE
    assert get_reservation(ledger, small.id).deposit_reason is None
    profile = get_profile(ledger, bistro)
    assert profile.deposit_risk_threshold is None  # off until set again
    assert profile.deposit_risk_control_share == 0.0
    assert not get_reservation(ledger, large.id).deposit_risk_control
    assert _audit_problems(ledger) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    by_size=st.booleans(),
    per_cover=st.integers(0, 5000),
    threshold=st.none() | st.floats(0.05, 0.95),
    risk=st.none() | st.floats(0.0, 1.0),
)
def test_a_deposit_is_asked_exactly_when_a_rule_says_so(
    by_size: bool, per_cover: int, threshold: float | None, risk: float | None
) -> None:
    scored = NoShowRisk(risk, MODEL) if risk is not None else None
    reason = reason_to_ask(
        by_party_size=by_size, per_cover_minor=per_cover, risk_threshold=threshold, risk=scored
    )
    by_risk = threshold is not None and risk is not None and per_cover > 0 and risk >= threshold
    assert (reason is not None) == (by_size or by_risk)
    assert (reason is DepositReason.RISK) == (by_risk and not by_size)
