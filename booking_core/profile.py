"""A restaurant's profile and booking policy: what a diner reads before
booking (the listing, the deposit and cancellation terms) and what its
manager keeps up to date.

The time zone, currency and country are fixed once the restaurant exists:
every past night, deposit and report is read in them, so changing one is a
data migration, not an edit. The rating comes from moderated reviews."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from booking_core import outbox
from booking_core.availability import get_floor
from booking_core.errors import InvalidRequest, UnknownRestaurant
from booking_core.ledger import Ledger
from booking_core.restaurants import (
    PROFILE_CHECKS,
    bump_floor,
    check_deposit_policy,
    check_profile,
)
from booking_core.schema import dining_areas, restaurants

# Fields a manager edits; the others in PROFILE_CHECKS are set at creation.
EDITABLE = (
    "name",
    "description",
    "cuisines",
    "menu_highlights",
    "ambience",
    "price_tier",
    "latitude",
    "longitude",
    "address",
    "city",
    "deposit_min_party",
    "deposit_per_cover_minor",
    "card_hold_minor",
    "cancellation_fee_minor",
    "cancellation_window_hours",
    "deposit_pay_within_minutes",
    "deposit_risk_threshold",
    "deposit_risk_control_share",
)
FIXED = {
    "timezone": "every past night and report is read in it",
    "currency": "deposits and checks already taken are in it",
    "country": "its holidays shape the demand forecasts",
    "locale": "it is set when the restaurant is created",
    "rating": "it comes from moderated reviews",
}


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    description: str
    cuisines: tuple[str, ...]
    menu_highlights: tuple[str, ...]
    ambience: str
    price_tier: int
    rating: float | None
    latitude: float
    longitude: float
    address: str
    city: str
    country: str
    timezone: str
    currency: str
    locale: str
    deposit_min_party: int | None
    deposit_per_cover_minor: int
    card_hold_minor: int
    cancellation_fee_minor: int
    cancellation_window_hours: int
    deposit_pay_within_minutes: int
    deposit_risk_threshold: float | None
    deposit_risk_control_share: float
    areas: tuple[str, ...]
    largest_party: int
    created_at: datetime


def _profile(conn: sa.Connection, ledger: Ledger, restaurant_id: int) -> Profile:
    row = conn.execute(sa.select(restaurants).where(restaurants.c.id == restaurant_id)).first()
    if row is None:
        raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
    r = row._mapping
    areas = conn.execute(
        sa.select(dining_areas.c.name)
        .where(dining_areas.c.restaurant_id == restaurant_id)
        .order_by(dining_areas.c.id)
    ).scalars()
    fields = {name: r[name] for name in (*PROFILE_CHECKS, "timezone", "currency", "rating")}
    return Profile(
        **{
            **fields,
            "cuisines": tuple(r["cuisines"] or ()),
            "menu_highlights": tuple(r["menu_highlights"] or ()),
        },
        id=restaurant_id,
        areas=tuple(areas),
        # What a diner can book online: tables in service and combinations.
        largest_party=get_floor(ledger, conn, restaurant_id).largest_party,
        created_at=r["created_at"],
    )


def get_profile(ledger: Ledger, restaurant_id: int) -> Profile:
    with ledger.read() as conn:
        return _profile(conn, ledger, restaurant_id)


def update_profile(ledger: Ledger, restaurant_id: int, changes: Mapping[str, Any]) -> Profile:
    """Change the fields named in ``changes`` (``EDITABLE``); the others keep
    their values. A new deposit or cancellation policy applies to bookings
    made from now on: those already taken keep the terms they were booked
    under. One ``restaurant.profile_changed`` event lists each changed
    field's old and new value; nothing changed, nothing is written."""
    fixed = sorted(set(changes) & set(FIXED))
    if fixed:
        name = fixed[0]
        raise InvalidRequest(f"{name} cannot be changed: {FIXED[name]}.")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(unknown)}.")
    values = {k: _plain(v) for k, v in changes.items()}
    check_profile(values)
    if "name" in values:
        values["name"] = str(values["name"]).strip()
    with ledger.write() as conn:
        before = _profile(conn, ledger, restaurant_id)
        # Checked field by field above; now the two together.
        check_deposit_policy(
            cast(int, values.get("deposit_per_cover_minor", before.deposit_per_cover_minor)),
            cast(
                "float | None", values.get("deposit_risk_threshold", before.deposit_risk_threshold)
            ),
        )
        changed = {k: v for k, v in values.items() if _plain(getattr(before, k)) != v}
        if not changed:
            return before
        conn.execute(restaurants.update().where(restaurants.c.id == restaurant_id).values(changed))
        # The floor carries the name and the deposit policy a booking reads.
        bump_floor(conn, restaurant_id)
        outbox.append(
            conn,
            "restaurant.profile_changed",
            "restaurant",
            restaurant_id,
            restaurant_id,
            {
                k: {"from": _plain(getattr(before, k)), "to": _plain(v)}
                for k, v in sorted(changed.items())
            },
            ledger.clock(),
        )
    # Read after commit: the floor cache must never hold an uncommitted floor.
    return get_profile(ledger, restaurant_id)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value
