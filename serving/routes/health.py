"""Liveness, readiness and Prometheus metrics (outside /api/v1, unauthenticated)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel

from serving.deps import ChampionsDep, LedgerDep
from serving.observability import metrics_payload
from serving.problems import ApiProblem

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class ModelStatus(BaseModel):
    version: str | None
    source: str
    error: str | None = None


class Readiness(BaseModel):
    status: str
    ledger: str
    models: dict[str, ModelStatus]


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"description": "The ledger cannot be reached"}},
)
def readyz(ledger: LedgerDep, champions: ChampionsDep) -> Readiness:
    """Ready to take traffic: the ledger answers. Models without a champion are
    served by their baselines, so they do not make the service unready."""
    try:
        with ledger.read() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        raise ApiProblem(
            503, "ledger_unreachable", f"The ledger does not answer: {exc!s:.200}"
        ) from None
    models = {name: ModelStatus(**s) for name, s in champions.status().items()}  # type: ignore[arg-type]
    return Readiness(status="ready", ledger=ledger.dialect, models=models)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics() -> Response:
    """Prometheus metrics (all workers when run with several)."""
    payload, content_type = metrics_payload()
    return Response(payload, media_type=content_type)
