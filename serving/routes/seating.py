"""Seating at the host stand: the service's plan, table suggestions for a
walk-in, and the host's decision (accept, or override with a reason; both
are kept as training data). The seating optimizer plans and suggests
(``serving.seating_source``) with predicted turn times and show probabilities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from booking_core.freed_tables import suggest_seating
from booking_core.seating_log import (
    seat_walk_in_with_decision,
    service_plan,
)
from serving.deps import BodyId, CurrentPrincipal, LedgerDep, PathId, require_staff_of
from serving.routes.reservations import ReservationPublic, SuggestedSeating
from serving.seating_source import SeatingSourceDep

router = APIRouter(prefix="/restaurants/{restaurant_id}/seating", tags=["seating"])


class PlannedPartyPublic(BaseModel):
    reservation_id: int
    party_size: int
    state: str
    channel: str
    start_at: datetime
    end_at: datetime
    table_ids: list[int] = Field(description="The tables the ledger holds for the party now")
    guest_name: str
    planned_table_ids: list[int] = Field(
        description="Where the plan seats the party (differs from table_ids: a suggested move)"
    )
    predicted_turn_min: int | None = Field(
        description="Predicted minutes at the table (None: the party has left)"
    )
    show_probability: float | None = Field(default=None, ge=0, le=1)


class SeatingPlan(BaseModel):
    restaurant_id: int
    service_date: date
    planner: str = Field(description="What made the plan: the optimizer, or the baseline")
    status: str = Field(description="optimal, feasible, greedy; ledger when the baseline answered")
    moves: int = Field(description="Parties the plan moves to other tables")
    unseated: list[int] = Field(description="Reservations the plan could not seat")
    turn_time_model: str = Field(description="dining_duration@vN, or the baseline")
    attendance_model: str = Field(description="attendance_risk@vN, or the baseline")
    parties: list[PlannedPartyPublic]
    suggested_seating: list[SuggestedSeating] = Field(
        default_factory=list,
        description="Parties taken without a table (overbooked) whose time has come and "
        "who fit a table free now, best match first; seat one with its seat call",
    )


class Suggestion(BaseModel):
    table_ids: list[int]
    table_names: list[str]
    seats: int
    free_for_min: int | None = Field(
        description="Minutes until a booked party needs the tables (None: not this service)"
    )
    moves: int = Field(default=0, description="Booked parties that would have to move")


class Suggestions(BaseModel):
    party_size: int
    suggested_by: str
    turn_time_min: int = Field(description="The walk-in's predicted minutes at the table")
    turn_time_model: str
    suggestions: list[Suggestion]


class SeatingDecisionCreate(BaseModel):
    party_size: int = Field(ge=1, le=40)
    suggested_table_ids: list[BodyId] = Field(max_length=8)
    chosen_table_ids: list[BodyId] = Field(min_length=1, max_length=8)
    reason: str = Field(default="", max_length=1000, description="Required for an override")
    suggested_by: str = Field(default="", max_length=60)
    guest_name: str = Field(default="", max_length=200)


class SeatingDecisionPublic(BaseModel):
    id: int
    decision: str
    suggested_table_ids: list[int]
    chosen_table_ids: list[int]
    reason: str
    reservation: ReservationPublic


@router.get("/plan", response_model=SeatingPlan)
def plan(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    source: SeatingSourceDep,
    date: date | None = None,
) -> SeatingPlan:
    """Who sits where in a service (default: today's), as the ledger has it
    and as the optimizer would seat it, with each party's predictions."""
    require_staff_of(who, restaurant_id)
    now = ledger.clock()
    day = date or now.date()
    parties = service_plan(ledger, restaurant_id, day)
    advice = source.plan(restaurant_id, day, now)
    planned = []
    for p in parties:
        a = advice.parties.get(p.reservation_id)
        planned.append(
            PlannedPartyPublic(
                **{**p.__dict__, "table_ids": list(p.table_ids)},
                planned_table_ids=list(a.planned_table_ids if a else p.table_ids),
                predicted_turn_min=a.predicted_turn_min if a else None,
                show_probability=a.show_probability if a else None,
            )
        )
    return SeatingPlan(
        restaurant_id=restaurant_id,
        service_date=day,
        planner=advice.planner,
        status=advice.status,
        moves=advice.moves,
        unseated=list(advice.unseated),
        turn_time_model=advice.turn_time_model,
        attendance_model=advice.attendance_model,
        parties=planned,
        suggested_seating=[
            SuggestedSeating.of(s) for s in suggest_seating(ledger, restaurant_id, day, now)
        ],
    )


@router.get("/walk-in", response_model=Suggestions)
def suggest_for_walk_in(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    source: SeatingSourceDep,
    party_size: Annotated[int, Query(ge=1, le=40)],
) -> Suggestions:
    """Tables the party could take now for its predicted turn, best first."""
    require_staff_of(who, restaurant_id)
    advice = source.suggest(restaurant_id, party_size, ledger.clock())
    return Suggestions(
        party_size=party_size,
        suggested_by=advice.suggested_by,
        turn_time_min=advice.turn_time_min,
        turn_time_model=advice.turn_time_model,
        suggestions=[
            Suggestion(
                table_ids=list(o.table_ids),
                table_names=list(o.table_names),
                seats=o.seats,
                free_for_min=o.free_for_min,
                moves=o.moves,
            )
            for o in advice.offers
        ],
    )


@router.post(
    "/decisions", response_model=SeatingDecisionPublic, status_code=status.HTTP_201_CREATED
)
def decide(
    restaurant_id: PathId,
    body: SeatingDecisionCreate,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    source: SeatingSourceDep,
) -> SeatingDecisionPublic:
    """Seat a walk-in: on the suggested tables (accepted) or elsewhere
    (overridden, with the host's reason)."""
    require_staff_of(who, restaurant_id)
    decision = seat_walk_in_with_decision(
        ledger,
        restaurant_id,
        body.party_size,
        suggested_table_ids=tuple(body.suggested_table_ids),
        chosen_table_ids=tuple(body.chosen_table_ids),
        reason=body.reason,
        suggested_by=body.suggested_by or source.planner,
        decided_by=who.subject,
        guest_name=body.guest_name,
        now=ledger.clock(),
    )
    return SeatingDecisionPublic(
        id=decision.id,
        decision=decision.decision,
        suggested_table_ids=list(decision.suggested_table_ids),
        chosen_table_ids=list(decision.chosen_table_ids),
        reason=decision.reason,
        reservation=ReservationPublic.of(decision.reservation),
    )
