"""The manager's service report: per past service day and period, what
happened and the demand turned away (``booking_core.service_report``
defines every column). Staff of the restaurant and admins only, as the
no-show list."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from booking_core.service_report import (
    MAX_SPAN_DAYS,
    ServiceFigures,
    ServiceRow,
    service_report,
)
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_staff_of

# Fields named date would shadow the type inside a class body.
LocalDate = date
router = APIRouter(prefix="/restaurants/{restaurant_id}/service-report", tags=["reports"])


class TurnedAwayPublic(BaseModel):
    requests: int = Field(description="Requests recorded as turned away (a retry once)")
    covers: int = Field(description="Their party sizes, summed")


class FiguresPublic(BaseModel):
    bookings: int = Field(description="Booked ahead (not walk-ins) and not cancelled")
    covers_booked: int
    parties_seated: int = Field(description="Seated, walk-ins included")
    covers_seated: int
    no_shows: int
    no_show_covers: int
    cancellations: int
    late_cancellations: int = Field(description="Cancelled less than 24 h before the start")
    late_cancelled_covers: int
    fees_due_minor: int = Field(
        description="Fees the bookings' own terms made due (late cancellations by diners, "
        "no-shows) and not waived, in minor units"
    )
    fees_waived_minor: int = Field(description="Such fees the restaurant waived")
    deposits_held_minor: int = Field(
        description="Deposits paid and held by bookings still standing (booked, confirmed, "
        "arrived, seated), in minor units"
    )
    deposits_outstanding_minor: int = Field(
        description="What those bookings still owe of their deposits"
    )
    released_unpaid: int = Field(
        description="Bookings the restaurant cancelled at or after their deposit's deadline "
        "with the deposit still owed"
    )
    walk_ins: int = Field(description="Walk-ins seated")
    walk_in_covers: int
    turned_away: dict[str, TurnedAwayPublic] = Field(
        description="By reason: no_table, pacing, price, walk_in_no_table (and any other recorded)"
    )
    turned_away_requests: int
    turned_away_covers: int
    seat_minutes_used: float = Field(
        description="Covers x minutes seated (seated to completed, or to the planned end), "
        "clipped to the service"
    )
    seat_minutes_available: float = Field(description="Seats x the service's minutes")
    utilisation: float | None = Field(description="Used / available; null when none available")
    completed_stays: int
    average_stay_min: float | None = Field(description="Seated to completed, unclipped")

    @classmethod
    def of(cls, figures: ServiceFigures) -> dict[str, object]:
        return {
            **{name: getattr(figures, name) for name in cls.model_fields if name != "turned_away"},
            "turned_away": {
                reason: TurnedAwayPublic(requests=t.requests, covers=t.covers)
                for reason, t in figures.turned_away.items()
            },
        }


class ServiceRowPublic(FiguresPublic):
    service_date: LocalDate
    period: str | None = Field(description="Null: a date today's floor no longer opens on")
    opens_at: datetime | None
    closes_at: datetime | None
    seats: int

    @classmethod
    def from_row(cls, row: ServiceRow) -> ServiceRowPublic:
        return cls.model_validate(cls.of(row))


class ServiceReportPublic(BaseModel):
    restaurant_id: int
    date_from: LocalDate
    date_to: LocalDate
    rows: list[ServiceRowPublic] = Field(description="One per service day and period")
    totals: FiguresPublic = Field(description="The span's sums; its ratios are the span's own")


@router.get("", response_model=ServiceReportPublic)
def report(
    restaurant_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    date_from: Annotated[
        LocalDate, Query(alias="from", description="First service date, YYYY-MM-DD")
    ],
    date_to: Annotated[
        LocalDate,
        Query(
            alias="to",
            description=f"Last service date, YYYY-MM-DD (at most {MAX_SPAN_DAYS} days in all)",
        ),
    ],
) -> ServiceReportPublic:
    """Per service day and period: bookings, covers seated, no-shows, late
    cancellations, walk-ins, demand turned away by reason, seat utilisation
    and the average stay; with the span's totals."""
    require_staff_of(who, restaurant_id)
    made = service_report(ledger, restaurant_id, date_from, date_to)
    return ServiceReportPublic(
        restaurant_id=restaurant_id,
        date_from=made.date_from,
        date_to=made.date_to,
        rows=[ServiceRowPublic.from_row(row) for row in made.rows],
        totals=FiguresPublic.model_validate(FiguresPublic.of(made.totals)),
    )
