"""Reservations: book (safe to retry with an ``Idempotency-Key``), read,
change, cancel, and move through the host's states."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from booking_core.accounts import KeyKind, Role
from booking_core.availability import get_floor
from booking_core.bookings import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, list_reservations
from booking_core.cancellation_terms import Fee, FeeReason, Terms
from booking_core.deposits import DepositReason, DepositStatus
from booking_core.domain import CancelledBy, Channel, ReservationState
from booking_core.freed_tables import SeatingSuggestion, suggest_seating
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    get_reservation,
    modify,
)
from serving.deps import (
    MAX_ID,
    BodyId,
    BookingWriterDep,
    ChampionsDep,
    CurrentPrincipal,
    LedgerDep,
    PathId,
    ScorerDep,
    forbidden,
    require_staff_of,
)
from serving.problems import ApiProblem
from serving.risk_deposits import may_ask_by_risk, with_no_show_risk
from serving.security import Principal

# Fields named date and time would shadow the types inside a class body.
LocalDate = date
LocalTime = time
router = APIRouter(prefix="/reservations", tags=["reservations"])


class ReservationCreate(BaseModel):
    restaurant_id: BodyId
    date: LocalDate
    time: LocalTime
    party_size: int = Field(ge=1, le=40)
    diner_id: BodyId | None = Field(
        default=None, description="Staff only; diners book as themselves"
    )
    guest_name: str = Field(default="", max_length=200)
    special_requests: str = Field(default="", max_length=2000)
    accessible: bool = False


class ReservationUpdate(BaseModel):
    date: LocalDate | None = None
    time: LocalTime | None = None
    party_size: int | None = Field(default=None, ge=1, le=40)


class ReservationCancel(BaseModel):
    by: CancelledBy | None = Field(default=None, description="Staff may cancel for the restaurant")


class StateChange(BaseModel):
    state: ReservationState


class CancellationTermsPublic(BaseModel):
    """The terms the booking was made under (later changes to the
    restaurant's terms do not reach it)."""

    fee_minor: int = Field(description="The cancellation fee, minor units")
    window_hours: int = Field(description="A diner's cancellation this close to the start is late")
    free_until: datetime = Field(
        description="A diner's cancellation up to this instant is free; a change of booking "
        "after it does not move it"
    )
    amount_due_minor: int = Field(
        description="What a late cancellation or a no-show costs: the fee, or the deposit "
        "when that is larger (the deposit is kept, not charged on top)"
    )
    deposit_from_party: int | None = Field(
        description="The deposit policy it was booked under, by which a change of party size "
        "is priced: a deposit per cover from this party size (null: none)"
    )
    deposit_per_cover_minor: int

    @classmethod
    def of(cls, t: Terms) -> CancellationTermsPublic:
        return cls(
            fee_minor=t.fee_minor,
            window_hours=t.window_hours,
            free_until=t.free_until,
            amount_due_minor=t.amount_due_minor,
            deposit_from_party=t.deposit_min_party,
            deposit_per_cover_minor=t.deposit_per_cover_minor,
        )


class FeePublic(BaseModel):
    amount_minor: int
    reason: FeeReason
    due: bool = Field(description="False once the restaurant waived it")
    waived_at: datetime | None

    @classmethod
    def of(cls, f: Fee) -> FeePublic:
        return cls(amount_minor=f.amount_minor, reason=f.reason, due=f.due, waived_at=f.waived_at)


class DepositPublic(BaseModel):
    """The booking's deposit: what it asks, what was paid and by when
    (``booking_core.deposits``). Held = paid - refunded."""

    amount_minor: int = Field(description="What the booking asks now, minor units (0: none)")
    paid_minor: int = Field(description="Every payment received towards it")
    refunded_minor: int = Field(
        description="Given back while the booking stood (a smaller party asks less)"
    )
    held_minor: int = Field(description="What is held now: paid less refunded")
    outstanding_minor: int = Field(description="Still to pay: the amount less what is held")
    due_at: datetime | None = Field(
        description="Pay by this instant (never after the start) or the restaurant releases "
        "the booking; null when nothing was ever owed"
    )
    paid_at: datetime | None = Field(description="When it was last paid in full")
    status: DepositStatus = Field(
        description="none: not asked; pending: owed by due_at; paid: held in full; applied: "
        "went to the bill; kept: against a fee; refunded: given back; unpaid: the booking "
        "ended with nothing held"
    )
    reason: DepositReason | None = Field(
        default=None,
        description="Why it is asked: party_size, the restaurant asks it of parties this "
        "large; risk, the restaurant asks it of bookings its no-show model scores at or above "
        "its threshold; null when none is asked",
    )

    @classmethod
    def of(cls, r: Reservation) -> DepositPublic:
        d = r.deposit
        return cls(
            amount_minor=d.amount_minor,
            paid_minor=d.paid_minor,
            refunded_minor=d.refunded_minor,
            held_minor=d.held_minor,
            outstanding_minor=d.outstanding_minor,
            due_at=d.due_at,
            paid_at=d.paid_at,
            status=r.deposit_status,
            reason=r.deposit_reason,
        )


class ReservationPublic(BaseModel):
    id: int
    restaurant_id: int
    diner_id: int | None
    guest_name: str
    service_date: date
    start_at: datetime
    end_at: datetime
    party_size: int
    channel: str
    state: ReservationState
    cancelled_by: CancelledBy | None = Field(
        default=None,
        description="Who cancelled it: the diner, or the restaurant (a deposit left unpaid "
        "past its deadline is released so); null unless cancelled",
    )
    table_ids: list[int]
    special_requests: str
    deposit_required: bool
    deposit_minor: int
    currency: str
    overbooked: bool = Field(
        default=False,
        description="Taken beyond the tables by predictive overbooking: no table is held "
        "until the host seats the party when one frees",
    )
    cancellation_terms: CancellationTermsPublic
    fee: FeePublic | None = Field(
        default=None,
        description="The fee the terms made due (a diner's late cancellation, a no-show)",
    )
    deposit: DepositPublic = Field(
        description="Its deposit's payment: pending until paid, by due_at "
        "(deposit_minor is the amount asked)"
    )

    @classmethod
    def of(cls, r: Reservation) -> ReservationPublic:
        own = {"table_ids", "cancellation_terms", "fee", "deposit"}
        return cls(
            **{k: getattr(r, k) for k in cls.model_fields if k not in own},
            table_ids=list(r.table_ids),
            cancellation_terms=CancellationTermsPublic.of(r.terms),
            fee=FeePublic.of(r.fee) if r.fee else None,
            deposit=DepositPublic.of(r),
        )


class SuggestedSeating(BaseModel):
    reservation_id: int
    table_ids: list[int]
    party_size: int
    seats: int = Field(description="Seats at the suggested tables")
    guest_name: str
    waiting_since: datetime = Field(description="When it arrived, else its booked time")

    @classmethod
    def of(cls, s: SeatingSuggestion) -> SuggestedSeating:
        return cls(**{**s.__dict__, "table_ids": list(s.table_ids)})


class StateChangePublic(ReservationPublic):
    freed_tables: list[int] = Field(
        default_factory=list, description="Tables this change freed (a party left, or no-show)"
    )
    suggested_seating: list[SuggestedSeating] = Field(
        default_factory=list,
        description="Parties taken without a table (overbooked) whose time has come and "
        "who fit a table free now, best match first; seat one with its seat call",
    )


def _may_see(who: Principal, r: Reservation) -> bool:
    return who.may_run(r.restaurant_id) or (who.diner_id is not None and who.diner_id == r.diner_id)


def readable(ledger: Ledger, who: Principal, reservation_id: int) -> Reservation:
    """The reservation if this caller may see it; someone else's is a 404,
    so ids cannot be probed."""
    found = get_reservation(ledger, reservation_id)
    if not _may_see(who, found):
        from booking_core.errors import UnknownReservation

        raise UnknownReservation(f"There is no reservation with id {reservation_id}.")
    return found


def _channel_and_diner(who: Principal, body: ReservationCreate) -> tuple[Channel, int | None]:
    if who.api_key_kind == KeyKind.AFFILIATE.value:
        if body.diner_id is not None:
            raise forbidden("Affiliates book for a guest name, not a diner account.")
        return Channel.AFFILIATE, None
    if who.role is Role.DINER:
        if body.diner_id not in (None, who.diner_id):
            raise forbidden("A diner books only for themselves.")
        return Channel.WEB, who.diner_id
    if who.may_run(body.restaurant_id):
        return Channel.PHONE, body.diner_id
    raise forbidden(f"You cannot book at restaurant {body.restaurant_id} for others.")


@router.post("", response_model=ReservationPublic, status_code=status.HTTP_201_CREATED)
async def create(
    body: ReservationCreate,
    who: CurrentPrincipal,
    ledger: LedgerDep,
    writer: BookingWriterDep,
    scorer: ScorerDep,
    champions: ChampionsDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=96)] = None,
) -> ReservationPublic:
    """Book a table. Retrying with the same ``Idempotency-Key`` returns the
    same reservation; reusing a key for a different request is a 409. At a
    restaurant that asks deposits by risk, the booking is scored as it is
    made and owes the per-cover deposit when the score reaches the
    restaurant's threshold (``deposit.reason`` says why one is asked)."""
    channel, diner_id = _channel_and_diner(who, body)
    request = BookingRequest(
        restaurant_id=body.restaurant_id,
        local_date=body.date,
        local_time=body.time,
        party_size=body.party_size,
        diner_id=diner_id,
        guest_name=body.guest_name,
        channel=channel,
        special_requests=body.special_requests,
        accessible=body.accessible,
        idempotency_key=f"{who.subject}:{idempotency_key}" if idempotency_key else None,
    )
    if may_ask_by_risk(ledger, request):
        request = await run_in_threadpool(
            with_no_show_risk, ledger, scorer, champions, request, ledger.clock()
        )
    # The hottest write goes to this worker's booking writer, which commits
    # whatever has queued up together (serving/booking_writer.py).
    booked = await writer.book(request)
    return ReservationPublic.of(booked)


class ReservationList(BaseModel):
    reservations: list[ReservationPublic] = Field(
        description="By service date, then start time, then id"
    )
    total: int = Field(description="Every reservation the filters match, all pages together")
    limit: int
    offset: int
    date_from: LocalDate | None = Field(
        description="The first service date read (a default filled in; null: no lower bound)"
    )
    date_to: LocalDate | None = Field(
        description="The last service date read (null: no upper bound)"
    )


IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


# A diner's list defaults from today as the last clocks on Earth read it: a
# diner has no zone of their own here, and their restaurants may be anywhere,
# so tonight's dinner in Los Angeles stays listed after midnight UTC (at
# worst, yesterday's bookings further east are listed too).
WESTERNMOST = timezone(timedelta(hours=-12))


def _restaurant_today(ledger: Ledger, restaurant_id: int) -> date:
    """Today's date where the restaurant is, in its floor's zone (the floor
    read through the ledger's cache; 404 when there is no such restaurant)."""
    with ledger.read() as conn:
        zone = get_floor(ledger, conn, restaurant_id).zone
    return ledger.clock().astimezone(zone).date()


def _whose(
    who: Principal, restaurant_id: int | None, diner_id: int | None
) -> tuple[int | None, int | None, bool]:
    """The restaurant and diner this caller may list, and whether it is a
    diner's list (True) or a restaurant's book (False)."""
    if who.api_key_kind is not None:
        raise forbidden("API keys do not list reservations; sign in as staff or as a diner.")
    if who.is_admin:
        if restaurant_id is None and diner_id is None:
            raise ApiProblem(
                422,
                "invalid_request",
                "Say whose reservations to list: restaurant_id, diner_id or both.",
            )
        return restaurant_id, diner_id, diner_id is not None
    if who.role is Role.DINER:
        if who.diner_id is None:
            raise forbidden("This account has no diner profile to list bookings of.")
        if diner_id not in (None, who.diner_id):
            raise forbidden("A diner lists only their own bookings.")
        return restaurant_id, who.diner_id, True
    if who.role in (Role.HOST, Role.MANAGER):
        if restaurant_id is None:
            raise ApiProblem(
                422,
                "invalid_request",
                "Staff list one restaurant's book: give restaurant_id.",
            )
        require_staff_of(who, restaurant_id)
        return restaurant_id, diner_id, False
    raise forbidden("Only diners, the restaurant's staff and admins list reservations.")


@router.get("", response_model=ReservationList)
def list_book(
    who: CurrentPrincipal,
    ledger: LedgerDep,
    restaurant_id: IdQuery = None,
    diner_id: IdQuery = None,
    date_from: Annotated[
        LocalDate | None, Query(alias="from", description="First service date")
    ] = None,
    date_to: Annotated[LocalDate | None, Query(alias="to", description="Last service date")] = None,
    state: Annotated[
        list[ReservationState] | None, Query(description="Only these states (repeat it)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ReservationList:
    """Reservations a page at a time, by service date, start time and id,
    with how many match in all.

    - A diner lists their own bookings (``restaurant_id`` narrows them to one
      restaurant; another diner's ``diner_id`` is a 403). With no dates:
      from today on, today being the date on the westernmost clocks
      (UTC-12), so that a booking still ahead anywhere is never hidden.
    - Hosts and managers list their restaurant's book (``restaurant_id`` is
      required; another restaurant is a 403). With no dates: today's book,
      today being the date at the restaurant; one date given: that night.
    - Admins list any restaurant's book or any diner's bookings (a
      ``diner_id`` reads as a diner's list: from today on by default).
    - API keys (POS, affiliates) cannot list.

    A span is at most 92 days (as the service report); ``to`` before
    ``from`` is a 422."""
    restaurant_id, diner_id, diners_list = _whose(who, restaurant_id, diner_id)
    if date_from is None and date_to is None:
        if diners_list:
            date_from = ledger.clock().astimezone(WESTERNMOST).date()
        else:
            assert restaurant_id is not None  # a restaurant's book names one
            date_from = date_to = _restaurant_today(ledger, restaurant_id)
    elif not diners_list:
        date_from = date_from or date_to
        date_to = date_to or date_from
    found, total = list_reservations(
        ledger,
        restaurant_id=restaurant_id,
        diner_id=diner_id,
        first=date_from,
        last=date_to,
        states=state,
        limit=limit,
        offset=offset,
    )
    return ReservationList(
        reservations=[ReservationPublic.of(r) for r in found],
        total=total,
        limit=limit,
        offset=offset,
        date_from=date_from,
        date_to=date_to,
    )


@router.get("/{reservation_id}", response_model=ReservationPublic)
def read(reservation_id: PathId, who: CurrentPrincipal, ledger: LedgerDep) -> ReservationPublic:
    return ReservationPublic.of(readable(ledger, who, reservation_id))


@router.patch("/{reservation_id}", response_model=ReservationPublic)
def change(
    reservation_id: PathId, body: ReservationUpdate, who: CurrentPrincipal, ledger: LedgerDep
) -> ReservationPublic:
    """Move to another date, time or party size; if that cannot be had, the booking stands."""
    readable(ledger, who, reservation_id)
    changed = modify(
        ledger,
        reservation_id,
        local_date=body.date,
        local_time=body.time,
        party_size=body.party_size,
        now=ledger.clock(),
    )
    return ReservationPublic.of(changed)


@router.post("/{reservation_id}/cancel", response_model=ReservationPublic)
def cancel(
    reservation_id: PathId, body: ReservationCancel, who: CurrentPrincipal, ledger: LedgerDep
) -> ReservationPublic:
    current = readable(ledger, who, reservation_id)
    staff = who.may_run(current.restaurant_id)
    by = body.by or (CancelledBy.RESTAURANT if staff else CancelledBy.DINER)
    if by is CancelledBy.RESTAURANT and not staff:
        raise forbidden("Only the restaurant's staff cancel on its behalf.")
    cancelled = advance(
        ledger, reservation_id, ReservationState.CANCELLED, cancelled_by=by, now=ledger.clock()
    )
    return ReservationPublic.of(cancelled)


# What a diner may do to their own booking; everything else is the host's.
DINER_STATES = frozenset({ReservationState.CONFIRMED})


# A party leaving, or found not coming, frees its tables for one waiting.
FREEING_STATES = frozenset({ReservationState.COMPLETED, ReservationState.NO_SHOW})


@router.post("/{reservation_id}/state", response_model=StateChangePublic)
def change_state(
    reservation_id: PathId, body: StateChange, who: CurrentPrincipal, ledger: LedgerDep
) -> StateChangePublic:
    """Confirmed (diner or host); arrived, seated, completed, no-show (host).
    Cancel through ``/cancel``. Completed or no-show: the tables freed, and
    which parties waiting without a table could take a table now (nobody is
    seated until the host says so)."""
    current = readable(ledger, who, reservation_id)
    if body.state is ReservationState.CANCELLED:
        raise forbidden("Cancel through POST /reservations/{id}/cancel.")
    if not who.may_run(current.restaurant_id) and body.state not in DINER_STATES:
        raise forbidden(f"Only the restaurant's staff mark a party {body.state.value}.")
    now = ledger.clock()
    changed = advance(ledger, reservation_id, body.state, now=now)
    public = StateChangePublic(**ReservationPublic.of(changed).model_dump())
    if body.state in FREEING_STATES:
        public.freed_tables = list(current.table_ids)
        public.suggested_seating = [
            SuggestedSeating.of(s)
            for s in suggest_seating(ledger, changed.restaurant_id, changed.service_date, now)
        ]
    return public
