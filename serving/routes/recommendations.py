"""Restaurants recommended to a diner, each with a reason."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from booking_core.accounts import Role
from serving.deps import CurrentPrincipal, LedgerDep, PathId, forbidden
from serving.recommending import RecommendationSourceDep

router = APIRouter(prefix="/diners/{diner_id}/recommendations", tags=["recommendations"])


class RecommendationPublic(BaseModel):
    restaurant_id: int
    name: str
    score: float
    reason: str
    time: str | None = Field(description="A bookable time, when a date and party size were given")


class Recommendations(BaseModel):
    diner_id: int
    model: str
    model_version: str | None
    source: str = Field(description="champion, or baseline")
    baseline: str | None
    items: list[RecommendationPublic]


@router.get("", response_model=Recommendations)
def recommend(
    diner_id: PathId,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    source: RecommendationSourceDep,
    k: Annotated[int, Query(ge=1, le=50)] = 10,
    date: date | None = None,
    time: time | None = None,
    party_size: Annotated[int | None, Query(ge=1, le=40)] = None,
) -> Recommendations:
    """For the diner themselves (or an admin)."""
    if not (who.is_admin or (who.role is Role.DINER and who.diner_id == diner_id)):
        raise forbidden("Recommendations are for the diner themselves.")
    items = source.recommend(
        ledger,
        diner_id,
        k=k,
        local_date=date,
        local_time=time,
        party_size=party_size,
        now=ledger.clock(),
    )
    return Recommendations(
        diner_id=diner_id,
        model=source.name,
        model_version=source.version,
        source="baseline" if source.description else "champion",
        baseline=source.description,
        items=[RecommendationPublic(**i.__dict__) for i in items],
    )
