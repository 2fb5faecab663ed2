"""Fees the bookings' cancellation terms made due: the manager's list for a
span of service dates, and waiving one (``booking_core.fees``). Money is
the restaurant's decision, so both are for its managers (and admins);
hosts see a booking's fee on the booking itself."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from booking_core.accounts import Role
from booking_core.cancellation_terms import FeeReason
from booking_core.errors import InvalidRequest
from booking_core.fees import NOTE_LIMIT, FeeLine, list_fees, waive_fee
from booking_core.reservations import get_reservation
from booking_core.service_report import MAX_SPAN_DAYS
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of
from serving.routes.reservations import ReservationPublic, readable

# Fields named date would shadow the type inside a class body.
LocalDate = date
router = APIRouter(tags=["fees"])


class FeeLinePublic(BaseModel):
    reservation_id: int
    service_date: LocalDate
    start_at: datetime
    guest_name: str
    diner_id: int | None
    party_size: int
    amount_minor: int
    currency: str
    reason: FeeReason
    at: datetime = Field(description="When it fell due: the cancellation or the no-show")
    due: bool = Field(description="False once waived")
    waived_at: datetime | None

    @classmethod
    def of(cls, line: FeeLine) -> FeeLinePublic:
        return cls(**{k: getattr(line, k) for k in cls.model_fields})


class FeeListPublic(BaseModel):
    restaurant_id: int
    date_from: LocalDate
    date_to: LocalDate
    fees: list[FeeLinePublic]
    due_minor: int = Field(description="The fees still due, summed")
    waived_minor: int = Field(description="The fees waived, summed")


class Waiver(BaseModel):
    note: str = Field(
        default="", max_length=NOTE_LIMIT, description="Why: kept with the waiver's event"
    )


@router.get("/restaurants/{restaurant_id}/fees", response_model=FeeListPublic)
def fees(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    date_from: Annotated[LocalDate, Query(alias="from", description="First service date")],
    date_to: Annotated[LocalDate, Query(alias="to", description="Last service date")],
    due_only: bool = False,
) -> FeeListPublic:
    """Late cancellations and no-shows with a fee, by service date and time."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    if (date_to - date_from).days + 1 > MAX_SPAN_DAYS:
        raise InvalidRequest(f"A list covers at most {MAX_SPAN_DAYS} days of service.")
    lines = list_fees(ledger, restaurant_id, date_from, date_to, include_waived=not due_only)
    return FeeListPublic(
        restaurant_id=restaurant_id,
        date_from=date_from,
        date_to=date_to,
        fees=[FeeLinePublic.of(x) for x in lines],
        due_minor=sum(x.amount_minor for x in lines if x.due),
        waived_minor=sum(x.amount_minor for x in lines if not x.due),
    )


@router.post("/reservations/{reservation_id}/fee-waiver", response_model=ReservationPublic)
def waive(
    reservation_id: PathId, body: Waiver, who: CurrentPrincipal, ledger: LedgerDep
) -> ReservationPublic:
    """Waive the fee due on a booking; 409 when none is due."""
    current = readable(ledger, who, reservation_id)
    require_staff_of(who, current.restaurant_id)
    require_role(who, Role.MANAGER)
    waive_fee(ledger, reservation_id, by=who.subject, note=body.note, now=ledger.clock())
    return ReservationPublic.of(get_reservation(ledger, reservation_id))
