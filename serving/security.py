"""Passwords (argon2 through pwdlib), access tokens (JWT through PyJWT) and
webhook signatures, the POS's and the payment provider's (HMAC-SHA256 over
the timestamp and the raw body)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from booking_core.accounts import Role, User

ALGORITHM = "HS256"
ISSUER = "servicesphere"
AUDIENCE = "servicesphere-api"

_passwords = PasswordHash((Argon2Hasher(),))
# Verified against when the email is unknown, so a wrong email costs as much
# time as a wrong password and does not reveal which accounts exist.
_DUMMY_HASH = _passwords.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None or not password_hash.startswith("$argon2"):
        _passwords.verify(password, _DUMMY_HASH)
        return False
    return bool(_passwords.verify(password, password_hash))


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user, or a machine holding an API key."""

    subject: str
    role: Role | None  # None for API keys
    user_id: int | None = None
    diner_id: int | None = None
    restaurant_ids: frozenset[int] = frozenset()
    api_key_kind: str | None = None
    api_key_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_run(self, restaurant_id: int) -> bool:
        """Staff of that restaurant (or an admin)."""
        return self.is_admin or (
            self.role in (Role.HOST, Role.MANAGER) and restaurant_id in self.restaurant_ids
        )


def create_access_token(user: User, secret: str, minutes: int, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "role": user.role.value,
        "rids": sorted(user.restaurant_ids),
        "did": user.diner_id,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class BadToken(Exception):
    """The token is malformed, tampered with, expired or not ours."""


def read_access_token(token: str, secret: str) -> Principal:
    """The caller a token names. A token seen before is not verified again
    (its signature cannot have changed; its expiry is checked every time):
    decoding and verifying costs more than the rest of a cheap request."""
    principal, expires = _verified(token, secret)
    if expires <= time.time():
        raise BadToken("The access token has expired; sign in again.")
    return principal


@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        role = Role(claims["role"])
        user_id = int(claims["sub"])
        rids = frozenset(int(r) for r in claims.get("rids") or ())
        diner_id = claims.get("did")
    except jwt.ExpiredSignatureError as exc:
        raise BadToken("The access token has expired; sign in again.") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as exc:
        raise BadToken("The access token is not valid.") from exc
    principal = Principal(
        subject=f"user:{user_id}",
        role=role,
        user_id=user_id,
        diner_id=int(diner_id) if diner_id is not None else None,
        restaurant_ids=rids,
    )
    return principal, float(claims["exp"])


# ---------------------------------------------------------------- webhooks


def webhook_secret(server_secret: str, key_id: str) -> str:
    """The signing secret of one POS key, derived from the server's secret so
    nothing that can forge a signature is stored in the ledger."""
    return hmac.new(server_secret.encode(), f"pos-webhook:{key_id}".encode(), "sha256").hexdigest()


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def parse_signature(header: str) -> tuple[int, str] | None:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        return int(parts["t"]), parts["v1"]
    except (KeyError, ValueError):
        return None


def signature_matches(secret: str, header: str, body: bytes) -> int | None:
    """The signed timestamp if the signature is right, else None."""
    parsed = parse_signature(header)
    if parsed is None:
        return None
    timestamp, given = parsed
    expected = sign_webhook(secret, timestamp, body).split("v1=", 1)[1]
    return timestamp if hmac.compare_digest(expected, given) else None


def signature_refused(
    secret: str, header: str, body: bytes, tolerance_seconds: int, now: float | None = None
) -> str | None:
    """Why a delivery is refused: not signed with ``secret`` over this exact
    body, or signed too long ago (or ahead) to be anything but a replay.
    None: it is signed right, within the tolerance (wall-clock seconds)."""
    signed_at = signature_matches(secret, header, body)
    if signed_at is None:
        return "The signature does not match the body."
    if abs((time.time() if now is None else now) - signed_at) > tolerance_seconds:
        return "The signature is too old (or from the future); a replay is refused."
    return None
