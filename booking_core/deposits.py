"""Deposits: paid by a deadline, held while the booking stands, then kept,
refunded or applied to the bill.

A booking whose party size the restaurant's deposit policy covers owes a
deposit (``booking_core.cancellation_terms``). Until now the ledger took it
as held the moment the booking was made; a table held for a deposit nobody
pays is a table lost. So:

- **Pay by a deadline.** A booking owing a deposit is *pending* until it is
  paid, and must be paid within the restaurant's ``deposit_pay_within_minutes``
  of booking (never later than its start). A change of party size that
  raises the deposit asks for the difference by a new deadline; one that
  lowers it refunds what is held above the new deposit at once.
- **Unpaid bookings are released.** ``release_unpaid`` cancels, as the
  restaurant, every booking still owing at its deadline (no fee: nothing was
  agreed), and gives back any part paid. It runs as a job
  (``servicesphere deposits release``, the ``release-unpaid-deposits`` flow).
- **Payments are recorded once.** A payment names its own reference (the
  payment provider's id, unique across the platform, or the restaurant's
  receipt, unique within the restaurant: ``payment_key``); the same
  reference reported again is the same payment. A payment for a booking that no
  longer stands, above what is owed, or in another currency is refused, so
  the provider refunds it.
- **At the end**, what is held settles (``cancellation_terms.settlement``):
  kept against a fee, refunded on a cancellation that makes none due,
  applied to the bill when the party completes.

- **Asked by party size or by risk.** The policy asks a deposit per cover
  of parties from a size up; a restaurant may also set a
  ``deposit_risk_threshold`` and ask the same per-cover deposit of any
  booking whose no-show risk, scored at booking as if no deposit were
  asked, is at least that (``reason_to_ask``). The application scores the
  booking (the attendance model's champion, or its baseline) and hands the
  core a ``NoShowRisk``; the core alone never scores. The booking keeps why
  its deposit was asked and the risk it was scored at, with the model that
  scored it: what the decision rested on, and what calibration in
  production is measured against.
- **A control group.** Above the threshold the model is only ever seen
  through the deposit's effect. A restaurant may leave a share of those
  bookings (``deposit_risk_control_share``, up to a half; 0 by default)
  without a deposit, drawn at random by the application with the score
  (``NoShowRisk.draw``), and marked ``deposit_risk_control``: their
  no-show rate against that of the bookings asked is what the deposit
  does at this restaurant, and their calibration the model's, measured.

Held = paid - refunded, and never more than the deposit asked: the audit's
``deposits`` rule checks it, and that ``paid`` is the sum of the payments.
Nothing here moves money: the events tell the payments side what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from booking_core import outbox
from booking_core.domain import ReservationState
from booking_core.errors import Conflict, IllegalTransition, InvalidRequest, UnknownReservation
from booking_core.ledger import Ledger
from booking_core.schema import DEPOSIT_SWEEP, deposit_payments, reservations
from booking_core.validation import check_aware

# A restaurant gives a diner between five minutes and a week to pay.
PAY_WITHIN_MINUTES = (5, 7 * 24 * 60)
REF_LIMIT = 64  # the key adds the source and the restaurant (schema: 140)
# The states in which a booking stands and may hold a deposit.
STANDING = frozenset(
    {
        ReservationState.BOOKED,
        ReservationState.CONFIRMED,
        ReservationState.ARRIVED,
        ReservationState.SEATED,
    }
)


class DepositStatus(StrEnum):
    NONE = "none"  # no deposit asked, nothing held
    PENDING = "pending"  # asked, not (all) paid yet: see ``due_at``
    PAID = "paid"  # held in full
    APPLIED = "applied"  # the party came: what was held went to the bill
    KEPT = "kept"  # kept against a late cancellation's or a no-show's fee
    REFUNDED = "refunded"  # given back: cancelled in time, or the fee waived
    UNPAID = "unpaid"  # the booking ended with nothing held


class DepositReason(StrEnum):
    PARTY_SIZE = "party_size"  # the policy asks it of parties this large
    RISK = "risk"  # the booking's no-show risk reached the restaurant's threshold


# A restaurant's threshold on no-show risk: a probability, neither so low
# that every booking pays nor so high that none ever does.
RISK_THRESHOLD = (0.05, 0.95)
# The share of bookings over it a restaurant may leave without a deposit to
# measure what the deposit does: never so many that the policy lapses.
CONTROL_SHARE = (0.0, 0.5)
MODEL_NAME_LIMIT: int = reservations.c.no_show_risk_model.type.length  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NoShowRisk:
    """A booking's no-show risk as scored at booking, as if no deposit were
    asked, and who scored it (a model's name and version, or the baseline).
    ``draw``: a number drawn uniformly from [0, 1) with the score, which puts
    the booking in the restaurant's control group when below its share
    (``in_control_group``); None, never."""

    probability: float
    model: str
    draw: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:  # NaN fails this too
            raise ValueError(f"a no-show risk is a probability, not {self.probability!r}")
        if not self.model or len(self.model) > MODEL_NAME_LIMIT:
            raise ValueError(f"a no-show risk names its model in 1..{MODEL_NAME_LIMIT} characters")
        if self.draw is not None and not 0.0 <= self.draw < 1.0:
            raise ValueError(f"a control-group draw lies in [0, 1), not {self.draw!r}")


def reason_to_ask(
    *,
    by_party_size: bool,
    per_cover_minor: int,
    risk_threshold: float | None,
    risk: NoShowRisk | None,
) -> DepositReason | None:
    """Why a new booking owes a deposit, if it does: its party size under
    the policy first (the rule a diner can read before booking), else its
    risk at or above the restaurant's threshold. A risk-based deposit needs
    a per-cover amount to ask."""
    if by_party_size:
        return DepositReason.PARTY_SIZE
    if (
        risk is not None
        and risk_threshold is not None
        and per_cover_minor > 0
        and risk.probability >= risk_threshold
    ):
        return DepositReason.RISK
    return None


def in_control_group(risk: NoShowRisk | None, control_share: float) -> bool:
    """Whether a booking asked a deposit by risk is left without one, in the
    restaurant's control group."""
    return risk is not None and risk.draw is not None and risk.draw < control_share


class PaymentSource(StrEnum):
    PROVIDER = "provider"  # reported by the payment provider's webhook
    RESTAURANT = "restaurant"  # taken at the restaurant, recorded by its staff
    MIGRATION = "migration"  # held before payments were recorded (migration 0011)
    WORLD = "world"  # the synthetic world's


@dataclass(frozen=True)
class Deposit:
    """A booking's deposit: asked, paid, refunded, and by when to pay."""

    amount_minor: int  # what the booking asks now
    paid_minor: int = 0  # every payment received
    refunded_minor: int = 0  # given back while the booking stood (a smaller party)
    due_at: datetime | None = None
    paid_at: datetime | None = None  # when it was last paid in full

    @property
    def held_minor(self) -> int:
        return self.paid_minor - self.refunded_minor

    @property
    def outstanding_minor(self) -> int:
        return max(0, self.amount_minor - self.held_minor)

    def status(self, state: ReservationState | str, fee_kept: bool) -> DepositStatus:
        """Where the deposit stands for a booking in ``state``; ``fee_kept``:
        a fee is due on it (recorded and not waived)."""
        state = ReservationState(state)
        if state in STANDING:
            if self.amount_minor == 0 and self.held_minor == 0:
                return DepositStatus.NONE
            return DepositStatus.PENDING if self.outstanding_minor else DepositStatus.PAID
        if self.held_minor == 0:
            return DepositStatus.UNPAID if self.amount_minor else DepositStatus.NONE
        if state is ReservationState.COMPLETED:
            return DepositStatus.APPLIED
        return DepositStatus.KEPT if fee_kept else DepositStatus.REFUNDED


def due_at(now: datetime, start_at: datetime, pay_within_minutes: int) -> datetime:
    """When a deposit asked at ``now`` must be paid: within the restaurant's
    time to pay, and before the party is due."""
    return min(now + timedelta(minutes=pay_within_minutes), start_at)


def deposit_from_row(r: Any) -> Deposit:
    return Deposit(
        amount_minor=r["deposit_minor"],
        paid_minor=r["deposit_paid_minor"],
        refunded_minor=r["deposit_refunded_minor"],
        due_at=r["deposit_due_at"],
        paid_at=r["deposit_paid_at"],
    )


def after_size_change(
    deposit: Deposit, new_amount: int, now: datetime, start_at: datetime, pay_within: int
) -> tuple[Deposit, int]:
    """The deposit once a change asks ``new_amount`` for a booking now
    starting at ``start_at``, and what to refund at once (what is held above
    the new amount). The difference a larger party owes on a deposit paid
    in full is owed by a new deadline; a deposit still owing keeps its
    deadline, so growing the party does not put off its release; a booking
    moved earlier is never owed after its start."""
    refund = max(0, deposit.held_minor - new_amount)
    after = replace(
        deposit, amount_minor=new_amount, refunded_minor=deposit.refunded_minor + refund
    )
    due: datetime | None
    if after.outstanding_minor == 0:
        due = None if new_amount == 0 else after.due_at
    elif deposit.outstanding_minor == 0 or after.due_at is None:
        due = due_at(now, start_at, pay_within)  # paid up until now: time to pay the rest
    else:
        # Still owing: the deadline stands (a bigger party buys no time).
        due = min(after.due_at, start_at)
    return replace(after, due_at=due), refund


@dataclass(frozen=True)
class Payment:
    reservation_id: int
    payment_ref: str
    amount_minor: int
    currency: str
    source: PaymentSource
    paid_at: datetime
    recorded: bool  # False: this reference was recorded before (a repeat)


def record_payment(
    ledger: Ledger,
    reservation_id: int,
    *,
    amount_minor: int,
    currency: str,
    payment_ref: str,
    source: PaymentSource | str = PaymentSource.PROVIDER,
    now: datetime | None = None,
) -> Payment:
    """Record a payment towards a booking's deposit (``reservation.deposit_paid``).

    The same ``payment_ref`` again for the same booking and amount is the
    same payment: nothing is written and ``recorded`` is False. Refused:
    another booking's or amount's reference (``Conflict``), a booking that
    no longer stands (``IllegalTransition``: the payment is to be refunded),
    more than is owed, or another currency (``InvalidRequest``)."""
    payment_ref = payment_ref.strip()
    if not payment_ref or len(payment_ref) > REF_LIMIT:
        raise InvalidRequest(f"A payment reference has 1 to {REF_LIMIT} characters.")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise InvalidRequest("A payment's amount_minor is a whole number above 0.")
    source = PaymentSource(source)
    now = check_aware(now, "time") if now is not None else ledger.clock()
    r = reservations.c
    with ledger.write() as conn:
        # Only money columns change: the row alone is locked (no table moves,
        # so the service day is not needed, and one lock cannot deadlock).
        query = sa.select(reservations).where(r.id == reservation_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise UnknownReservation(f"There is no reservation with id {reservation_id}.")
        key = payment_key(source, row.restaurant_id, payment_ref)
        earlier = conn.execute(
            sa.select(deposit_payments).where(deposit_payments.c.ref_key == key)
        ).first()
        if earlier is not None:
            return _repeat(earlier._mapping, reservation_id, amount_minor, currency)
        state = ReservationState(row.state)
        if state not in STANDING:
            raise IllegalTransition(
                f"Reservation {reservation_id} is {state.value}: it takes no deposit now, "
                "so this payment is to be refunded."
            )
        if currency != row.currency:
            raise InvalidRequest(
                f"Reservation {reservation_id} is paid in {row.currency}, not {currency}."
            )
        deposit = deposit_from_row(row._mapping)
        if amount_minor > deposit.outstanding_minor:
            raise InvalidRequest(
                f"Reservation {reservation_id} owes {deposit.outstanding_minor} "
                f"{row.currency} minor units of deposit, not {amount_minor}."
            )
        conn.execute(
            deposit_payments.insert().values(
                reservation_id=reservation_id,
                payment_ref=payment_ref,
                ref_key=key,
                amount_minor=amount_minor,
                currency=currency,
                source=source.value,
                paid_at=now,
            )
        )
        in_full = amount_minor == deposit.outstanding_minor
        values: dict[str, Any] = {
            "deposit_paid_minor": deposit.paid_minor + amount_minor,
            "updated_at": max(now, row.updated_at),
        }
        if in_full:
            values["deposit_paid_at"] = now
        conn.execute(reservations.update().where(r.id == reservation_id).values(values))
        outbox.append(
            conn,
            "reservation.deposit_paid",
            "reservation",
            reservation_id,
            row.restaurant_id,
            {
                "amount_minor": amount_minor,
                "currency": currency,
                "payment_ref": payment_ref,
                "source": source.value,
                "held_minor": deposit.held_minor + amount_minor,
                "deposit_minor": deposit.amount_minor,
                "paid_in_full": in_full,
            },
            now,
        )
    return Payment(reservation_id, payment_ref, amount_minor, currency, source, now, True)


def payment_key(source: PaymentSource | str, restaurant_id: int, payment_ref: str) -> str:
    """What makes a payment one: the provider's id is unique across the
    platform; a receipt taken at a restaurant only within it (two
    restaurants' tills may both print 1001)."""
    source = PaymentSource(source)
    if source is PaymentSource.RESTAURANT:
        return f"restaurant:{restaurant_id}:{payment_ref}"
    return f"{source.value}:{payment_ref}"


def _repeat(earlier: Any, reservation_id: int, amount_minor: int, currency: str) -> Payment:
    if (earlier["reservation_id"], earlier["amount_minor"], earlier["currency"]) != (
        reservation_id,
        amount_minor,
        currency,
    ):
        raise Conflict(
            f"Payment {earlier['payment_ref']!r} was recorded for reservation "
            f"{earlier['reservation_id']} ({earlier['amount_minor']} {earlier['currency']}); "
            "a reference names one payment."
        )
    return Payment(
        reservation_id,
        earlier["payment_ref"],
        earlier["amount_minor"],
        earlier["currency"],
        PaymentSource(earlier["source"]),
        earlier["paid_at"],
        False,
    )


def payments_of(ledger: Ledger, reservation_id: int) -> list[Payment]:
    """The payments recorded towards a booking's deposit, oldest first."""
    p = deposit_payments.c
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(deposit_payments).where(p.reservation_id == reservation_id).order_by(p.id)
        ).all()
    return [
        Payment(
            row.reservation_id,
            row.payment_ref,
            row.amount_minor,
            row.currency,
            PaymentSource(row.source),
            row.paid_at,
            False,
        )
        for row in rows
    ]


def overdue_query(now: datetime, restaurant_id: int | None = None) -> sa.Select[Any]:
    """The ids of bookings not yet arrived whose deposit is still owed at
    its deadline, earliest deadline first."""
    r = reservations.c
    query = (
        sa.select(r.id)
        .where(
            sa.text(DEPOSIT_SWEEP),  # the partial index's own words: NOT_ARRIVED
            r.deposit_due_at <= now,
            r.deposit_minor > r.deposit_paid_minor - r.deposit_refunded_minor,
        )
        .order_by(r.deposit_due_at, r.id)
    )
    if restaurant_id is not None:
        query = query.where(r.restaurant_id == restaurant_id)
    return query


def overdue(ledger: Ledger, now: datetime, restaurant_id: int | None = None) -> list[int]:
    """Bookings not yet arrived whose deposit is still owed at its deadline."""
    with ledger.read() as conn:
        return list(conn.execute(overdue_query(now, restaurant_id)).scalars())


__all__ = [
    "PAY_WITHIN_MINUTES",
    "STANDING",
    "Deposit",
    "DepositStatus",
    "Payment",
    "PaymentSource",
    "after_size_change",
    "deposit_from_row",
    "due_at",
    "overdue",
    "overdue_query",
    "payment_key",
    "payments_of",
    "record_payment",
]
