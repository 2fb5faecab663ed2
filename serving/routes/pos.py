"""The POS webhook: signed check events that update the table and link the
spend to the reservation (a closed check completes a seated party).

Each delivery carries ``X-API-Key`` (a POS key of the restaurant) and
``X-ServiceSphere-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>." + raw body>`` keyed with the key's webhook secret. A signature older
or newer than the tolerance, or a ``delivery_id`` already received, is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from booking_core import pos
from booking_core.accounts import ApiKey, KeyKind, give_back_delivery, take_delivery, verify_api_key
from booking_core.errors import BookingError, InvalidRequest
from booking_core.ledger import Ledger
from booking_core.restaurants import table_ids_by_name
from serving.deps import BodyId, LedgerDep, SettingsDep
from serving.problems import ApiProblem
from serving.security import signature_refused, webhook_secret

router = APIRouter(prefix="/pos", tags=["pos"])
SIGNATURE_HEADER = "X-ServiceSphere-Signature"


class PosEvent(BaseModel):
    delivery_id: str = Field(min_length=1, max_length=64, description="Unique per delivery")
    type: Literal["check.opened", "check.closed", "check.paid"]
    check_id: str = Field(min_length=1, max_length=64, description="The POS's own check id")
    table_id: BodyId | None = None
    table_name: str | None = Field(default=None, max_length=50)
    covers: int = Field(default=1, ge=1, le=200)
    subtotal_minor: int = Field(default=0, ge=0, le=100_000_000)
    occurred_at: AwareDatetime | None = None


class CheckPublic(BaseModel):
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


async def signed_by_pos(
    request: Request,
    ledger: LedgerDep,
    settings: SettingsDep,
    x_api_key: Annotated[str, Header()],
    x_servicesphere_signature: Annotated[str, Header(max_length=200)],
) -> ApiKey:
    """The POS key that signed this exact body, within the time tolerance."""
    key = await run_in_threadpool(verify_api_key, ledger, x_api_key)
    if key is None or key.kind is not KeyKind.POS or key.restaurant_id is None:
        raise ApiProblem(401, "not_authenticated", "A valid POS API key is required.")
    secret = webhook_secret(settings.secret_key.get_secret_value(), key.key_id)
    body = await request.body()
    refused = signature_refused(
        secret, x_servicesphere_signature, body, settings.webhook_tolerance_seconds
    )
    if refused is not None:
        raise ApiProblem(401, "bad_signature", refused)
    return key


def _apply(ledger: Ledger, key: ApiKey, event: PosEvent) -> pos.Check:
    restaurant_id = key.restaurant_id
    assert restaurant_id is not None
    take_delivery(ledger, key.id, event.delivery_id, event.type)
    try:
        if event.type == "check.opened":
            table_id = event.table_id
            if table_id is None and event.table_name is not None:
                with ledger.read() as conn:
                    table_id = table_ids_by_name(conn, restaurant_id).get(event.table_name)
                if table_id is None:
                    raise InvalidRequest(f"The restaurant has no table named {event.table_name!r}.")
            return pos.open_check(
                ledger,
                restaurant_id,
                event.check_id,
                table_id=table_id,
                covers=event.covers,
                opened_at=event.occurred_at,
            )
        return pos.close_check(
            ledger,
            restaurant_id,
            event.check_id,
            subtotal_minor=event.subtotal_minor,
            closed_at=event.occurred_at,
        )
    except BookingError:
        give_back_delivery(ledger, key.id, event.delivery_id)  # the sender may retry
        raise


@router.post("/webhook", response_model=CheckPublic)
async def webhook(
    event: PosEvent, key: Annotated[ApiKey, Depends(signed_by_pos)], ledger: LedgerDep
) -> CheckPublic:
    """A check opened, closed or paid at the restaurant's POS."""
    check = await run_in_threadpool(_apply, ledger, key, event)
    return CheckPublic(**check.__dict__)
