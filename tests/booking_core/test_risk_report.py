"""The risk deposit report: bookings with known risks and outcomes are made
through the core (booked with a scored risk, paid, released, cancelled,
completed, no-shows), and every count, rate, bin mean, ECE and Brier score
of the report is checked against the figures worked out by hand below."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
import sqlalchemy as sa

from booking_core.deposits import DepositReason, NoShowRisk, record_payment
from booking_core.errors import InvalidRequest, UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, Reservation, advance, book, seat_walk_in
from booking_core.restaurants import add_restaurant
from booking_core.risk_report import (
    BIN_EDGES,
    MAX_SPAN_DAYS,
    Calibration,
    RiskDepositReport,
    risk_deposit_report,
)
from booking_core.schema import reservations
from booking_core.unpaid_deposits import release_unpaid
from tests.conftest import NOW, bistro_spec

CHAMPION = "attendance_risk@v3"
BASELINE = "baseline (diner's record, shrunk)"
PER_COVER = 2000  # the bistro's, from parties of six (and by risk from 0.3)
FIRST = date(2026, 3, 2)  # the bookings that finish: 2 to 6 March
LATER = date(2026, 3, 20)  # the bookings still pending
LATE = datetime(2026, 3, 15, 12, 0, tzinfo=NOW.tzinfo)  # when the report is read
SPAN = (FIRST, LATER)
TIMES = ("18:00", "18:30", "19:00", "19:30")


@pytest.fixture
def house(ledger: Ledger) -> int:
    return add_restaurant(ledger, bistro_spec(deposit_risk_threshold=0.3))


class History:
    """Bookings at ``house`` from ``FIRST`` on, each at its own slot."""

    def __init__(self, ledger: Ledger, rid: int) -> None:
        self.ledger, self.rid, self.made = ledger, rid, 0

    def book(
        self,
        risk: float | None,
        model: str = CHAMPION,
        *,
        party: int = 2,
        day: date | None = None,
        at: datetime = NOW,
        rid: int | None = None,
    ) -> Reservation:
        k, self.made = self.made, self.made + 1
        request = BookingRequest(
            rid or self.rid,
            day or FIRST + timedelta(days=k // len(TIMES)),
            TIMES[k % len(TIMES)],
            party,
            guest_name=f"Guest {k}",
            no_show_risk=NoShowRisk(risk, model) if risk is not None else None,
        )
        return book(self.ledger, request, now=at)

    def completed(self, r: Reservation) -> None:
        advance(self.ledger, r.id, "seated", now=r.start_at)
        advance(self.ledger, r.id, "completed", now=r.start_at + timedelta(minutes=90))

    def no_show(self, r: Reservation) -> None:
        advance(self.ledger, r.id, "no_show", now=r.start_at + timedelta(minutes=30))

    def cancelled_by_diner(self, r: Reservation, minutes: int = 30) -> None:
        advance(
            self.ledger,
            r.id,
            "cancelled",
            cancelled_by="diner",
            now=NOW + timedelta(minutes=minutes),
        )

    def pay(self, r: Reservation, minutes: int) -> None:
        record_payment(
            self.ledger,
            r.id,
            amount_minor=r.deposit_minor,
            currency="GBP",
            payment_ref=f"pay-{r.id}",
            now=NOW + timedelta(minutes=minutes),
        )


def _history(ledger: Ledger, rid: int) -> dict[str, Reservation]:
    """The bookings the figures below are worked out from.

    The champion's, asked no deposit (risk under 0.3): a1 0.02 completed,
    a2 0.04 no-show, a3 0.08 completed, a4 0.15 no-show, a5 0.15 completed,
    a6 0.12 completed, a7 0.18 cancelled by the diner, a8 0.25 still booked.
    Its deposits: a9 0.35 by risk, paid in time, completed; a10 0.40 by risk,
    paid in time, no-show; a11 0.45 by risk, released unpaid; a12 0.60 by
    risk, paid after its deadline (before the release), completed; a13 0.32
    by risk, cancelled by the diner unpaid; a14 0.55 a party of six (by
    size), paid, completed; a15 0.70 and a16 0.80 by risk, booked later,
    a16 past its deadline when the report is read.
    The baseline's: b1 0.10 no-show, b2 0.05 completed (no deposit), b3
    0.50 by risk, paid in time, no-show.
    Left out: a booking not scored, a walk-in, one outside the span and one
    at another restaurant."""
    h = History(ledger, rid)
    risks = {
        "a1": 0.02, "a2": 0.04, "a3": 0.08, "a4": 0.15, "a5": 0.15, "a6": 0.12,
        "a7": 0.18, "a8": 0.25, "a9": 0.35, "a10": 0.40, "a11": 0.45, "a12": 0.60,
        "a13": 0.32,
    }  # fmt: skip
    r = {name: h.book(p) for name, p in risks.items()}
    r["a14"] = h.book(0.55, party=6)
    r["b1"] = h.book(0.10, BASELINE)
    r["b2"] = h.book(0.05, BASELINE)
    r["b3"] = h.book(0.50, BASELINE)
    unscored = h.book(None)
    other = add_restaurant(ledger, bistro_spec(name="Elsewhere", deposit_risk_threshold=0.3))
    h.book(0.9, rid=other)
    beyond = h.book(0.9, day=LATER + timedelta(days=1))
    # Paid by the deadline (an hour from booking), or after it, before the release.
    for name in ("a9", "a10", "a14", "b3"):
        h.pay(r[name], minutes=10)
    h.cancelled_by_diner(r["a13"])
    h.pay(r["a12"], minutes=90)
    released = release_unpaid(ledger, now=NOW + timedelta(hours=2), restaurant_id=rid)
    assert [x.id for x in released] == [r["a11"].id, beyond.id]
    for name in ("a1", "a3", "a5", "a6", "a9", "a12", "a14", "b2"):
        h.completed(r[name])
    for name in ("a2", "a4", "a10", "b1", "b3"):
        h.no_show(r[name])
    h.cancelled_by_diner(r["a7"], minutes=60)
    h.completed(unscored)
    # A walk-in is never scored by the core; should an import give one a risk,
    # the report still leaves it out.
    walk_in = seat_walk_in(ledger, rid, 2, now=r["a1"].start_at + timedelta(minutes=5))
    with ledger.write() as conn:
        conn.execute(
            sa.update(reservations)
            .where(reservations.c.id == walk_in.id)
            .values(no_show_risk=0.9, no_show_risk_model=CHAMPION)
        )
    # Booked later: one past its deadline when the report is read, one not.
    r["a16"] = h.book(0.80, day=LATER, at=LATE - timedelta(minutes=90))
    r["a15"] = h.book(0.70, day=LATER, at=LATE - timedelta(minutes=10))
    for name in ("a9", "a10", "a11", "a12", "a13", "a15", "a16", "b3"):
        assert r[name].deposit_reason is DepositReason.RISK, name
    assert r["a14"].deposit_reason is DepositReason.PARTY_SIZE
    return r


@pytest.fixture
def report(ledger: Ledger, house: int) -> RiskDepositReport:
    _history(ledger, house)
    return risk_deposit_report(ledger, house, *SPAN, now=LATE)


def test_it_counts_the_deposits_asked_and_what_became_of_them(report: RiskDepositReport) -> None:
    assert report.risk_threshold == 0.3
    assert (report.date_from, report.date_to, report.as_of) == (FIRST, LATER, LATE)
    d = report.deposits
    assert (d.scored, d.asked_by_risk, d.asked_by_party_size, d.asked_none) == (19, 8, 1, 10)
    a = report.asked_by_risk
    assert a.asked == 8
    assert (a.paid_by_deadline, a.paid_late, a.released_unpaid) == (3, 1, 1)  # a9 a10 b3; a12; a11
    assert (a.pending, a.overdue, a.ended_unpaid) == (2, 1, 1)  # a15 a16, a16; a13
    assert a.paid_by_deadline + a.paid_late + a.released_unpaid + a.pending + a.ended_unpaid == 8


def test_it_compares_no_shows_asked_by_risk_or_not(report: RiskDepositReport) -> None:
    # Asked by risk: a9 a12 completed, a10 b3 no-shows, a11 released, a13 cancelled.
    by_risk = report.outcomes_asked_by_risk
    assert (by_risk.finished, by_risk.completed, by_risk.no_shows) == (6, 2, 2)
    assert (by_risk.cancelled, by_risk.released_unpaid) == (2, 1)
    assert by_risk.no_show_rate == pytest.approx(2 / 6)
    assert by_risk.no_show_rate_reached == pytest.approx(2 / 4)
    # Not by risk: a1 a3 a5 a6 a14 b2 completed, a2 a4 b1 no-shows, a7 cancelled.
    other = report.outcomes_not_asked_by_risk
    assert (other.finished, other.completed, other.no_shows) == (10, 6, 3)
    assert (other.cancelled, other.released_unpaid) == (1, 0)
    assert other.no_show_rate == pytest.approx(3 / 10)
    assert other.no_show_rate_reached == pytest.approx(3 / 9)


def _bins(c: Calibration) -> list[tuple[int, int, int, float | None, float | None]]:
    return [(b.bookings, b.reached, b.no_shows, b.mean_predicted, b.observed_rate) for b in c.bins]


def test_it_measures_calibration_per_model_with_and_without_a_deposit(
    report: RiskDepositReport,
) -> None:
    assert [m.model for m in report.models] == [CHAMPION, BASELINE]
    champion, baseline = report.models
    assert (champion.scored, baseline.scored) == (16, 3)
    assert (champion.first_service_date, champion.last_service_date) == (FIRST, LATER)
    assert (baseline.first_service_date, baseline.last_service_date) == (
        date(2026, 3, 5),
        date(2026, 3, 6),
    )
    for m in report.models:
        for c in (m.no_deposit, m.with_deposit):
            assert [(b.low, b.high) for b in c.bins] == list(pairwise(BIN_EDGES))

    clean = champion.no_deposit  # a1..a8
    assert _bins(clean) == [
        (2, 2, 1, pytest.approx(0.03), 0.5),  # a1 0.02 came, a2 0.04 did not
        (1, 1, 0, pytest.approx(0.08), 0.0),  # a3
        (4, 3, 1, pytest.approx(0.14), pytest.approx(1 / 3)),  # a4 a5 a6 (a7 cancelled)
        (1, 0, 0, None, None),  # a8 still to come
        (0, 0, 0, None, None),
        (0, 0, 0, None, None),
    ]
    assert (clean.bookings, clean.reached, clean.no_shows) == (8, 6, 2)
    assert clean.mean_predicted == pytest.approx((0.02 + 0.04 + 0.08 + 0.15 + 0.15 + 0.12) / 6)
    assert clean.observed_rate == pytest.approx(2 / 6)
    assert clean.ece == pytest.approx((2 * 0.47 + 1 * 0.08 + 3 * abs(0.14 - 1 / 3)) / 6)
    squares = 0.02**2 + 0.96**2 + 0.08**2 + 0.85**2 + 0.15**2 + 0.12**2
    assert clean.brier == pytest.approx(squares / 6)

    deposit = champion.with_deposit  # a9..a16
    assert _bins(deposit) == [
        (0, 0, 0, None, None),
        (0, 0, 0, None, None),
        (0, 0, 0, None, None),
        (0, 0, 0, None, None),
        (4, 2, 1, pytest.approx(0.375), 0.5),  # a9 0.35 came, a10 0.40 not (a11 a13 cancelled)
        (4, 2, 0, pytest.approx(0.575), 0.0),  # a12 0.60, a14 0.55 came (a15 a16 to come)
    ]
    assert deposit.ece == pytest.approx((2 * 0.125 + 2 * 0.575) / 4)
    assert deposit.brier == pytest.approx((0.35**2 + 0.6**2 + 0.6**2 + 0.55**2) / 4)
    assert deposit.observed_rate == pytest.approx(0.25)  # under its predicted 0.475

    # The baseline: 0.05 opens the second bin, 0.10 the third, 0.50 the last.
    assert _bins(baseline.no_deposit)[1:3] == [
        (1, 1, 0, pytest.approx(0.05), 0.0),
        (1, 1, 1, pytest.approx(0.10), 1.0),
    ]
    assert baseline.no_deposit.ece == pytest.approx((0.05 + 0.9) / 2)
    assert baseline.no_deposit.brier == pytest.approx((0.05**2 + 0.9**2) / 2)
    assert _bins(baseline.with_deposit)[5] == (1, 1, 1, pytest.approx(0.5), 1.0)
    assert baseline.with_deposit.ece == pytest.approx(0.5)
    assert baseline.with_deposit.brier == pytest.approx(0.25)


def test_the_span_picks_the_service_dates(ledger: Ledger, house: int) -> None:
    _history(ledger, house)
    first_day = risk_deposit_report(ledger, house, FIRST, FIRST, now=LATE)
    # a1..a4 on the first day: 0.02 completed, 0.04 and 0.15 no-shows, 0.08 completed.
    assert first_day.deposits.scored == 4
    assert first_day.outcomes_not_asked_by_risk.no_shows == 2
    (champion,) = first_day.models
    assert champion.no_deposit.reached == 4
    assert champion.no_deposit.brier == pytest.approx((0.02**2 + 0.96**2 + 0.08**2 + 0.85**2) / 4)
    # Now, the pending bookings of the 20th are not yet overdue.
    early = risk_deposit_report(ledger, house, LATER, LATER, now=LATE - timedelta(minutes=60))
    assert (early.asked_by_risk.pending, early.asked_by_risk.overdue) == (2, 0)


def test_a_restaurant_with_nothing_scored_has_an_empty_report(ledger: Ledger) -> None:
    rid = add_restaurant(ledger, bistro_spec(name="Quiet"))
    History(ledger, rid).book(None)  # not scored: not in it
    empty = risk_deposit_report(ledger, rid, *SPAN)
    assert empty.risk_threshold is None
    assert empty.deposits.scored == 0 and empty.asked_by_risk.asked == 0
    assert empty.outcomes_asked_by_risk.no_show_rate is None
    assert empty.outcomes_not_asked_by_risk.no_show_rate_reached is None
    assert empty.models == ()
    assert empty.as_of == NOW


def test_bad_input_is_refused_with_a_reason(ledger: Ledger, house: int) -> None:
    with pytest.raises(InvalidRequest, match="from is after to"):
        risk_deposit_report(ledger, house, date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(InvalidRequest, match=f"at most {MAX_SPAN_DAYS} days.*is 367"):
        risk_deposit_report(ledger, house, date(2026, 1, 1), date(2027, 1, 2))
    year = risk_deposit_report(ledger, house, date(2024, 1, 1), date(2024, 12, 31))  # 366
    assert year.deposits.scored == 0
    with pytest.raises(UnknownRestaurant, match="no restaurant with id 999999"):
        risk_deposit_report(ledger, 999_999, *SPAN)
    with pytest.raises(InvalidRequest, match="no time zone"):
        risk_deposit_report(ledger, house, *SPAN, now=datetime(2026, 3, 1, 12))  # noqa: DTZ001
    # The span's ends are the calendar's own.
    edge = risk_deposit_report(ledger, house, date.min, date.min + timedelta(days=10))
    assert edge.deposits.scored == 0


def test_the_control_group_measures_what_the_deposit_does(ledger: Ledger) -> None:
    """Over the threshold, six bookings drawn into the control group (no
    deposit: 3 no-shows of 6) and four asked by risk (paid: 1 no-show of 4).
    Effect 3/6 - 1/4 = 0.25; its interval 0.25 +- 1.96 x sqrt(0.5 x 0.5 / 6
    + 0.25 x 0.75 / 4)."""
    rid = add_restaurant(
        ledger,
        bistro_spec(name="Measured", deposit_risk_threshold=0.3, deposit_risk_control_share=0.25),
    )
    h = History(ledger, rid)
    kept_back = []
    for k in range(6):
        request = BookingRequest(
            rid,
            FIRST + timedelta(days=k // len(TIMES)),
            TIMES[k % len(TIMES)],
            2,
            guest_name=f"Control {k}",
            no_show_risk=NoShowRisk(0.4, CHAMPION, draw=0.1),
        )
        kept_back.append(book(ledger, request, now=NOW))
        h.made += 1
    assert all(r.deposit_risk_control and r.deposit_minor == 0 for r in kept_back)
    for r in kept_back[:3]:
        h.no_show(r)
    for r in kept_back[3:]:
        h.completed(r)
    asked = [h.book(0.4) for _ in range(4)]  # no draw: never held back
    for k, r in enumerate(asked):
        h.pay(r, 5 + k)
        (h.no_show if k == 0 else h.completed)(r)
    report = risk_deposit_report(ledger, rid, *SPAN, now=LATE)
    assert report.control_share == 0.25
    assert (report.deposits.control, report.deposits.asked_none) == (6, 6)
    control = report.outcomes_control
    assert (control.finished, control.no_shows, control.completed) == (6, 3, 3)
    assert report.outcomes_not_asked_by_risk.finished == 0  # the control group is apart
    effect = report.deposit_effect
    assert effect is not None
    assert (effect.control_reached, effect.asked_reached) == (6, 4)
    assert (effect.control_rate, effect.asked_rate) == (0.5, 0.25)
    spread = 1.96 * (0.5 * 0.5 / 6 + 0.25 * 0.75 / 4) ** 0.5
    assert effect.difference == pytest.approx(0.25)
    assert (effect.low, effect.high) == (pytest.approx(0.25 - spread), pytest.approx(0.25 + spread))
    # Over the threshold without a deposit: the model's clean calibration there.
    (model,) = report.models
    assert (model.no_deposit.reached, model.no_deposit.observed_rate) == (6, 0.5)
    assert model.no_deposit.mean_predicted == pytest.approx(0.4)
    assert risk_deposit_report(ledger, rid, LATER, LATER, now=LATE).deposit_effect is None
