"""The manager's report on risk-based deposits: is asking by risk working,
and can the risk scored at booking be trusted? Read from the restaurant's
own bookings, in production.

Which bookings: those booked ahead (every channel but walk-in) at the
restaurant, with a ``service_date`` from ``date_from`` to ``date_to`` (both
included, at most ``MAX_SPAN_DAYS``), that were scored at booking
(``reservations.no_show_risk`` is set: the restaurant asked deposits by risk
when they were made, ``booking_core.deposits``).

What it says (``RiskDepositReport``):

- ``deposits``: how many were scored, and how many were asked a deposit by
  risk, by party size (the size rule comes first, whatever the risk) or not
  at all.
- ``asked_by_risk``: what became of the deposits asked by risk. Every one
  is in exactly one of: ``paid_by_deadline`` (held in full, last paid in
  full at or before its deadline), ``paid_late`` (held in full, paid after
  its deadline but before the release job came by), ``released_unpaid``
  (cancelled by the restaurant at or after the deadline with the deposit
  still owed: ``booking_core.unpaid_deposits``, counted as the service
  report counts it), ``pending`` (still standing and owing; ``overdue`` of
  them are past their deadline at ``as_of``, for the release job's next
  run) and ``ended_unpaid`` (ended owing some of it another way: cancelled
  by the diner or before the deadline, or the party came before the
  release did).
- ``outcomes_asked_by_risk`` / ``outcomes_not_asked_by_risk``: of the
  bookings *finished* (completed, no-show or cancelled, releases
  included), how many ended each way, and the no-show rate over all of them
  (``no_show_rate``) and over those that reached their day, completed or
  no-show (``no_show_rate_reached``: what a no-show model predicts).
  "Not asked by risk" holds the bookings asked by party size and those
  asked nothing.
- ``outcomes_control`` and ``deposit_effect``: the bookings at or over
  the threshold that the restaurant's control group left without a
  deposit (``deposit_risk_control``, drawn at random), and the difference
  between their no-show rate and that of the bookings asked by risk, among
  those that reached their day, with a 95 % interval (normal approximation
  for two proportions; None until both groups have outcomes). It is what
  the deposit does at this restaurant, measured rather than assumed. The
  control bookings are in ``asked_none`` and in the ``no_deposit``
  calibration (the only place the model is seen over the threshold
  without a deposit), not in ``outcomes_not_asked_by_risk``.
- ``models``: calibration per ``no_show_risk_model`` (a model promoted
  mid-span is a second row, with the service dates each scored), in bins
  of the risk at booking (``BIN_EDGES``: 0-0.05, 0.05-0.1, 0.1-0.2,
  0.2-0.3, 0.3-0.5, 0.5-1; a bin holds its lower edge, the last one 1 too).
  Per bin: the bookings scored in it, those that reached their day
  (completed or no-show; a cancelled booking is no outcome of a no-show
  model, and one still to come has none yet), their mean predicted risk
  and their observed no-show rate. Over the bins: the expected calibration
  error (ECE: the bins' gaps between mean predicted and observed, weighted
  by their share of the bookings that reached their day) and the Brier
  score (the mean squared gap between each booking's risk and its outcome,
  1 for a no-show, 0 for a completed visit).

**Reading the calibration.** The risk is scored *as if no deposit were
asked*: it is the risk the booking would have run without one. A deposit
makes a diner likelier to come (that is what it is for), so among bookings
then asked a deposit the observed no-show rate is expected to fall below
the predicted one; the gap there is the deposit working, not the model
failing. Each model's calibration is therefore given twice:
``no_deposit`` (bookings asked none: the clean comparison, where predicted
and observed should agree) and ``with_deposit`` (asked one, by risk or by
party size). At a restaurant asking by risk, the bookings asked none all
scored below its threshold (unless the threshold changed within the span),
so ``no_deposit`` fills the lower bins and ``with_deposit`` the upper ones:
above the threshold the model is only ever seen through the deposit's
effect. Bins with few bookings are noisy: each carries its counts.

Read with three queries over the span, each an aggregate over the index on
``(restaurant_id, service_date)``: the restaurant's row, the bookings
counted by deposit reason and state, and the calibration sums by model,
deposit and bin. Only those few aggregated rows are added up in Python."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from booking_core import validation
from booking_core.deposits import STANDING, DepositReason
from booking_core.domain import CancelledBy, Channel, ReservationState
from booking_core.errors import UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.schema import reservations, restaurants
from booking_core.validation import check_aware

# The longest span one report reads: a year (a leap year's 366 days).
MAX_SPAN_DAYS = 366
# The edges of the calibration bins of the risk at booking.
BIN_EDGES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class DepositCounts:
    """The bookings scored at booking, by why a deposit was asked."""

    scored: int
    asked_by_risk: int
    asked_by_party_size: int
    asked_none: int
    control: int  # of asked_none: over the threshold, left without one as a control


@dataclass(frozen=True)
class AskedByRisk:
    """What became of the deposits asked by risk (see the module's docstring:
    the first five add up to ``asked``; ``overdue`` is part of ``pending``)."""

    asked: int
    paid_by_deadline: int
    paid_late: int
    released_unpaid: int
    pending: int
    overdue: int
    ended_unpaid: int


@dataclass(frozen=True)
class Outcomes:
    """How finished bookings ended (``cancelled`` includes ``released_unpaid``)."""

    finished: int
    completed: int
    no_shows: int
    cancelled: int
    released_unpaid: int

    @property
    def no_show_rate(self) -> float | None:
        """No-shows over every finished booking."""
        return self.no_shows / self.finished if self.finished else None

    @property
    def no_show_rate_reached(self) -> float | None:
        """No-shows over the bookings that reached their day (completed or no-show)."""
        reached = self.completed + self.no_shows
        return self.no_shows / reached if reached else None


@dataclass(frozen=True)
class DepositEffect:
    """No-show rates, among bookings that reached their day, of the control
    group (over the threshold, left without a deposit) and of the bookings
    asked by risk: ``difference`` = control - asked, the no-shows a deposit
    prevented per booking, with its 95 % interval."""

    control_reached: int
    asked_reached: int
    control_rate: float
    asked_rate: float
    difference: float
    low: float
    high: float


def deposit_effect(control: Outcomes, asked: Outcomes) -> DepositEffect | None:
    n_c, n_a = control.completed + control.no_shows, asked.completed + asked.no_shows
    if not n_c or not n_a:
        return None
    p_c, p_a = control.no_shows / n_c, asked.no_shows / n_a
    spread = 1.96 * math.sqrt(p_c * (1 - p_c) / n_c + p_a * (1 - p_a) / n_a)
    diff = p_c - p_a
    return DepositEffect(n_c, n_a, p_c, p_a, diff, diff - spread, diff + spread)


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the risk at booking, ``low <= risk < high`` (the last bin
    holds 1 too)."""

    low: float
    high: float
    bookings: int  # scored in this bin, whatever became of them
    reached: int  # completed or no-show: the outcomes compared
    no_shows: int
    mean_predicted: float | None  # over ``reached``; None when none
    observed_rate: float | None  # no_shows / reached; None when none


@dataclass(frozen=True)
class Calibration:
    """Calibration over the bins: ``ece`` and ``brier`` over the bookings
    that reached their day (None when none did)."""

    bookings: int
    reached: int
    no_shows: int
    mean_predicted: float | None
    observed_rate: float | None
    ece: float | None
    brier: float | None
    bins: tuple[CalibrationBin, ...]


@dataclass(frozen=True)
class ModelCalibration:
    """One model label's bookings and how well their risk was calibrated,
    without a deposit (the clean comparison) and with one."""

    model: str
    scored: int
    first_service_date: date
    last_service_date: date
    no_deposit: Calibration
    with_deposit: Calibration


@dataclass(frozen=True)
class RiskDepositReport:
    restaurant_id: int
    date_from: date
    date_to: date
    as_of: datetime  # UTC: when ``pending`` and ``overdue`` were read
    risk_threshold: float | None  # the restaurant's setting now (None: off)
    control_share: float  # the restaurant's setting now
    deposits: DepositCounts
    asked_by_risk: AskedByRisk
    outcomes_asked_by_risk: Outcomes
    outcomes_not_asked_by_risk: Outcomes
    outcomes_control: Outcomes
    deposit_effect: DepositEffect | None
    models: tuple[ModelCalibration, ...]  # by model label


def check_span(date_from: date, date_to: date) -> None:
    """``InvalidRequest`` for a backwards span or one over ``MAX_SPAN_DAYS``."""
    validation.check_span(date_from, date_to, max_days=MAX_SPAN_DAYS, what="A risk deposit report")


# ---------------------------------------------------------------- queries

_r = reservations.c
_NO_SHOW = ReservationState.NO_SHOW.value
_COMPLETED = ReservationState.COMPLETED.value
_CANCELLED = ReservationState.CANCELLED.value
_SCORED = sa.and_(
    _r.restaurant_id == sa.bindparam("restaurant_id"),
    _r.service_date.between(sa.bindparam("first"), sa.bindparam("last")),
    _r.channel != Channel.WALK_IN.value,
    _r.no_show_risk.is_not(None),
)
_held = _r.deposit_paid_minor - _r.deposit_refunded_minor
_owed = _r.deposit_minor > _held


def _count_if(condition: sa.ColumnElement[bool], label: str) -> sa.Label[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0)).label(label)


_THRESHOLD = sa.select(
    restaurants.c.deposit_risk_threshold, restaurants.c.deposit_risk_control_share
).where(restaurants.c.id == sa.bindparam("restaurant_id"))
_BY_REASON_AND_STATE = (
    sa.select(
        _r.deposit_reason,
        _r.deposit_risk_control.label("control"),
        _r.state,
        sa.func.count().label("bookings"),
        _count_if(_owed, "owed"),
        _count_if(
            sa.and_(
                sa.not_(_owed),
                _r.deposit_minor > 0,
                sa.or_(_r.deposit_due_at.is_(None), _r.deposit_paid_at <= _r.deposit_due_at),
            ),
            "paid_by_deadline",
        ),
        _count_if(
            sa.and_(sa.not_(_owed), _r.deposit_minor > 0, _r.deposit_paid_at > _r.deposit_due_at),
            "paid_late",
        ),
        # As the service report counts a release (``unpaid_deposits``).
        _count_if(
            sa.and_(
                _r.state == _CANCELLED,
                _r.cancelled_by == CancelledBy.RESTAURANT.value,
                _owed,
                _r.deposit_due_at <= _r.cancelled_at,
            ),
            "released_unpaid",
        ),
        _count_if(sa.and_(_owed, _r.deposit_due_at <= sa.bindparam("now")), "overdue"),
    )
    .where(_SCORED)
    .group_by(_r.deposit_reason, _r.deposit_risk_control, _r.state)
)


def _bin_of(risk: sa.ColumnElement[Any]) -> sa.Case[Any]:
    inner = BIN_EDGES[1:-1]
    return sa.case(*((risk < edge, k) for k, edge in enumerate(inner)), else_=len(inner))


# One row per booking scored, in a subquery so that the outer query groups
# by plain columns (PostgreSQL would not match a CASE with bound edges in
# the select list to its copy in GROUP BY).
_scored = (
    sa.select(
        _r.no_show_risk_model.label("model"),
        sa.case((_r.deposit_reason.is_(None), 0), else_=1).label("deposit"),
        _bin_of(_r.no_show_risk).label("bin"),
        _r.no_show_risk.label("p"),
        sa.case((_r.state == _NO_SHOW, 1), (_r.state == _COMPLETED, 0), else_=None).label("y"),
        _r.service_date,
    )
    .where(_SCORED)
    .subquery("scored")
)
_s = _scored.c
_CALIBRATION = sa.select(
    _s.model,
    _s.deposit,
    _s.bin,
    sa.func.count().label("bookings"),
    sa.func.count(_s.y).label("reached"),
    sa.func.sum(_s.y).label("no_shows"),
    sa.func.sum(sa.case((_s.y.is_not(None), _s.p), else_=None)).label("sum_p"),
    sa.func.sum((_s.p - _s.y) * (_s.p - _s.y)).label("sum_sq"),
    sa.func.min(_s.service_date).label("first"),
    sa.func.max(_s.service_date).label("last"),
).group_by(_s.model, _s.deposit, _s.bin)


# ---------------------------------------------------------------- adding up


def _asked(rows: Sequence[sa.Row[Any]]) -> AskedByRisk:
    by_risk = [row for row in rows if row.deposit_reason == DepositReason.RISK.value]
    standing = {s.value for s in STANDING}

    def total(name: str, only: Iterable[sa.Row[Any]] = by_risk) -> int:
        return sum(int(getattr(row, name) or 0) for row in only)

    released = total("released_unpaid")
    owing_standing = [row for row in by_risk if row.state in standing]
    owing_ended = [row for row in by_risk if row.state not in standing]
    return AskedByRisk(
        asked=total("bookings"),
        paid_by_deadline=total("paid_by_deadline"),
        paid_late=total("paid_late"),
        released_unpaid=released,
        pending=total("owed", owing_standing),
        overdue=total("overdue", owing_standing),
        ended_unpaid=total("owed", owing_ended) - released,
    )


def _outcomes(rows: Iterable[sa.Row[Any]]) -> Outcomes:
    counts = {_COMPLETED: 0, _NO_SHOW: 0, _CANCELLED: 0}
    released = 0
    for row in rows:
        if row.state in counts:
            counts[row.state] += int(row.bookings)
            released += int(row.released_unpaid or 0)
    return Outcomes(
        finished=sum(counts.values()),
        completed=counts[_COMPLETED],
        no_shows=counts[_NO_SHOW],
        cancelled=counts[_CANCELLED],
        released_unpaid=released,
    )


@dataclass
class _Sums:
    bookings: int = 0
    reached: int = 0
    no_shows: int = 0
    sum_p: float = 0.0
    sum_sq: float = 0.0

    def add(self, row: sa.Row[Any]) -> None:
        self.bookings += int(row.bookings)
        self.reached += int(row.reached)
        self.no_shows += int(row.no_shows or 0)
        self.sum_p += float(row.sum_p or 0.0)
        self.sum_sq += float(row.sum_sq or 0.0)


def _calibration(by_bin: dict[int, _Sums]) -> Calibration:
    bins = []
    whole = _Sums()
    gaps = 0.0
    for k, (low, high) in enumerate(pairwise(BIN_EDGES)):
        s = by_bin.get(k, _Sums())
        mean = s.sum_p / s.reached if s.reached else None
        observed = s.no_shows / s.reached if s.reached else None
        if mean is not None and observed is not None:
            gaps += s.reached * abs(mean - observed)
        bins.append(CalibrationBin(low, high, s.bookings, s.reached, s.no_shows, mean, observed))
        whole.bookings += s.bookings
        whole.reached += s.reached
        whole.no_shows += s.no_shows
        whole.sum_p += s.sum_p
        whole.sum_sq += s.sum_sq
    n = whole.reached
    return Calibration(
        bookings=whole.bookings,
        reached=n,
        no_shows=whole.no_shows,
        mean_predicted=whole.sum_p / n if n else None,
        observed_rate=whole.no_shows / n if n else None,
        ece=gaps / n if n else None,
        brier=whole.sum_sq / n if n else None,
        bins=tuple(bins),
    )


def _models(rows: Sequence[sa.Row[Any]]) -> tuple[ModelCalibration, ...]:
    sums: dict[str, tuple[dict[int, _Sums], dict[int, _Sums]]] = {}
    dates: dict[str, tuple[date, date]] = {}
    for row in rows:
        per_deposit = sums.setdefault(row.model, ({}, {}))
        per_deposit[int(row.deposit)].setdefault(int(row.bin), _Sums()).add(row)
        first, last = dates.get(row.model, (row.first, row.last))
        dates[row.model] = (min(first, row.first), max(last, row.last))
    out = []
    for model in sorted(sums):
        none, some = (_calibration(by_bin) for by_bin in sums[model])
        out.append(
            ModelCalibration(
                model=model,
                scored=none.bookings + some.bookings,
                first_service_date=dates[model][0],
                last_service_date=dates[model][1],
                no_deposit=none,
                with_deposit=some,
            )
        )
    return tuple(out)


def _asked_by_risk_and_control(
    counted: Sequence[sa.Row[Any]],
) -> tuple[list[sa.Row[Any]], list[sa.Row[Any]]]:
    """The rows of ``_BY_REASON_AND_STATE`` asked a deposit by risk, and those
    of the control group."""
    by_risk = [row for row in counted if row.deposit_reason == DepositReason.RISK.value]
    return by_risk, [row for row in counted if row.control]


def measured_deposit_effect(
    ledger: Ledger, restaurant_id: int, date_from: date, date_to: date
) -> DepositEffect | None:
    """The report's ``deposit_effect`` alone, in one query: what the control
    group measured over the span (None until it and the bookings asked by
    risk have both reached their day). ``InvalidRequest`` for a bad span."""
    check_span(date_from, date_to)
    params = {
        "restaurant_id": restaurant_id,
        "first": date_from,
        "last": date_to,
        "now": ledger.clock(),
    }
    with ledger.read() as conn:
        counted = conn.execute(_BY_REASON_AND_STATE, params).all()
    by_risk, control = _asked_by_risk_and_control(counted)
    return deposit_effect(_outcomes(control), _outcomes(by_risk))


def risk_deposit_report(
    ledger: Ledger,
    restaurant_id: int,
    date_from: date,
    date_to: date,
    *,
    now: datetime | None = None,
) -> RiskDepositReport:
    """How the restaurant's risk-based deposits did, and how well the risk
    scored at booking was calibrated, over the bookings scored with a
    service date from ``date_from`` to ``date_to`` (see the module's
    docstring). ``now`` (default: the ledger's clock) dates what is still
    pending and overdue. ``InvalidRequest`` for a backwards span or one
    over ``MAX_SPAN_DAYS``, ``UnknownRestaurant`` for an unknown
    restaurant."""
    check_span(date_from, date_to)
    now = check_aware(now, "time") if now is not None else ledger.clock()
    now = now.astimezone(UTC)
    params = {"restaurant_id": restaurant_id, "first": date_from, "last": date_to, "now": now}
    with ledger.read() as conn:
        found = conn.execute(_THRESHOLD, params).first()
        if found is None:
            raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
        counted = conn.execute(_BY_REASON_AND_STATE, params).all()
        calibrated = conn.execute(_CALIBRATION, params).all()
    by_risk, control = _asked_by_risk_and_control(counted)
    not_by_risk = [
        row for row in counted if row.deposit_reason != DepositReason.RISK.value and not row.control
    ]
    outcomes_asked, outcomes_control = _outcomes(by_risk), _outcomes(control)

    def scored(reason: str | None) -> int:
        return sum(int(row.bookings) for row in counted if row.deposit_reason == reason)

    return RiskDepositReport(
        restaurant_id=restaurant_id,
        date_from=date_from,
        date_to=date_to,
        as_of=now,
        risk_threshold=found.deposit_risk_threshold,
        control_share=found.deposit_risk_control_share,
        deposits=DepositCounts(
            scored=sum(int(row.bookings) for row in counted),
            asked_by_risk=scored(DepositReason.RISK.value),
            asked_by_party_size=scored(DepositReason.PARTY_SIZE.value),
            asked_none=scored(None),
            control=sum(int(row.bookings) for row in control),
        ),
        asked_by_risk=_asked(counted),
        outcomes_asked_by_risk=outcomes_asked,
        outcomes_not_asked_by_risk=_outcomes(not_by_risk),
        outcomes_control=outcomes_control,
        deposit_effect=deposit_effect(outcomes_control, outcomes_asked),
        models=_models(calibrated),
    )


__all__ = [
    "BIN_EDGES",
    "MAX_SPAN_DAYS",
    "AskedByRisk",
    "Calibration",
    "CalibrationBin",
    "DepositCounts",
    "DepositEffect",
    "ModelCalibration",
    "Outcomes",
    "RiskDepositReport",
    "check_span",
    "deposit_effect",
    "measured_deposit_effect",
    "risk_deposit_report",
]
