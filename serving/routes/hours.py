"""A restaurant's weekly hours: what diners and hosts read, and the change a
manager makes from a date (winter hours, a new lunch service). Past nights
keep the hours they had; bookings already taken are honoured, and the ones
the new hours no longer serve are listed for the manager to call
(``booking_core.restaurants.set_hours``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import Role
from booking_core.floor import Floor, ServicePeriod, load_floor
from booking_core.ledger import Ledger
from booking_core.restaurants import OutsideHours, PeriodSpec, period_from_data, set_hours
from booking_core.slots import hhmm
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of

router = APIRouter(prefix="/restaurants/{restaurant_id}/hours", tags=["restaurants"])

# The soonest bookings listed; the count says how many in all.
OUTSIDE_LISTED = 50
TIME = r"^([01]\d|2[0-3]):[0-5]\d$"


class PeriodIn(BaseModel):
    name: str = Field(
        min_length=1, max_length=40, pattern=r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$", examples=["dinner"]
    )
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        min_length=1, description="0 is Monday, 6 Sunday"
    )
    opens: str = Field(pattern=TIME, examples=["17:30"])
    closes: str = Field(
        pattern=TIME, description="Before opens: after midnight", examples=["23:00"]
    )
    last_seating: str = Field(pattern=TIME, examples=["21:30"])
    slot_interval_min: int = Field(default=15, ge=15, le=240)
    turn_times: dict[Annotated[int, Field(ge=1, le=100)], Annotated[int, Field(ge=15, le=600)]] = (
        Field(
            min_length=1,
            description="Minutes a party of that size holds its table; sizes in between use "
            "the next size up",
            examples=[{"2": 90, "4": 120, "8": 150}],
        )
    )
    max_covers_per_slot: int | None = Field(default=None, ge=1, le=10_000)
    max_parties_per_slot: int | None = Field(default=None, ge=1, le=10_000)

    def spec(self) -> PeriodSpec:
        # The booking core's own reader, as the command line's JSON files use.
        return period_from_data(self.model_dump())


class HoursChange(BaseModel):
    effective_from: date = Field(
        description="First local date of the new hours: today or later (a timetable already "
        "scheduled to start on or after it is replaced)"
    )
    periods: list[PeriodIn] = Field(min_length=1, max_length=50)


class PeriodPublic(BaseModel):
    name: str
    weekday: int = Field(description="0 is Monday")
    opens: str
    closes: str
    last_seating: str
    slot_interval_min: int
    turn_times: dict[int, int]
    max_covers_per_slot: int | None
    max_parties_per_slot: int | None

    @classmethod
    def of(cls, p: ServicePeriod) -> PeriodPublic:
        return cls(
            name=p.name,
            weekday=p.weekday,
            opens=hhmm(p.opens_min),
            closes=hhmm(p.closes_min),
            last_seating=hhmm(p.last_seating_min),
            slot_interval_min=p.slot_interval_min,
            turn_times=dict(p.turn_times),
            max_covers_per_slot=p.max_covers_per_slot,
            max_parties_per_slot=p.max_parties_per_slot,
        )


class BookingOutsideHours(BaseModel):
    reservation_id: int
    service_date: date
    start_at: datetime


class Hours(BaseModel):
    restaurant_id: int
    on: date = Field(description="The local date these hours are in force on")
    effective_from: date | None = Field(
        description="When this timetable started (null: since the restaurant opened)"
    )
    periods: list[PeriodPublic]
    changes_from: list[date] = Field(
        description="Later dates on which another timetable is scheduled to start"
    )


class HoursSet(Hours):
    outside_hours: list[BookingOutsideHours] = Field(
        description="Bookings not yet seated that the new hours no longer serve, soonest "
        f"first (at most {OUTSIDE_LISTED}): they stay booked, for the restaurant to honour "
        "or to call the guest"
    )
    outside_hours_count: int


def outside_listed(outside: list[OutsideHours]) -> dict[str, Any]:
    """The response fields naming the bookings a change leaves outside the
    hours: the soonest ``OUTSIDE_LISTED``, and how many in all."""
    return {
        "outside_hours": [
            BookingOutsideHours(
                reservation_id=o.reservation_id, service_date=o.service_date, start_at=o.start_at
            )
            for o in outside[:OUTSIDE_LISTED]
        ],
        "outside_hours_count": len(outside),
    }


def _hours(floor: Floor, on: date) -> Hours:
    periods = floor.timetable_on(on)
    starts = {p.effective_from for p in floor.periods if p.effective_from is not None}
    return Hours(
        restaurant_id=floor.restaurant_id,
        on=on,
        effective_from=periods[0].effective_from if periods else None,
        periods=[PeriodPublic.of(p) for p in periods],
        changes_from=sorted(s for s in starts if s > on),
    )


def _read(ledger: Ledger, restaurant_id: int, on: date | None) -> Hours:
    with ledger.read() as conn:
        floor = load_floor(conn, restaurant_id)
    return _hours(floor, on or ledger.clock().astimezone(floor.zone).date())


@router.get("", response_model=Hours)
async def read_hours(
    restaurant_id: PathId,
    ledger: LedgerDep,
    on: Annotated[date | None, Query(description="Local date (default: today there)")] = None,
) -> Hours:
    """The weekly timetable in force on a date (closures and special hours of
    single dates are not part of it), and when the next change starts."""
    return await run_in_threadpool(_read, ledger, restaurant_id, on)


@router.put("", response_model=HoursSet)
async def change_hours(
    restaurant_id: PathId, body: HoursChange, who: CurrentPrincipal, ledger: LedgerDep
) -> HoursSet:
    """Replaces the weekly hours from ``effective_from`` on (the restaurant's
    managers). Searches and bookings for those dates use the new hours at
    once; earlier dates, the service report and the audit keep the old ones.
    Bookings already taken stay booked; those outside the new hours are
    listed."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    outside: list[OutsideHours] = await run_in_threadpool(
        set_hours, ledger, restaurant_id, [p.spec() for p in body.periods], body.effective_from
    )
    hours = await run_in_threadpool(_read, ledger, restaurant_id, body.effective_from)
    return HoursSet(**hours.model_dump(), **outside_listed(outside))
