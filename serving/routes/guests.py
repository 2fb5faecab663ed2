"""Guest profiles: read, tag, and the diner's GDPR rights (export, erasure)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from booking_core import guests, privacy
from booking_core.domain import TagSource
from booking_core.errors import UnknownDiner
from booking_core.ledger import Ledger
from booking_core.schema import reservations
from serving.deps import ActiveAccountsDep, CurrentPrincipal, LedgerDep, PathId, forbidden
from serving.security import Principal

router = APIRouter(prefix="/diners/{diner_id}", tags=["guests"])


class TagPublic(BaseModel):
    tag: str
    source: str = Field(description="host (always wins), or machine (the guest-tag model)")
    confidence: float = Field(description="1 for a host's tag; the model's for a machine tag")
    set_by: str = Field(description="The host, or the model version that tagged")
    set_at: datetime


class GuestProfilePublic(BaseModel):
    id: int
    name: str
    email: str | None
    phone: str | None
    locale: str
    dietary: list[str]
    allergies: list[str]
    seating_preferences: list[str]
    marketing_consent: bool
    tags: list[TagPublic]
    notes: list[str]


class TagCreate(BaseModel):
    tag: str = Field(min_length=1, max_length=60, pattern=r"\S")


class GuestExport(BaseModel):
    diner_id: int
    data: dict[str, Any]


def _is_self(who: Principal, diner_id: int) -> bool:
    return who.diner_id is not None and who.diner_id == diner_id


def _serves(ledger: Ledger, who: Principal, diner_id: int) -> bool:
    """Staff whose restaurant has (had) a booking of this diner."""
    if not who.restaurant_ids or who.role is None:
        return False
    with ledger.read() as conn:
        found = conn.execute(
            sa.select(reservations.c.id)
            .where(
                reservations.c.diner_id == diner_id,
                reservations.c.restaurant_id.in_(sorted(who.restaurant_ids)),
            )
            .limit(1)
        ).first()
    return found is not None


def _check(ledger: Ledger, who: Principal, diner_id: int, *, staff: bool) -> None:
    if who.is_admin or (not staff and _is_self(who, diner_id)):
        return
    if staff and _serves(ledger, who, diner_id):
        return
    if not staff and _serves(ledger, who, diner_id):
        return
    # Not yours: indistinguishable from a diner that does not exist.
    raise UnknownDiner(f"There is no diner with id {diner_id}.")


@router.get("", response_model=GuestProfilePublic)
def profile(diner_id: PathId, who: CurrentPrincipal, ledger: LedgerDep) -> GuestProfilePublic:
    """The diner, or staff of a restaurant the diner has booked."""
    _check(ledger, who, diner_id, staff=False)
    p = guests.get_profile(ledger, diner_id)
    return GuestProfilePublic(
        **{k: v for k, v in p.__dict__.items() if k != "tags"},
        tags=[
            TagPublic(
                tag=t.tag,
                source=t.source,
                confidence=t.confidence,
                set_by=t.set_by,
                set_at=t.set_at,
            )
            for t in p.tags
            if t.removed_at is None
        ],
    )


@router.post("/tags", response_model=GuestProfilePublic, status_code=status.HTTP_201_CREATED)
def add_tag(
    diner_id: PathId, body: TagCreate, who: CurrentPrincipal, ledger: LedgerDep
) -> GuestProfilePublic:
    """A host tags a guest (``vip``, ``celiac``...); the machine never overwrites it."""
    _check(ledger, who, diner_id, staff=True)
    guests.set_tag(ledger, diner_id, body.tag, source=TagSource.HOST, set_by=who.subject)
    return profile(diner_id, who, ledger)


@router.delete("/tags/{tag}", response_model=GuestProfilePublic)
def remove_tag(
    diner_id: PathId,
    tag: Annotated[str, Path(min_length=1, max_length=60)],
    who: CurrentPrincipal,
    ledger: LedgerDep,
) -> GuestProfilePublic:
    _check(ledger, who, diner_id, staff=True)
    guests.remove_tag(ledger, diner_id, tag, removed_by=who.subject)
    return profile(diner_id, who, ledger)


def _self_or_admin(who: Principal, diner_id: int) -> None:
    if not (who.is_admin or _is_self(who, diner_id)):
        raise forbidden("Only the diner themselves (or an admin) may do this.")


@router.get("/export", response_model=GuestExport)
def export(diner_id: PathId, who: CurrentPrincipal, ledger: LedgerDep) -> GuestExport:
    """Everything held about the diner (GDPR access)."""
    _self_or_admin(who, diner_id)
    return GuestExport(diner_id=diner_id, data=privacy.export_diner(ledger, diner_id))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def erase(
    diner_id: PathId, who: CurrentPrincipal, ledger: LedgerDep, accounts: ActiveAccountsDep
) -> None:
    """Erase the diner's personal data and close their account (GDPR erasure)."""
    _self_or_admin(who, diner_id)
    privacy.erase_diner(ledger, diner_id, requested_by=who.subject)
    accounts.forget()  # refused at once here; other workers within their 2 s
