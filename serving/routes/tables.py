"""A restaurant's tables in and out of service: a broken table, a corner
kept for an event. Managers and hosts of the restaurant change it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import Role
from booking_core.restaurants import bookings_holding_table, set_table_active
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of

router = APIRouter(prefix="/restaurants/{restaurant_id}/tables", tags=["restaurants"])

# The soonest reservations listed; a table booked months ahead would
# otherwise answer with all of them (``held_by_count`` says how many).
HELD_BY_LISTED = 50


class TableServiceChange(BaseModel):
    in_service: StrictBool = Field(
        description="false: searches, bookings and walk-ins leave the table out from now on; "
        "true: it is offered again"
    )


class HeldBy(BaseModel):
    reservation_id: int
    start_at: datetime


class TableService(BaseModel):
    restaurant_id: int
    table_id: int
    in_service: bool
    held_by: list[HeldBy] = Field(
        description="Reservations not yet seated that still hold the table, soonest first "
        f"(at most {HELD_BY_LISTED}): nobody is moved when a table goes out of service, so "
        "the host moves these"
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
    """Takes a table out of service or puts it back (404 for a table the
    restaurant does not have). The service report counts a past night's
    seats as they were that night."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER, Role.HOST)

    def change() -> list[tuple[int, datetime]]:
        set_table_active(ledger, restaurant_id, table_id, body.in_service)
        return bookings_holding_table(ledger, restaurant_id, table_id, ledger.clock())

    held = await run_in_threadpool(change)
    return TableService(
        restaurant_id=restaurant_id,
        table_id=table_id,
        in_service=body.in_service,
        held_by=[
            HeldBy(reservation_id=rid, start_at=start) for rid, start in held[:HELD_BY_LISTED]
        ],
        held_by_count=len(held),
    )
