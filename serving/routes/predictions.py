"""Predictions for hosts and managers: a reservation's attendance risk with
its reasons, and covers forecasts with intervals. Every answer names the
model version that made it, or says that the documented baseline did."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import polars as pl
import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from booking_core.availability import get_floor
from booking_core.errors import InvalidRequest
from booking_core.ledger import Ledger
from booking_core.schema import restaurants
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
    model_version: str | None
    source: str
    baseline: str | None = None
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
    PREDICTIONS.labels(DEMAND, made.model_version or "-", made.source).inc()
    return CoversForecast(
        restaurant_id=restaurant_id,
        model_version=made.model_version,
        source=made.source,
        baseline=forecasts.BASELINE_NAME if made.source == "baseline" else None,
        days=[CoversDay(**r) for r in rows.iter_rows(named=True) if r["p50"] is not None],
    )
