"""A restaurant joining the platform and keeping its listing up to date.

An admin creates the restaurant in one call: its profile, booking policy,
floor (tables and combinations) and weekly hours, checked as a whole before
anything is written. Then ``POST /auth/users`` gives it a manager, who edits
the profile and policy (``PATCH``), the hours, special dates, tables and
seating settings through their own resources. Anyone reads the profile: it
is the page a diner sees before booking, deposit and cancellation terms
included."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import Role
from booking_core.deposits import CONTROL_SHARE, PAY_WITHIN_MINUTES, RISK_THRESHOLD
from booking_core.profile import Profile, get_profile, update_profile
from booking_core.restaurants import RestaurantSpec, add_restaurant
from serving.deps import CurrentPrincipal, LedgerDep, PathId, require_role, require_staff_of
from serving.routes.floor_plan import CombinationIn, TableIn
from serving.routes.hours import PeriodIn

router = APIRouter(prefix="/restaurants", tags=["restaurants"])

# Limits as the booking core checks them (``booking_core.restaurants.PROFILE_CHECKS``),
# repeated here only where the schema should show them to a client.
Label = Annotated[str, Field(min_length=1, max_length=60)]
Highlight = Annotated[str, Field(min_length=1, max_length=120)]
Money = Annotated[int, Field(ge=0, le=100_000_000, description="Minor units (pence, cents, yen)")]
PAY_WITHIN_DOC = (
    "Minutes a diner has to pay a deposit once booked (never later than the booking's "
    "start); a booking still owing it then is released"
)
PayWithin = Annotated[
    int, Field(ge=PAY_WITHIN_MINUTES[0], le=PAY_WITHIN_MINUTES[1], description=PAY_WITHIN_DOC)
]
RISK_THRESHOLD_DOC = (
    "Also ask the per-cover deposit of any booking whose no-show risk, scored as it is "
    "made (the attendance model, as if no deposit were asked), is at least this "
    "probability; null: by party size only. Needs deposit_per_cover_minor above 0"
)
CONTROL_SHARE_DOC = (
    "The share of bookings at or over deposit_risk_threshold left without a deposit, drawn "
    "at random, as a control group: their no-show rate against that of the bookings asked "
    "is what the deposit does here (the risk report shows both); 0 to 0.5"
)
ControlShare = Annotated[
    float, Field(ge=CONTROL_SHARE[0], le=CONTROL_SHARE[1], description=CONTROL_SHARE_DOC)
]
RiskThreshold = Annotated[
    float, Field(ge=RISK_THRESHOLD[0], le=RISK_THRESHOLD[1], description=RISK_THRESHOLD_DOC)
]


class BookingPolicy(BaseModel):
    deposit_min_party: int | None = Field(
        default=None,
        ge=1,
        le=40,
        description="A deposit is taken per cover from this party size up (null: never)",
    )
    deposit_per_cover_minor: Money = 0
    card_hold_minor: Money = 0
    cancellation_fee_minor: Money = Field(
        default=0, description="Charged for a cancellation inside the window (minor units)"
    )
    cancellation_window_hours: int = Field(default=24, ge=0, le=720)
    deposit_pay_within_minutes: PayWithin = 60
    deposit_risk_threshold: RiskThreshold | None = None
    deposit_risk_control_share: ControlShare = 0.0


class RestaurantCreate(BookingPolicy):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Bistro du Coin"])
    description: str = Field(default="", max_length=5000)
    cuisines: list[Label] = Field(min_length=1, max_length=12, examples=[["french"]])
    menu_highlights: list[Highlight] = Field(default_factory=list, max_length=20)
    ambience: str = Field(default="casual", min_length=1, max_length=40)
    price_tier: int = Field(ge=1, le=4)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address: str = Field(default="", max_length=300)
    city: str = Field(default="", max_length=100)
    country: str = Field(pattern=r"^[A-Z]{2}$", examples=["GB"])
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/London"])
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["GBP"])
    locale: str = Field(min_length=2, max_length=16, examples=["en-GB"])
    tables: list[TableIn] = Field(min_length=1, max_length=500)
    combinations: list[CombinationIn] = Field(default_factory=list, max_length=200)
    periods: list[PeriodIn] = Field(
        min_length=1, max_length=50, description="The weekly hours (as PUT .../hours)"
    )
    external_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Your own reference for it (a group or POS id); a second restaurant "
        "with the same one is refused with 409",
    )

    def spec(self) -> RestaurantSpec:
        dumped = self.model_dump(exclude={"tables", "combinations", "periods"})
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in dumped.items()
        }
        return RestaurantSpec(
            **fields,
            tables=tuple(t.spec() for t in self.tables),
            combinations=tuple(c.spec() for c in self.combinations),
            periods=tuple(p.spec() for p in self.periods),
        )


class ProfileChange(BaseModel):
    """Only the fields sent change. Time zone, currency and country are fixed
    once the restaurant exists; the rating comes from reviews."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    cuisines: list[Label] | None = Field(default=None, min_length=1, max_length=12)
    menu_highlights: list[Highlight] | None = Field(default=None, max_length=20)
    ambience: str | None = Field(default=None, min_length=1, max_length=40)
    price_tier: int | None = Field(default=None, ge=1, le=4)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=100)
    deposit_min_party: int | None = Field(
        default=None, ge=1, le=40, description="null: no deposit from now on"
    )
    deposit_per_cover_minor: Money | None = None
    card_hold_minor: Money | None = None
    cancellation_fee_minor: Money | None = None
    cancellation_window_hours: int | None = Field(default=None, ge=0, le=720)
    deposit_pay_within_minutes: PayWithin | None = Field(
        default=None, description=PAY_WITHIN_DOC + "; a change applies to bookings made after it"
    )
    deposit_risk_threshold: RiskThreshold | None = Field(
        default=None, description=RISK_THRESHOLD_DOC + "; null turns it off"
    )
    deposit_risk_control_share: ControlShare | None = None

    def changes(self) -> dict[str, Any]:
        # Only what was sent. null clears the deposit thresholds; for any other
        # field the booking core refuses it, naming the field.
        return self.model_dump(exclude_unset=True)


class RestaurantDetail(BookingPolicy):
    id: int
    name: str
    description: str
    cuisines: list[str]
    menu_highlights: list[str]
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
    areas: list[str]
    largest_party: int = Field(
        description="The largest party one table or combination in service seats; larger "
        "ones are private-event enquiries"
    )
    created_at: datetime

    @classmethod
    def of(cls, p: Profile) -> RestaurantDetail:
        return cls(
            **{
                **p.__dict__,
                "cuisines": list(p.cuisines),
                "menu_highlights": list(p.menu_highlights),
                "areas": list(p.areas),
            }
        )


@router.post("", response_model=RestaurantDetail, status_code=status.HTTP_201_CREATED)
async def create(
    body: RestaurantCreate,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    request: Request,
    response: Response,
) -> RestaurantDetail:
    """A new restaurant with its floor and hours (admins). Everything is
    checked before anything is written: a refusal names the field and
    leaves nothing behind. It is searchable and bookable at once."""
    require_role(who, Role.ADMIN)
    spec = body.spec()
    restaurant_id = await run_in_threadpool(add_restaurant, ledger, spec)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{restaurant_id}"
    return RestaurantDetail.of(await run_in_threadpool(get_profile, ledger, restaurant_id))


@router.get("/{restaurant_id}", response_model=RestaurantDetail)
async def read(restaurant_id: PathId, ledger: LedgerDep) -> RestaurantDetail:
    """The restaurant's page: profile, areas, the largest party it seats and
    its deposit and cancellation terms (public)."""
    return RestaurantDetail.of(await run_in_threadpool(get_profile, ledger, restaurant_id))


@router.patch("/{restaurant_id}", response_model=RestaurantDetail)
async def change(
    restaurant_id: PathId, body: ProfileChange, who: CurrentPrincipal, ledger: LedgerDep
) -> RestaurantDetail:
    """Edit the profile or booking policy (the restaurant's managers). A new
    deposit or cancellation policy applies to bookings made from now on;
    those already taken keep their terms."""
    require_staff_of(who, restaurant_id)
    require_role(who, Role.MANAGER)
    profile = await run_in_threadpool(update_profile, ledger, restaurant_id, body.changes())
    return RestaurantDetail.of(profile)
