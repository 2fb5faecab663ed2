"""A reservation's cancellation terms, and the fee they make due.

A booking keeps the terms in force when it was made, so a restaurant's new
terms apply only to bookings taken afterwards: the cancellation fee, the
window before the start inside which a cancellation is late, and the
deposit policy (per cover, from a party size), by which a change of party
size is priced too. The deadline for a free cancellation is kept on the reservation
too, because a change of booking can move it only while it has not passed:
moving a booking inside the window and then cancelling is still late.

The fee falls due in two cases, both the diner's doing:
- the diner cancels a booking not yet arrived after the deadline;
- the party is marked a no-show.
A cancellation by the restaurant, in time, or of a party that arrived
(and left before being seated) makes nothing due.

The amount is the fee, or the deposit when that is larger: the deposit
held (``booking_core.deposits``: what was paid) is kept against the fee,
not charged on top of it, and the rest is charged. What is held is refunded
on a cancellation that makes nothing due, and applied to the bill when the
party completes. Charging, keeping and refunding money
is the payments side's: the ledger records what is due (and a waiver) and
the outbox tells the payments consumer.

The attendance model's ``late_cancel`` outcome keeps the one 24 h window of
``booking_core.domain.LATE_CANCEL_WINDOW`` for every restaurant, so that a
label means the same thing across restaurants and over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from booking_core.domain import CancelledBy, ReservationState

# Cancelling one of these is calling off a visit; an arrived party was here.
NOT_ARRIVED = frozenset({ReservationState.BOOKED, ReservationState.CONFIRMED})


class FeeReason(StrEnum):
    LATE_CANCELLATION = "late_cancellation"
    NO_SHOW = "no_show"


@dataclass(frozen=True)
class Terms:
    """What a reservation was booked under."""

    fee_minor: int
    window_hours: int
    free_until: datetime  # a diner's cancellation up to this instant is free
    deposit_minor: int  # the deposit this booking carries now
    deposit_min_party: int | None = None  # the policy it was booked under
    deposit_per_cover_minor: int = 0

    def asks_deposit(self, party_size: int) -> bool:
        """Whether the deposit policy applies to a party of ``party_size``."""
        return self.deposit_min_party is not None and party_size >= self.deposit_min_party

    def deposit_for(self, party_size: int) -> int:
        """The deposit a party of ``party_size`` owes under this policy."""
        return self.deposit_per_cover_minor * party_size if self.asks_deposit(party_size) else 0

    @property
    def amount_due_minor(self) -> int:
        """What a late cancellation or a no-show costs (the deposit counts)."""
        return max(self.fee_minor, self.deposit_minor)


@dataclass(frozen=True)
class Fee:
    """A fee a reservation's terms made due."""

    amount_minor: int
    reason: FeeReason
    waived_at: datetime | None = None

    @property
    def due(self) -> bool:
        return self.waived_at is None


def free_until(start_at: datetime, window_hours: int) -> datetime:
    return start_at - timedelta(hours=window_hours)


def free_until_after_change(terms: Terms, new_start_at: datetime, now: datetime) -> datetime:
    """Before the deadline a change moves it with the booking; after it the
    deadline stays where it was."""
    if now <= terms.free_until:
        return free_until(new_start_at, terms.window_hours)
    return terms.free_until


def fee_for(
    terms: Terms,
    from_state: ReservationState,
    to_state: ReservationState,
    cancelled_by: CancelledBy | None,
    at: datetime,
) -> Fee | None:
    """The fee a move from ``from_state`` to ``to_state`` at ``at`` makes
    due under ``terms``, or None."""
    amount = terms.amount_due_minor
    if amount <= 0:
        return None
    if to_state is ReservationState.NO_SHOW:
        return Fee(amount, FeeReason.NO_SHOW)
    if (
        to_state is ReservationState.CANCELLED
        and cancelled_by is CancelledBy.DINER
        and from_state in NOT_ARRIVED
        and at > terms.free_until
    ):
        return Fee(amount, FeeReason.LATE_CANCELLATION)
    return None


def settlement(
    terms: Terms,
    fee: Fee | None,
    to_state: ReservationState,
    currency: str,
    held_minor: int,
) -> dict[str, int | str]:
    """What the payments consumer needs when a booking ends (cancelled, a
    no-show, completed), in ``currency``: the fee due and its reason, how
    much of the ``held_minor`` deposit is kept against it and what is left
    to charge; else the deposit to give back (cancelled) or to apply to the
    bill (completed). Nothing when no money is owed either way."""
    out: dict[str, int | str] = {}
    if fee is not None:
        kept = min(held_minor, fee.amount_minor)
        out["fee_minor"] = fee.amount_minor
        out["fee_reason"] = fee.reason.value
        out["deposit_kept_minor"] = kept
        out["charge_minor"] = fee.amount_minor - kept
        if held_minor > kept:
            out["deposit_refund_minor"] = held_minor - kept
    elif held_minor and to_state is ReservationState.CANCELLED:
        out["deposit_refund_minor"] = held_minor
    elif held_minor and to_state is ReservationState.COMPLETED:
        out["deposit_applied_minor"] = held_minor
    if out:
        out["currency"] = currency
    return out


__all__ = [
    "NOT_ARRIVED",
    "Fee",
    "FeeReason",
    "Terms",
    "fee_for",
    "free_until",
    "free_until_after_change",
    "settlement",
]
