"""Releasing bookings whose deposit was not paid by its deadline.

A table held for a deposit nobody pays is a table lost, so a booking still
owing its deposit at ``deposit_due_at`` is cancelled by the restaurant with
the reason ``deposit_unpaid``: its tables free at once, no fee is due (the
diner never secured it), and any part paid is refunded
(``cancellation_terms.settlement``). A party already arrived is never
released.

Each release is its own transaction, taken in the lock order of every
change (the service day, then the row) and re-checked under the lock, so a
payment landing a moment before keeps the booking, and one booking that
cannot be released does not hold up the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from booking_core.cancellation_terms import NOT_ARRIVED
from booking_core.deposits import overdue
from booking_core.domain import CancelledBy, ReservationState
from booking_core.errors import BookingError
from booking_core.ledger import Ledger
from booking_core.reservations import Reservation, advance_locked, lock_for_change
from booking_core.validation import check_aware

REASON = "deposit_unpaid"
log = logging.getLogger("servicesphere.deposits")


def release_unpaid(
    ledger: Ledger,
    *,
    now: datetime | None = None,
    restaurant_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Reservation]:
    """Cancel every booking (of one restaurant, or all) whose deposit is
    still owed at its deadline; returns the bookings released."""
    now = check_aware(now, "time") if now is not None else ledger.clock()
    candidates = overdue(ledger, now, restaurant_id)
    released: list[Reservation] = []
    for done, reservation_id in enumerate(candidates, start=1):
        try:
            with ledger.write() as conn:
                out = _release_one(conn, reservation_id, now)
        except BookingError:
            # Changed under us (moved, cancelled): the next run sees it again.
            log.warning("could not release reservation %s", reservation_id, exc_info=True)
            out = None
        if out is not None:
            released.append(out)
        if progress is not None:
            progress(done, len(candidates))
    return released


def _release_one(conn: sa.Connection, reservation_id: int, now: datetime) -> Reservation | None:
    current = lock_for_change(conn, reservation_id)
    still_owed = (
        ReservationState(current.state) in NOT_ARRIVED
        and current.deposit.outstanding_minor > 0
        and current.deposit.due_at is not None
        and current.deposit.due_at <= now
    )
    if not still_owed:
        return None  # paid, or changed, since it was listed
    return advance_locked(
        conn, current, ReservationState.CANCELLED, CancelledBy.RESTAURANT, now, REASON
    )


__all__ = ["REASON", "release_unpaid"]
