"""Who may act on the ledger: user accounts with a role, the restaurants a
host or manager works for, API keys for POS systems and affiliates, and the
POS webhook deliveries already taken (so a replay is refused).

Passwords arrive here already hashed (hashing is the serving layer's
business); API key secrets are random 256-bit tokens, so a plain SHA-256 of
the secret is what is stored and compared.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from booking_core import outbox
from booking_core.errors import Conflict, InvalidRequest, NotFound, UnknownRestaurant
from booking_core.guests import DinerSpec, diner_row
from booking_core.ledger import Ledger
from booking_core.schema import (
    api_keys,
    diners,
    pos_deliveries,
    restaurants,
    user_restaurants,
    users,
)


class Role(StrEnum):
    DINER = "diner"
    HOST = "host"
    MANAGER = "manager"
    ADMIN = "admin"


class KeyKind(StrEnum):
    POS = "pos"
    AFFILIATE = "affiliate"


class UnknownUser(NotFound):
    code = "unknown_user"


class ReplayedDelivery(Conflict):
    """A POS webhook delivery id that was already taken."""

    code = "replayed_delivery"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    password_hash: str
    role: Role
    diner_id: int | None
    restaurant_ids: frozenset[int]
    disabled: bool


@dataclass(frozen=True)
class ApiKey:
    id: int
    key_id: str
    secret_hash: str
    kind: KeyKind
    name: str
    restaurant_id: int | None
    revoked: bool


@dataclass(frozen=True)
class IssuedKey:
    """A new key: ``token`` is shown once and never stored."""

    key: ApiKey
    token: str


KEY_PREFIX = "ssk"


def _normal_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidRequest(f"{email!r} is not an email address.")
    return email


def _restaurant_ids(conn: sa.Connection, user_id: int) -> frozenset[int]:
    return frozenset(
        conn.execute(
            sa.select(user_restaurants.c.restaurant_id).where(user_restaurants.c.user_id == user_id)
        ).scalars()
    )


def _user(conn: sa.Connection, row: sa.Row[tuple[object, ...]] | None) -> User | None:
    if row is None:
        return None
    m = row._mapping
    return User(
        id=m["id"],
        email=m["email"],
        password_hash=m["password_hash"],
        role=Role(m["role"]),
        diner_id=m["diner_id"],
        restaurant_ids=_restaurant_ids(conn, m["id"]),
        disabled=m["disabled_at"] is not None,
    )


def create_user(
    ledger: Ledger,
    email: str,
    password_hash: str,
    role: Role | str,
    *,
    diner_id: int | None = None,
    restaurant_ids: tuple[int, ...] = (),
) -> User:
    """A staff or diner account; hosts and managers name their restaurants."""
    role = Role(role)
    email = _normal_email(email)
    if role in (Role.HOST, Role.MANAGER) and not restaurant_ids:
        raise InvalidRequest(f"A {role.value} works for at least one restaurant.")
    now = ledger.clock()
    try:
        with ledger.write() as conn:
            for rid in restaurant_ids:
                found = conn.execute(sa.select(restaurants.c.id).where(restaurants.c.id == rid))
                if found.first() is None:
                    raise UnknownRestaurant(f"There is no restaurant with id {rid}.")
            user_id = _insert_user(conn, email, password_hash, role, diner_id, now)
            if restaurant_ids:
                conn.execute(
                    user_restaurants.insert(),
                    [{"user_id": user_id, "restaurant_id": r} for r in sorted(set(restaurant_ids))],
                )
            user = _user(conn, conn.execute(sa.select(users).where(users.c.id == user_id)).first())
    except IntegrityError:
        raise InvalidRequest(f"An account with email {email!r} already exists.") from None
    assert user is not None
    return user


def _insert_user(
    conn: sa.Connection,
    email: str,
    password_hash: str,
    role: Role,
    diner_id: int | None,
    now: datetime,
) -> int:
    user_id = int(
        conn.execute(
            users.insert()
            .values(
                email=email,
                password_hash=password_hash,
                role=role.value,
                diner_id=diner_id,
                created_at=now,
            )
            .returning(users.c.id)
        ).scalar_one()
    )
    outbox.append(conn, "user.created", "user", user_id, None, {"role": role.value}, now)
    return user_id


def register_diner(ledger: Ledger, spec: DinerSpec, password_hash: str) -> User:
    """A diner signs up: their guest profile and their account, in one transaction."""
    if not spec.email:
        raise InvalidRequest("Signing up needs an email address.")
    email = _normal_email(spec.email)
    now = ledger.clock()
    try:
        with ledger.write() as conn:
            row = diner_row(DinerSpec(**{**spec.__dict__, "email": email}), now)
            diner_id = int(
                conn.execute(diners.insert().values(**row).returning(diners.c.id)).scalar_one()
            )
            outbox.append(
                conn, "diner.created", "diner", diner_id, None, {"locale": spec.locale}, now
            )
            user_id = _insert_user(conn, email, password_hash, Role.DINER, diner_id, now)
            user = _user(conn, conn.execute(sa.select(users).where(users.c.id == user_id)).first())
    except IntegrityError:
        raise InvalidRequest(f"An account with email {email!r} already exists.") from None
    assert user is not None
    return user


def find_user(ledger: Ledger, *, email: str | None = None, user_id: int | None = None) -> User:
    if (email is None) == (user_id is None):
        raise InvalidRequest("Look a user up by email or by id.")
    query = sa.select(users)
    if email is not None:
        query = query.where(users.c.email == email.strip().lower())
    else:
        query = query.where(users.c.id == user_id)
    with ledger.read() as conn:
        user = _user(conn, conn.execute(query).first())
    if user is None:
        raise UnknownUser("There is no such user.")
    return user


def disable_users_of_diner(conn: sa.Connection, diner_id: int, now: datetime) -> None:
    """Erasure: the diner's account can no longer sign in, and keeps no email."""
    ids = conn.execute(sa.select(users.c.id).where(users.c.diner_id == diner_id)).scalars()
    for user_id in list(ids):
        conn.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(email=f"erased-{user_id}@invalid", password_hash="!", disabled_at=now)
        )


# ---------------------------------------------------------------- API keys


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_key(
    ledger: Ledger, kind: KeyKind | str, name: str, *, restaurant_id: int | None = None
) -> IssuedKey:
    """A new key; a POS key belongs to one restaurant."""
    kind = KeyKind(kind)
    if kind is KeyKind.POS and restaurant_id is None:
        raise InvalidRequest("A POS key belongs to one restaurant.")
    if not name.strip() or len(name) > 100:
        raise InvalidRequest("A key needs a name of 1 to 100 characters.")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = ledger.clock()
    with ledger.write() as conn:
        if restaurant_id is not None:
            found = conn.execute(
                sa.select(restaurants.c.id).where(restaurants.c.id == restaurant_id)
            )
            if found.first() is None:
                raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
        pk = int(
            conn.execute(
                api_keys.insert()
                .values(
                    key_id=key_id,
                    secret_hash=_hash_secret(secret),
                    kind=kind.value,
                    name=name.strip(),
                    restaurant_id=restaurant_id,
                    created_at=now,
                )
                .returning(api_keys.c.id)
            ).scalar_one()
        )
    key = ApiKey(pk, key_id, _hash_secret(secret), kind, name.strip(), restaurant_id, False)
    return IssuedKey(key, f"{KEY_PREFIX}_{key_id}_{secret}")


def verify_api_key(ledger: Ledger, token: str) -> ApiKey | None:
    """The key a presented token belongs to, or None (unknown, wrong or revoked)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    _, key_id, secret = parts
    with ledger.read() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash_secret(secret)):
        return None
    return ApiKey(
        row.id, row.key_id, row.secret_hash, KeyKind(row.kind), row.name, row.restaurant_id, False
    )


def revoke_api_key(ledger: Ledger, key_id: str) -> None:
    with ledger.write() as conn:
        done = conn.execute(
            api_keys.update()
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=ledger.clock())
        )
    if done.rowcount == 0:
        raise NotFound(f"There is no active API key {key_id!r}.")


# ---------------------------------------------------------------- POS deliveries


def take_delivery(ledger: Ledger, api_key_id: int, delivery_id: str, event_type: str) -> None:
    """Record a webhook delivery before applying it; a second one is a replay."""
    if not delivery_id or len(delivery_id) > 64:
        raise InvalidRequest("A delivery id is 1 to 64 characters.")
    try:
        with ledger.write() as conn:
            conn.execute(
                pos_deliveries.insert().values(
                    api_key_id=api_key_id,
                    delivery_id=delivery_id,
                    event_type=event_type,
                    received_at=ledger.clock(),
                )
            )
    except IntegrityError:
        raise ReplayedDelivery(
            f"Delivery {delivery_id!r} was already received; a replay is refused."
        ) from None


def give_back_delivery(ledger: Ledger, api_key_id: int, delivery_id: str) -> None:
    """The delivery could not be applied: forget it so the sender may retry."""
    with ledger.write() as conn:
        conn.execute(
            pos_deliveries.delete().where(
                pos_deliveries.c.api_key_id == api_key_id,
                pos_deliveries.c.delivery_id == delivery_id,
            )
        )


__all__ = [
    "ApiKey",
    "IssuedKey",
    "KeyKind",
    "ReplayedDelivery",
    "Role",
    "UnknownUser",
    "User",
    "create_user",
    "disable_users_of_diner",
    "find_user",
    "give_back_delivery",
    "issue_api_key",
    "register_diner",
    "revoke_api_key",
    "take_delivery",
    "verify_api_key",
]
