"""Predictions for hosts and managers: a reservation's attendance risk with
its reasons, a service's bookings ranked by that risk (whom to call, where a
deposit is worth asking), and covers forecasts with intervals. Every answer names the
model version that made it, or says that the documented baseline did."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

import polars as pl
import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from booking_core.availability import get_floor
from booking_core.errors import InvalidRequest, UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.schema import reservations, restaurants
from serving import attendance, forecasts, turn_times
from serving.attendance import AttendanceScorer
from serving.champions import ATTENDANCE, DEMAND, DURATION, Champions
from serving.deps import (
    ChampionsDep,
    CurrentPrincipal,
    ForecastsDep,
    LedgerDep,
    PathId,
    ScorerDep,
    forbidden,
    require_staff_of,
)
from serving.observability import PREDICTIONS
from serving.routes.reservations import readable
from serving.security import Principal
from serving.turn_times import TurnQuery, TurnTimes, floor_area_name

# Fields named date and time would shadow the types inside a class body.
LocalDate = date
router = APIRouter(prefix="/predictions", tags=["predictions"])


class Reason(BaseModel):
    reason: str
    weight: float


class AttendanceRiskPublic(BaseModel):
    reservation_id: int
    no_show_probability: float = Field(ge=0, le=1)
    reasons: list[Reason]
    model: str
    model_version: str | None = Field(description="None when the baseline answered")
    source: str = Field(description="champion, or baseline")
    baseline: str | None = Field(default=None, description="The baseline's rule, when it answered")


class CoversDay(BaseModel):
    date: LocalDate
    p10: float
    p50: float
    p90: float


class CoversForecast(BaseModel):
    restaurant_id: int
    model: str = DEMAND
    model_version: str | None = Field(description="None when no trained model answered")
    source: str = Field(
        description="champion, baseline, or cold_start (a restaurant with little history)"
    )
    baseline: str | None = Field(
        default=None, description="The rule that answered, when no trained model did"
    )
    days: list[CoversDay]


@router.get("/attendance/{reservation_id}", response_model=AttendanceRiskPublic)
async def attendance_risk(
    reservation_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    scorer: ScorerDep,
    champions: ChampionsDep,
) -> AttendanceRiskPublic:
    """How likely this party is not to come, and why."""
    # Async with the ledger and model work in one thread-pool hop: this is
    # the endpoint with a latency target (p99 <= 20 ms).
    risk = await run_in_threadpool(_score, ledger, who, scorer, champions, reservation_id)
    PREDICTIONS.labels(ATTENDANCE, risk.model_version or "-", risk.source).inc()
    return AttendanceRiskPublic(
        reservation_id=reservation_id,
        no_show_probability=min(1.0, max(0.0, risk.probability)),
        reasons=[Reason(reason=text, weight=w) for text, w in risk.reasons],
        model=ATTENDANCE,
        model_version=risk.model_version,
        source=risk.source,
        baseline=attendance.BASELINE_NAME if risk.source == "baseline" else None,
    )


def _score(
    ledger: Ledger,
    who: Principal,
    scorer: AttendanceScorer,
    champions: Champions,
    reservation_id: int,
) -> attendance.Risk:
    found = readable(ledger, who, reservation_id)
    if not who.may_run(found.restaurant_id):
        raise forbidden("Attendance risk is for the restaurant's staff.")
    return scorer.score(reservation_id, champions.get(ATTENDANCE), ledger.clock())


# A booking worth a reminder call (or a deposit next time): at least twice
# the restaurant's own no-show rate and at least this likely not to come.
ATTENTION_FLOOR = 0.15
ATTENTION_RATE_MULTIPLE = 2.0


class BookingRiskPublic(BaseModel):
    reservation_id: int
    start_at: datetime
    party_size: int
    guest_name: str
    no_show_probability: float = Field(ge=0, le=1)
    reasons: list[Reason]
    needs_attention: bool = Field(
        description=f"At least {ATTENTION_RATE_MULTIPLE:g}x the restaurant's no-show rate "
        f"and at least {ATTENTION_FLOOR:.0%}"
    )


class ServiceRiskPublic(BaseModel):
    restaurant_id: int
    service_date: LocalDate
    model: str = ATTENDANCE
    model_version: str | None = Field(description="None when the baseline answered")
    source: str = Field(description="champion, or baseline")
    baseline: str | None = Field(default=None, description="The baseline's rule, when it answered")
    restaurant_no_show_rate: float = Field(description="Shrunk toward 8% while history is short")
    booked_covers: int
    expected_covers: float = Field(
        description="Booked covers weighted by the chance each party comes"
    )
    bookings: list[BookingRiskPublic] = Field(description="Riskiest first")


@router.get("/no-shows/{restaurant_id}", response_model=ServiceRiskPublic)
def service_risk(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    scorer: ScorerDep,
    champions: ChampionsDep,
    date: LocalDate | None = None,
) -> ServiceRiskPublic:
    """A service's bookings still to come (default: today's), riskiest first,
    with the covers to expect: the manager's list of whom to call."""
    require_staff_of(who, restaurant_id)
    now = ledger.clock()
    day = date or now.date()
    r = reservations
    with ledger.read() as conn:
        known = conn.execute(
            sa.select(restaurants.c.id).where(restaurants.c.id == restaurant_id)
        ).first()
        if known is None:
            raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
        rows = conn.execute(
            sa.select(r.c.id, r.c.start_at, r.c.party_size, r.c.guest_name)
            .where(
                r.c.restaurant_id == restaurant_id,
                r.c.service_date == day,
                r.c.state.in_(("booked", "confirmed")),
                r.c.channel != "walk_in",
            )
            .order_by(r.c.start_at, r.c.id)
        ).all()
    champion = champions.get(ATTENDANCE)
    risks = scorer.score_many([row.id for row in rows], champion, now)
    rate = scorer.restaurant_rate(restaurant_id, now)
    threshold = max(ATTENTION_FLOOR, ATTENTION_RATE_MULTIPLE * rate)
    source = risks[0].source if risks else ("champion" if champion is not None else "baseline")
    bookings = [
        BookingRiskPublic(
            reservation_id=row.id,
            start_at=row.start_at,
            party_size=row.party_size,
            guest_name=row.guest_name,
            no_show_probability=(p := min(1.0, max(0.0, risk.probability))),
            reasons=[Reason(reason=text, weight=w) for text, w in risk.reasons],
            needs_attention=p >= threshold,
        )
        for row, risk in zip(rows, risks, strict=True)
    ]
    PREDICTIONS.labels(ATTENDANCE, champion.version if champion is not None else "-", source).inc()
    return ServiceRiskPublic(
        restaurant_id=restaurant_id,
        service_date=day,
        model_version=champion.version if champion is not None else None,
        source=source,
        baseline=attendance.BASELINE_NAME if source == "baseline" else None,
        restaurant_no_show_rate=rate,
        booked_covers=sum(b.party_size for b in bookings),
        expected_covers=sum(b.party_size * (1 - b.no_show_probability) for b in bookings),
        bookings=sorted(bookings, key=lambda b: (-b.no_show_probability, b.start_at)),
    )


class TurnTimePublic(BaseModel):
    reservation_id: int
    turn_time_min: int = Field(description="Predicted minutes at the table (median)")
    model: str = DURATION
    model_version: str | None = Field(description="None when the baseline answered")
    source: str = Field(description="champion, or baseline")
    baseline: str | None = Field(default=None, description="The baseline's rule, when it answered")


@router.get("/turn-time/{reservation_id}", response_model=TurnTimePublic)
def turn_time(
    reservation_id: PathId, who: CurrentPrincipal, ledger: LedgerDep, champions: ChampionsDep
) -> TurnTimePublic:
    """How long this party will hold its table: what the seating plan uses."""
    found = readable(ledger, who, reservation_id)
    if not who.may_run(found.restaurant_id):
        raise forbidden("Turn times are for the restaurant's staff.")
    model = TurnTimes(champions.get(DURATION))
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, found.restaurant_id)
        tier = conn.execute(
            sa.select(restaurants.c.price_tier).where(restaurants.c.id == found.restaurant_id)
        ).scalar_one()
        area = None
        if found.table_ids and found.table_ids[0] in floor.tables:
            area = floor_area_name(conn, floor.tables[found.table_ids[0]].area_id)
    query = TurnQuery(reservation_id, found.party_size, found.channel, found.start_at, area)
    minutes = model.minutes(floor, tier, [query])[0]
    PREDICTIONS.labels(DURATION, model.version or "-", model.source).inc()
    return TurnTimePublic(
        reservation_id=reservation_id,
        turn_time_min=minutes,
        model_version=model.version,
        source=model.source,
        baseline=turn_times.BASELINE_NAME if model.source == "baseline" else None,
    )


@router.get("/covers/{restaurant_id}", response_model=CoversForecast)
def covers(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    book: ForecastsDep,
    start: date | None = None,
    days: Annotated[int, Query(ge=1, le=28)] = 7,
) -> CoversForecast:
    """Covers expected per day from ``start`` (default today), P10-P90."""
    require_staff_of(who, restaurant_id)
    made = book.forecast()
    first = start or made.origin
    last = first + timedelta(days=days - 1)
    horizon_end = made.origin + timedelta(days=book.horizon - 1)
    if first < made.origin or last > horizon_end:
        raise InvalidRequest(
            f"Forecasts run from {made.origin} to {horizon_end}; "
            f"{first} to {last} is outside that range."
        )
    rows = made.table.filter(
        (pl.col("restaurant_id") == restaurant_id) & pl.col("date").is_between(first, last)
    ).sort("date")
    source, version = made.source_of(restaurant_id), made.version_of(restaurant_id)
    PREDICTIONS.labels(DEMAND, version or "-", source).inc()
    return CoversForecast(
        restaurant_id=restaurant_id,
        model_version=version,
        source=source,
        baseline=_rule(made, restaurant_id),
        days=[CoversDay(**r) for r in rows.iter_rows(named=True) if r["p50"] is not None],
    )


def _rule(made: forecasts.Forecast, restaurant_id: int) -> str | None:
    """The rule behind a restaurant's rows when no trained model made them."""
    if restaurant_id in made.cold_start:
        return f"{forecasts.COLD_START_NAME} (peers: {made.cold_start[restaurant_id]})"
    return forecasts.BASELINE_NAME if made.source == "baseline" else None
