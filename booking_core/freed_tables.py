"""Which party waiting without a table can sit now: when a party leaves or
is marked a no-show its tables free, and the parties taken by predictive
overbooking (``reservations.overbooked``, no table held) whose time has
come wait for exactly that. This says who fits where; the host decides and
seats with the ordinary seat call, which takes the same best-fitting table.

Suggestions go best match first: the party that wastes the fewest seats,
then the one waiting longest (since it arrived, or since its booked time).
Each suggestion holds its tables for the ones after it, so following them
in order never gives one table to two parties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from booking_core.availability import get_floor
from booking_core.daybook import BestFitAtBooking, DayBook, load_day_book
from booking_core.domain import NOT_YET_SEATED, ReservationState
from booking_core.floor import Floor, SeatingOption
from booking_core.ledger import Ledger
from booking_core.schema import reservation_tables, reservations
from booking_core.slots import granule_span

# Parties the seat call may seat now: arrived ones a little early too
# (``reservations.EARLIEST_ARRIVAL`` is checked when they are seated).


@dataclass(frozen=True)
class SeatingSuggestion:
    reservation_id: int
    table_ids: tuple[int, ...]
    party_size: int
    seats: int
    guest_name: str
    waiting_since: datetime


@dataclass(frozen=True)
class _Waiting:
    id: int
    party_size: int
    guest_name: str
    since: datetime
    g0: int
    g1: int
    area_id: int | None
    accessible: bool


def suggest_seating(
    ledger: Ledger, restaurant_id: int, service_date: date, now: datetime
) -> list[SeatingSuggestion]:
    """Who of the service's parties waiting without a table can sit now, and where."""
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        waiting = _waiting(conn, restaurant_id, service_date, now)
        if not waiting:
            return []
        book = load_day_book(conn, floor, service_date)
    return _match(floor, book, waiting)


def _waiting(
    conn: sa.Connection, restaurant_id: int, service_date: date, now: datetime
) -> list[_Waiting]:
    r = reservations.c
    holds_a_table = (
        sa.select(reservation_tables.c.reservation_id)
        .where(
            reservation_tables.c.reservation_id == r.id,
            reservation_tables.c.released_at.is_(None),
        )
        .exists()
    )
    rows = conn.execute(
        sa.select(
            r.id,
            r.party_size,
            r.guest_name,
            r.state,
            r.start_at,
            r.end_at,
            r.arrived_at,
            r.area_id,
            r.accessible_required,
        ).where(
            r.restaurant_id == restaurant_id,
            r.service_date == service_date,
            r.overbooked.is_(True),
            r.state.in_([s.value for s in NOT_YET_SEATED]),
            sa.or_(r.start_at <= now, r.state == ReservationState.ARRIVED.value),
            r.end_at > now,  # after its booked stay the party is seated as a walk-in
            ~holds_a_table,
        )
    )
    found = []
    for row in rows:
        # The stay the seat call gives the party: its booked length, from now.
        end = max(row.end_at, now + (row.end_at - row.start_at))
        g0, g1 = granule_span(now, end)
        # Waiting since it arrived, or since its booked time when not marked.
        since = row.arrived_at if row.arrived_at is not None else row.start_at
        found.append(
            _Waiting(
                row.id,
                row.party_size,
                row.guest_name,
                since,
                g0,
                g1,
                row.area_id,
                bool(row.accessible_required),
            )
        )
    return found


def _match(floor: Floor, book: DayBook, waiting: list[_Waiting]) -> list[SeatingSuggestion]:
    best_fit = BestFitAtBooking()
    left = sorted(waiting, key=lambda w: (w.since, w.id))
    suggestions: list[SeatingSuggestion] = []
    while left:
        options: list[tuple[int, _Waiting, SeatingOption]] = []
        for w in left:
            option = best_fit.choose(
                floor, book, w.party_size, w.g0, w.g1, area_id=w.area_id, accessible=w.accessible
            )
            if option is not None:
                options.append((option.max_covers - w.party_size, w, option))
        if not options:
            break
        # Fewest wasted seats; ``left`` is longest waiting first, and min keeps the first.
        _, chosen, option = min(options, key=lambda o: o[0])
        book.hold(option.table_ids, chosen.g0, chosen.g1)
        left.remove(chosen)
        suggestions.append(
            SeatingSuggestion(
                chosen.id,
                option.table_ids,
                chosen.party_size,
                option.max_covers,
                chosen.guest_name,
                chosen.since,
            )
        )
    return suggestions


__all__ = ["SeatingSuggestion", "suggest_seating"]
