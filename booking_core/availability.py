"""Bookable times for a restaurant, a local date and a party size.

Called on every keystroke of a search box, so the floor is cached per
``floor_version`` and the day's holdings per the service days' booking
versions: a search costs two tiny queries when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from booking_core.daybook import (
    DayBook,
    PooledTableChoice,
    TableChoice,
    choose_tables,
    load_day_book,
    table_policy,
)
from booking_core.domain import TIE_COVERS, Channel
from booking_core.errors import InvalidRequest, NoTableFree, UnknownRestaurant
from booking_core.floor import Floor, floor_version, load_floor
from booking_core.ledger import Ledger
from booking_core.past_demand import (
    ServiceDemand,
    ServiceHistory,
    demand_now,
    service_history,
    turned_away_so_far,
)
from booking_core.schema import restaurants, service_days
from booking_core.slots import service_slots
from booking_core.stays import booked_slots
from booking_core.validation import check_party_size, parse_date, parse_time


@dataclass(frozen=True, slots=True)
class BookableTime:
    local_time: str  # HH:MM on the restaurant's wall clock
    start_at: datetime  # UTC
    end_at: datetime  # UTC: when the table is needed back
    service: str  # the service period's name, e.g. "dinner"
    table_ids: tuple[int, ...]  # what the table policy would assign now
    # Covers the rest of the night's expected requests would lose to this
    # booking's table time (bid prices); None without admission control.
    displaced_covers: float | None = None
    # Among the times found, one of those that displace least: the time to
    # offer a flexible guest first (never set without admission control).
    recommended: bool = False


@runtime_checkable
class DisplacementPricing(Protocol):
    """A table choice that prices a booking's table time in covers the
    requests still expected would lose, and admits or refuses a party by
    that price (``optimizer.pooled_policy``)."""

    def displaced(
        self,
        floor: Floor,
        book: DayBook,
        demand: ServiceDemand,
        tables: tuple[int, ...],
        g0: int,
        g1: int,
        *,
        quick: bool = False,
    ) -> float: ...

    def admit(
        self,
        floor: Floor,
        book: DayBook,
        demand: ServiceDemand,
        party_size: int,
        tables: tuple[int, ...],
        g0: int,
        g1: int,
        *,
        quick: bool = False,
    ) -> None:
        """Raise ``TablesKeptForLaterParties`` when the party holding
        ``tables`` displaces more covers than it brings."""


def get_floor(ledger: Ledger, conn: sa.Connection, restaurant_id: int) -> Floor:
    """The restaurant's floor, reloaded only when its ``floor_version`` moved."""
    cache = ledger.cache("floors")
    version = floor_version(conn, restaurant_id)
    cached = cache.get(restaurant_id)
    if cached is not None and cached.floor_version == version:
        return cached
    floor = load_floor(conn, restaurant_id)
    cache[restaurant_id] = floor
    return floor


_PIN_FLOOR = (
    sa.select(restaurants.c.floor_version)
    .where(restaurants.c.id == sa.bindparam("restaurant_id"))
    .with_for_update(read=True)
)


def pin_floor(conn: sa.Connection, floor: Floor, ledger: Ledger | None = None) -> Floor:
    """The floor a write may rely on until it commits, once it holds its
    service-day locks: ``floor`` itself, or the floor a change committed
    since ``floor`` was read (read again, through ``ledger``'s cache when
    given), which the caller must check the request against again.

    Why: a booking reads the floor before it knows which day to lock, and a
    floor change (hours, special dates, tables, seating settings) takes no
    day lock: it bumps ``restaurants.floor_version`` in its transaction.
    On PostgreSQL the booking share-locks that row (FOR SHARE): it waits
    for a change in flight to commit, and no change commits until the
    booking has, so no booking lands under hours or on a table a committed
    change removed, and a change's list of bookings its hours no longer
    serve sees every booking taken before it. On SQLite a write
    transaction holds the write lock (BEGIN IMMEDIATE) from before it read
    the floor, so nothing can change it: ``floor`` is returned as it is.

    Deadlocks: floor changers update this row (an exclusive lock) before
    their first outbox event (the feed lock) and take no day lock.
    Writers lock their service days, then this row (shared), then the feed.
    A share lock waits only for a changer, never for another share holder
    (PostgreSQL grants it even while a changer queues for the row), and a
    changer waits only for the row and then the feed, so no cycle goes
    through this row as long as no writer asks for it while holding the
    feed: ``book_many`` pins its restaurants before its first booking
    (before its day locks too, which is safe: nothing that holds a day
    lock waits for a share holder of this row)."""
    if conn.dialect.name != "postgresql":
        return floor
    version = conn.execute(_PIN_FLOOR, {"restaurant_id": floor.restaurant_id}).scalar()
    if version is None:
        raise UnknownRestaurant(f"There is no restaurant with id {floor.restaurant_id}.")
    if version == floor.floor_version:
        return floor
    if ledger is not None:
        return get_floor(ledger, conn, floor.restaurant_id)
    return load_floor(conn, floor.restaurant_id)


_DAY_VERSIONS = sa.select(service_days.c.local_date, service_days.c.bookings_version).where(
    service_days.c.restaurant_id == sa.bindparam("restaurant_id"),
    service_days.c.local_date.in_(sa.bindparam("days", expanding=True)),
)

DayStamp = tuple[int, tuple[int, int, int]]


def day_stamp(conn: sa.Connection, floor: Floor, service_date: date) -> DayStamp:
    """What a day book of ``service_date`` depends on: the floor's version and
    the booking versions of the date and its neighbours."""
    offsets = (-1, 0, 1) if floor.days_interact else (0,)
    days = [service_date + timedelta(days=d) for d in offsets]
    found = dict(
        conn.execute(_DAY_VERSIONS, {"restaurant_id": floor.restaurant_id, "days": days}).all()
    )
    if not floor.days_interact:
        return floor.floor_version, (0, found.get(service_date, 0), 0)
    v = [found.get(d, 0) for d in days]
    return floor.floor_version, (v[0], v[1], v[2])


def cached_day_book(
    ledger: Ledger, floor: Floor, service_date: date, stamp: DayStamp
) -> DayBook | None:
    cached = ledger.cache("day_books").get((floor.restaurant_id, service_date))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    return None


def remember_day_book(
    ledger: Ledger, floor: Floor, service_date: date, stamp: DayStamp, book: DayBook
) -> None:
    """Keep a day book that is known to match the ledger at ``stamp``. Only
    committed state may be remembered: a stamp could otherwise be reused by
    the next writer for a different set of bookings."""
    cache = ledger.cache("day_books")
    if len(cache) > 4096:  # a search site touches many days; keep memory bounded
        cache.clear()
    cache[(floor.restaurant_id, service_date)] = (stamp, book)


def get_day_book(ledger: Ledger, conn: sa.Connection, floor: Floor, service_date: date) -> DayBook:
    stamp = day_stamp(conn, floor, service_date)
    book = cached_day_book(ledger, floor, service_date, stamp)
    if book is None:
        book = load_day_book(conn, floor, service_date)
        remember_day_book(ledger, floor, service_date, stamp, book)
    return book


def find_times(
    ledger: Ledger,
    restaurant_id: int,
    local_date: date | str,
    party_size: int,
    *,
    earliest: time | str | None = None,
    latest: time | str | None = None,
    area_id: int | None = None,
    accessible: bool = False,
    policy: TableChoice | None = None,
    now: datetime | None = None,
) -> list[BookableTime]:
    """Every time a party could be booked, earliest first. A closed date, or
    one with nothing left, gives an empty list; a party larger than any table
    or combination is an error, because no date would ever work."""
    day = parse_date(local_date)
    party_size = check_party_size(party_size)
    lo = parse_time(earliest, "earliest time") if earliest is not None else None
    hi = parse_time(latest, "latest time") if latest is not None else None
    if lo is not None and hi is not None and hi < lo:
        raise InvalidRequest(f"The window {lo:%H:%M}-{hi:%H:%M} ends before it starts.")
    now = now or ledger.clock()
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        floor.check_party_fits(party_size)
        if area_id is not None and not any(area_id == t.area_id for t in floor.tables.values()):
            raise InvalidRequest(f"{floor.name} has no dining area with id {area_id}.")
        slots = service_slots(floor, day, party_size)
        if not slots:
            return []
        # A diner's search: held for the stays a web booking would be.
        slots = booked_slots(ledger, floor, slots, party_size, channel=Channel.WEB)
        book = get_day_book(ledger, conn, floor, day)
        policy = policy or table_policy.for_floor(floor)
        histories: dict[str, ServiceHistory | None] = {}
        if isinstance(policy, PooledTableChoice):
            for period in {s.period.name: s.period for s in slots}.values():
                histories[period.name] = service_history(ledger, conn, floor, period, day, now)
        turned_away = {
            name: turned_away_so_far(conn, floor, history, day, now)
            for name, history in histories.items()
            if history is not None
        }
    # One demand per service for the whole search: a pooled policy may then
    # price every slot against the same programme.
    demands = {
        name: demand_now(history, book, now, turned_away=turned_away[name])
        for name, history in histories.items()
        if history is not None
    }
    # Checked once: a protocol's isinstance costs tens of microseconds.
    pricing = policy if isinstance(policy, DisplacementPricing) else None
    times = []
    lo_min = lo.hour * 60 + lo.minute if lo else None
    hi_min = hi.hour * 60 + hi.minute if hi else None
    for slot in slots:
        if slot.start_at <= now:
            continue
        wall = slot.local_minute % 1440
        if (lo_min is not None and wall < lo_min) or (hi_min is not None and wall > hi_min):
            continue
        if not book.pacing_allows(slot, party_size):
            continue
        # Quick: a search tries every slot of the day on each keystroke.
        try:
            choice = choose_tables(
                policy,
                floor,
                book,
                party_size,
                slot.start_granule,
                slot.end_granule,
                area_id=area_id,
                accessible=accessible,
                quick=True,
                demand=demands.get(slot.period.name),
            )
        except NoTableFree:  # kept for later parties (admission control)
            choice = None
        option = choice.option if choice is not None else None
        if option is not None:
            demand = demands.get(slot.period.name)
            displaced = None
            if demand is not None and pricing is not None:
                # The choice priced these very tables: a cached answer.
                displaced = pricing.displaced(
                    floor,
                    book,
                    demand,
                    option.table_ids,
                    slot.start_granule,
                    slot.end_granule,
                    quick=True,
                )
            times.append(
                BookableTime(
                    slot.local_time,
                    slot.start_at,
                    slot.end_at,
                    slot.period.name,
                    option.table_ids,
                    displaced,
                )
            )
    return recommend(times)


def recommend(times: list[BookableTime]) -> list[BookableTime]:
    """Mark the times that displace the fewest covers still expected (time
    steering: a flexible guest offered one of them first leaves the most
    room for the rest of the night). Nothing is marked when no time is
    priced (no admission control)."""
    priced = [t.displaced_covers for t in times if t.displaced_covers is not None]
    if not priced:
        return times
    least = min(priced) + TIE_COVERS
    return [
        replace(t, recommended=True)
        if t.displaced_covers is not None and t.displaced_covers <= least
        else t
        for t in times
    ]


__all__ = [
    "BookableTime",
    "DisplacementPricing",
    "find_times",
    "get_day_book",
    "get_floor",
    "load_floor",
    "pin_floor",
    "recommend",
]
