"""The host's side of seating: who sits where in a service, which tables a
walk-in could take now, and what the host did with a suggestion.

Suggestions here are the plain best fit every host stand knows (smallest
free table that holds the party for a whole turn). The optimizer ranks them
better; whoever suggested, the host's decision is recorded with the
suggestion and, for an override, the host's reason: those rows are the
training data for the next seating model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from booking_core.availability import get_floor
from booking_core.daybook import load_day_book
from booking_core.domain import HOLDING_STATES, PACING_STATES
from booking_core.errors import InvalidRequest, NoTableFree
from booking_core.ledger import Ledger
from booking_core.reservations import Reservation, _seat_walk_in_in, table_policy
from booking_core.schema import reservation_tables, reservations, seating_decisions
from booking_core.slots import current_service, granule_span
from booking_core.validation import check_aware, check_party_size

BASELINE = "best-fit baseline"


@dataclass(frozen=True)
class PlannedParty:
    reservation_id: int
    party_size: int
    state: str
    channel: str
    start_at: datetime
    end_at: datetime
    table_ids: tuple[int, ...]
    guest_name: str


@dataclass(frozen=True)
class TableSuggestion:
    table_ids: tuple[int, ...]
    table_names: tuple[str, ...]
    seats: int
    free_for_min: int  # how long the tables stay free from now (capped at the horizon)


@dataclass(frozen=True)
class SeatingDecision:
    id: int
    reservation: Reservation
    decision: str
    suggested_table_ids: tuple[int, ...]
    chosen_table_ids: tuple[int, ...]
    reason: str


def service_plan(ledger: Ledger, restaurant_id: int, service_date: date) -> list[PlannedParty]:
    """Every party of the service date with the tables it holds, by start time."""
    with ledger.read() as conn:
        get_floor(ledger, conn, restaurant_id)  # an unknown restaurant is an error
        rows = conn.execute(
            sa.select(
                reservations.c.id,
                reservations.c.party_size,
                reservations.c.state,
                reservations.c.channel,
                reservations.c.start_at,
                reservations.c.end_at,
                reservations.c.guest_name,
                reservation_tables.c.table_id,
            )
            .select_from(
                reservations.outerjoin(
                    reservation_tables,
                    sa.and_(
                        reservation_tables.c.reservation_id == reservations.c.id,
                        reservation_tables.c.released_at.is_(None),
                    ),
                )
            )
            .where(
                reservations.c.restaurant_id == restaurant_id,
                reservations.c.service_date == service_date,
                reservations.c.state.in_([s.value for s in PACING_STATES]),
            )
            .order_by(reservations.c.start_at, reservations.c.id)
        ).all()
    parties: dict[int, PlannedParty] = {}
    for r in rows:
        tables = parties[r.id].table_ids if r.id in parties else ()
        if r.table_id is not None:
            tables = (*tables, r.table_id)
        parties[r.id] = PlannedParty(
            r.id, r.party_size, r.state, r.channel, r.start_at, r.end_at, tables, r.guest_name
        )
    return list(parties.values())


def walk_in_suggestions(
    ledger: Ledger,
    restaurant_id: int,
    party_size: int,
    *,
    now: datetime | None = None,
    limit: int = 3,
) -> list[TableSuggestion]:
    """Tables a walk-in could take now for a whole turn, best fit first."""
    party_size = check_party_size(party_size)
    now = check_aware(now) if now is not None else ledger.clock()
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        floor.check_party_fits(party_size)
        service_date, period, _ = current_service(floor, now)
        book = load_day_book(conn, floor, service_date)
    g0, g1 = granule_span(now, now + timedelta(minutes=period.turn_time(party_size)))
    horizon = 4 * 8  # two hours past the turn is "free for the evening"
    out = []
    for option in floor.options:
        if not option.fits(party_size) or not book.is_free(option.table_ids, g0, g1):
            continue
        free_until = min(book.free_until(t, g0, (g1 - g0) + horizon) for t in option.table_ids)
        out.append(
            TableSuggestion(
                option.table_ids,
                tuple(floor.tables[t].name for t in option.table_ids),
                option.max_covers,
                (free_until - g0) * 15,
            )
        )
        if len(out) >= limit:
            break
    return out


def seat_walk_in_with_decision(
    ledger: Ledger,
    restaurant_id: int,
    party_size: int,
    *,
    suggested_table_ids: tuple[int, ...],
    chosen_table_ids: tuple[int, ...],
    reason: str = "",
    suggested_by: str = BASELINE,
    decided_by: str,
    guest_name: str = "",
    now: datetime | None = None,
) -> SeatingDecision:
    """Seat a walk-in where the host chose, and record whether that was the
    suggestion (accepted) or not (overridden, which needs a reason). One
    transaction: no seating without its decision, no decision without a seat."""
    party_size = check_party_size(party_size)
    suggested = tuple(sorted(set(suggested_table_ids)))
    chosen = tuple(sorted(set(chosen_table_ids)))
    if not chosen:
        raise InvalidRequest("Name the tables the party sits at.")
    decision = "accepted" if chosen == suggested else "overridden"
    if decision == "overridden" and not reason.strip():
        raise InvalidRequest("An override needs the host's reason; it teaches the next model.")
    if len(reason) > 1000:
        raise InvalidRequest("A reason is at most 1,000 characters.")
    now = check_aware(now) if now is not None else ledger.clock()
    try:
        with ledger.write() as conn:
            reservation = _seat_walk_in_in(
                conn,
                ledger,
                restaurant_id,
                party_size,
                chosen,
                None,
                guest_name,
                table_policy.policy,
                now,
            )
            decision_id = int(
                conn.execute(
                    seating_decisions.insert()
                    .values(
                        restaurant_id=restaurant_id,
                        reservation_id=reservation.id,
                        party_size=party_size,
                        decision=decision,
                        suggested_table_ids=list(suggested),
                        chosen_table_ids=list(chosen),
                        reason=reason.strip(),
                        suggested_by=suggested_by[:60],
                        decided_by=decided_by[:100],
                        decided_at=now,
                    )
                    .returning(seating_decisions.c.id)
                ).scalar_one()
            )
    except IntegrityError as exc:
        raise NoTableFree("That table was taken a moment ago; choose another.") from exc
    return SeatingDecision(decision_id, reservation, decision, suggested, chosen, reason.strip())


def held_tables(ledger: Ledger, reservation_id: int) -> tuple[int, ...]:
    with ledger.read() as conn:
        state = conn.execute(
            sa.select(reservations.c.state).where(reservations.c.id == reservation_id)
        ).scalar()
        if state not in {s.value for s in HOLDING_STATES}:
            return ()
        return tuple(
            conn.execute(
                sa.select(reservation_tables.c.table_id).where(
                    reservation_tables.c.reservation_id == reservation_id,
                    reservation_tables.c.released_at.is_(None),
                )
            ).scalars()
        )


__all__ = [
    "BASELINE",
    "PlannedParty",
    "SeatingDecision",
    "TableSuggestion",
    "seat_walk_in_with_decision",
    "service_plan",
    "walk_in_suggestions",
]
