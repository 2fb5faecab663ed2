"""Taking a table out of service (a broken leg, a corner kept for an event)
and what becomes of the parties booked on it.

A diner books a time, not a table, so the parties not yet seated that hold
the table are moved to other free tables as the restaurant's own seating
setting would have placed them (best fit when locking at booking; a pooled
restaurant may move others to make room). A party whose time has no other
table left keeps its booking and its table, and is reported: the host
decides (a call, another time, a table brought in). Nothing is moved when
the table comes back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby

from booking_core import outbox
from booking_core.availability import get_floor, pin_floor
from booking_core.daybook import TableChoice, choose_tables, load_day_book, table_policy
from booking_core.domain import NOT_YET_SEATED
from booking_core.ledger import Ledger, lock_service_days
from booking_core.reservations import _apply_moves, _claim, _load, _release
from booking_core.restaurants import bookings_holding_table, set_table_active
from booking_core.schema import reservations
from booking_core.slots import granule_span
from booking_core.validation import check_aware

# The reason the outbox gives for a move.
REASON = "table out of service"


@dataclass(frozen=True, slots=True)
class Holder:
    """A party that held the table: moved to ``to_tables``, or, when that is
    empty, still on ``from_tables`` because no other table was free."""

    reservation_id: int
    start_at: datetime
    from_tables: tuple[int, ...]
    to_tables: tuple[int, ...]

    @property
    def moved(self) -> bool:
        return bool(self.to_tables)


def set_in_service(
    ledger: Ledger,
    restaurant_id: int,
    table_id: int,
    in_service: bool,
    *,
    move_holders: bool = True,
    policy: TableChoice | None = None,
    now: datetime | None = None,
) -> list[Holder]:
    """Put a table back (nobody moves) or take it out of service and, with
    ``move_holders``, move the parties not yet seated that hold it from
    ``now`` on, soonest first. Returns every holder of the table, moved or
    not (``UnknownTable`` for a table the restaurant does not have). Each
    service date is one transaction under its service-day lock, so a
    booking taken meanwhile sees either the old tables or the new ones."""
    now = check_aware(now, "time") if now is not None else ledger.clock()
    set_table_active(ledger, restaurant_id, table_id, in_service)
    held = bookings_holding_table(ledger, restaurant_id, table_id, now)
    if in_service or not move_holders:
        return [Holder(rid, start, (table_id,), ()) for rid, _, start in held]
    out: list[Holder] = []
    for day, group in groupby(held, key=lambda h: h[1]):
        ids = [rid for rid, _, _ in group]
        out.extend(_move_off(ledger, restaurant_id, table_id, day, ids, policy, now))
    return out


def _move_off(
    ledger: Ledger,
    restaurant_id: int,
    table_id: int,
    day: date,
    reservation_ids: Sequence[int],
    policy: TableChoice | None,
    now: datetime,
) -> list[Holder]:
    out: list[Holder] = []
    with ledger.write() as conn:
        lock_service_days(conn, restaurant_id, {day})
        # Without the table now; pinned, so no other table can leave the
        # floor (or hours change) before these moves commit.
        floor = pin_floor(conn, get_floor(ledger, conn, restaurant_id), ledger)
        chosen = policy or table_policy.for_floor(floor)
        for rid in reservation_ids:
            current = _load(conn, rid, lock=True)
            if current.state not in NOT_YET_SEATED or table_id not in current.table_ids:
                continue  # seated, cancelled or moved since it was listed
            book = load_day_book(conn, floor, day, exclude_reservation=rid)
            g0, g1 = granule_span(current.start_at, current.end_at)
            # Admission control prices new demand; this booking was taken
            # already, so no demand is passed and nothing refuses it by price.
            choice = choose_tables(
                chosen,
                floor,
                book,
                current.party_size,
                g0,
                g1,
                area_id=current.area_id,
                accessible=current.accessible,
            )
            if choice is None or choice.overbooked:
                out.append(Holder(rid, current.start_at, current.table_ids, ()))
                continue
            _apply_moves(conn, floor, book, choice.moves, now)
            _release(conn, rid, now)
            _claim(conn, rid, choice.option, current.start_at, current.end_at, now)
            conn.execute(
                reservations.update()
                .where(reservations.c.id == rid)
                .values(combination_id=choice.option.combination_id, updated_at=now)
            )
            to = choice.option.table_ids
            outbox.append(
                conn,
                "reservation.modified",
                "reservation",
                rid,
                restaurant_id,
                {
                    "tables": {"from": list(current.table_ids), "to": list(to)},
                    "reason": REASON,
                },
                now,
            )
            out.append(Holder(rid, current.start_at, current.table_ids, to))
    return out


__all__: Sequence[str] = ["REASON", "Holder", "set_in_service"]
