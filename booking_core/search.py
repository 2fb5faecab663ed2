"""Finding a restaurant: by cuisine, price, rating and distance from a point,
and, given a date and party size, only those that can seat the party near
the wished time, with the times they offer.

Restaurants are few next to reservations (hundreds, not millions), so the
attribute filters run over one cached list per ledger, and availability is
asked of each remaining candidate through the same ``find_times`` a booking
page uses (cached per floor and day version).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from booking_core.availability import find_times
from booking_core.errors import InvalidRequest, PartyTooLarge
from booking_core.ledger import Ledger
from booking_core.schema import restaurants
from booking_core.validation import check_party_size, parse_date, parse_time

SortKey = Literal["rating", "distance", "price", "name", "earliest"]
EARTH_RADIUS_KM = 6371.0
# "Around 19:30" means a bookable time this close to the wish.
DEFAULT_WINDOW = timedelta(minutes=90)


@dataclass(frozen=True)
class SearchQuery:
    cuisine: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    min_rating: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    within_km: float | None = None
    local_date: date | str | None = None
    local_time: time | str | None = None
    party_size: int | None = None
    sort: SortKey = "rating"
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True)
class Listing:
    id: int
    name: str
    cuisines: tuple[str, ...]
    price_tier: int
    rating: float | None
    city: str
    country: str
    latitude: float
    longitude: float
    distance_km: float | None = None
    times: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SearchPage:
    total: int
    offset: int
    limit: int
    items: tuple[Listing, ...]


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _check(query: SearchQuery) -> None:
    if query.limit < 1 or query.limit > 100:
        raise InvalidRequest("A page holds 1 to 100 restaurants.")
    if query.offset < 0:
        raise InvalidRequest("The offset cannot be negative.")
    for price in (query.min_price, query.max_price):
        if price is not None and not 1 <= price <= 4:
            raise InvalidRequest("Price tiers run from 1 to 4.")
    if (query.latitude is None) != (query.longitude is None):
        raise InvalidRequest("Give both latitude and longitude, or neither.")
    if query.latitude is not None and not -90 <= query.latitude <= 90:
        raise InvalidRequest("A latitude lies between -90 and 90.")
    if query.longitude is not None and not -180 <= query.longitude <= 180:
        raise InvalidRequest("A longitude lies between -180 and 180.")
    if query.within_km is not None and query.latitude is None:
        raise InvalidRequest("A distance limit needs a point to measure from.")
    if query.sort == "distance" and query.latitude is None:
        raise InvalidRequest("Sorting by distance needs a point to measure from.")
    wants_times = query.local_date is not None or query.party_size is not None
    if wants_times and (query.local_date is None or query.party_size is None):
        raise InvalidRequest("Searching availability needs both a date and a party size.")
    if query.local_time is not None and query.local_date is None:
        raise InvalidRequest("A time needs a date.")
    if query.sort == "earliest" and query.local_date is None:
        raise InvalidRequest("Sorting by earliest time needs a date and a party size.")


def _catalogue(ledger: Ledger) -> list[Listing]:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(
                restaurants.c.id,
                restaurants.c.name,
                restaurants.c.cuisines,
                restaurants.c.price_tier,
                restaurants.c.rating,
                restaurants.c.city,
                restaurants.c.country,
                restaurants.c.latitude,
                restaurants.c.longitude,
            ).order_by(restaurants.c.id)
        ).all()
    return [
        Listing(
            r.id,
            r.name,
            tuple(r.cuisines or ()),
            r.price_tier,
            r.rating,
            r.city,
            r.country,
            r.latitude,
            r.longitude,
        )
        for r in rows
    ]


def _window(at: time | None) -> tuple[time | None, time | None]:
    if at is None:
        return None, None
    wish = datetime.combine(date(2000, 1, 1), at)
    lo, hi = wish - DEFAULT_WINDOW, wish + DEFAULT_WINDOW
    return (lo.time() if lo.date() == wish.date() else time(0, 0)), (
        hi.time() if hi.date() == wish.date() else time(23, 59)
    )


def search_restaurants(
    ledger: Ledger, query: SearchQuery, *, now: datetime | None = None
) -> SearchPage:
    _check(query)
    day = parse_date(query.local_date, "date") if query.local_date is not None else None
    at = parse_time(query.local_time) if query.local_time is not None else None
    party = check_party_size(query.party_size) if query.party_size is not None else None
    cuisine = query.cuisine.strip().lower() if query.cuisine else None
    found: list[Listing] = []
    for place in _catalogue(ledger):
        if cuisine and cuisine not in (c.lower() for c in place.cuisines):
            continue
        if query.min_price is not None and place.price_tier < query.min_price:
            continue
        if query.max_price is not None and place.price_tier > query.max_price:
            continue
        if query.min_rating is not None and (place.rating or 0.0) < query.min_rating:
            continue
        far = None
        if query.latitude is not None and query.longitude is not None:
            far = distance_km(query.latitude, query.longitude, place.latitude, place.longitude)
            if query.within_km is not None and far > query.within_km:
                continue
        times: tuple[str, ...] = ()
        if day is not None and party is not None:
            lo, hi = _window(at)
            try:
                offered = find_times(ledger, place.id, day, party, earliest=lo, latest=hi, now=now)
            except PartyTooLarge:
                continue
            if not offered:
                continue
            times = tuple(t.local_time for t in offered)
        found.append(replace(place, distance_km=far, times=times))
    found.sort(key=_sort_key(query.sort))
    page = found[query.offset : query.offset + query.limit]
    return SearchPage(len(found), query.offset, query.limit, tuple(page))


def _sort_key(sort: SortKey) -> Callable[[Listing], Any]:
    keys: dict[str, Callable[[Listing], Any]] = {
        "rating": lambda p: (-(p.rating or 0.0), p.id),
        "distance": lambda p: (p.distance_km or 0.0, p.id),
        "price": lambda p: (p.price_tier, -(p.rating or 0.0), p.id),
        "name": lambda p: (p.name.lower(), p.id),
        "earliest": lambda p: (p.times[0] if p.times else "99:99", p.id),
    }
    if sort not in keys:
        raise InvalidRequest(f"Sort by one of {', '.join(keys)}, not {sort!r}.")
    return keys[sort]


__all__ = ["Listing", "SearchPage", "SearchQuery", "distance_km", "search_restaurants"]
