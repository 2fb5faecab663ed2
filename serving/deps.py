"""Dependencies as ``Annotated`` aliases, so routes read as what they need:
``ledger: LedgerDep``, ``who: CurrentPrincipal``."""

from __future__ import annotations

import time
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import KeyKind, Role, verify_api_key
from booking_core.ledger import Ledger
from booking_core.schema import users
from serving.attendance import AttendanceScorer
from serving.booking_writer import BookingWriter
from serving.champions import Champions
from serving.config import ServingSettings
from serving.forecasts import ForecastBook
from serving.problems import ApiProblem
from serving.security import BadToken, Principal, read_access_token

TOKEN_URL = "/api/v1/auth/token"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_settings(request: Request) -> ServingSettings:
    settings: ServingSettings = request.app.state.settings
    return settings


async def get_champions(request: Request) -> Champions:
    champions: Champions = request.app.state.champions
    return champions


async def get_scorer(request: Request) -> AttendanceScorer:
    scorer: AttendanceScorer = request.app.state.attendance
    return scorer


async def get_booking_writer(request: Request) -> BookingWriter:
    writer: BookingWriter = request.app.state.booking_writer
    return writer


async def get_forecasts(request: Request) -> ForecastBook:
    book: ForecastBook = request.app.state.forecasts
    return book


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[ServingSettings, Depends(get_settings)]
ChampionsDep = Annotated[Champions, Depends(get_champions)]
ScorerDep = Annotated[AttendanceScorer, Depends(get_scorer)]
ForecastsDep = Annotated[ForecastBook, Depends(get_forecasts)]
BookingWriterDep = Annotated[BookingWriter, Depends(get_booking_writer)]

_ACTIVE = sa.select(users.c.id).where(
    users.c.id == sa.bindparam("id"), users.c.disabled_at.is_(None)
)


def _unauthenticated(detail: str) -> ApiProblem:
    return ApiProblem(401, "not_authenticated", detail, {"WWW-Authenticate": "Bearer"})


class ActiveAccounts:
    """Whether a signed-in account is still enabled, asked of the ledger at
    most once per ``ttl_seconds`` per account: every request carries a valid
    token, and a query per request for an answer that changes once in an
    account's life was a thread hop and a read on every call. Disabling an
    account takes effect within ``ttl_seconds``."""

    def __init__(self, ttl_seconds: float = 2.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._checked: dict[int, float] = {}

    def known_active(self, user_id: int) -> bool:
        checked = self._checked.get(user_id)
        return checked is not None and time.monotonic() - checked < self.ttl_seconds

    def check(self, ledger: Ledger, user_id: int) -> bool:
        with ledger.read() as conn:
            active = conn.execute(_ACTIVE, {"id": user_id}).first() is not None
        if active:
            if len(self._checked) > 100_000:  # a bound, not an eviction policy
                self._checked.clear()
            self._checked[user_id] = time.monotonic()
        else:
            self._checked.pop(user_id, None)
        return active

    def forget(self) -> None:
        """After an account is closed here: this worker asks the ledger again."""
        self._checked.clear()


async def get_active_accounts(request: Request) -> ActiveAccounts:
    accounts: ActiveAccounts = request.app.state.active_accounts
    return accounts


ActiveAccountsDep = Annotated[ActiveAccounts, Depends(get_active_accounts)]


async def current_principal(
    ledger: LedgerDep,
    settings: SettingsDep,
    accounts: ActiveAccountsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """Async, so that a request whose caller is known does not pay a thread
    hop before its route runs; reads of the ledger go to the thread pool."""
    if api_key:
        key = await run_in_threadpool(verify_api_key, ledger, api_key)
        if key is None:
            raise _unauthenticated("The API key is not valid or was revoked.")
        return Principal(
            subject=f"key:{key.key_id}",
            role=None,
            restaurant_ids=frozenset({key.restaurant_id} if key.restaurant_id else ()),
            api_key_kind=key.kind.value,
            api_key_id=key.id,
        )
    if not token:
        raise _unauthenticated("Sign in (an OAuth2 bearer token) or present an API key.")
    try:
        principal = read_access_token(token, settings.secret_key.get_secret_value())
    except BadToken as exc:
        raise _unauthenticated(str(exc)) from None
    user_id = principal.user_id
    if (
        user_id is not None
        and not accounts.known_active(user_id)
        and not await run_in_threadpool(accounts.check, ledger, user_id)
    ):
        raise _unauthenticated("This account is disabled.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, "forbidden", detail)


def require_staff_of(who: Principal, restaurant_id: int) -> None:
    """Hosts and managers act only for their own restaurants."""
    if not who.may_run(restaurant_id):
        raise forbidden(f"You do not work for restaurant {restaurant_id}.")


def require_role(who: Principal, *roles: Role) -> None:
    if who.role not in roles and not who.is_admin:
        names = ", ".join(r.value for r in roles)
        raise forbidden(f"Only {names} may do this.")


def require_key(who: Principal, kind: KeyKind) -> None:
    if who.api_key_kind != kind.value:
        raise forbidden(f"This needs a {kind.value} API key.")


# Ids as the ledger stores them (32-bit); a larger number is a 422, not a driver error.
MAX_ID = 2_147_483_647
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
