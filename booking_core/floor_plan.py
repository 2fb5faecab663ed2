"""A restaurant's floor plan as its staff see it: every table (in service or
not) with its area, covers and features, and the combinations pushed
together for larger parties; and the tables and combinations a manager adds
when the room changes (a new terrace, two tables that now join).

Tables are never deleted: past bookings and seatings point at them. One
that leaves the room is taken out of service (``booking_core.table_service``).
A table's covers, area and accessibility are not edited either: future
bookings were placed by them; add the new table and take the old one out,
and its parties move. Its name and features may change (``edit_table``)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from booking_core import outbox
from booking_core.errors import AlreadyExists, InvalidRequest, UnknownRestaurant, UnknownTable
from booking_core.floor import combination_members
from booking_core.ledger import Ledger
from booking_core.restaurants import (
    CombinationSpec,
    TableSpec,
    bump_floor,
    check_combination,
    check_table,
    insert_combination,
    insert_table,
)
from booking_core.schema import (
    dining_areas,
    dining_tables,
    restaurants,
    table_combinations,
)


@dataclass(frozen=True)
class PlannedTable:
    id: int
    name: str
    area: str
    min_covers: int
    max_covers: int
    accessible: bool
    features: tuple[str, ...]
    in_service: bool


@dataclass(frozen=True)
class PlannedCombination:
    id: int
    name: str
    table_ids: tuple[int, ...]
    min_covers: int
    max_covers: int


@dataclass(frozen=True)
class FloorPlan:
    restaurant_id: int
    tables: tuple[PlannedTable, ...]
    combinations: tuple[PlannedCombination, ...]


def _plan(conn: sa.Connection, restaurant_id: int) -> FloorPlan:
    t, a = dining_tables.c, dining_areas.c
    tables = tuple(
        PlannedTable(
            int(row.id),
            row.name,
            row.area,
            int(row.min_covers),
            int(row.max_covers),
            bool(row.accessible),
            tuple(row.features or ()),
            bool(row.active),
        )
        for row in conn.execute(
            sa.select(
                t.id,
                t.name,
                a.name.label("area"),
                t.min_covers,
                t.max_covers,
                t.accessible,
                t.features,
                t.active,
            )
            .join(dining_areas, a.id == t.area_id)
            .where(t.restaurant_id == restaurant_id)
            .order_by(t.id)
        )
    )
    members = combination_members(conn, restaurant_id)
    combinations = tuple(
        PlannedCombination(
            int(c.id),
            c.name,
            tuple(sorted(members.get(int(c.id), ()))),
            int(c.min_covers),
            int(c.max_covers),
        )
        for c in conn.execute(
            sa.select(table_combinations)
            .where(table_combinations.c.restaurant_id == restaurant_id)
            .order_by(table_combinations.c.id)
        )
    )
    return FloorPlan(restaurant_id, tables, combinations)


def _exists(conn: sa.Connection, restaurant_id: int) -> None:
    found = conn.execute(sa.select(restaurants.c.id).where(restaurants.c.id == restaurant_id))
    if found.first() is None:
        raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")


def floor_plan(ledger: Ledger, restaurant_id: int) -> FloorPlan:
    with ledger.read() as conn:
        _exists(conn, restaurant_id)
        return _plan(conn, restaurant_id)


def add_table(ledger: Ledger, restaurant_id: int, spec: TableSpec) -> PlannedTable:
    """A new table, in service at once (its area is created when new).
    Searches and bookings see it from the next request."""
    check_table(spec)
    with ledger.write() as conn:
        _exists(conn, restaurant_id)
        taken = conn.execute(
            sa.select(dining_tables.c.id).where(
                dining_tables.c.restaurant_id == restaurant_id, dining_tables.c.name == spec.name
            )
        ).first()
        if taken is not None:
            raise AlreadyExists(
                f"Restaurant {restaurant_id} already has a table named {spec.name!r} "
                f"(id {taken.id})."
            )
        table_id = insert_table(conn, restaurant_id, spec)
        bump_floor(conn, restaurant_id)
        outbox.append(
            conn,
            "restaurant.table_added",
            "table",
            table_id,
            restaurant_id,
            # Read as a change into service (``service_report``): a past
            # night is measured against the tables it had.
            {
                "name": spec.name,
                "area": spec.area,
                "min_covers": spec.min_covers,
                "max_covers": spec.max_covers,
                "active": True,
                "was_active": False,
            },
            ledger.clock(),
        )
    return PlannedTable(
        table_id,
        spec.name,
        spec.area,
        spec.min_covers,
        spec.max_covers,
        spec.accessible,
        tuple(spec.features),
        True,
    )


def add_combination(
    ledger: Ledger, restaurant_id: int, spec: CombinationSpec
) -> PlannedCombination:
    """Tables pushed together for larger parties, named by their table names
    (in service or not: one out of service leaves the combination out until
    it returns)."""
    with ledger.write() as conn:
        _exists(conn, restaurant_id)
        plan = _plan(conn, restaurant_id)
        ids = {t.name: t.id for t in plan.tables}
        check_combination(spec, set(ids))
        if any(c.name == spec.name for c in plan.combinations):
            raise AlreadyExists(
                f"Restaurant {restaurant_id} already has a combination named {spec.name!r}."
            )
        members = tuple(sorted(ids[name] for name in spec.tables))
        if any(c.table_ids == members for c in plan.combinations):
            raise InvalidRequest(f"Those tables are already combined ({', '.join(spec.tables)}).")
        combo_id = insert_combination(conn, restaurant_id, spec, ids)
        bump_floor(conn, restaurant_id)
        outbox.append(
            conn,
            "restaurant.combination_added",
            "restaurant",
            restaurant_id,
            restaurant_id,
            {"combination_id": combo_id, "name": spec.name, "tables": list(spec.tables)},
            ledger.clock(),
        )
    return PlannedCombination(combo_id, spec.name, members, spec.min_covers, spec.max_covers)


# What a manager may change on a table that bookings already point at: how
# it is called and described. Covers, area and accessibility are what a
# booking was placed by; change those by adding a table and taking the old
# one out of service, so the parties holding it move.
EDITABLE_TABLE_FIELDS = ("name", "features")


def edit_table(
    ledger: Ledger,
    restaurant_id: int,
    table_id: int,
    *,
    name: str | None = None,
    features: tuple[str, ...] | None = None,
) -> PlannedTable:
    """Rename a table or change its features (a booth, by the window); only
    what is given changes. One ``restaurant.table_edited`` event lists each
    changed field's old and new value; nothing changed, nothing written."""
    with ledger.write() as conn:
        _exists(conn, restaurant_id)
        current = next((t for t in _plan(conn, restaurant_id).tables if t.id == table_id), None)
        if current is None:
            raise UnknownTable(f"Restaurant {restaurant_id} has no table with id {table_id}.")
        after = TableSpec(
            current.name if name is None else name.strip(),
            current.area,
            current.min_covers,
            current.max_covers,
            current.accessible,
            current.features if features is None else tuple(features),
        )
        check_table(after)
        old = {"name": current.name, "features": list(current.features)}
        new = {"name": after.name, "features": list(after.features)}
        changed = {k: {"from": old[k], "to": new[k]} for k in old if old[k] != new[k]}
        if not changed:
            return current
        if "name" in changed:
            taken = conn.execute(
                sa.select(dining_tables.c.id).where(
                    dining_tables.c.restaurant_id == restaurant_id,
                    dining_tables.c.name == after.name,
                    dining_tables.c.id != table_id,
                )
            ).first()
            if taken is not None:
                raise AlreadyExists(
                    f"Restaurant {restaurant_id} already has a table named {after.name!r} "
                    f"(id {taken.id})."
                )
        conn.execute(
            dining_tables.update()
            .where(dining_tables.c.id == table_id)
            .values(name=after.name, features=list(after.features))
        )
        bump_floor(conn, restaurant_id)  # the floor carries names and features
        event = "restaurant.table_edited"
        outbox.append(conn, event, "table", table_id, restaurant_id, changed, ledger.clock())
    return PlannedTable(
        table_id,
        after.name,
        after.area,
        after.min_covers,
        after.max_covers,
        after.accessible,
        after.features,
        current.in_service,
    )
