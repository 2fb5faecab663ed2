"""The floor plan: every table with its id (what the host's table changes,
seating decisions and the service route name), and the tables and
combinations a manager adds when the room changes
(``booking_core.floor_plan``), and a table renamed or described anew. Tables
are not deleted or resized: one that leaves the room is taken out of service
(``PUT .../tables/{id}/service``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import Role
from booking_core.floor_plan import (
    FloorPlan,
    PlannedCombination,
    PlannedTable,
    add_combination,
    add_table,
    edit_table,
    floor_plan,
)
from booking_core.restaurants import CombinationSpec, TableSpec
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of

router = APIRouter(prefix="/restaurants/{restaurant_id}", tags=["restaurants"])

Name = Annotated[str, Field(min_length=1, max_length=50)]
Covers = Annotated[int, Field(ge=1, le=40)]


class TableIn(BaseModel):
    name: Name = Field(examples=["T12"])
    area: str = Field(min_length=1, max_length=100, examples=["Terrace"])
    min_covers: Covers
    max_covers: Covers
    accessible: bool = False
    features: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=12, examples=[["window"]]
    )

    def spec(self) -> TableSpec:
        return TableSpec(
            self.name,
            self.area,
            self.min_covers,
            self.max_covers,
            self.accessible,
            tuple(self.features),
        )


class TableEdit(BaseModel):
    """Only the fields sent change. Covers, area and accessibility are what
    bookings were placed by: add a table and take this one out of service
    (sending one is a 422 naming it)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, examples=["Booth 3"])
    features: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=12, examples=[["booth", "window"]]
    )


class CombinationIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["T1+T2"])
    tables: list[Name] = Field(min_length=2, max_length=12, description="Table names")
    min_covers: Covers
    max_covers: Covers

    def spec(self) -> CombinationSpec:
        return CombinationSpec(self.name, tuple(self.tables), self.min_covers, self.max_covers)


class TablePublic(BaseModel):
    id: int
    name: str
    area: str
    min_covers: int
    max_covers: int
    accessible: bool
    features: list[str]
    in_service: bool

    @classmethod
    def of(cls, t: PlannedTable) -> TablePublic:
        return cls(**{**t.__dict__, "features": list(t.features)})


class CombinationPublic(BaseModel):
    id: int
    name: str
    table_ids: list[int]
    min_covers: int
    max_covers: int

    @classmethod
    def of(cls, c: PlannedCombination) -> CombinationPublic:
        return cls(**{**c.__dict__, "table_ids": list(c.table_ids)})


class FloorPlanPublic(BaseModel):
    restaurant_id: int
    tables: list[TablePublic]
    combinations: list[CombinationPublic]

    @classmethod
    def of(cls, plan: FloorPlan) -> FloorPlanPublic:
        return cls(
            restaurant_id=plan.restaurant_id,
            tables=[TablePublic.of(t) for t in plan.tables],
            combinations=[CombinationPublic.of(c) for c in plan.combinations],
        )


@router.get("/floor-plan", response_model=FloorPlanPublic)
async def read(restaurant_id: PathId, who: CurrentPrincipal, ledger: LedgerDep) -> FloorPlanPublic:
    """Every table, in service or not, and every combination (the
    restaurant's staff)."""
    require_staff_of(who, restaurant_id)
    return FloorPlanPublic.of(await run_in_threadpool(floor_plan, ledger, restaurant_id))


@router.post("/tables", response_model=TablePublic, status_code=status.HTTP_201_CREATED)
async def new_table(
    restaurant_id: PathId, body: TableIn, who: CurrentPrincipal, ledger: LedgerDep
) -> TablePublic:
    """A new table, in service at once; a new area name creates the area
    (the restaurant's managers). 409 when the name is taken."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    return TablePublic.of(await run_in_threadpool(add_table, ledger, restaurant_id, body.spec()))


@router.patch("/tables/{table_id}", response_model=TablePublic)
async def change_table(
    restaurant_id: PathId,
    table_id: PathId,
    body: TableEdit,
    who: CurrentPrincipal,
    ledger: LedgerDep,
) -> TablePublic:
    """Rename a table or change its features (the restaurant's managers);
    409 when the name is taken, 404 for a table the restaurant does not have."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    features = None if body.features is None else tuple(body.features)
    edited = await run_in_threadpool(
        lambda: edit_table(ledger, restaurant_id, table_id, name=body.name, features=features)
    )
    return TablePublic.of(edited)


@router.post("/combinations", response_model=CombinationPublic, status_code=status.HTTP_201_CREATED)
async def new_combination(
    restaurant_id: PathId, body: CombinationIn, who: CurrentPrincipal, ledger: LedgerDep
) -> CombinationPublic:
    """Tables pushed together for larger parties, by table name (the
    restaurant's managers). 409 when the name is taken."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    combo = await run_in_threadpool(add_combination, ledger, restaurant_id, body.spec())
    return CombinationPublic.of(combo)
