"""The waitlist at the host stand: join, quote, notify, seat, leave."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from booking_core import waitlist
from booking_core.errors import NotFound
from booking_core.ledger import Ledger
from booking_core.schema import waitlist_entries
from booking_core.waitlist import WaitlistEntry
from serving.deps import BodyId, CurrentPrincipal, LedgerDep, PathId, require_staff_of
from serving.routes.reservations import ReservationPublic
from serving.seating_source import SeatingSourceDep
from serving.security import Principal

router = APIRouter(prefix="/restaurants/{restaurant_id}/waitlist", tags=["waitlist"])


class WaitlistJoin(BaseModel):
    party_size: int = Field(ge=1, le=40)
    guest_name: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    diner_id: BodyId | None = None


class WaitlistSeat(BaseModel):
    table_ids: list[BodyId] | None = Field(default=None, max_length=8)


class WaitlistEntryPublic(BaseModel):
    id: int
    restaurant_id: int
    party_size: int
    guest_name: str
    state: str
    service_date: date
    joined_at: datetime
    quoted_wait_min: int | None
    notified_at: datetime | None
    seated_at: datetime | None
    left_at: datetime | None
    reservation_id: int | None

    @classmethod
    def of(cls, e: WaitlistEntry) -> WaitlistEntryPublic:
        return cls(**e.__dict__)


class Quote(BaseModel):
    restaurant_id: int
    party_size: int
    wait_min: int | None = Field(
        description="None: no table can be promised within the horizon (three hours)"
    )
    quoted_by: str = Field(description="The seating optimizer, or the booking core's baseline")


class Seated(BaseModel):
    entry: WaitlistEntryPublic
    reservation: ReservationPublic


def _entry_of(ledger: Ledger, who: Principal, restaurant_id: int, entry_id: int) -> None:
    """Staff of this restaurant, and an entry of this restaurant (else a 404)."""
    require_staff_of(who, restaurant_id)
    with ledger.read() as conn:
        owner = conn.execute(
            sa.select(waitlist_entries.c.restaurant_id).where(waitlist_entries.c.id == entry_id)
        ).scalar()
    if owner != restaurant_id:
        raise NotFound(f"Restaurant {restaurant_id} has no waitlist entry {entry_id}.")


@router.get("", response_model=list[WaitlistEntryPublic])
def waiting(
    restaurant_id: PathId, who: CurrentPrincipal, ledger: LedgerDep, date: date | None = None
) -> list[WaitlistEntryPublic]:
    require_staff_of(who, restaurant_id)
    day = date or ledger.clock().date()
    return [WaitlistEntryPublic.of(e) for e in waitlist.waiting(ledger, restaurant_id, day)]


@router.get("/quote", response_model=Quote)
def quote(
    restaurant_id: PathId,
    ledger: LedgerDep,
    source: SeatingSourceDep,
    party_size: Annotated[int, Query(ge=1, le=40)],
) -> Quote:
    """How long a party of this size would wait now (public)."""
    found = source.quote(restaurant_id, party_size, ledger.clock())
    return Quote(
        restaurant_id=restaurant_id,
        party_size=party_size,
        wait_min=found.wait_min,
        quoted_by=found.quoted_by,
    )


@router.post("", response_model=WaitlistEntryPublic, status_code=status.HTTP_201_CREATED)
def join(
    restaurant_id: PathId,
    body: WaitlistJoin,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    source: SeatingSourceDep,
) -> WaitlistEntryPublic:
    """Put a party on the waitlist with the optimizer's quote, counting the
    parties ahead of it."""
    require_staff_of(who, restaurant_id)
    now = ledger.clock()
    # The optimizer's quote, or None: the booking core quotes inside the join.
    found = source.quote_for_join(restaurant_id, body.party_size, now)
    entry = waitlist.join(
        ledger,
        restaurant_id,
        body.party_size,
        guest_name=body.guest_name,
        phone=body.phone,
        diner_id=body.diner_id,
        now=now,
        quoted_wait_min=found.wait_min if found else None,
        quoted_by=found.quoted_by if found else None,
    )
    return WaitlistEntryPublic.of(entry)


@router.post("/{entry_id}/notify", response_model=WaitlistEntryPublic)
def notify(
    restaurant_id: PathId, entry_id: PathId, who: CurrentPrincipal, ledger: LedgerDep
) -> WaitlistEntryPublic:
    _entry_of(ledger, who, restaurant_id, entry_id)
    return WaitlistEntryPublic.of(waitlist.notify(ledger, entry_id, now=ledger.clock()))


@router.post("/{entry_id}/seat", response_model=Seated)
def seat(
    restaurant_id: PathId,
    entry_id: PathId,
    body: WaitlistSeat,
    who: CurrentPrincipal,
    ledger: LedgerDep,
) -> Seated:
    _entry_of(ledger, who, restaurant_id, entry_id)
    tables = tuple(body.table_ids) if body.table_ids else None
    entry, reservation = waitlist.seat(ledger, entry_id, table_ids=tables, now=ledger.clock())
    return Seated(
        entry=WaitlistEntryPublic.of(entry), reservation=ReservationPublic.of(reservation)
    )


@router.post("/{entry_id}/leave", response_model=WaitlistEntryPublic)
def leave(
    restaurant_id: PathId, entry_id: PathId, who: CurrentPrincipal, ledger: LedgerDep
) -> WaitlistEntryPublic:
    _entry_of(ledger, who, restaurant_id, entry_id)
    return WaitlistEntryPublic.of(waitlist.leave(ledger, entry_id, now=ledger.clock()))
