"""A restaurant's tables in and out of service: a broken table, a corner
kept for an event. Managers and hosts of the restaurant change it; the
parties booked on a table taken out are moved to other free tables
(``booking_core.table_service``)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import Role
from booking_core.table_service import Holder, set_in_service
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of

router = APIRouter(prefix="/restaurants/{restaurant_id}/tables", tags=["restaurants"])

# The soonest reservations listed; a table booked months ahead would
# otherwise answer with all of them (the counts say how many).
HELD_BY_LISTED = 50


class TableServiceChange(BaseModel):
    in_service: StrictBool = Field(
        description="false: searches, bookings and walk-ins leave the table out from now on; "
        "true: it is offered again"
    )
    move_holders: StrictBool = Field(
        default=True,
        description="Taking it out: move the parties not yet seated that hold it to other "
        "free tables, as the restaurant's seating setting would place them (false: move "
        "nobody; the host does)",
    )


class HeldBy(BaseModel):
    reservation_id: int
    start_at: datetime


class Moved(BaseModel):
    reservation_id: int
    start_at: datetime
    from_table_ids: list[int]
    table_ids: list[int]


class TableService(BaseModel):
    restaurant_id: int
    table_id: int
    in_service: bool
    moved: list[Moved] = Field(
        description=f"Parties moved off the table, soonest first (at most {HELD_BY_LISTED})"
    )
    moved_count: int = Field(description="How many parties were moved in all")
    held_by: list[HeldBy] = Field(
        description="Reservations not yet seated that still hold the table, soonest first "
        f"(at most {HELD_BY_LISTED}): no other table was free at their time (or nobody was "
        "to be moved), so the host decides for these"
    )
    held_by_count: int = Field(description="How many reservations still hold the table in all")


@router.put("/{table_id}/service", response_model=TableService)
async def change_service(
    restaurant_id: PathId,
    table_id: PathId,
    body: TableServiceChange,
    who: CurrentPrincipal,
    ledger: LedgerDep,
) -> TableService:
    """Takes a table out of service (moving its parties not yet seated to
    other free tables, unless ``move_holders`` is false) or puts it back
    (nobody moves). 404 for a table the restaurant does not have. The
    service report counts a past night's seats as they were that night."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER, Role.HOST)
    holders: list[Holder] = await run_in_threadpool(
        set_in_service,
        ledger,
        restaurant_id,
        table_id,
        body.in_service,
        move_holders=body.move_holders,
    )
    moved = [h for h in holders if h.moved]
    held = [h for h in holders if not h.moved]
    return TableService(
        restaurant_id=restaurant_id,
        table_id=table_id,
        in_service=body.in_service,
        moved=[
            Moved(
                reservation_id=h.reservation_id,
                start_at=h.start_at,
                from_table_ids=list(h.from_tables),
                table_ids=list(h.to_tables),
            )
            for h in moved[:HELD_BY_LISTED]
        ],
        moved_count=len(moved),
        held_by=[
            HeldBy(reservation_id=h.reservation_id, start_at=h.start_at)
            for h in held[:HELD_BY_LISTED]
        ],
        held_by_count=len(held),
    )
