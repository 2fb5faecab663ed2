"""The outbox: every state change appends an event in the writer's transaction.

Consumers read forward from an offset, so offsets must become visible in
order: a reader that saw 11 committed while 10 was still in flight would
acknowledge past 10 and lose it. SQLite has one writer at a time, so offset
order is commit order. On PostgreSQL, offsets come from a sequence before
commit; a writer therefore takes a transaction-scoped advisory lock before
its first event and holds it to commit, which makes the committed events a
prefix of the offsets at every moment. The lock covers only the tail of a
transaction (its events and the commit); writers of different restaurants
still do their checks in parallel. Beyond one PostgreSQL primary, the outbox
is relayed to Kafka (see the design) rather than read by offset.
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
# Any constant will do; it only has to be the same for every writer.
FEED_LOCK_KEY = 0x53535F4F5554  # "SS_OUT"
_FEED_LOCK = sa.text(f"SELECT pg_advisory_xact_lock({FEED_LOCK_KEY})")


def hold_feed(conn: sa.Connection) -> int | None:
    """Take the feed lock (PostgreSQL) and return the transaction id to record
    on events written in bulk; a no-op returning None on SQLite."""
    if conn.dialect.name != "postgresql":
        return None
    conn.execute(_FEED_LOCK)
    return int(conn.execute(sa.text("SELECT pg_current_xact_id()::text::bigint")).scalar_one())


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
    if conn.dialect.name == "postgresql":
        conn.execute(_FEED_LOCK)  # re-entrant within the transaction
        conn.execute(_INSERT_PG, values)
    else:
        conn.execute(_INSERT, values)


def read_events(
    conn: sa.Connection, after: int = 0, limit: int = 1000, *, entity: str | None = None
) -> list[Event]:
    """Events with offset > ``after``, oldest first, safe to acknowledge in order."""
    query = sa.select(outbox).where(outbox.c.event_offset > after)
    if entity is not None:
        query = query.where(outbox.c.entity == entity)
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
