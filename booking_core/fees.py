"""Fees that reservations' cancellation terms made due: the manager's list
of them, and waiving one.

A fee is recorded when a diner cancels late or a party does not come
(``booking_core.cancellation_terms``). A restaurant often lets one go: a
regular who called, a storm, a mistake at the door. Waiving keeps the fee's
amount and reason on the reservation, stamps when it was waived, and tells
the payments consumer through a ``reservation.fee_waived`` event (who
waived it and why, and the deposit kept against it, now to refund). A fee
is waived once and not un-waived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from booking_core import outbox
from booking_core.cancellation_terms import FeeReason
from booking_core.errors import (
    IllegalTransition,
    InvalidRequest,
    UnknownReservation,
    UnknownRestaurant,
)
from booking_core.ledger import Ledger
from booking_core.schema import reservations, restaurants
from booking_core.validation import check_aware

NOTE_LIMIT = 500


@dataclass(frozen=True)
class FeeLine:
    """One reservation's fee, as the manager's list shows it."""

    reservation_id: int
    service_date: date
    start_at: datetime
    guest_name: str
    diner_id: int | None
    party_size: int
    amount_minor: int
    currency: str
    reason: FeeReason
    at: datetime  # when it fell due: the cancellation or the no-show
    waived_at: datetime | None

    @property
    def due(self) -> bool:
        return self.waived_at is None


def list_fees(
    ledger: Ledger,
    restaurant_id: int,
    first: date,
    last: date,
    *,
    include_waived: bool = True,
) -> list[FeeLine]:
    """The fees of reservations for service dates ``first`` to ``last``,
    by date and time."""
    if last < first:
        raise InvalidRequest(f"The span ends ({last}) before it starts ({first}).")
    r = reservations.c
    query = (
        sa.select(
            r.id,
            r.service_date,
            r.start_at,
            r.guest_name,
            r.diner_id,
            r.party_size,
            r.fee_minor,
            r.currency,
            r.fee_reason,
            sa.func.coalesce(r.cancelled_at, r.no_show_at).label("at"),
            r.fee_waived_at,
        )
        .where(
            r.restaurant_id == restaurant_id,
            r.service_date.between(first, last),
            r.fee_reason.is_not(None),
        )
        .order_by(r.service_date, r.start_at, r.id)
    )
    if not include_waived:
        query = query.where(r.fee_waived_at.is_(None))
    with ledger.read() as conn:
        known = sa.select(restaurants.c.id).where(restaurants.c.id == restaurant_id)
        if conn.execute(known).first() is None:
            raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
        rows = conn.execute(query).all()
    return [
        FeeLine(
            reservation_id=row.id,
            service_date=row.service_date,
            start_at=row.start_at,
            guest_name=row.guest_name,
            diner_id=row.diner_id,
            party_size=row.party_size,
            amount_minor=row.fee_minor,
            currency=row.currency,
            reason=FeeReason(row.fee_reason),
            at=row.at,
            waived_at=row.fee_waived_at,
        )
        for row in rows
    ]


def waive_fee(
    ledger: Ledger,
    reservation_id: int,
    *,
    by: str,
    note: str = "",
    now: datetime | None = None,
) -> datetime:
    """Waive the fee due on a reservation; returns when it was waived.
    ``IllegalTransition`` (409) when nothing is due: no fee, or waived."""
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        raise InvalidRequest(f"A waiver's note is at most {NOTE_LIMIT} characters.")
    now = check_aware(now, "time") if now is not None else ledger.clock()
    r = reservations.c
    query = sa.select(
        r.restaurant_id,
        r.fee_minor,
        r.fee_reason,
        r.fee_waived_at,
        r.currency,
        (r.deposit_paid_minor - r.deposit_refunded_minor).label("held"),
    ).where(r.id == reservation_id)
    with ledger.write() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()  # two managers at once: one waives
        row = conn.execute(query).first()
        if row is None:
            raise UnknownReservation(f"There is no reservation with id {reservation_id}.")
        if row.fee_reason is None:
            raise IllegalTransition(f"Reservation {reservation_id} has no fee to waive.")
        if row.fee_waived_at is not None:
            raise IllegalTransition(
                f"The fee on reservation {reservation_id} was waived at "
                f"{row.fee_waived_at:%Y-%m-%d %H:%M} UTC."
            )
        conn.execute(
            reservations.update()
            .where(r.id == reservation_id)
            .values(fee_waived_at=now, updated_at=now)
        )
        outbox.append(
            conn,
            "reservation.fee_waived",
            "reservation",
            reservation_id,
            row.restaurant_id,
            {
                "fee_minor": row.fee_minor,
                "fee_reason": row.fee_reason,
                "currency": row.currency,
                "by": by,
                "note": note,
                # The deposit kept against the fee goes back with it.
                **({"deposit_refund_minor": min(row.held, row.fee_minor)} if row.held > 0 else {}),
            },
            now,
        )
    return now


__all__ = ["FeeLine", "list_fees", "waive_fee"]
