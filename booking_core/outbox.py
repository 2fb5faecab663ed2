"""The outbox: every state change appends an event in the writer's transaction.

Consumers read forward from an offset. On PostgreSQL, offsets are handed out
before commit, so a reader could see offset 11 committed while 10 is still in
flight and skip 10 forever; each event therefore records its transaction id,
and readers only take events from transactions older than every one still
running. SQLite has one writer at a time, so offset order is commit order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from booking_core.schema import outbox


@dataclass(frozen=True, slots=True)
class Event:
    offset: int
    event_type: str
    entity: str
    entity_id: int
    restaurant_id: int | None
    payload: dict[str, Any]
    occurred_at: datetime


_INSERT = outbox.insert()
_INSERT_PG = outbox.insert().values(txid=sa.literal_column("pg_current_xact_id()::text::bigint"))


def append(
    conn: sa.Connection,
    event_type: str,
    entity: str,
    entity_id: int,
    restaurant_id: int | None,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    values: dict[str, Any] = {
        "event_type": event_type,
        "entity": entity,
        "entity_id": entity_id,
        "restaurant_id": restaurant_id,
        "payload": payload,
        "occurred_at": at,
    }
    conn.execute(_INSERT_PG if conn.dialect.name == "postgresql" else _INSERT, values)


def read_events(
    conn: sa.Connection, after: int = 0, limit: int = 1000, *, entity: str | None = None
) -> list[Event]:
    """Events with offset > ``after``, oldest first, safe to acknowledge in order."""
    query = sa.select(outbox).where(outbox.c.event_offset > after)
    if entity is not None:
        query = query.where(outbox.c.entity == entity)
    if conn.dialect.name == "postgresql":
        horizon: sa.ColumnElement[int] = sa.literal_column(
            "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        )
        query = query.where(outbox.c.txid < horizon)
    rows = conn.execute(query.order_by(outbox.c.event_offset).limit(limit)).mappings()
    return [
        Event(
            offset=r["event_offset"],
            event_type=r["event_type"],
            entity=r["entity"],
            entity_id=r["entity_id"],
            restaurant_id=r["restaurant_id"],
            payload=r["payload"],
            occurred_at=r["occurred_at"],
        )
        for r in rows
    ]


def last_offset(conn: sa.Connection) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(outbox.c.event_offset), 0))
        ).scalar_one()
    )
