"""Deposits paid by a deadline (``booking_core.deposits``): the payment
provider reports a payment, staff record one taken at the restaurant, anyone
who may read a booking lists its payments, and managers release the bookings
whose deposit was not paid in time.

The provider's webhook carries ``X-ServiceSphere-Signature: t=<unix
seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`` keyed with the secret
shared with it (``SERVICESPHERE_PAYMENTS_WEBHOOK_SECRET``), as the POS's. A
payment is recorded once per reference: a provider retrying a delivery gets
the same answer with ``recorded`` false, and nothing is counted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from booking_core.accounts import Role
from booking_core.availability import get_floor
from booking_core.deposits import REF_LIMIT, Payment, PaymentSource, payments_of, record_payment
from booking_core.ledger import Ledger
from booking_core.reservations import get_reservation
from booking_core.unpaid_deposits import release_unpaid
from serving.deps import (
    BodyId,
    CurrentPrincipal,
    LedgerDep,
    PathId,
    SettingsDep,
    forbidden,
    require_role,
    require_staff_of,
)
from serving.problems import ApiProblem, Problem
from serving.routes.reservations import DepositPublic, ReservationPublic, readable
from serving.security import signature_refused

router = APIRouter(tags=["deposits"])
Amount = Annotated[int, Field(ge=1, le=100_000_000, description="Minor units (pence, cents, yen)")]
Reference = Annotated[str, Field(min_length=1, max_length=REF_LIMIT)]


class DepositPaid(BaseModel):
    type: Literal["deposit.paid"]
    reservation_id: BodyId
    amount_minor: Amount
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["GBP"])
    payment_ref: Reference = Field(description="The provider's own id of the payment")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it was paid (default: when it is received)"
    )


class PaymentTaken(BaseModel):
    """A deposit taken at the restaurant, in the booking's currency."""

    model_config = ConfigDict(extra="forbid")

    amount_minor: Amount
    payment_ref: Reference = Field(description="The restaurant's receipt or terminal reference")


class PaymentPublic(BaseModel):
    reservation_id: int
    payment_ref: str
    amount_minor: int
    currency: str
    source: PaymentSource = Field(
        description="provider: its webhook; restaurant: its staff; migration: held before "
        "payments were recorded; world: the synthetic world's"
    )
    paid_at: datetime

    @classmethod
    def of(cls, p: Payment) -> Self:
        return cls(**{k: getattr(p, k) for k in cls.model_fields})


class PaymentRecorded(PaymentPublic):
    recorded: bool = Field(
        description="False: this reference was recorded before; nothing was added again"
    )


class PaymentReceipt(BaseModel):
    payment: PaymentRecorded
    reservation: ReservationPublic


class RiskAtBooking(BaseModel):
    """The no-show risk a booking was scored at as it was made, as if no
    deposit were asked: what a deposit asked by risk rested on."""

    probability: float = Field(ge=0, le=1)
    model: str = Field(description="The model and version that scored it, or the baseline")
    control: bool = Field(
        description="At or over the threshold but left without a deposit, drawn into the "
        "restaurant's control group (deposit_risk_control_share)"
    )


class DepositPayments(BaseModel):
    reservation_id: int
    deposit: DepositPublic
    payments: list[PaymentPublic] = Field(description="Oldest first")
    no_show_risk: RiskAtBooking | None = Field(
        default=None,
        description="For the restaurant's staff: the risk it was scored at when booked, at a "
        "restaurant asking deposits by risk (null otherwise, and for diners)",
    )


class Released(BaseModel):
    restaurant_id: int
    at: datetime = Field(description="Bookings whose deposit was due by this instant")
    released: list[ReservationPublic] = Field(
        description="Cancelled by the restaurant (reason deposit_unpaid), their tables freed"
    )


def payments_secret(settings: SettingsDep) -> str:
    secret = settings.payments_webhook_secret
    if secret is None:
        raise ApiProblem(
            503,
            "payments_not_configured",
            "Payments are not configured here: no deposit payment can be reported until "
            "SERVICESPHERE_PAYMENTS_WEBHOOK_SECRET is set.",
        )
    return secret.get_secret_value()


async def signed_by_provider(
    request: Request,
    settings: SettingsDep,
    secret: Annotated[str, Depends(payments_secret)],
    x_servicesphere_signature: Annotated[str | None, Header(max_length=200)] = None,
) -> None:
    """The body was signed with the payments secret, within the tolerance."""
    if x_servicesphere_signature is None:
        raise ApiProblem(401, "bad_signature", "The delivery is not signed.")
    body = await request.body()
    refused = signature_refused(
        secret, x_servicesphere_signature, body, settings.webhook_tolerance_seconds
    )
    if refused is not None:
        raise ApiProblem(401, "bad_signature", refused)


def _provider_paid(ledger: Ledger, event: DepositPaid) -> PaymentReceipt:
    now = ledger.clock()
    # The provider's clock may run ahead of ours: a payment is never stamped later than now.
    paid_at = min(event.occurred_at, now) if event.occurred_at is not None else now
    payment = record_payment(
        ledger,
        event.reservation_id,
        amount_minor=event.amount_minor,
        currency=event.currency,
        payment_ref=event.payment_ref,
        source=PaymentSource.PROVIDER,
        now=paid_at,
    )
    reservation = ReservationPublic.of(get_reservation(ledger, event.reservation_id))
    return PaymentReceipt(payment=PaymentRecorded.of(payment), reservation=reservation)


@router.post(
    "/payments/webhook",
    response_model=PaymentReceipt,
    dependencies=[Depends(signed_by_provider)],
    responses={503: {"model": Problem, "description": "Payments are not configured"}},
)
async def provider_webhook(event: DepositPaid, ledger: LedgerDep) -> PaymentReceipt:
    """The payment provider reports a deposit paid. The same reference again
    is the same payment (``recorded`` false). Refused: a booking no longer
    standing (409: refund the payment), another currency or more than is
    owed (422), a reference already used for another payment (409)."""
    return await run_in_threadpool(_provider_paid, ledger, event)


@router.post(
    "/reservations/{reservation_id}/deposit-payments",
    response_model=ReservationPublic,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ReservationPublic, "description": "Recorded before: nothing added"}},
)
def record_taken(
    reservation_id: PathId,
    body: PaymentTaken,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    response: Response,
) -> ReservationPublic:
    """Record a deposit taken at the restaurant (its hosts and managers, and
    admins): 201, or 200 when this reference was recorded before."""
    require_role(who, Role.HOST, Role.MANAGER)
    current = get_reservation(ledger, reservation_id)
    if not who.may_run(current.restaurant_id):
        raise forbidden("Only the staff of the booking's restaurant record a deposit taken there.")
    payment = record_payment(
        ledger,
        reservation_id,
        amount_minor=body.amount_minor,
        currency=current.currency,
        payment_ref=body.payment_ref,
        source=PaymentSource.RESTAURANT,
        now=ledger.clock(),
    )
    if not payment.recorded:
        response.status_code = status.HTTP_200_OK
    return ReservationPublic.of(get_reservation(ledger, reservation_id))


@router.get("/reservations/{reservation_id}/deposit-payments", response_model=DepositPayments)
def list_payments(
    reservation_id: PathId, who: CurrentPrincipal, ledger: LedgerDep
) -> DepositPayments:
    """The payments recorded towards a booking's deposit, oldest first."""
    current = readable(ledger, who, reservation_id)
    risk = current.no_show_risk if who.may_run(current.restaurant_id) else None
    return DepositPayments(
        reservation_id=reservation_id,
        deposit=DepositPublic.of(current),
        payments=[PaymentPublic.of(p) for p in payments_of(ledger, reservation_id)],
        no_show_risk=RiskAtBooking(
            probability=risk.probability, model=risk.model, control=current.deposit_risk_control
        )
        if risk
        else None,
    )


@router.post("/restaurants/{restaurant_id}/deposits/release", response_model=Released)
def release(restaurant_id: PathId, who: CurrentPrincipal, ledger: LedgerDep) -> Released:
    """Release now the restaurant's bookings whose deposit is still owed past
    its deadline (its managers, and admins): each is cancelled by the
    restaurant, no fee due, any part paid refunded. The same job runs every
    few minutes (``release-unpaid-deposits``)."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    with ledger.read() as conn:
        get_floor(ledger, conn, restaurant_id)  # 404 for no such restaurant
    now = ledger.clock()
    released = release_unpaid(ledger, now=now, restaurant_id=restaurant_id)
    return Released(
        restaurant_id=restaurant_id,
        at=now,
        released=[ReservationPublic.of(r) for r in released],
    )
