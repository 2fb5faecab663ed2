"""The outbox as a feed for integrations: read forward from an offset.

Admins read every event; managers and hosts only their restaurants' (events
not tied to a restaurant, like a diner's sign-up, are admin-only)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from booking_core.outbox import read_events
from serving.deps import CurrentPrincipal, LedgerDep, forbidden

router = APIRouter(prefix="/events", tags=["events"])
MAX_OFFSET = 2**62


class EventPublic(BaseModel):
    offset: int
    event_type: str
    entity: str
    entity_id: int
    restaurant_id: int | None
    payload: dict[str, Any]
    occurred_at: datetime


class EventPage(BaseModel):
    events: list[EventPublic]
    next_after: int = Field(description="Pass as ``after`` to read on; acknowledge up to it")


@router.get("", response_model=EventPage)
def feed(
    who: CurrentPrincipal,
    ledger: LedgerDep,
    after: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    entity: Annotated[str | None, Query(max_length=30)] = None,
) -> EventPage:
    if not who.is_admin and not (who.role is not None and who.restaurant_ids):
        raise forbidden("The event feed is for admins and restaurant staff.")
    with ledger.read() as conn:
        events = read_events(conn, after, limit, entity=entity)
    last = events[-1].offset if events else after
    if not who.is_admin:
        events = [e for e in events if e.restaurant_id in who.restaurant_ids]
    return EventPage(events=[EventPublic(**asdict(e)) for e in events], next_after=last)
