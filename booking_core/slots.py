"""Service slots in local time and their UTC intervals, DST-safe.

Slot logic is done on the restaurant's wall clock (a 19:30 seating is 19:30
in summer and winter); occupancy is real elapsed time, so intervals are UTC
and granules count from the Unix epoch. A wall time that does not exist (the
spring-forward gap) is not offered; one that happens twice (fall back) is
offered once, at its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from booking_core.domain import GRANULE_MINUTES
from booking_core.errors import OutsideServiceHours
from booking_core.floor import Floor, ServicePeriod

GRANULE_SECONDS = GRANULE_MINUTES * 60


@dataclass(frozen=True, slots=True)
class Slot:
    period: ServicePeriod
    service_date: date
    local_minute: int  # minutes after the service date's local midnight
    start_at: datetime  # UTC
    end_at: datetime  # UTC, start + booked stay (the turn time) rounded up to a granule
    start_granule: int
    end_granule: int  # exclusive

    @property
    def local_time(self) -> str:
        hours, minutes = divmod(self.local_minute % 1440, 60)
        return f"{hours:02d}:{minutes:02d}"


def granule_of(moment: datetime) -> int:
    return int(moment.timestamp()) // GRANULE_SECONDS


def granule_start(granule: int) -> datetime:
    return datetime.fromtimestamp(granule * GRANULE_SECONDS, UTC)


def granule_span(start: datetime, end: datetime) -> tuple[int, int]:
    """Granules [first, last) that overlap the interval [start, end)."""
    first = int(start.timestamp()) // GRANULE_SECONDS
    last = -(-int(end.timestamp()) // GRANULE_SECONDS)
    return first, max(last, first + 1)


def local_to_utc(floor: Floor, service_date: date, minute: int) -> datetime | None:
    """The UTC instant of a wall-clock minute of a service date, or None in a DST gap."""
    day = service_date + timedelta(days=minute // 1440)
    wall = datetime.combine(day, time(*divmod(minute % 1440, 60)), tzinfo=floor.zone)
    moment = wall.astimezone(UTC)
    if moment.astimezone(floor.zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        return None
    return moment


def make_slot(
    floor: Floor,
    period: ServicePeriod,
    service_date: date,
    minute: int,
    party_size: int,
    *,
    stay_minutes: int | None = None,
) -> Slot | None:
    """``stay_minutes``: how long the table is held (default: the turn time)."""
    start = local_to_utc(floor, service_date, minute)
    if start is None:
        return None
    g0 = granule_of(start)
    held = period.turn_time(party_size) if stay_minutes is None else stay_minutes
    g1 = g0 + -(-held // GRANULE_MINUTES)
    return Slot(period, service_date, minute, start, granule_start(g1), g0, g1)


def service_slots(floor: Floor, service_date: date, party_size: int) -> list[Slot]:
    slots = []
    for period in floor.periods_on(service_date):
        for minute in period.slot_minutes():
            slot = make_slot(floor, period, service_date, minute, party_size)
            if slot is not None:
                slots.append(slot)
    return slots


def hhmm(minute: int) -> str:
    """A minute of the service day (past 1440 after midnight) as HH:MM."""
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def minute_of_service(floor: Floor, service_date: date, moment: datetime) -> int:
    """Local minutes from the service date's midnight to ``moment`` (past
    1440 for a booking after midnight), the unit periods are kept in."""
    local = moment.astimezone(floor.zone)
    return (local.date() - service_date).days * 1440 + local.hour * 60 + local.minute


def service_date_of(floor: Floor, moment: datetime) -> tuple[date, ServicePeriod, int] | None:
    """The service date, period and local minute that an instant falls in, if
    the restaurant is open then (a period runs from opening to closing)."""
    local = moment.astimezone(floor.zone)
    for back in (0, 1):  # after midnight it may still be yesterday's service
        day = local.date() - timedelta(days=back)
        minute = local.hour * 60 + local.minute + 1440 * back
        for period in floor.periods_on(day):
            if period.opens_min <= minute < period.closes_min:
                return day, period, minute
    return None


def current_service(
    floor: Floor, now: datetime, *, closed: str = "is not in service at this time"
) -> tuple[date, ServicePeriod, int]:
    """``service_date_of`` for what a host does now: outside service hours it
    raises ``OutsideServiceHours`` ("<restaurant> <closed>.")."""
    found = service_date_of(floor, now)
    if found is None:
        raise OutsideServiceHours(f"{floor.name} {closed}.")
    return found


def service_window(floor: Floor, service_date: date) -> tuple[int, int] | None:
    """First and last granule touched by any service of the date, or None if closed."""
    periods = floor.periods_on(service_date)
    if not periods:
        return None
    start = local_to_utc(floor, service_date, min(p.opens_min for p in periods))
    end_minute = max(p.closes_min for p in periods)
    end = local_to_utc(floor, service_date, end_minute) or local_to_utc(
        floor, service_date, end_minute + 60
    )
    if start is None or end is None:
        midnight = datetime.combine(service_date, time(), tzinfo=floor.zone).astimezone(UTC)
        return granule_of(midnight), granule_of(midnight + timedelta(days=2))
    return granule_of(start), granule_of(end) + 1
