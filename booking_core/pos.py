"""POS checks, and the rule that ties a check to the party it fed.

A check opened on a table is linked to the reservation seated on that table
whose seating time is closest to the check's opening, within a window
(a check is usually opened a few minutes after seating, sometimes before
the host taps "seated"). Closing a linked check completes the reservation:
the party has paid, the table is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from booking_core import outbox
from booking_core.domain import ReservationState
from booking_core.errors import IllegalTransition, InvalidRequest, NotFound, UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.reservations import advance_in
from booking_core.schema import (
    dining_tables,
    pos_checks,
    reservation_tables,
    reservations,
    restaurants,
)
from booking_core.validation import check_aware

LINK_BEFORE_SEATING = timedelta(minutes=15)
LINK_AFTER_SEATING = timedelta(minutes=90)


@dataclass(frozen=True)
class Check:
    id: int
    restaurant_id: int
    external_id: str
    table_id: int | None
    reservation_id: int | None
    opened_at: datetime
    closed_at: datetime | None
    covers: int
    subtotal_minor: int
    currency: str


def _check(row: Any) -> Check:
    m = row._mapping
    return Check(
        id=m["id"],
        restaurant_id=m["restaurant_id"],
        external_id=m["external_id"],
        table_id=m["table_id"],
        reservation_id=m["reservation_id"],
        opened_at=m["opened_at"],
        closed_at=m["closed_at"],
        covers=m["covers"],
        subtotal_minor=m["subtotal_minor"],
        currency=m["currency"],
    )


def _find(conn: sa.Connection, restaurant_id: int, external_id: str) -> Check | None:
    row = conn.execute(
        sa.select(pos_checks).where(
            pos_checks.c.restaurant_id == restaurant_id, pos_checks.c.external_id == external_id
        )
    ).first()
    return _check(row) if row is not None else None


def seated_reservation_for(conn: sa.Connection, table_id: int, opened_at: datetime) -> int | None:
    """The seated party on ``table_id`` whose seating is nearest ``opened_at``
    within the linking window, if any."""
    rows = conn.execute(
        sa.select(reservations.c.id, reservations.c.seated_at)
        .join(reservation_tables, reservation_tables.c.reservation_id == reservations.c.id)
        .where(
            reservation_tables.c.table_id == table_id,
            reservation_tables.c.released_at.is_(None),
            reservations.c.state == ReservationState.SEATED.value,
            reservations.c.seated_at >= opened_at - LINK_AFTER_SEATING,
            reservations.c.seated_at <= opened_at + LINK_BEFORE_SEATING,
        )
    ).all()
    if not rows:
        return None
    return int(min(rows, key=lambda r: abs((r.seated_at - opened_at).total_seconds())).id)


def open_check(
    ledger: Ledger,
    restaurant_id: int,
    external_id: str,
    *,
    table_id: int | None,
    covers: int,
    opened_at: datetime | None = None,
) -> Check:
    """Record a check opening; the same external id again returns the same check."""
    opened_at = check_aware(opened_at, "opening time") if opened_at else ledger.clock()
    if not external_id or len(external_id) > 64:
        raise InvalidRequest("A check needs the POS's own id (1 to 64 characters).")
    if covers < 1:
        raise InvalidRequest("A check has at least one cover.")
    with ledger.write() as conn:
        existing = _find(conn, restaurant_id, external_id)
        if existing is not None:
            return existing
        currency = conn.execute(
            sa.select(restaurants.c.currency).where(restaurants.c.id == restaurant_id)
        ).scalar()
        if currency is None:
            raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
        if table_id is not None:
            owner = conn.execute(
                sa.select(dining_tables.c.restaurant_id).where(dining_tables.c.id == table_id)
            ).scalar()
            if owner != restaurant_id:
                raise InvalidRequest(
                    f"Table {table_id} is not a table of restaurant {restaurant_id}."
                )
        reservation_id = seated_reservation_for(conn, table_id, opened_at) if table_id else None
        check_id = conn.execute(
            pos_checks.insert()
            .values(
                restaurant_id=restaurant_id,
                external_id=external_id,
                table_id=table_id,
                reservation_id=reservation_id,
                opened_at=opened_at,
                covers=covers,
                currency=currency,
            )
            .returning(pos_checks.c.id)
        ).scalar_one()
        outbox.append(
            conn,
            "pos.check_opened",
            "pos_check",
            check_id,
            restaurant_id,
            {"table_id": table_id, "covers": covers, "reservation_id": reservation_id},
            opened_at,
        )
        found = _find(conn, restaurant_id, external_id)
        assert found is not None
        return found


def close_check(
    ledger: Ledger,
    restaurant_id: int,
    external_id: str,
    *,
    subtotal_minor: int,
    closed_at: datetime | None = None,
) -> Check:
    """Record payment; completes the linked reservation if its party is still seated."""
    closed_at = check_aware(closed_at, "closing time") if closed_at else ledger.clock()
    if subtotal_minor < 0:
        raise InvalidRequest("A check's subtotal cannot be negative.")
    with ledger.write() as conn:
        check = _find(conn, restaurant_id, external_id)
        if check is None:
            raise NotFound(f"Restaurant {restaurant_id} has no open check {external_id!r}.")
        if check.closed_at is not None:
            if check.subtotal_minor == subtotal_minor:
                return check  # a retried webhook
            raise IllegalTransition(f"Check {external_id!r} was already closed.")
        if closed_at < check.opened_at:
            raise InvalidRequest("A check cannot close before it opened.")
        reservation_id = check.reservation_id
        if reservation_id is None and check.table_id is not None:
            reservation_id = seated_reservation_for(conn, check.table_id, check.opened_at)
        conn.execute(
            pos_checks.update()
            .where(pos_checks.c.id == check.id)
            .values(
                closed_at=closed_at, subtotal_minor=subtotal_minor, reservation_id=reservation_id
            )
        )
        if reservation_id is not None:
            state = conn.execute(
                sa.select(reservations.c.state).where(reservations.c.id == reservation_id)
            ).scalar()
            if state == ReservationState.SEATED.value:
                advance_in(conn, reservation_id, ReservationState.COMPLETED, None, closed_at)
        outbox.append(
            conn,
            "pos.check_closed",
            "pos_check",
            check.id,
            restaurant_id,
            {
                "subtotal_minor": subtotal_minor,
                "currency": check.currency,
                "reservation_id": reservation_id,
            },
            closed_at,
        )
        found = _find(conn, restaurant_id, external_id)
        assert found is not None
        return found


__all__ = ["Check", "close_check", "open_check", "seated_reservation_for"]
