"""A diner's rights over their data (GDPR): a full export, and erasure.

Erasure removes what identifies the person (name, contact, dietary needs,
notes, tags, free text on their bookings and reviews) and disables their
account. The bookings themselves stay, anonymous: they are the restaurant's
business records and the models' history, and hold nothing personal after
erasure. It is one transaction, recorded in the outbox without personal data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from booking_core import outbox
from booking_core.accounts import disable_users_of_diner
from booking_core.errors import UnknownDiner
from booking_core.ledger import Ledger
from booking_core.schema import (
    diners,
    guest_notes,
    guest_tags,
    reservations,
    reviews,
    turnaways,
    users,
    waitlist_entries,
)

ERASED_NAME = "(erased)"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(conn: sa.Connection, query: sa.Select[Any]) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in r.items()} for r in conn.execute(query).mappings()]


def export_diner(ledger: Ledger, diner_id: int) -> dict[str, Any]:
    """Everything the ledger holds about a diner, as JSON-ready data."""
    with ledger.read() as conn:
        profile = _rows(conn, sa.select(diners).where(diners.c.id == diner_id))
        if not profile:
            raise UnknownDiner(f"There is no diner with id {diner_id}.")
        account = _rows(
            conn,
            sa.select(users.c.id, users.c.email, users.c.role, users.c.created_at).where(
                users.c.diner_id == diner_id
            ),
        )
        return {
            "profile": profile[0],
            "accounts": account,
            "reservations": _rows(
                conn,
                sa.select(reservations)
                .where(reservations.c.diner_id == diner_id)
                .order_by(reservations.c.start_at),
            ),
            "waitlist": _rows(
                conn, sa.select(waitlist_entries).where(waitlist_entries.c.diner_id == diner_id)
            ),
            "notes": _rows(conn, sa.select(guest_notes).where(guest_notes.c.diner_id == diner_id)),
            "tags": _rows(conn, sa.select(guest_tags).where(guest_tags.c.diner_id == diner_id)),
            "reviews": _rows(conn, sa.select(reviews).where(reviews.c.diner_id == diner_id)),
            "turned_away": _rows(
                conn, sa.select(turnaways).where(turnaways.c.diner_id == diner_id)
            ),
        }


def erase_diner(ledger: Ledger, diner_id: int, *, requested_by: str) -> None:
    """Erase a diner's personal data (idempotent: erasing twice is fine)."""
    now = ledger.clock()
    with ledger.write() as conn:
        found = conn.execute(sa.select(diners.c.id).where(diners.c.id == diner_id)).first()
        if found is None:
            raise UnknownDiner(f"There is no diner with id {diner_id}.")
        conn.execute(
            diners.update()
            .where(diners.c.id == diner_id)
            .values(
                name=ERASED_NAME,
                email=None,
                phone=None,
                dietary=[],
                allergies=[],
                seating_preferences=[],
                marketing_consent=False,
                home_latitude=None,
                home_longitude=None,
                erased_at=now,
            )
        )
        conn.execute(guest_notes.delete().where(guest_notes.c.diner_id == diner_id))
        conn.execute(guest_tags.delete().where(guest_tags.c.diner_id == diner_id))
        conn.execute(
            reservations.update()
            .where(reservations.c.diner_id == diner_id)
            .values(guest_name="", special_requests="")
        )
        conn.execute(
            waitlist_entries.update()
            .where(waitlist_entries.c.diner_id == diner_id)
            .values(guest_name="", phone=None)
        )
        conn.execute(reviews.update().where(reviews.c.diner_id == diner_id).values(text=""))
        # The requests stay as demand; who asked does not.
        conn.execute(
            turnaways.update().where(turnaways.c.diner_id == diner_id).values(diner_id=None)
        )
        disable_users_of_diner(conn, diner_id, now)
        outbox.append(conn, "diner.erased", "diner", diner_id, None, {"by": requested_by}, now)


__all__ = ["ERASED_NAME", "erase_diner", "export_diner"]
