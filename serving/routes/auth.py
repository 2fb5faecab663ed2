"""Signing in (OAuth2 password flow), diner sign-up, staff accounts and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from booking_core.accounts import (
    KeyKind,
    Role,
    UnknownUser,
    User,
    create_user,
    find_user,
    issue_api_key,
    register_diner,
)
from booking_core.guests import DinerSpec
from serving.deps import CurrentPrincipal, LedgerDep, SettingsDep, require_role
from serving.problems import ApiProblem
from serving.security import (
    create_access_token,
    hash_password,
    verify_password,
    webhook_secret,
)

router = APIRouter(prefix="/auth", tags=["auth"])
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserPublic(BaseModel):
    id: int
    email: str
    role: Role
    diner_id: int | None
    restaurant_ids: list[int]

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            id=user.id,
            email=user.email,
            role=user.role,
            diner_id=user.diner_id,
            restaurant_ids=sorted(user.restaurant_ids),
        )


class DinerSignUp(BaseModel):
    email: Email
    password: str = Field(min_length=10, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    locale: str = Field(default="en-US", max_length=16)


class StaffCreate(BaseModel):
    email: Email
    password: str = Field(min_length=10, max_length=200)
    role: Role
    restaurant_ids: list[int] = Field(default_factory=list, max_length=100)


class ApiKeyCreate(BaseModel):
    kind: KeyKind
    name: str = Field(min_length=1, max_length=100)
    restaurant_id: int | None = None


class ApiKeyIssued(BaseModel):
    key_id: str
    kind: KeyKind
    restaurant_id: int | None
    api_key: str = Field(description="Shown once: send it as X-API-Key")
    webhook_secret: str | None = Field(
        description="POS keys: the secret that signs webhooks (shown once)"
    )


@router.post("/token", response_model=Token)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], ledger: LedgerDep, settings: SettingsDep
) -> Token:
    """Exchange email (as ``username``) and password for a bearer token."""
    try:
        user = find_user(ledger, email=form.username)
    except UnknownUser:
        user = None
    if user is None or user.disabled or not verify_password(form.password, user.password_hash):
        raise ApiProblem(
            401, "bad_credentials", "Wrong email or password.", {"WWW-Authenticate": "Bearer"}
        )
    minutes = settings.access_token_minutes
    token = create_access_token(user, settings.secret_key.get_secret_value(), minutes)
    return Token(access_token=token, expires_in=minutes * 60)


@router.post("/register", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def sign_up(body: DinerSignUp, ledger: LedgerDep) -> UserPublic:
    """A diner creates an account (and with it their guest profile)."""
    spec = DinerSpec(name=body.name, email=body.email, phone=body.phone, locale=body.locale)
    return UserPublic.of(register_diner(ledger, spec, hash_password(body.password)))


@router.get("/me", response_model=UserPublic)
def me(who: CurrentPrincipal, ledger: LedgerDep) -> UserPublic:
    if who.user_id is None:
        raise ApiProblem(403, "forbidden", "API keys have no user account.")
    return UserPublic.of(find_user(ledger, user_id=who.user_id))


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_staff(body: StaffCreate, who: CurrentPrincipal, ledger: LedgerDep) -> UserPublic:
    """Admins create host, manager and admin accounts."""
    require_role(who, Role.ADMIN)
    user = create_user(
        ledger,
        body.email,
        hash_password(body.password),
        body.role,
        restaurant_ids=tuple(body.restaurant_ids),
    )
    return UserPublic.of(user)


@router.post("/api-keys", response_model=ApiKeyIssued, status_code=status.HTTP_201_CREATED)
def create_api_key(
    body: ApiKeyCreate, who: CurrentPrincipal, ledger: LedgerDep, settings: SettingsDep
) -> ApiKeyIssued:
    """Admins issue keys: POS keys for one restaurant, affiliate keys."""
    require_role(who, Role.ADMIN)
    issued = issue_api_key(ledger, body.kind, body.name, restaurant_id=body.restaurant_id)
    secret = None
    if issued.key.kind is KeyKind.POS:
        secret = webhook_secret(settings.secret_key.get_secret_value(), issued.key.key_id)
    return ApiKeyIssued(
        key_id=issued.key.key_id,
        kind=issued.key.kind,
        restaurant_id=issued.key.restaurant_id,
        api_key=issued.token,
        webhook_secret=secret,
    )
