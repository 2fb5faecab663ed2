"""Single dates that differ from the week: a closure (a holiday, a private
party, a burst pipe) or the day's own hours (New Year's Eve). Diners and
hosts read them; the restaurant's managers set and remove them, today or
later. Bookings already taken are honoured, and the ones the day no longer
serves are listed for the manager to call
(``booking_core.restaurants.set_special_date``)."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import Role
from booking_core.floor import SpecialDate
from booking_core.restaurants import (
    OutsideHours,
    remove_special_date,
    set_special_date,
    special_dates_between,
)
from booking_core.slots import hhmm
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of
from serving.problems import ApiProblem
from serving.routes.hours import OUTSIDE_LISTED, TIME, BookingOutsideHours, outside_listed

router = APIRouter(prefix="/restaurants/{restaurant_id}/special-dates", tags=["restaurants"])

MAX_SPAN_DAYS = 731  # two years of dates in one read


class SpecialDateIn(BaseModel):
    closed: bool = Field(default=True, description="Closed all day, or open at these hours")
    note: str = Field(
        default="",
        max_length=200,
        pattern=r"^[^\x00-\x1f]*$",
        description="Shown to diners who ask for the date (e.g. 'Private party')",
        examples=["New Year's Eve gala"],
    )
    opens: str | None = Field(default=None, pattern=TIME, examples=["19:00"])
    closes: str | None = Field(
        default=None, pattern=TIME, description="Before opens: after midnight", examples=["01:00"]
    )
    last_seating: str | None = Field(default=None, pattern=TIME, examples=["22:30"])

    @model_validator(mode="after")
    def _hours_when_open(self) -> SpecialDateIn:
        given = [t is not None for t in (self.opens, self.closes, self.last_seating)]
        if self.closed and any(given):
            raise ValueError("a closed date has no hours: leave opens, closes, last_seating out")
        if not self.closed and not all(given):
            raise ValueError("an open date needs opens, closes and last_seating")
        return self


class SpecialDatePublic(BaseModel):
    date: dt.date
    closed: bool
    note: str
    opens: str | None
    closes: str | None
    last_seating: str | None

    @classmethod
    def of(cls, d: SpecialDate) -> SpecialDatePublic:
        def clock(minute: int | None) -> str | None:
            return None if minute is None else hhmm(minute)

        return cls(
            date=d.local_date,
            closed=d.closed,
            note=d.note,
            opens=clock(d.opens_min),
            closes=clock(d.closes_min),
            last_seating=clock(d.last_seating_min),
        )


class SpecialDateSet(SpecialDatePublic):
    outside_hours: list[BookingOutsideHours] = Field(
        description="Bookings not yet seated on that date that its hours no longer serve "
        f"(all of them on a closed date), soonest first (at most {OUTSIDE_LISTED}): they stay "
        "booked, for the restaurant to honour or to call the guest"
    )
    outside_hours_count: int


@router.get("", response_model=list[SpecialDatePublic])
async def read_special_dates(
    restaurant_id: PathId,
    ledger: LedgerDep,
    first: Annotated[
        date | None, Query(alias="from", description="First local date (default: today there)")
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="Last local date (default: a year on)")
    ] = None,
) -> list[SpecialDatePublic]:
    """Closures and special hours in a span of dates, in date order."""
    if first and last and (last - first).days > MAX_SPAN_DAYS:
        raise ApiProblem(422, "span_too_long", f"Ask for at most {MAX_SPAN_DAYS} days at once.")
    if first and last and last < first:
        raise ApiProblem(422, "invalid_request", "'to' comes before 'from'.")
    found = await run_in_threadpool(special_dates_between, ledger, restaurant_id, first, last)
    return [SpecialDatePublic.of(d) for d in found]


@router.put("/{local_date}", response_model=SpecialDateSet)
async def set_date(
    restaurant_id: PathId,
    local_date: date,
    body: SpecialDateIn,
    who: CurrentPrincipal,
    ledger: LedgerDep,
) -> SpecialDateSet:
    """Close a date or give it its own hours (the restaurant's managers; today
    or later). Searches and bookings follow at once; bookings already taken
    stay booked, and those the day no longer serves are listed."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    outside: list[OutsideHours] = await run_in_threadpool(
        lambda: set_special_date(
            ledger,
            restaurant_id,
            local_date,
            closed=body.closed,
            note=body.note,
            opens=body.opens,
            closes=body.closes,
            last_seating=body.last_seating,
        )
    )
    [saved] = await run_in_threadpool(
        special_dates_between, ledger, restaurant_id, local_date, local_date
    )
    return SpecialDateSet(**SpecialDatePublic.of(saved).model_dump(), **outside_listed(outside))


@router.delete("/{local_date}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_date(
    restaurant_id: PathId, local_date: date, who: CurrentPrincipal, ledger: LedgerDep
) -> Response:
    """The week's hours apply again on that date (the restaurant's managers;
    today or later); 404 when nothing was set for it."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    await run_in_threadpool(remove_special_date, ledger, restaurant_id, local_date)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
