"""A restaurant's seating setting: how tables are chosen for new bookings.
Staff of the restaurant read it; only its managers (or an admin) change it.

``lock_at_booking`` (the default) locks the best free table when a booking
is taken. ``pooled`` lets a booking that finds no free table move parties
not yet seated, and refuses a booking whose table time is worth more to
the larger parties still expected (bid prices from the restaurant's own
past bookings of that service)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import Role
from booking_core.restaurants import get_table_policy, set_table_policy
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of

router = APIRouter(prefix="/restaurants/{restaurant_id}/seating-settings", tags=["restaurants"])

TablePolicyName = Literal["lock_at_booking", "pooled"]


class SeatingSettingsPublic(BaseModel):
    restaurant_id: int
    table_policy: TablePolicyName


class SeatingSettingsUpdate(BaseModel):
    table_policy: TablePolicyName = Field(
        description="lock_at_booking: the best free table is locked when a booking is taken; "
        "pooled: parties not yet seated may move to make room, with admission control"
    )


@router.get("", response_model=SeatingSettingsPublic)
async def read_settings(
    restaurant_id: PathId, who: CurrentPrincipal, ledger: LedgerDep
) -> SeatingSettingsPublic:
    require_staff_of(who, restaurant_id)
    policy = await run_in_threadpool(get_table_policy, ledger, restaurant_id)
    return SeatingSettingsPublic(restaurant_id=restaurant_id, table_policy=policy.value)


@router.put("", response_model=SeatingSettingsPublic)
async def change_settings(
    restaurant_id: PathId, body: SeatingSettingsUpdate, who: CurrentPrincipal, ledger: LedgerDep
) -> SeatingSettingsPublic:
    """Applies to bookings and searches from now on; bookings already taken
    keep their tables."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    policy = await run_in_threadpool(set_table_policy, ledger, restaurant_id, body.table_policy)
    return SeatingSettingsPublic(restaurant_id=restaurant_id, table_policy=policy.value)
