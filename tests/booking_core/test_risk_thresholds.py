"""The deposit threshold planner's core: which past bookings it weighs (read
from a real ledger on both backends: the span, walk-ins, cancelled bookings,
the size rule, the POS spend per cover), and what it says per threshold for
risks given by hand, worked out below; a property over any risks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking_core import pos
from booking_core.errors import InvalidRequest, UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, Reservation, advance, book, seat_walk_in
from booking_core.restaurants import add_restaurant
from booking_core.risk_thresholds import (
    MAX_SPAN_DAYS,
    THRESHOLDS,
    PastBooking,
    Restaurant,
    RiskAtBooking,
    past_bookings,
    suggested_threshold,
    threshold_plan,
    threshold_rows,
)
from tests.conftest import NOW, bistro_spec

FIRST = date(2026, 3, 2)
LAST = date(2026, 3, 6)


def _book(ledger: Ledger, rid: int, day: date, hhmm: str, party: int = 2) -> Reservation:
    return book(ledger, BookingRequest(rid, day, hhmm, party, guest_name="Guest"), now=NOW)


def test_the_span_bookings_are_read_with_the_size_rule_and_spend(ledger: Ledger) -> None:
    house = add_restaurant(ledger, bistro_spec())  # deposits of 2000 a cover from six
    other = add_restaurant(ledger, bistro_spec(name="Elsewhere"))
    came = _book(ledger, house, FIRST, "19:00", 3)
    advance(ledger, came.id, "seated", now=came.start_at)
    pos.open_check(
        ledger,
        house,
        "pos-1",
        table_id=came.table_ids[0],
        covers=3,
        opened_at=came.start_at + timedelta(minutes=5),
    )
    pos.close_check(
        ledger, house, "pos-1", subtotal_minor=9000, closed_at=came.start_at + timedelta(hours=1)
    )
    absent = _book(ledger, house, FIRST, "20:00")
    advance(ledger, absent.id, "no_show", now=absent.start_at + timedelta(minutes=30))
    called_off = _book(ledger, house, LAST, "19:00")
    advance(ledger, called_off.id, "cancelled", cancelled_by="diner", now=NOW)
    large = _book(ledger, house, LAST, "19:30", 6)
    still = _book(ledger, house, LAST, "20:30")
    # Left out: a walk-in, a booking after the span, one at another restaurant.
    seat_walk_in(ledger, house, 2, now=datetime.combine(LAST, time(19, 45), NOW.tzinfo))
    _book(ledger, house, LAST + timedelta(days=1), "19:00")
    _book(ledger, other, FIRST, "19:00")

    restaurant, bookings = past_bookings(ledger, house, FIRST, LAST)
    assert restaurant == Restaurant(
        restaurant_id=house,
        currency="GBP",
        deposit_per_cover_minor=2000,
        deposit_min_party=6,
        risk_threshold=None,
        control_share=0.0,
        spend_per_cover_minor=3000.0,
    )
    assert bookings == [
        PastBooking(came.id, 3, asked_by_size=False, reached=True, no_show=False),
        PastBooking(absent.id, 2, asked_by_size=False, reached=True, no_show=True),
        PastBooking(called_off.id, 2, asked_by_size=False, reached=False, no_show=False),
        PastBooking(large.id, 6, asked_by_size=True, reached=False, no_show=False),
        PastBooking(still.id, 2, asked_by_size=False, reached=False, no_show=False),
    ]
    # A restaurant asking no deposit by size leaves every booking to weigh.
    plain = add_restaurant(ledger, bistro_spec(name="Plain", deposit_min_party=None))
    big = _book(ledger, plain, FIRST, "19:00", 6)
    assert past_bookings(ledger, plain, FIRST, LAST)[1] == [
        PastBooking(big.id, 6, asked_by_size=False, reached=False, no_show=False)
    ]
    assert past_bookings(ledger, plain, FIRST, LAST)[0].spend_per_cover_minor is None


def test_a_bad_span_or_restaurant_is_refused(ledger: Ledger) -> None:
    house = add_restaurant(ledger, bistro_spec())
    with pytest.raises(InvalidRequest, match="from is after to"):
        past_bookings(ledger, house, LAST, FIRST)
    with pytest.raises(InvalidRequest, match=f"at most {MAX_SPAN_DAYS} days"):
        past_bookings(ledger, house, FIRST, FIRST + timedelta(days=MAX_SPAN_DAYS))
    assert past_bookings(ledger, house, FIRST, FIRST + timedelta(days=MAX_SPAN_DAYS - 1))[1] == []
    with pytest.raises(UnknownRestaurant):
        past_bookings(ledger, 999_999, FIRST, LAST)


HOUSE = Restaurant(
    restaurant_id=1,
    currency="GBP",
    deposit_per_cover_minor=2000,
    deposit_min_party=6,
    risk_threshold=0.3,
    control_share=0.2,
    spend_per_cover_minor=3000.0,
)


def _hand_made() -> tuple[list[PastBooking], dict[int, RiskAtBooking]]:
    """Six bookings: 1 (party 2, risk 0.05 -> 0.03 with a deposit, came),
    2 (party 4, 0.12 -> 0.08, no-show), 3 (party 2, 0.31 -> 0.2, no-show),
    4 (party 3, 0.5 -> 0.3, came), 5 (party 2, 0.7 -> 0.4, cancelled),
    6 (party 6: the size rule's, risk unknown, no-show)."""
    bookings = [
        PastBooking(1, 2, asked_by_size=False, reached=True, no_show=False),
        PastBooking(2, 4, asked_by_size=False, reached=True, no_show=True),
        PastBooking(3, 2, asked_by_size=False, reached=True, no_show=True),
        PastBooking(4, 3, asked_by_size=False, reached=True, no_show=False),
        PastBooking(5, 2, asked_by_size=False, reached=False, no_show=False),
        PastBooking(6, 6, asked_by_size=True, reached=True, no_show=True),
    ]
    risks = {
        1: RiskAtBooking(0.05, 0.03),
        2: RiskAtBooking(0.12, 0.08),
        3: RiskAtBooking(0.31, 0.2),
        4: RiskAtBooking(0.5, 0.3),
        5: RiskAtBooking(0.7, 0.4),
    }
    return bookings, risks


def test_each_threshold_is_worked_out() -> None:
    bookings, risks = _hand_made()
    rows = {row.threshold: row for row in threshold_rows(HOUSE, bookings, risks)}
    assert tuple(rows) == THRESHOLDS == tuple(round(0.05 * k, 2) for k in range(1, 20))
    # 0.3: bookings 3, 4 and 5 (7 covers); 80 % of them asked (the control share 0.2).
    row = rows[0.3]
    assert (row.over, row.covers_over, row.reached, row.no_shows_seen) == (3, 7, 2, 1)
    assert row.share_over == pytest.approx(3 / 6)
    assert row.share_asked == pytest.approx((1 + 3 * 0.8) / 6)
    assert row.deposits_asked_minor == round(7 * 2000 * 0.8)
    assert row.expected_no_shows == pytest.approx(0.31 + 0.5 + 0.7)
    assert row.no_show_rate_expected == pytest.approx((0.31 + 0.5 + 0.7) / 3)
    assert row.no_show_rate_seen == pytest.approx(0.5)
    assert row.expected_no_shows_avoided == pytest.approx(0.8 * (0.11 + 0.2 + 0.3))
    kept = 0.8 * (0.11 * 2 + 0.2 * 3 + 0.3 * 2)
    assert row.expected_covers_kept == pytest.approx(kept)
    assert row.expected_spend_kept_minor == round(kept * 3000)
    # 0.05 holds its edge: all five; 0.75 none, and nothing seen.
    assert rows[0.05].over == 5 and rows[0.1].over == 4 and rows[0.35].over == 2
    empty = rows[0.75]
    assert (empty.over, empty.covers_over, empty.deposits_asked_minor) == (0, 0, 0)
    assert empty.no_show_rate_expected is None and empty.no_show_rate_seen is None
    assert empty.share_asked == pytest.approx(1 / 6)  # the size rule's still
    # A scorer that knows no deposit effect: nothing avoided is claimed.
    blind = {rid: RiskAtBooking(r.without_deposit) for rid, r in risks.items()}
    row = threshold_rows(HOUSE, bookings, blind)[5]
    assert row.threshold == 0.3 and row.over == 3
    assert row.expected_no_shows_avoided is row.expected_covers_kept is None
    assert row.expected_spend_kept_minor is None


def test_the_plan_counts_the_span_and_suggests_a_threshold() -> None:
    bookings, risks = _hand_made()
    plan = threshold_plan(HOUSE, bookings, risks, FIRST, LAST)
    assert (plan.bookings, plan.asked_by_size, plan.no_shows_seen) == (6, 1, 3)
    # At most a third by risk: 0.35 asks two of six; 0.3 asks three.
    assert suggested_threshold(plan.rows, 1 / 3) == 0.35
    assert suggested_threshold(plan.rows, 1.0) == 0.05
    assert suggested_threshold(plan.rows, 0.01) == 0.75
    for bad in (0.0, 1.5):
        with pytest.raises(InvalidRequest, match="from 0 to 1"):
            suggested_threshold(plan.rows, bad)
    with pytest.raises(InvalidRequest, match="Booking 5 has no risk"):
        threshold_rows(HOUSE, bookings, {k: v for k, v in risks.items() if k != 5})


_booking = st.tuples(
    st.integers(1, 8),  # party
    st.booleans(),  # reached
    st.booleans(),  # no-show (when reached)
    st.floats(0.0, 1.0),  # risk without a deposit
    st.floats(0.0, 1.0),  # share of it left with a deposit
)


@given(st.lists(_booking, max_size=40), st.floats(0.0, 0.5), st.floats(0.01, 1.0))
def test_asking_from_a_higher_threshold_never_asks_more(
    drawn: list[tuple[int, bool, bool, float, float]], control: float, max_share: float
) -> None:
    place = Restaurant(1, "GBP", 1000, 6, None, control, None)
    bookings = [
        PastBooking(k, party, party >= 6, reached, reached and no_show)
        for k, (party, reached, no_show, _, _) in enumerate(drawn)
    ]
    risks = {k: RiskAtBooking(p, p * kept) for k, (_, _, _, p, kept) in enumerate(drawn)}
    rows = threshold_rows(place, bookings, risks)
    for low, high in pairwise(rows):
        assert high.over <= low.over and high.covers_over <= low.covers_over
        assert high.expected_no_shows <= low.expected_no_shows + 1e-9
        assert high.no_shows_seen <= low.no_shows_seen <= low.reached <= low.over
        assert high.share_asked <= low.share_asked + 1e-12
    for row in rows:
        over = [
            b
            for b in bookings
            if not b.asked_by_size and risks[b.reservation_id].without_deposit >= row.threshold
        ]
        assert row.over == len(over)
        assert row.expected_no_shows_avoided is not None and row.expected_no_shows_avoided >= -1e-9
        assert row.expected_no_shows_avoided <= row.expected_no_shows * (1 - control) + 1e-9
    chosen = suggested_threshold(rows, max_share)
    fitting = [r for r in rows if r.share_over <= max_share]
    if chosen is None:
        assert not fitting
    else:
        assert chosen == fitting[0].threshold
        below = [r for r in rows if r.threshold < chosen]
        assert all(r.share_over > max_share for r in below)
