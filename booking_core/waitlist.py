"""The waitlist: walk-in parties waiting for a table, with quoted waits.

The quote here is the plain one every host stand gives: when will a table
that fits this party next come free, counting the parties already ahead.
The optimizer replaces it with predicted turn times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from booking_core import outbox
from booking_core.availability import get_floor
from booking_core.daybook import load_day_book
from booking_core.domain import GRANULE_MINUTES, WaitlistState
from booking_core.errors import IllegalTransition, InvalidRequest, NotFound
from booking_core.floor import Floor
from booking_core.ledger import Ledger, lock_service_days
from booking_core.reservations import Reservation, seat_walk_in
from booking_core.schema import waitlist_entries
from booking_core.slots import current_service, granule_of, granule_start, service_date_of
from booking_core.validation import check_aware, check_party_size

QUOTE_HORIZON_MIN = 240


def waiting_for_the_same_tables(
    restaurant_id: int, service_date: date, party_size: int
) -> sa.ColumnElement[bool]:
    """The parties still waiting (or notified) that compete with a party of
    ``party_size`` for tables: within two covers of it, since a table seats a
    range of sizes. A new party's quote counts these ahead of it."""
    w = waitlist_entries.c
    return sa.and_(
        w.restaurant_id == restaurant_id,
        w.service_date == service_date,
        w.state.in_([WaitlistState.WAITING, WaitlistState.NOTIFIED]),
        w.party_size.between(max(1, party_size - 2), party_size + 2),
    )


@dataclass(frozen=True)
class WaitlistEntry:
    id: int
    restaurant_id: int
    party_size: int
    guest_name: str
    state: str
    service_date: date
    joined_at: datetime
    quoted_wait_min: int | None
    notified_at: datetime | None
    seated_at: datetime | None
    left_at: datetime | None
    reservation_id: int | None


def _entry(row: Any) -> WaitlistEntry:
    m = row._mapping
    return WaitlistEntry(
        id=m["id"],
        restaurant_id=m["restaurant_id"],
        party_size=m["party_size"],
        guest_name=m["guest_name"],
        state=m["state"],
        service_date=m["service_date"],
        joined_at=m["joined_at"],
        quoted_wait_min=m["quoted_wait_min"],
        notified_at=m["notified_at"],
        seated_at=m["seated_at"],
        left_at=m["left_at"],
        reservation_id=m["reservation_id"],
    )


def _load(conn: sa.Connection, entry_id: int) -> WaitlistEntry:
    row = conn.execute(sa.select(waitlist_entries).where(waitlist_entries.c.id == entry_id)).first()
    if row is None:
        raise NotFound(f"There is no waitlist entry with id {entry_id}.")
    return _entry(row)


def quote_minutes(
    conn: sa.Connection,
    floor: Floor,
    service_date: date,
    party_size: int,
    now: datetime,
    parties_ahead: int = 0,
) -> int | None:
    """Minutes until a fitting table is free for a whole turn, skipping one
    free table per party ahead; None when nothing frees up within the horizon."""
    book = load_day_book(conn, floor, service_date)
    found = service_date_of(floor, now)
    turn = found[1].turn_time(party_size) if found else 90
    need = -(-turn // GRANULE_MINUTES)
    g_now = granule_of(now)
    horizon = QUOTE_HORIZON_MIN // GRANULE_MINUTES
    starts: list[int] = []
    for option in floor.options:
        if not option.fits(party_size):
            continue
        for g in range(g_now, g_now + horizon + 1):
            if book.is_free(option.table_ids, g, g + need):
                starts.append(g)
                break
    if len(starts) <= parties_ahead:
        return None
    ready = sorted(starts)[parties_ahead]
    return max(0, int((granule_start(ready) - now).total_seconds() // 60))


def join(
    ledger: Ledger,
    restaurant_id: int,
    party_size: int,
    *,
    guest_name: str = "",
    phone: str | None = None,
    diner_id: int | None = None,
    now: datetime | None = None,
    quoted_wait_min: int | None = None,
    quoted_by: str | None = None,
) -> WaitlistEntry:
    """Join the waitlist with a quoted wait: the plain quote below, unless
    the caller quoted one itself (``quoted_by`` names how, e.g. the seating
    optimizer; ``quoted_wait_min`` None then means no table within its horizon)."""
    party_size = check_party_size(party_size)
    now = check_aware(now) if now is not None else ledger.clock()
    if quoted_wait_min is not None and not 0 <= quoted_wait_min <= 24 * 60:
        raise InvalidRequest(f"A quoted wait of {quoted_wait_min} minutes is not a quote.")
    with ledger.write() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        service_date = current_service(
            floor, now, closed="is not in service now; the waitlist is closed"
        )[0]
        lock_service_days(conn, restaurant_id, [service_date])
        ahead = conn.execute(
            sa.select(sa.func.count()).where(
                waiting_for_the_same_tables(restaurant_id, service_date, party_size)
            )
        ).scalar_one()
        quote = (
            quoted_wait_min
            if quoted_by is not None
            else quote_minutes(conn, floor, service_date, party_size, now, int(ahead))
        )
        entry_id = conn.execute(
            waitlist_entries.insert()
            .values(
                restaurant_id=restaurant_id,
                diner_id=diner_id,
                guest_name=guest_name,
                phone=phone,
                party_size=party_size,
                service_date=service_date,
                state=WaitlistState.WAITING,
                joined_at=now,
                quoted_wait_min=quote,
            )
            .returning(waitlist_entries.c.id)
        ).scalar_one()
        outbox.append(
            conn,
            "waitlist.joined",
            "waitlist",
            entry_id,
            restaurant_id,
            {
                "party_size": party_size,
                "quoted_wait_min": quote,
                "quoted_by": (quoted_by or "next free table")[:60],
            },
            now,
        )
        return _load(conn, entry_id)


def _move(
    ledger: Ledger,
    entry_id: int,
    to: WaitlistState,
    now: datetime | None,
    extra: dict[str, Any] | None = None,
) -> WaitlistEntry:
    now = check_aware(now) if now is not None else ledger.clock()
    allowed = {
        WaitlistState.NOTIFIED: {WaitlistState.WAITING},
        WaitlistState.SEATED: {WaitlistState.WAITING, WaitlistState.NOTIFIED},
        WaitlistState.LEFT: {WaitlistState.WAITING, WaitlistState.NOTIFIED},
    }[to]
    column = {"notified": "notified_at", "seated": "seated_at", "left": "left_at"}[to.value]
    with ledger.write() as conn:
        entry = _load(conn, entry_id)
        if entry.state not in allowed:
            raise IllegalTransition(
                f"Waitlist entry {entry_id} is {entry.state}; it cannot become {to.value}."
            )
        values = {"state": to.value, column: now, **(extra or {})}
        conn.execute(
            waitlist_entries.update().where(waitlist_entries.c.id == entry_id).values(**values)
        )
        outbox.append(
            conn,
            f"waitlist.{to.value}",
            "waitlist",
            entry_id,
            entry.restaurant_id,
            {"from": entry.state, "to": to.value, **(extra or {})},
            now,
        )
        return _load(conn, entry_id)


def notify(ledger: Ledger, entry_id: int, *, now: datetime | None = None) -> WaitlistEntry:
    """The party has been told its table is ready."""
    return _move(ledger, entry_id, WaitlistState.NOTIFIED, now)


def leave(ledger: Ledger, entry_id: int, *, now: datetime | None = None) -> WaitlistEntry:
    return _move(ledger, entry_id, WaitlistState.LEFT, now)


def seat(
    ledger: Ledger,
    entry_id: int,
    *,
    table_ids: tuple[int, ...] | None = None,
    now: datetime | None = None,
) -> tuple[WaitlistEntry, Reservation]:
    """Seat a waiting party as a walk-in reservation and close its entry."""
    now = check_aware(now) if now is not None else ledger.clock()
    with ledger.read() as conn:
        entry = _load(conn, entry_id)
    if entry.state not in (WaitlistState.WAITING, WaitlistState.NOTIFIED):
        raise IllegalTransition(f"Waitlist entry {entry_id} is {entry.state}; it cannot be seated.")
    # Two transactions: if the second fails the walk-in is seated and the
    # entry still open, which the host can close; the reverse would lose a party.
    reservation = seat_walk_in(
        ledger,
        entry.restaurant_id,
        entry.party_size,
        table_ids=table_ids,
        guest_name=entry.guest_name,
        now=now,
    )
    return _move(
        ledger, entry_id, WaitlistState.SEATED, now, {"reservation_id": reservation.id}
    ), reservation


def waiting(ledger: Ledger, restaurant_id: int, service_date: date) -> list[WaitlistEntry]:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(waitlist_entries)
            .where(
                waitlist_entries.c.restaurant_id == restaurant_id,
                waitlist_entries.c.service_date == service_date,
                waitlist_entries.c.state.in_([WaitlistState.WAITING, WaitlistState.NOTIFIED]),
            )
            .order_by(waitlist_entries.c.joined_at)
        )
        return [_entry(r) for r in rows]


def quote(
    ledger: Ledger, restaurant_id: int, party_size: int, *, now: datetime | None = None
) -> int | None:
    """A quote without joining: minutes until a table for this party is free."""
    party_size = check_party_size(party_size)
    now = check_aware(now) if now is not None else ledger.clock()
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        found = service_date_of(floor, now)
        if found is None:
            raise InvalidRequest(f"{floor.name} is not in service now.")
        return quote_minutes(conn, floor, found[0], party_size, now)


__all__ = ["WaitlistEntry", "join", "leave", "notify", "quote", "seat", "waiting"]
