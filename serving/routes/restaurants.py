"""Finding a restaurant and its bookable times (public: no sign-in needed)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from booking_core.availability import find_times
from booking_core.search import Listing, SearchQuery, search_restaurants
from serving.deps import LedgerDep, PathId

# Fields named date and time would shadow the types inside a class body.
LocalDate = date
LocalTime = time
router = APIRouter(prefix="/restaurants", tags=["restaurants"])


class RestaurantPublic(BaseModel):
    id: int
    name: str
    cuisines: list[str]
    price_tier: int
    rating: float | None
    city: str
    country: str
    latitude: float
    longitude: float
    distance_km: float | None
    times: list[str]

    @classmethod
    def of(cls, item: Listing) -> RestaurantPublic:
        return cls(**{**item.__dict__, "cuisines": list(item.cuisines), "times": list(item.times)})


class RestaurantsPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[RestaurantPublic]


class BookableTimePublic(BaseModel):
    local_time: str
    start_at: datetime
    end_at: datetime = Field(description="When the table is needed back")
    service: str
    displaced_covers: float | None = Field(
        description="Covers the requests still expected tonight would lose to this booking's "
        "table time (bid prices); null where the restaurant has no admission control"
    )
    recommended: bool = Field(
        description="One of the times in the window that displace the fewest covers: offer "
        "it first to a guest who could come at several; false everywhere without admission "
        "control"
    )


class AvailabilityPublic(BaseModel):
    restaurant_id: int
    date: LocalDate
    party_size: int
    times: list[BookableTimePublic]


def _covers(displaced: float | None) -> float | None:
    """Covers as a diner app shows them: two decimals, and the LP's
    floating-point dust (7e-15) as the zero it is."""
    return None if displaced is None else round(displaced, 2) + 0.0


@router.get("", response_model=RestaurantsPage)
def search(
    ledger: LedgerDep,
    cuisine: Annotated[str | None, Query(max_length=60)] = None,
    min_price: Annotated[int | None, Query(ge=1, le=4)] = None,
    max_price: Annotated[int | None, Query(ge=1, le=4)] = None,
    min_rating: Annotated[float | None, Query(ge=0, le=5)] = None,
    latitude: Annotated[float | None, Query(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
    within_km: Annotated[float | None, Query(gt=0, le=20000)] = None,
    date: Annotated[date | None, Query(description="Local date of the visit")] = None,
    time: Annotated[time | None, Query(description="Wished local time (±90 min)")] = None,
    party_size: Annotated[int | None, Query(ge=1, le=40)] = None,
    sort: Literal["rating", "distance", "price", "name", "earliest"] = "rating",
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RestaurantsPage:
    """Restaurants by cuisine, price, rating and distance; with a date and a
    party size, only those that can seat the party, with their times."""
    query = SearchQuery(
        cuisine=cuisine,
        min_price=min_price,
        max_price=max_price,
        min_rating=min_rating,
        latitude=latitude,
        longitude=longitude,
        within_km=within_km,
        local_date=date,
        local_time=time,
        party_size=party_size,
        sort=sort,
        offset=offset,
        limit=limit,
    )
    page = search_restaurants(ledger, query, now=ledger.clock())
    return RestaurantsPage(
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        items=[RestaurantPublic.of(i) for i in page.items],
    )


@router.get("/{restaurant_id}/availability", response_model=AvailabilityPublic)
async def availability(
    restaurant_id: PathId,
    ledger: LedgerDep,
    date: LocalDate,
    party_size: Annotated[int, Query(ge=1, le=40)],
    earliest: time | None = None,
    latest: time | None = None,
    accessible: bool = False,
) -> AvailabilityPublic:
    """Every time the party could be booked that day (between ``earliest``
    and ``latest`` when given), earliest first. At a restaurant with
    admission control each time says how many covers it displaces from
    the requests still expected, and the least displacing are
    ``recommended``: the times to offer a flexible guest first."""
    times = await run_in_threadpool(  # hot path: one thread-pool hop, as for bookings
        find_times,
        ledger,
        restaurant_id,
        date,
        party_size,
        earliest=earliest,
        latest=latest,
        accessible=accessible,
        now=ledger.clock(),
    )
    return AvailabilityPublic(
        restaurant_id=restaurant_id,
        date=date,
        party_size=party_size,
        times=[
            BookableTimePublic(
                local_time=t.local_time,
                start_at=t.start_at,
                end_at=t.end_at,
                service=t.service,
                displaced_covers=_covers(t.displaced_covers),
                recommended=t.recommended,
            )
            for t in times
        ],
    )
