"""Choosing a deposit risk threshold: what each threshold would have asked of
the restaurant's own recent bookings, and what it would have caught.

A manager turning on deposits by risk (``booking_core.deposits``) must pick a
threshold, and one default does not fit: the same probability asks a few
percent of one restaurant's diners and a tenth of another's. So the choice is
laid out on the restaurant's past bookings, threshold by threshold, over the
range a threshold may take (``THRESHOLDS``: 0.05 to 0.95 by 0.05).

Which bookings (``past_bookings``): those booked ahead (every channel but
walk-in) with a ``service_date`` in the span, cancelled ones included (a
deposit is asked when the booking is made, before anyone knows it will be
called off). Those the restaurant's *current* party-size rule would ask
anyway are counted apart (``asked_by_size``): the size rule comes first, so
no threshold changes them.

Each booking carries its risk as scored at booking: the probability of a
no-show *without* a deposit and, where the scorer knows what a deposit does
(a model with the deposit among its features; the baseline does not), *with*
one. The application scores (``serving.risk_thresholds``); the core never
does. Per threshold (``ThresholdRow``):

- ``over``: bookings left by the size rule whose risk reaches the threshold,
  their share of all the span's bookings, and their covers; with the size
  rule's, the share of bookings that would have been asked a deposit at all.
- ``deposits_asked_minor``: what those deposits would have asked (covers x
  the deposit per cover), less the control group's expected share, which is
  left without one.
- ``expected_no_shows``: the sum of their risks without a deposit: the
  no-shows the model expected of them. ``expected_no_shows_avoided``: the sum,
  over those actually asked (the control share aside), of the risk without a
  deposit less the risk with one (None for a scorer without a deposit
  effect); ``expected_covers_kept`` weighs it by party size and
  ``expected_spend_kept_minor`` by the restaurant's spend per cover.
- ``reached`` and ``no_shows_seen``: of them, those that reached their day
  (completed or no-show) and those that did not show. Seen, not modelled: a
  check of the model on these very bookings. Bookings that were asked a
  deposit at the time (by risk, under an earlier threshold) came more often
  than they would have without it, so there the seen count is low.

``spend_per_cover_minor`` is the mean POS spend per cover of the span's
completed bookings with a closed check (None without one): what a no-show's
empty seat would have brought, roughly.

``suggested_threshold(rows, max_share)``: the lowest threshold whose
bookings asked by risk are at most ``max_share`` of the span's, for a manager
who knows how many diners they are willing to ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from booking_core import validation
from booking_core.domain import Channel, ReservationState
from booking_core.errors import InvalidRequest, UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.schema import pos_checks, reservations, restaurants

# The thresholds a restaurant may set (``restaurants.check_deposit_policy``).
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
# Every booking in the span is scored on each request: a quarter bounds the work.
MAX_SPAN_DAYS = 92


@dataclass(frozen=True)
class PastBooking:
    """One booking of the span, as the planner needs it."""

    reservation_id: int
    party_size: int
    asked_by_size: bool  # the restaurant's current size rule asks it a deposit
    reached: bool  # completed or no-show
    no_show: bool


@dataclass(frozen=True)
class RiskAtBooking:
    """A booking's no-show risk as scored when it was made."""

    without_deposit: float
    with_deposit: float | None = None  # None: the scorer has no deposit effect


@dataclass(frozen=True)
class Restaurant:
    """What the planner reads of the restaurant."""

    restaurant_id: int
    currency: str
    deposit_per_cover_minor: int
    deposit_min_party: int | None
    risk_threshold: float | None
    control_share: float
    spend_per_cover_minor: float | None


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    over: int
    share_over: float
    share_asked: float  # by the size rule or by risk
    covers_over: int
    deposits_asked_minor: int
    expected_no_shows: float
    expected_no_shows_avoided: float | None
    expected_covers_kept: float | None
    expected_spend_kept_minor: int | None
    reached: int
    no_shows_seen: int

    @property
    def no_show_rate_expected(self) -> float | None:
        """The mean risk of the bookings over the threshold."""
        return self.expected_no_shows / self.over if self.over else None

    @property
    def no_show_rate_seen(self) -> float | None:
        """No-shows among those over it that reached their day."""
        return self.no_shows_seen / self.reached if self.reached else None


@dataclass(frozen=True)
class ThresholdPlan:
    restaurant: Restaurant
    date_from: date
    date_to: date
    bookings: int
    asked_by_size: int
    no_shows_seen: int  # all the span's no-shows, size rule's included
    rows: tuple[ThresholdRow, ...]


def check_span(date_from: date, date_to: date) -> None:
    """``InvalidRequest`` for a backwards span or one over ``MAX_SPAN_DAYS``."""
    validation.check_span(date_from, date_to, max_days=MAX_SPAN_DAYS, what="A threshold plan")


_r = reservations.c
_IN_SPAN = sa.and_(
    _r.restaurant_id == sa.bindparam("restaurant_id"),
    _r.service_date.between(sa.bindparam("first"), sa.bindparam("last")),
    _r.channel != Channel.WALK_IN.value,
)
_BOOKINGS = (
    sa.select(_r.id, _r.party_size, _r.state).where(_IN_SPAN).order_by(_r.service_date, _r.id)
)
_SPEND = (
    sa.select(
        sa.func.sum(pos_checks.c.subtotal_minor).label("spend"),
        sa.func.sum(pos_checks.c.covers).label("covers"),
    )
    .join(reservations, reservations.c.id == pos_checks.c.reservation_id)
    .where(
        _IN_SPAN,
        _r.state == ReservationState.COMPLETED.value,
        pos_checks.c.closed_at.is_not(None),
    )
)


def past_bookings(
    ledger: Ledger, restaurant_id: int, date_from: date, date_to: date
) -> tuple[Restaurant, list[PastBooking]]:
    """The restaurant's settings and its bookings with a service date in the
    span (see the module's docstring). ``InvalidRequest`` for a bad span,
    ``UnknownRestaurant`` for an unknown restaurant."""
    check_span(date_from, date_to)
    params = {"restaurant_id": restaurant_id, "first": date_from, "last": date_to}
    place = restaurants.c
    with ledger.read() as conn:
        found = conn.execute(
            sa.select(
                place.currency,
                place.deposit_per_cover_minor,
                place.deposit_min_party,
                place.deposit_risk_threshold,
                place.deposit_risk_control_share,
            ).where(place.id == restaurant_id)
        ).first()
        if found is None:
            raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
        rows = conn.execute(_BOOKINGS, params).all()
        spend = conn.execute(_SPEND, params).one()
    asks_deposit = found.deposit_per_cover_minor > 0 and found.deposit_min_party is not None
    bookings = [
        PastBooking(
            reservation_id=row.id,
            party_size=row.party_size,
            asked_by_size=asks_deposit and row.party_size >= found.deposit_min_party,
            reached=row.state in (ReservationState.COMPLETED.value, ReservationState.NO_SHOW.value),
            no_show=row.state == ReservationState.NO_SHOW.value,
        )
        for row in rows
    ]
    restaurant = Restaurant(
        restaurant_id=restaurant_id,
        currency=found.currency,
        deposit_per_cover_minor=found.deposit_per_cover_minor,
        deposit_min_party=found.deposit_min_party,
        risk_threshold=found.deposit_risk_threshold,
        control_share=found.deposit_risk_control_share,
        spend_per_cover_minor=float(spend.spend) / float(spend.covers) if spend.covers else None,
    )
    return restaurant, bookings


def threshold_rows(
    restaurant: Restaurant,
    bookings: Sequence[PastBooking],
    risks: Mapping[int, RiskAtBooking],
    thresholds: Sequence[float] = THRESHOLDS,
) -> tuple[ThresholdRow, ...]:
    """One row per threshold over ``bookings``; each the size rule leaves
    needs its risk in ``risks`` (``InvalidRequest`` otherwise)."""
    candidates = [b for b in bookings if not b.asked_by_size]
    missing = [b.reservation_id for b in candidates if b.reservation_id not in risks]
    if missing:
        raise InvalidRequest(f"Booking {missing[0]} has no risk at booking to weigh.")
    asked = 1.0 - restaurant.control_share
    per_cover = restaurant.deposit_per_cover_minor
    spend = restaurant.spend_per_cover_minor
    by_size = len(bookings) - len(candidates)
    out = []
    for threshold in thresholds:
        over = [b for b in candidates if risks[b.reservation_id].without_deposit >= threshold]
        covers = sum(b.party_size for b in over)
        effects = [risks[b.reservation_id] for b in over]
        known = all(r.with_deposit is not None for r in effects)
        avoided = kept = None
        if known:
            gaps = [(r.without_deposit - (r.with_deposit or 0.0)) for r in effects]
            avoided = asked * sum(gaps)
            kept = asked * sum(g * b.party_size for g, b in zip(gaps, over, strict=True))
        out.append(
            ThresholdRow(
                threshold=threshold,
                over=len(over),
                share_over=len(over) / len(bookings) if bookings else 0.0,
                share_asked=(by_size + len(over) * asked) / len(bookings) if bookings else 0.0,
                covers_over=covers,
                deposits_asked_minor=round(covers * per_cover * asked),
                expected_no_shows=sum(r.without_deposit for r in effects),
                expected_no_shows_avoided=avoided,
                expected_covers_kept=kept,
                expected_spend_kept_minor=(
                    round(kept * spend) if kept is not None and spend is not None else None
                ),
                reached=sum(b.reached for b in over),
                no_shows_seen=sum(b.no_show for b in over),
            )
        )
    return tuple(out)


def suggested_threshold(rows: Sequence[ThresholdRow], max_share: float) -> float | None:
    """The lowest threshold asking by risk at most ``max_share`` of the
    bookings (None when even the highest asks more)."""
    if not 0.0 < max_share <= 1.0:
        raise InvalidRequest(f"The share of bookings to ask is from 0 to 1, not {max_share}.")
    fitting = [row.threshold for row in rows if row.share_over <= max_share]
    return min(fitting) if fitting else None


def threshold_plan(
    restaurant: Restaurant,
    bookings: Sequence[PastBooking],
    risks: Mapping[int, RiskAtBooking],
    date_from: date,
    date_to: date,
) -> ThresholdPlan:
    """The whole plan: the span's counts and one row per threshold."""
    return ThresholdPlan(
        restaurant=restaurant,
        date_from=date_from,
        date_to=date_to,
        bookings=len(bookings),
        asked_by_size=sum(b.asked_by_size for b in bookings),
        no_shows_seen=sum(b.no_show for b in bookings),
        rows=threshold_rows(restaurant, bookings, risks),
    )


__all__ = [
    "MAX_SPAN_DAYS",
    "THRESHOLDS",
    "PastBooking",
    "Restaurant",
    "RiskAtBooking",
    "ThresholdPlan",
    "ThresholdRow",
    "check_span",
    "past_bookings",
    "suggested_threshold",
    "threshold_plan",
    "threshold_rows",
]
