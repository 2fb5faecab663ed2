"""The manager's report on risk-based deposits (``booking_core.risk_report``
defines every figure): how many bookings were asked a deposit by risk and
what became of those deposits, no-shows with and without one, and how well
the risk scored at booking was calibrated, per model. Beside it, the
threshold planner (``booking_core.risk_thresholds``): what each threshold
would have asked of the restaurant's past bookings and what it would have
caught. The restaurant's managers and admins only: money and model scores
are the restaurant's decision, as the fee list."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from booking_core.accounts import Role
from booking_core.availability import get_floor
from booking_core.ledger import Ledger
from booking_core.risk_report import (
    MAX_SPAN_DAYS,
    measured_deposit_effect,
    risk_deposit_report,
)
from booking_core.risk_thresholds import MAX_SPAN_DAYS as THRESHOLD_SPAN_DAYS
from booking_core.risk_thresholds import suggested_threshold
from serving.champions import ATTENDANCE
from serving.deps import (
    ChampionsDep,
    CurrentPrincipal,
    LedgerDep,
    PathId,
    ScorerDep,
    require_role,
    require_staff_of,
)
from serving.risk_thresholds import weigh_thresholds

# Fields named date would shadow the type inside a class body.
LocalDate = date
DEFAULT_DAYS = 28
router = APIRouter(tags=["reports"])
FirstServiceDate = Annotated[
    LocalDate | None,
    Query(
        alias="from",
        description=f"First service date, YYYY-MM-DD (default: {DEFAULT_DAYS - 1} days before to)",
    ),
]


class _Figures(BaseModel):
    """Read off the core's report (its dataclasses, field for field)."""

    model_config = ConfigDict(from_attributes=True)


class DepositCountsPublic(_Figures):
    scored: int = Field(
        description="Bookings (not walk-ins) with a service date in the span that were scored "
        "at booking"
    )
    asked_by_risk: int = Field(
        description="Asked a deposit because their risk reached the threshold"
    )
    asked_by_party_size: int = Field(
        description="Asked a deposit by the party-size rule (it comes first, whatever the risk)"
    )
    asked_none: int = Field(description="Asked no deposit")
    control: int = Field(
        description="Of those asked none: at or over the threshold, left without a deposit "
        "in the restaurant's control group"
    )


class AskedByRiskPublic(_Figures):
    asked: int = Field(description="Deposits asked by risk; the next five add up to it")
    paid_by_deadline: int = Field(description="Paid in full by their deadline")
    paid_late: int = Field(description="Paid in full after their deadline, before any release")
    released_unpaid: int = Field(
        description="Cancelled by the restaurant at or after the deadline with the deposit owed"
    )
    pending: int = Field(description="Still standing and owing")
    overdue: int = Field(description="Of those pending, past their deadline now")
    ended_unpaid: int = Field(
        description="Ended owing it another way: cancelled by the diner or before the "
        "deadline, or the party came before any release"
    )


class OutcomesPublic(_Figures):
    finished: int = Field(description="Completed, no-show or cancelled")
    completed: int
    no_shows: int
    cancelled: int = Field(description="Cancelled by anyone, releases included")
    released_unpaid: int = Field(description="Of those cancelled, released with a deposit unpaid")
    no_show_rate: float | None = Field(description="No-shows / finished; null when none finished")
    no_show_rate_reached: float | None = Field(
        description="No-shows / (completed + no-shows): the bookings that reached their day; "
        "null when none did"
    )


class DepositEffectPublic(_Figures):
    """What the deposit does here, measured: the no-show rate of the control
    group (over the threshold, left without a deposit at random) against
    that of the bookings asked by risk, among those that reached their day."""

    control_reached: int
    asked_reached: int
    control_rate: float
    asked_rate: float
    difference: float = Field(
        description="control_rate - asked_rate: no-shows prevented per booking asked"
    )
    low: float = Field(description="95 % interval, lower end (normal approximation)")
    high: float = Field(description="95 % interval, upper end")


class CalibrationBinPublic(_Figures):
    low: float = Field(description="Lowest risk in the bin (included)")
    high: float = Field(description="Upper edge (excluded, but for the last bin's 1)")
    bookings: int = Field(description="Scored in this bin, whatever became of them")
    reached: int = Field(
        description="Reached their day: completed or no-show (cancelled ones are no outcome "
        "of a no-show model)"
    )
    no_shows: int
    mean_predicted: float | None = Field(
        description="Mean risk at booking of those that reached their day"
    )
    observed_rate: float | None = Field(description="No-shows / reached")


class CalibrationPublic(_Figures):
    bookings: int
    reached: int = Field(description="Completed or no-show")
    no_shows: int
    mean_predicted: float | None = Field(description="Mean risk at booking over those reached")
    observed_rate: float | None = Field(description="No-shows / reached")
    ece: float | None = Field(
        description="Expected calibration error: the bins' |mean predicted - observed|, "
        "weighted by their share of the bookings reached"
    )
    brier: float | None = Field(
        description="Mean of (risk - outcome)^2 over the bookings reached (1: no-show)"
    )
    bins: list[CalibrationBinPublic]


class ModelCalibrationPublic(_Figures):
    model: str = Field(description="Who scored: a model and its version, or the baseline")
    scored: int
    first_service_date: LocalDate
    last_service_date: LocalDate
    no_deposit: CalibrationPublic = Field(
        description="Bookings asked no deposit: the clean comparison of risk and outcome"
    )
    with_deposit: CalibrationPublic = Field(
        description="Bookings asked a deposit (by risk or party size). The risk was scored as "
        "if none were asked, so fewer no-shows than predicted here is the deposit working"
    )


class RiskReportPublic(_Figures):
    restaurant_id: int
    date_from: LocalDate
    date_to: LocalDate
    as_of: datetime = Field(description="When pending and overdue deposits were read")
    risk_threshold: float | None = Field(
        description="The restaurant's deposit_risk_threshold now (null: off)"
    )
    control_share: float = Field(description="The restaurant's deposit_risk_control_share now")
    deposits: DepositCountsPublic
    asked_by_risk: AskedByRiskPublic
    outcomes_asked_by_risk: OutcomesPublic = Field(
        description="Finished bookings that were asked a deposit by risk"
    )
    outcomes_not_asked_by_risk: OutcomesPublic = Field(
        description="Finished bookings that were not (asked by party size, or nothing), the "
        "control group aside"
    )
    outcomes_control: OutcomesPublic = Field(
        description="Finished bookings of the control group: over the threshold, no deposit"
    )
    deposit_effect: DepositEffectPublic | None = Field(
        description="Control against asked by risk; null until both have reached their day"
    )
    models: list[ModelCalibrationPublic] = Field(
        description="Calibration per model label (a model changed mid-span is a row of its own)"
    )


def _span(
    ledger: Ledger,
    restaurant_id: int,
    date_from: date | None,
    date_to: date | None,
    *,
    days_before_today: int = 0,
) -> tuple[date, date]:
    """The dates asked, or by default the last ``DEFAULT_DAYS`` days up to
    today where the restaurant is, less ``days_before_today`` (404 when there
    is no such restaurant)."""
    if date_to is None:
        with ledger.read() as conn:
            zone = get_floor(ledger, conn, restaurant_id).zone
        today = ledger.clock().astimezone(zone).date()
        date_to = today - timedelta(days=days_before_today)
    if date_from is None:
        back = min(DEFAULT_DAYS - 1, (date_to - date.min).days)
        date_from = date_to - timedelta(days=back)
    return date_from, date_to


@router.get("/restaurants/{restaurant_id}/deposits/risk-report", response_model=RiskReportPublic)
def risk_report(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    date_from: FirstServiceDate = None,
    date_to: Annotated[
        LocalDate | None,
        Query(
            alias="to",
            description="Last service date, YYYY-MM-DD (default: today at the restaurant; "
            f"at most {MAX_SPAN_DAYS} days in all)",
        ),
    ] = None,
) -> RiskReportPublic:
    """How risk-based deposits are doing over the bookings scored at booking:
    the deposits asked by risk and what became of them, the no-show rates
    of bookings asked by risk and not, and the calibration of the risk
    scored at booking per model (bins, ECE, Brier), separately for bookings
    asked no deposit and those asked one. A backwards span or one over a
    year is a 422."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    first, last = _span(ledger, restaurant_id, date_from, date_to)
    made = risk_deposit_report(ledger, restaurant_id, first, last, now=ledger.clock())
    return RiskReportPublic.model_validate(made)


class ThresholdRowPublic(_Figures):
    threshold: float
    over: int = Field(
        description="Bookings the party-size rule leaves whose risk at booking reaches it"
    )
    share_over: float = Field(description="over, as a share of all the span's bookings")
    share_asked: float = Field(
        description="Share of the span's bookings asked a deposit by size or by risk (the "
        "control share left without one)"
    )
    covers_over: int
    deposits_asked_minor: int = Field(
        description="Deposits those bookings would have been asked, control share aside"
    )
    expected_no_shows: float = Field(description="Sum of their risks without a deposit")
    no_show_rate_expected: float | None = Field(description="Their mean risk")
    expected_no_shows_avoided: float | None = Field(
        description="Sum over those asked of the risk without a deposit less the risk with "
        "one, by the model (null for the baseline, which knows no deposit effect)"
    )
    expected_covers_kept: float | None = Field(description="The same, weighed by party size")
    expected_spend_kept_minor: int | None = Field(
        description="Covers kept times the span's POS spend per cover"
    )
    reached: int = Field(description="Of those over, bookings that reached their day")
    no_shows_seen: int = Field(description="Of those over, bookings that did not show")
    no_show_rate_seen: float | None = Field(
        description="no_shows_seen / reached: a check of the model on these very bookings"
    )


class ThresholdPlanPublic(BaseModel):
    restaurant_id: int
    date_from: LocalDate
    date_to: LocalDate
    currency: str
    deposit_per_cover_minor: int
    deposit_min_party: int | None
    risk_threshold: float | None = Field(description="The threshold set now, if any")
    control_share: float
    spend_per_cover_minor: float | None = Field(
        description="Mean POS spend per cover of the span's completed bookings with a check"
    )
    model: str = Field(description="What scored the bookings: the champion, or the baseline")
    source: str = Field(description="champion, or baseline")
    bookings: int = Field(description="The span's bookings, walk-ins aside, cancelled included")
    asked_by_size: int = Field(description="Those the current party-size rule asks anyway")
    no_shows_seen: int
    suggested_threshold: float | None = Field(
        description="With max_share: the lowest threshold asking by risk at most that share "
        "of the bookings"
    )
    measured_deposit_effect: DepositEffectPublic | None = Field(
        description="The deposit's effect measured by the restaurant's control group over the "
        "same span (as in the risk report), to set beside the model's: null until the control "
        "group and the bookings asked by risk have both reached their day"
    )
    thresholds: list[ThresholdRowPublic]


@router.get(
    "/restaurants/{restaurant_id}/deposits/risk-thresholds", response_model=ThresholdPlanPublic
)
def risk_thresholds(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    scorer: ScorerDep,
    champions: ChampionsDep,
    date_from: FirstServiceDate = None,
    date_to: Annotated[
        LocalDate | None,
        Query(
            alias="to",
            description="Last service date, YYYY-MM-DD (default: yesterday at the restaurant; "
            f"at most {THRESHOLD_SPAN_DAYS} days in all)",
        ),
    ] = None,
    max_share: Annotated[
        float | None,
        Query(
            gt=0,
            le=1,
            description="The most of the bookings the manager will ask a deposit by risk: "
            "the answer suggests the lowest threshold that keeps to it",
        ),
    ] = None,
) -> ThresholdPlanPublic:
    """Choosing a deposit risk threshold: for each threshold a restaurant may
    set (0.05 to 0.95), what it would have asked of the span's bookings --
    how many, their share, the deposits -- the no-shows the model expected
    of them and, by the model, those a deposit would have avoided, and the
    no-shows seen among them. Each booking is scored as it was known when it
    was made, by the attendance champion (else the baseline). A backwards
    span or one over a quarter is a 422."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    # Past bookings, whose day has come: up to yesterday by default.
    first, last = _span(ledger, restaurant_id, date_from, date_to, days_before_today=1)
    weighed = weigh_thresholds(
        ledger, scorer, champions.get(ATTENDANCE), restaurant_id, first, last
    )
    measured = measured_deposit_effect(ledger, restaurant_id, first, last)
    plan = weighed.plan
    place = plan.restaurant
    return ThresholdPlanPublic(
        restaurant_id=restaurant_id,
        date_from=plan.date_from,
        date_to=plan.date_to,
        currency=place.currency,
        deposit_per_cover_minor=place.deposit_per_cover_minor,
        deposit_min_party=place.deposit_min_party,
        risk_threshold=place.risk_threshold,
        control_share=place.control_share,
        spend_per_cover_minor=place.spend_per_cover_minor,
        model=weighed.model,
        source=weighed.source,
        bookings=plan.bookings,
        asked_by_size=plan.asked_by_size,
        no_shows_seen=plan.no_shows_seen,
        suggested_threshold=(
            suggested_threshold(plan.rows, max_share) if max_share is not None else None
        ),
        measured_deposit_effect=(
            DepositEffectPublic.model_validate(measured) if measured is not None else None
        ),
        thresholds=[ThresholdRowPublic.model_validate(row) for row in plan.rows],
    )
