"""What a restaurant's own past says of one service's booking requests: the
plain data that a pooled table choice forecasts the demand still to come
from (bid-price admission control, ``optimizer.bid_price``). Built here,
from the ledger, because the optimizer never reads the database.

Only service dates already past are read (before the one being decided,
and before today): the requests of the same service period over the last
``LOOKBACK_DAYS``, that is the bookings that stood (not cancelled; walk-ins
left out, they never asked ahead) and the requests recorded as turned away
(``turnaways``, by the world generator, an import, or the live booking path
through ``booking_core.turnaways``: no table, the kitchen's pacing full, or
refused on price by admission control; again not walk-ins). Without the
turn-aways a restaurant that is often full would see only the demand it
could seat and under-price its tables; without the price refusals, the
more admission control refused, the less demand the next nights would
forecast. A guest turned away who then booked another time counts twice;
the record cannot tell them apart (a retry of the same request is
recorded once). Tonight's turn-aways recorded so far count with
its bookings received, as the history's do. Times count in minutes from
the service's opening, as the optimizer's do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from booking_core.domain import GRANULE_MINUTES, Channel, ReservationState
from booking_core.floor import Floor, ServicePeriod
from booking_core.schema import reservations, turnaways
from booking_core.slots import granule_of, granule_start, local_to_utc
from booking_core.stays import predicts_stays, stay_minutes
from booking_core.turnaways import NO_TABLE, PACING, PRICE

if TYPE_CHECKING:
    from booking_core.daybook import DayBook
    from booking_core.ledger import Ledger

# Eight weeks: every weekday eight times over, recent enough to be this
# season's. Below ``MIN_PAST_BOOKINGS`` the forecast would be a handful of
# parties' habits, so there is no admission control (set by hand, not tuned).
LOOKBACK_DAYS = 56
MIN_PAST_BOOKINGS = 20
# Why a request that asked ahead was turned away (the others, and walk-ins'
# ``walk_in_no_table``, are not demand a booking could serve).
DEMAND_REASONS = (NO_TABLE, PACING, PRICE)
# Distinct (restaurant, service date, period, floor version) kept per ledger.
CACHE_BOUND = 1024


@dataclass(frozen=True)
class ServiceHistory:
    """Past bookings of one service of a restaurant, and the shape of the
    service being decided. ``key`` is what a policy may cache its own work on."""

    key: tuple[int, date, str, int, date]  # restaurant, service date, period, floor version, today
    sizes: tuple[int, ...]
    starts: tuple[int, ...]  # seating minute from that night's opening
    leads: tuple[int, ...]  # minutes between booking and seating
    last_seating: int  # minutes from the opening, of the service being decided
    closes: int  # minutes from the opening
    turn_times: tuple[tuple[int, int], ...]  # (party size, minutes held, reset included)
    opens_granule: int  # the service's opening, as a ledger granule

    def turn_time(self, party_size: int) -> int:
        for size, minutes in self.turn_times:
            if size >= party_size:
                return minutes
        return self.turn_times[-1][1]

    def minute_of(self, granule: int) -> int:
        """Minutes from the opening to the start of a ledger granule."""
        return (granule - self.opens_granule) * GRANULE_MINUTES


@dataclass(frozen=True)
class ServiceDemand:
    """The history, and where the service being decided stands now."""

    history: ServiceHistory
    now: int  # minutes from the opening (negative: before it opens)
    received: int  # bookings standing for this service so far, and requests turned away
    # The booking request being decided (a booking, a change or a search),
    # 0 for a walk-in, which never asked ahead.
    asking: int = 1

    @property
    def requests(self) -> int:
        """Requests received by now, the one being decided included: what
        the pickup forecast scales, as the history's share arrived by now
        counts a past request made at this very minute. Without it the
        first request of a service would forecast no demand at all."""
        return self.received + self.asking


_PAST = sa.select(
    reservations.c.service_date,
    reservations.c.start_at,
    reservations.c.booked_at,
    reservations.c.party_size,
).where(
    reservations.c.restaurant_id == sa.bindparam("restaurant_id"),
    reservations.c.service_date >= sa.bindparam("first"),
    reservations.c.service_date < sa.bindparam("before"),
    reservations.c.channel != Channel.WALK_IN.value,
    reservations.c.state != ReservationState.CANCELLED.value,
)
# Requests turned away, in the same columns.
_TURNED_AWAY = sa.select(
    turnaways.c.service_date,
    turnaways.c.requested_start_at.label("start_at"),
    turnaways.c.requested_at.label("booked_at"),
    turnaways.c.party_size,
).where(
    turnaways.c.restaurant_id == sa.bindparam("restaurant_id"),
    turnaways.c.service_date >= sa.bindparam("first"),
    turnaways.c.service_date < sa.bindparam("before"),
    turnaways.c.channel != Channel.WALK_IN.value,
    turnaways.c.reason.in_(DEMAND_REASONS),
)
# Tonight's, asked by now, within the service's seatings.
_TURNED_AWAY_SO_FAR = sa.select(sa.func.count()).where(
    turnaways.c.restaurant_id == sa.bindparam("restaurant_id"),
    turnaways.c.service_date == sa.bindparam("service_date"),
    turnaways.c.requested_at <= sa.bindparam("now"),
    turnaways.c.requested_start_at >= sa.bindparam("opens"),
    turnaways.c.requested_start_at <= sa.bindparam("last"),
    turnaways.c.channel != Channel.WALK_IN.value,
    turnaways.c.reason.in_(DEMAND_REASONS),
)


def service_history(
    ledger: Ledger,
    conn: sa.Connection,
    floor: Floor,
    period: ServicePeriod,
    service_date: date,
    now: datetime,
) -> ServiceHistory | None:
    """The period's history before ``service_date`` and before today (cached
    per ledger), or None when it is too short to forecast from. A later
    date's bookings are not history: its night has not happened yet."""
    today = now.astimezone(floor.zone).date()
    key = (floor.restaurant_id, service_date, period.name, floor.floor_version, today)
    cache = ledger.cache("service_histories")
    if key in cache:
        found: ServiceHistory | None = cache[key]
        return found
    history = _load(ledger, conn, floor, period, service_date, key)
    if len(cache) >= CACHE_BOUND:  # a bound, not an eviction policy
        cache.clear()
    cache[key] = history
    return history


def _load(
    ledger: Ledger,
    conn: sa.Connection,
    floor: Floor,
    period: ServicePeriod,
    service_date: date,
    key: tuple[int, date, str, int, date],
) -> ServiceHistory | None:
    opening = local_to_utc(floor, service_date, period.opens_min)
    if opening is None:  # opens in a clock-change gap: nothing to anchor minutes on
        return None
    last_seating = period.last_seating_min - period.opens_min
    sizes: list[int] = []
    starts: list[int] = []
    leads: list[int] = []
    window = {
        "restaurant_id": floor.restaurant_id,
        "first": service_date - timedelta(days=LOOKBACK_DAYS),
        "before": min(service_date, key[4]),
    }
    rows = [*conn.execute(_PAST, window), *conn.execute(_TURNED_AWAY, window)]
    periods: dict[date, ServicePeriod | None] = {}
    for row in rows:
        past = periods.get(row.service_date, ...)
        if past is ...:
            past = periods[row.service_date] = next(
                (p for p in floor.periods_on(row.service_date) if p.name == period.name), None
            )
        if past is None:
            continue
        minute = _local_minute(floor, row.service_date, row.start_at)
        if not past.opens_min <= minute <= past.last_seating_min:
            continue
        sizes.append(int(row.party_size))
        starts.append(min(minute - past.opens_min, last_seating))
        leads.append(max(int((row.start_at - row.booked_at).total_seconds() // 60), 0))
    if len(sizes) < MIN_PAST_BOOKINGS:
        return None
    return ServiceHistory(
        key,
        tuple(sizes),
        tuple(starts),
        tuple(leads),
        last_seating,
        period.closes_min - period.opens_min,
        _held(ledger, floor, period, opening, sizes, starts),
        granule_of(opening),
    )


def _held(
    ledger: Ledger,
    floor: Floor,
    period: ServicePeriod,
    opening: datetime,
    sizes: list[int],
    starts: list[int],
) -> tuple[tuple[int, int], ...]:
    """How long a request still to come is expected to hold its table: the
    turn times, or for a restaurant that books predicted stays the stay
    it would book each past size at the service's median seating (the
    rule the booking itself is held by, as in the seating simulator)."""
    if not predicts_stays(floor):
        return period.turn_times
    typical = opening + timedelta(minutes=sorted(starts)[len(starts) // 2])
    return tuple(
        (size, stay_minutes(ledger, floor, size, [(period, typical)], channel=Channel.WEB.value)[0])
        for size in sorted(set(sizes))
    )


def _local_minute(floor: Floor, service_date: date, moment: datetime) -> int:
    local = moment.astimezone(floor.zone)
    return (local.date() - service_date).days * 1440 + local.hour * 60 + local.minute


def service_demand(
    ledger: Ledger,
    conn: sa.Connection,
    floor: Floor,
    period: ServicePeriod,
    service_date: date,
    book: DayBook,
    now: datetime,
    *,
    asking: bool = True,
) -> ServiceDemand | None:
    """The demand a pooled choice prices a booking of this service against
    (None: too little history, and then no admission control). ``asking``:
    False for a walk-in, which is no booking request."""
    history = service_history(ledger, conn, floor, period, service_date, now)
    if history is None:
        return None
    turned_away = turned_away_so_far(conn, floor, history, service_date, now)
    return demand_now(history, book, now, turned_away=turned_away, asking=asking)


def turned_away_so_far(
    conn: sa.Connection, floor: Floor, history: ServiceHistory, service_date: date, now: datetime
) -> int:
    """Requests for this service turned away (``DEMAND_REASONS``) by ``now``."""
    opens = granule_start(history.opens_granule)
    found = conn.execute(
        _TURNED_AWAY_SO_FAR,
        {
            "restaurant_id": floor.restaurant_id,
            "service_date": service_date,
            "now": now,
            "opens": opens,
            "last": opens + timedelta(minutes=history.last_seating),
        },
    ).scalar_one()
    return int(found)


def demand_now(
    history: ServiceHistory,
    book: DayBook,
    now: datetime,
    *,
    turned_away: int = 0,
    asking: bool = True,
) -> ServiceDemand:
    """``turned_away``: tonight's requests turned away so far,
    received as much as the bookings are; ``asking``: whether a booking
    request is being decided (see ``ServiceDemand.requests``)."""
    og = history.opens_granule
    last = og + history.last_seating // GRANULE_MINUTES
    received = book.parties_starting(og, last + 1) + turned_away
    minutes = int(now.timestamp() // 60) - og * GRANULE_MINUTES
    return ServiceDemand(history, minutes, received, int(asking))


__all__ = [
    "DEMAND_REASONS",
    "LOOKBACK_DAYS",
    "MIN_PAST_BOOKINGS",
    "ServiceDemand",
    "ServiceHistory",
    "demand_now",
    "service_demand",
    "service_history",
    "turned_away_so_far",
]
