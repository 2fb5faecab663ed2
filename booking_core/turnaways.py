"""Requests refused for lack of room or on price, written as ``turnaways``
rows by the live booking path, so that a restaurant's own history
(``past_demand``) counts the demand it could not seat, as the world
generator's history does.

A refusal is written even though the booking's transaction rolled back:
``record`` in a short write of its own, or ``record_in`` inside a
caller's transaction that goes on (``book_many`` behind a savepoint). Bad
input (an unknown restaurant, a party too large, a time outside the hours
or past) is no demand and is never recorded.

A client that retries inflates demand, so a request is recorded once per
service and ``DEDUP_WINDOW``: the same diner refused again for the same
service, or, for a guest without an account, the same channel, party size
and requested start (a walk-in's start is the quarter-hour it came in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from booking_core.domain import GRANULE_MINUTES, Channel
from booking_core.errors import (
    BookingError,
    NoTableFree,
    PacingLimitReached,
    TablesKeptForLaterParties,
)
from booking_core.ledger import Ledger
from booking_core.schema import turnaways

DEDUP_WINDOW = timedelta(minutes=30)

# The reason codes, shared with the world generator's history and read by
# ``past_demand`` (every one but the walk-in's is a request that asked ahead).
NO_TABLE = "no_table"
PACING = "pacing"
PRICE = "price"  # refused by admission control: the tables kept for later parties
WALK_IN_NO_TABLE = "walk_in_no_table"


@dataclass(frozen=True)
class Refusal:
    """What was asked, and the service it was asked of: ``service_opens``
    and ``service_last`` bound the service's seatings (UTC), so that a
    diner's retry at another time of the same service is the same request."""

    restaurant_id: int
    service_date: date
    requested_start_at: datetime
    party_size: int
    channel: str
    reason: str
    diner_id: int | None
    service_opens: datetime
    service_last: datetime


def reason_for(error: BookingError, channel: Channel | str) -> str | None:
    """The reason code of a refusal that is demand turned away, else None."""
    walk_in = channel == Channel.WALK_IN
    if isinstance(error, TablesKeptForLaterParties):
        return None if walk_in else PRICE  # the host may still seat a walk-in by hand
    if isinstance(error, NoTableFree):
        return WALK_IN_NO_TABLE if walk_in else NO_TABLE
    if isinstance(error, PacingLimitReached) and not walk_in:
        return PACING
    return None


def walk_in_start(now: datetime) -> datetime:
    """A walk-in asks for "now": the quarter-hour, so the host trying again
    a minute later is the same request."""
    seconds = int(now.timestamp()) // (GRANULE_MINUTES * 60) * GRANULE_MINUTES * 60
    return datetime.fromtimestamp(seconds, tz=now.tzinfo)


# A refusal travels from where the service is known (inside the booking's
# transaction) to where it is written (after that transaction rolled back).
_ATTRIBUTE = "_turnaway"


def note(error: BookingError, refusal: Refusal) -> None:
    setattr(error, _ATTRIBUTE, refusal)


def noted(error: BaseException) -> Refusal | None:
    found = getattr(error, _ATTRIBUTE, None)
    return found if isinstance(found, Refusal) else None


def record(ledger: Ledger, refusal: Refusal, now: datetime) -> bool:
    """Write the refusal in a transaction of its own; False when a retry."""
    with ledger.write() as conn:
        return record_in(conn, refusal, now)


def record_in(conn: sa.Connection, refusal: Refusal, now: datetime) -> bool:
    """Write the refusal in the caller's transaction; False when it repeats
    one recorded within ``DEDUP_WINDOW``. The caller holds the service
    day's lock or a short write of its own, so two retries do not both
    pass the check on SQLite; on PostgreSQL two racing by milliseconds may
    (one extra row, not worth a lock)."""
    t = turnaways.c
    same = [
        t.restaurant_id == refusal.restaurant_id,
        t.service_date == refusal.service_date,
        t.requested_at > now - DEDUP_WINDOW,
        t.requested_at <= now,
    ]
    if refusal.diner_id is not None:
        same += [
            t.diner_id == refusal.diner_id,
            t.requested_start_at >= refusal.service_opens,
            t.requested_start_at <= refusal.service_last,
        ]
    else:
        same += [
            t.diner_id.is_(None),
            t.channel == refusal.channel,
            t.party_size == refusal.party_size,
            t.requested_start_at == refusal.requested_start_at,
        ]
    if conn.execute(sa.select(t.id).where(*same).limit(1)).first() is not None:
        return False
    conn.execute(
        turnaways.insert().values(
            restaurant_id=refusal.restaurant_id,
            service_date=refusal.service_date,
            requested_start_at=refusal.requested_start_at,
            requested_at=now,
            party_size=refusal.party_size,
            channel=refusal.channel,
            reason=refusal.reason,
            diner_id=refusal.diner_id,
        )
    )
    return True


__all__ = [
    "DEDUP_WINDOW",
    "NO_TABLE",
    "PACING",
    "PRICE",
    "WALK_IN_NO_TABLE",
    "Refusal",
    "note",
    "noted",
    "reason_for",
    "record",
    "record_in",
    "walk_in_start",
]
