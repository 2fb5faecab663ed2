"""Acceptance: create, modify, cancel and move reservations through their states.

Every write runs in one transaction that first locks the restaurant's service
day (see ``ledger.lock_service_days``), re-checks availability against what
the ledger holds at that moment, writes the reservation, its table claims and
its outbox event, and commits, or writes nothing at all. The claims' primary
key (and PostgreSQL's exclusion constraint) refuse a double booking even if
the Python checks were ever wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from booking_core import outbox, turnaways
from booking_core.availability import (
    DayStamp,
    DisplacementPricing,
    cached_day_book,
    day_stamp,
    get_floor,
    pin_floor,
    remember_day_book,
)
from booking_core.cancellation_terms import (
    Fee,
    FeeReason,
    Terms,
    fee_for,
    free_until,
    free_until_after_change,
    settlement,
)
from booking_core.daybook import (
    NO_TABLES,
    BestFitAtBooking,
    DayBook,
    Holding,
    OverbookingChoice,
    PooledChoice,
    PooledTableChoice,
    TableChoice,
    TableMove,
    TablePolicy,
    TablePolicyHolder,
    choose_tables,
    load_day_book,
    table_policy,
)
from booking_core.deposits import (
    Deposit,
    DepositReason,
    DepositStatus,
    NoShowRisk,
    after_size_change,
    deposit_from_row,
    due_at,
    in_control_group,
    reason_to_ask,
)
from booking_core.domain import (
    DINER_SPACING_MINUTES,
    GRANULE_MINUTES,
    HOLDING_STATES,
    STATE_TIMESTAMP,
    TERMINAL_STATES,
    TRANSITIONS,
    CancelledBy,
    Channel,
    ReservationState,
)
from booking_core.errors import (
    BookingError,
    Conflict,
    DinerAlreadyBooked,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    NoTableFree,
    OutsideServiceHours,
    PacingLimitReached,
    RestaurantClosed,
    TablesKeptForLaterParties,
    UnknownDiner,
    UnknownReservation,
)
from booking_core.floor import Floor, SeatingOption, ServicePeriod, load_floor
from booking_core.ledger import Ledger, hold_service_days, lock_service_days
from booking_core.past_demand import ServiceDemand, service_demand
from booking_core.schema import diners, reservation_tables, reservations, table_claims
from booking_core.slots import Slot, current_service, granule_span, hhmm, local_to_utc, make_slot
from booking_core.stays import booked_slot, stay_minutes
from booking_core.validation import (
    check_aware,
    check_channel,
    check_party_size,
    parse_date,
    parse_time,
)


@dataclass(frozen=True)
class BookingRequest:
    restaurant_id: int
    local_date: date | str
    local_time: time | str
    party_size: int
    diner_id: int | None = None
    guest_name: str = ""
    channel: Channel | str = Channel.WEB
    special_requests: str = ""
    area_id: int | None = None
    accessible: bool = False
    idempotency_key: str | None = None
    # Scored by the application as the booking is made, for a restaurant that
    # asks deposits by risk (``deposits.reason_to_ask``); never the diner's to set.
    no_show_risk: NoShowRisk | None = None

    def fingerprint(self) -> str:
        fields = asdict(self)
        fields.pop("idempotency_key")
        # The same request retried is the same request, whatever it scored.
        fields.pop("no_show_risk")
        return hashlib.sha256(json.dumps(fields, default=str, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Reservation:
    id: int
    restaurant_id: int
    diner_id: int | None
    guest_name: str
    service_date: date
    start_at: datetime
    end_at: datetime
    party_size: int
    channel: str
    state: str
    table_ids: tuple[int, ...]
    special_requests: str
    deposit_required: bool
    deposit_minor: int
    currency: str
    idempotency_key: str | None
    booked_at: datetime
    terms: Terms  # the cancellation terms it was booked under
    timestamps: dict[str, datetime | None] = field(default_factory=dict)
    cancelled_by: str | None = None
    area_id: int | None = None
    accessible: bool = False
    updated_at: datetime | None = None
    # Taken beyond the tables by predictive overbooking: no table until the
    # host seats it (then ``table_ids`` are the ones it was given).
    overbooked: bool = False
    # The fee its cancellation terms made due (a late cancellation, a no-show).
    fee: Fee | None = None
    # What of its deposit was paid, refunded, and by when to pay (``deposits``).
    deposit: Deposit = field(default_factory=lambda: Deposit(0))
    # Why its deposit was asked, and the risk it was scored at booking (if it was).
    deposit_reason: DepositReason | None = None
    no_show_risk: NoShowRisk | None = None
    # Over the threshold but left without a deposit, in the control group.
    deposit_risk_control: bool = False

    @property
    def deposit_status(self) -> DepositStatus:
        return self.deposit.status(self.state, self.fee is not None and self.fee.due)

    @property
    def last_change(self) -> datetime:
        stamps = [t for t in self.timestamps.values() if t is not None]
        return max([*stamps, self.updated_at] if self.updated_at else stamps)


# A booking ending in one of these settles its deposit (and any fee).
SETTLES = frozenset(
    {ReservationState.CANCELLED, ReservationState.NO_SHOW, ReservationState.COMPLETED}
)
# A party may be marked arrived or seated this long before its booked time.
EARLIEST_ARRIVAL = timedelta(hours=2)

log = logging.getLogger("servicesphere.reservations")


# ---------------------------------------------------------------- reading


def get_reservation(ledger: Ledger, reservation_id: int) -> Reservation:
    with ledger.read() as conn:
        return _load(conn, reservation_id)


def _load(conn: sa.Connection, reservation_id: int, *, lock: bool = False) -> Reservation:
    query = sa.select(reservations).where(reservations.c.id == reservation_id)
    if lock and conn.dialect.name == "postgresql":
        # Two hosts changing one reservation at once: the second waits and
        # then sees the first's result (SQLite's writer lock already does this).
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise UnknownReservation(f"There is no reservation with id {reservation_id}.")
    tables = held_tables(conn, [reservation_id])
    return reservation_from_row(row._mapping, tables.get(reservation_id, ()))


def held_tables(
    conn: sa.Connection, reservation_ids: Collection[int]
) -> dict[int, tuple[int, ...]]:
    """The tables each of ``reservation_ids`` holds now (claims not released),
    in table id order, read in one query; a reservation holding none is absent."""
    if not reservation_ids:
        return {}
    held: dict[int, list[int]] = {}
    rows = conn.execute(
        sa.select(reservation_tables.c.reservation_id, reservation_tables.c.table_id)
        .where(
            reservation_tables.c.reservation_id.in_(sorted(set(reservation_ids))),
            reservation_tables.c.released_at.is_(None),
        )
        .order_by(reservation_tables.c.reservation_id, reservation_tables.c.table_id)
    )
    for reservation_id, table_id in rows:
        held.setdefault(reservation_id, []).append(table_id)
    return {rid: tuple(tables) for rid, tables in held.items()}


def reservation_from_row(r: sa.RowMapping, table_ids: Sequence[int]) -> Reservation:
    """A ``reservations`` row (every column) as a ``Reservation`` holding
    ``table_ids``: the one construction every read of a booking goes through."""
    return Reservation(
        id=r["id"],
        restaurant_id=r["restaurant_id"],
        diner_id=r["diner_id"],
        guest_name=r["guest_name"],
        service_date=r["service_date"],
        start_at=r["start_at"],
        end_at=r["end_at"],
        party_size=r["party_size"],
        channel=r["channel"],
        state=r["state"],
        table_ids=tuple(table_ids),
        special_requests=r["special_requests"],
        deposit_required=bool(r["deposit_required"]),
        deposit_minor=r["deposit_minor"],
        currency=r["currency"],
        idempotency_key=r["idempotency_key"],
        booked_at=r["booked_at"],
        timestamps={col: r[col] for col in STATE_TIMESTAMP.values()},
        cancelled_by=r["cancelled_by"],
        area_id=r["area_id"],
        accessible=bool(r["accessible_required"]),
        updated_at=r["updated_at"],
        overbooked=bool(r["overbooked"]),
        terms=Terms(
            fee_minor=r["cancellation_fee_minor"],
            window_hours=r["cancellation_window_hours"],
            # Bulk writers (the importers) may leave the deadline to the window.
            free_until=r["free_cancellation_until"]
            or free_until(r["start_at"], r["cancellation_window_hours"]),
            deposit_minor=r["deposit_minor"],
            deposit_min_party=r["deposit_min_party"],
            deposit_per_cover_minor=r["deposit_per_cover_minor"],
        ),
        fee=(
            Fee(r["fee_minor"], FeeReason(r["fee_reason"]), r["fee_waived_at"])
            if r["fee_reason"] is not None
            else None
        ),
        deposit=deposit_from_row(r),
        deposit_reason=DepositReason(r["deposit_reason"]) if r["deposit_reason"] else None,
        no_show_risk=(
            NoShowRisk(r["no_show_risk"], r["no_show_risk_model"])
            if r["no_show_risk"] is not None
            else None
        ),
        deposit_risk_control=bool(r["deposit_risk_control"]),
    )


# ---------------------------------------------------------------- checks


def _slot_for_request(floor: Floor, day: date, at: time, party_size: int) -> Slot:
    """The slot for a party seated at ``at`` on calendar date ``day``: a
    service of that date, or the previous evening's service running past
    midnight (00:30 on Saturday belongs to Friday's late service)."""
    minute = at.hour * 60 + at.minute
    candidates = [(day, minute), (day - timedelta(days=1), minute + 1440)]
    for service_date, m in candidates:
        for period in floor.periods_on(service_date):
            if not (period.opens_min <= m <= period.last_seating_min and at.second == 0):
                continue
            if (m - period.opens_min) % period.slot_interval_min:
                raise OutsideServiceHours(
                    f"{floor.name} seats {period.name} every {period.slot_interval_min} "
                    f"minutes from {hhmm(period.opens_min)}; {at:%H:%M} is not one of them."
                )
            slot = make_slot(floor, period, service_date, m, party_size)
            if slot is None:
                raise OutsideServiceHours(
                    f"{at:%H:%M} does not exist on {day} in {floor.timezone} "
                    "(the clocks go forward); choose another time."
                )
            return slot
    periods = floor.periods_on(day)
    if not periods:
        special = floor.special_dates.get(day)
        why = f" ({special.note})" if special is not None and special.note else ""
        raise RestaurantClosed(f"{floor.name} is closed on {day:%A %d %B %Y}{why}.")
    hours = ", ".join(f"{p.name} {hhmm(p.opens_min)}-{hhmm(p.last_seating_min)}" for p in periods)
    raise OutsideServiceHours(
        f"{floor.name} takes bookings on {day:%A} at {hours} (last seatings); "
        f"{at:%H:%M} is outside those hours."
    )


def _check_diner(
    conn: sa.Connection, ledger: Ledger, diner_id: int, start: datetime, exclude: int | None
) -> None:
    lock = sa.select(diners.c.id).where(diners.c.id == diner_id)
    if ledger.is_postgres:
        # Bookings of one diner at two restaurants do not share a day lock.
        lock = lock.with_for_update()
    if conn.execute(lock).first() is None:
        raise UnknownDiner(f"There is no diner with id {diner_id}.")
    window = timedelta(minutes=DINER_SPACING_MINUTES)
    query = sa.select(reservations.c.id, reservations.c.start_at).where(
        reservations.c.diner_id == diner_id,
        reservations.c.state.in_([s.value for s in HOLDING_STATES]),
        reservations.c.start_at > start - window,
        reservations.c.start_at < start + window,
    )
    if exclude is not None:
        query = query.where(reservations.c.id != exclude)
    clash = conn.execute(query.limit(1)).first()
    if clash is not None:
        raise DinerAlreadyBooked(
            f"This guest already holds reservation {clash.id} at "
            f"{clash.start_at:%Y-%m-%d %H:%M} UTC, within {DINER_SPACING_MINUTES // 60} hours "
            "of this one; change or cancel that booking first."
        )


class _OnServiceDate(Protocol):
    @property
    def service_date(self) -> date: ...


_Plan = TypeVar("_Plan", bound=_OnServiceDate)


def _on_pinned_floor(
    ledger: Ledger,
    conn: sa.Connection,
    floor: Floor,
    planned: _Plan,
    plan: Callable[[Floor], _Plan],
    locked: Collection[date],
) -> tuple[Floor, _Plan]:
    """A write's floor and plan once it holds the day locks ``locked``: the
    floor pinned (``pin_floor``) and, when a floor change committed since
    ``floor`` was read, the request planned again on the new floor, whose
    checks refuse it as they would have (closed, outside the hours, party
    too large). A plan moved to another service date by the change (a time
    past midnight that now belongs to the other service) locks that day
    too: the only day lock taken after the pin. It waits for writers of
    that day, never for a floor change; being out of date order, it could
    meet a change of booking between those two days at that very moment,
    which PostgreSQL would refuse as a deadlock (an error, nothing written)."""
    pinned = pin_floor(conn, floor, ledger)
    if pinned.floor_version == floor.floor_version:
        return floor, planned
    planned = plan(pinned)
    if planned.service_date not in locked:
        lock_service_days(conn, pinned.restaurant_id, [planned.service_date])
    return pinned, planned


def _asked_slot(floor: Floor, day: date, at: time, party_size: int) -> Slot:
    """The slot a party asks for, if the floor could ever seat it."""
    floor.check_party_fits(party_size)
    return _slot_for_request(floor, day, at, party_size)


def _requested_slot(
    ledger: Ledger, floor: Floor, day: date, at: time, party_size: int, channel: str
) -> Slot:
    """The slot a party asks for, held for the stay it would be booked for."""
    slot = _asked_slot(floor, day, at, party_size)
    return booked_slot(ledger, floor, slot, party_size, channel=channel)


def _choose_option(
    floor: Floor,
    book: DayBook,
    slot: Slot,
    party_size: int,
    *,
    area_id: int | None,
    accessible: bool,
    check_pacing: bool,
    policy: TableChoice,
    demand: ServiceDemand | None = None,
    overbook_at: datetime | None = None,
) -> PooledChoice:
    """Tables for the party, or ``NoTableFree`` (or a more precise refusal).
    ``overbook_at``: a new booking, taken at that moment, that a pooled
    restaurant with overbooking on may take without tables when none can
    be made free (see ``_overbooking_allows``)."""
    if check_pacing and not book.pacing_allows(slot, party_size):
        period = slot.period
        raise PacingLimitReached(
            f"The {slot.local_time} seating is full for the kitchen: {period.name} takes at most "
            f"{period.max_covers_per_slot or 'any number of'} covers and "
            f"{period.max_parties_per_slot or 'any number of'} parties per slot. "
            "Try another time."
        )
    try:
        choice = choose_tables(
            policy,
            floor,
            book,
            party_size,
            slot.start_granule,
            slot.end_granule,
            area_id=area_id,
            accessible=accessible,
            demand=demand,
        )
    except TablesKeptForLaterParties:
        raise TablesKeptForLaterParties(
            f"The tables that could seat {party_size} at {slot.local_time} on "
            f"{slot.service_date} are kept for the larger parties still expected then; "
            "try another time."
        ) from None
    if (
        choice is None
        and overbook_at is not None
        and _overbooking_allows(
            floor, book, slot, party_size, area_id, accessible, policy, overbook_at
        )
    ):
        return PooledChoice(NO_TABLES, overbooked=True)
    if choice is None:
        raise NoTableFree(
            f"No table for {party_size} is free at {slot.local_time} on {slot.service_date}"
            + (" in that area" if area_id is not None else "")
            + "; taking it would double-book a table."
        )
    return choice


def _overbooking_allows(
    floor: Floor,
    book: DayBook,
    slot: Slot,
    party_size: int,
    area_id: int | None,
    accessible: bool,
    policy: TableChoice,
    now: datetime,
) -> bool:
    """Predictive overbooking: only for a pooled restaurant that opted in,
    and only through a policy that can weigh who is likely to come (the
    application plugs one in with a source of show probabilities; the
    booking core alone never overbooks)."""
    bound = floor.overbooking_max_wait_risk
    if bound is None or floor.table_policy != TablePolicy.POOLED:
        return False
    if not isinstance(policy, OverbookingChoice):
        return False
    period = slot.period
    opens = slot.start_granule - (slot.local_minute - period.opens_min) // GRANULE_MINUTES
    return policy.overbooking_allows(
        floor,
        book,
        party_size,
        slot.start_granule,
        slot.end_granule,
        max_wait_risk=bound,
        service=(opens, opens + (period.closes_min - period.opens_min) // GRANULE_MINUTES),
        area_id=area_id,
        accessible=accessible,
        now=now,
    )


def _demand(
    ledger: Ledger,
    conn: sa.Connection,
    floor: Floor,
    slot: Slot,
    book: DayBook,
    policy: TableChoice,
    now: datetime,
) -> ServiceDemand | None:
    """The demand a pooled policy admits against (only a pooled one asks)."""
    if not isinstance(policy, PooledTableChoice):
        return None
    return service_demand(ledger, conn, floor, slot.period, slot.service_date, book, now)


def _apply_moves(
    conn: sa.Connection, floor: Floor, book: DayBook, moves: tuple[TableMove, ...], at: datetime
) -> None:
    """Give booked parties the other tables a pooled plan chose for them
    (same times): their old claims go, the new ones are written, and the
    outbox says so, all in the booking's transaction. Every moved party's
    claims go before any new one is written: in a swap or a chain one
    party takes the tables another leaves."""
    spans = {}
    for move in moves:
        spans[move.reservation_id] = conn.execute(
            sa.select(reservations.c.start_at, reservations.c.end_at).where(
                reservations.c.id == move.reservation_id
            )
        ).one()
        _release(conn, move.reservation_id, at)
    for move in moves:
        row = spans[move.reservation_id]
        _claim(conn, move.reservation_id, move.to, row.start_at, row.end_at, at)
        conn.execute(
            reservations.update()
            .where(reservations.c.id == move.reservation_id)
            .values(combination_id=move.to.combination_id, updated_at=at)
        )
        outbox.append(
            conn,
            "reservation.modified",
            "reservation",
            move.reservation_id,
            floor.restaurant_id,
            {
                "tables": {"from": list(move.from_tables), "to": list(move.to.table_ids)},
                "reason": "pooled seating plan",
            },
            at,
        )
    book.move_many({move.reservation_id: move.to.table_ids for move in moves})


_INSERT_ASSIGNMENT = reservation_tables.insert()
_INSERT_CLAIM = table_claims.insert()


def _claim(
    conn: sa.Connection,
    reservation_id: int,
    option: SeatingOption,
    start: datetime,
    end: datetime,
    at: datetime,
) -> None:
    g0, g1 = granule_span(start, end)
    conn.execute(
        _INSERT_ASSIGNMENT,
        [
            {
                "reservation_id": reservation_id,
                "table_id": t,
                "start_at": start,
                "end_at": end,
                "assigned_at": at,
            }
            for t in option.table_ids
        ],
    )
    conn.execute(
        _INSERT_CLAIM,
        [
            {"table_id": t, "granule": g, "reservation_id": reservation_id}
            for t in option.table_ids
            for g in range(g0, g1)
        ],
    )


def _release(conn: sa.Connection, reservation_id: int, at: datetime) -> None:
    conn.execute(table_claims.delete().where(table_claims.c.reservation_id == reservation_id))
    conn.execute(
        reservation_tables.update()
        .where(
            reservation_tables.c.reservation_id == reservation_id,
            reservation_tables.c.released_at.is_(None),
        )
        .values(released_at=at)
    )


# ---------------------------------------------------------------- writing


def book(
    ledger: Ledger,
    request: BookingRequest,
    *,
    policy: TableChoice | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Accept a booking or raise a ``BookingError`` saying why not."""
    checked = _check_request(ledger, request, now)
    try:
        with ledger.write() as conn:
            done = _book_in(conn, ledger, checked, policy, {})
    except BookingError as exc:
        _record_turnaway(ledger, exc, checked.now)
        raise
    except IntegrityError as exc:
        outcome = _after_race(ledger, checked)
        if isinstance(outcome, Reservation):
            return outcome
        raise outcome from exc
    if done.day_book is not None:
        done.day_book.publish(ledger)
    return done.reservation


def book_many(
    ledger: Ledger,
    requests: Sequence[BookingRequest],
    *,
    policy: TableChoice | None = None,
    now: datetime | None = None,
) -> list[Reservation | BookingError]:
    """Several bookings in one write transaction (a group commit): each is
    accepted or refused on its own, as ``book`` would in this order, behind a
    savepoint, so a refusal leaves the others standing. One lock, one BEGIN
    and one COMMIT for the lot, and each booking's day book carries on to
    the next one for the same day, which is what lets a busy API worker
    write more bookings per second than it could one transaction each.
    An error that is not a ``BookingError`` (the database gone) fails them all.
    Without ``policy``, each restaurant's seating setting chooses the tables."""
    results: list[Reservation | BookingError] = []
    fresh: dict[tuple[int, date], _DayBookToKeep] = {}
    with ledger.write() as conn:
        floors = _pin_floors(ledger, conn, {r.restaurant_id for r in requests})
        batch = [_checked_or_refused(ledger, request, now) for request in requests]
        # Every day the batch will book is locked before its first outbox
        # event (see ``_hold_days``). The pinned floors cannot change before
        # commit, so each booking planned there books a day held already.
        # A booking that could not be planned there still locks its day in
        # ``_book_in``, under the feed, and may yet meet the deadlock: one
        # for a restaurant that was unknown at the pin and added since, or
        # one whose date would move on a floor changed since it was read
        # (which the pin rules out on PostgreSQL). Refused requests lock
        # nothing more: the same floor refuses them again below.
        _hold_days(ledger, conn, floors, [c for c in batch if isinstance(c, _Checked)])
        _hold_diners(ledger, conn, [c for c in batch if isinstance(c, _Checked)])
        for checked in batch:
            if isinstance(checked, BookingError):
                results.append(checked)
                continue
            try:
                with conn.begin_nested():
                    booked = _book_in(conn, ledger, checked, policy, fresh, floors)
            except BookingError as exc:
                _record_turnaway_in(conn, exc, checked.now)
                results.append(exc)
                continue
            except IntegrityError:
                results.append(_after_race(ledger, checked, conn))
                continue
            results.append(booked.reservation)
            if booked.day_book is not None:
                fresh[booked.day_book.key] = booked.day_book
    for kept in fresh.values():  # committed now; the last of each day is the latest
        kept.publish(ledger)
    return results


def _pin_floors(
    ledger: Ledger, conn: sa.Connection, restaurant_ids: Iterable[int]
) -> dict[int, Floor]:
    """A batch holds the outbox feed lock from its first booking to commit,
    and a pin taken under it could wait for a floor change that waits for
    the feed: PostgreSQL batches pin every restaurant they book first, in
    id order (see ``pin_floor``); each booking's own pin then finds the row
    already held. Returns the pinned floors (none on SQLite)."""
    floors: dict[int, Floor] = {}
    if not ledger.is_postgres:
        return floors
    for restaurant_id in sorted(restaurant_ids):
        with contextlib.suppress(BookingError):  # an unknown restaurant: its booking says so
            floors[restaurant_id] = pin_floor(conn, get_floor(ledger, conn, restaurant_id), ledger)
    return floors


def _hold_days(
    ledger: Ledger, conn: sa.Connection, floors: Mapping[int, Floor], batch: Iterable[_Checked]
) -> None:
    """A batch holds the outbox feed lock from its first booking's event to
    commit, and a day lock taken under it could wait for a writer of that
    day that waits for the feed (a booking, a change of booking, a
    cancellation, a walk-in: each locks its days, then writes its event),
    which PostgreSQL would refuse as a deadlock, failing the whole batch.
    So a PostgreSQL batch first locks the service day of every booking it
    can plan on its pinned ``floors``, by restaurant and then date: the
    order in which single writers lock one restaurant's days (a change of
    booking locks its old and new days in date order) and every batch
    locks its own, so a writer that holds one of those days commits
    before the batch writes anything, and two batches queue rather than
    cross.
    The versions are left alone (``hold_service_days``): each booking bumps
    its own day, so a day book remembered by the last commit stays usable.

    Only the date is planned here: ``booked_slot`` moves a slot's end, never
    its date, and may ask a stay forecast, which ``_book_in`` does anyway."""
    if not ledger.is_postgres:
        return
    days: dict[int, set[date]] = {}
    for checked in batch:
        floor = floors.get(checked.request.restaurant_id)
        if floor is None:
            continue
        try:
            slot = _asked_slot(floor, checked.day, checked.at, checked.party_size)
        except BookingError:  # refused in the loop, as it would have been
            continue
        days.setdefault(floor.restaurant_id, set()).add(slot.service_date)
    for restaurant_id in sorted(days):
        hold_service_days(conn, restaurant_id, days[restaurant_id])


def _hold_diners(ledger: Ledger, conn: sa.Connection, batch: Iterable[_Checked]) -> None:
    """Each booking locks its diner's row (``_check_diner``) after its day
    and before its event; in a batch that would come after the first
    event, under the feed, and could wait for a single booking of the same
    diner elsewhere that holds the row and waits for the feed. So a
    PostgreSQL batch locks its diners' rows up front, in id order, after
    its days: the order every writer keeps (days, restaurant, diner, feed)."""
    if not ledger.is_postgres:
        return
    ids = sorted({c.request.diner_id for c in batch if c.request.diner_id is not None})
    if ids:
        conn.execute(
            sa.select(diners.c.id)
            .where(diners.c.id.in_(ids))
            .order_by(diners.c.id)
            .with_for_update()
        ).all()


@dataclass(frozen=True)
class _Checked:
    """A booking request that passed the checks needing no database."""

    request: BookingRequest
    day: date
    at: time
    party_size: int
    channel: Channel
    now: datetime
    fingerprint: str | None


@dataclass(frozen=True)
class _DayBookToKeep:
    """A day book as a write transaction left it, to remember once that
    transaction has committed (only committed state may be remembered: see
    ``remember_day_book``)."""

    floor: Floor
    service_date: date
    stamp: DayStamp
    day_book: DayBook

    @property
    def key(self) -> tuple[int, date]:
        return self.floor.restaurant_id, self.service_date

    def publish(self, ledger: Ledger) -> None:
        remember_day_book(ledger, self.floor, self.service_date, self.stamp, self.day_book)


@dataclass(frozen=True)
class _Booked:
    """A booking written in an open transaction; ``day_book`` is None for an
    idempotent retry, which wrote nothing."""

    reservation: Reservation
    day_book: _DayBookToKeep | None = None


def _checked_or_refused(
    ledger: Ledger, request: BookingRequest, now: datetime | None
) -> _Checked | BookingError:
    try:
        return _check_request(ledger, request, now)
    except BookingError as exc:
        return exc


def _check_request(ledger: Ledger, request: BookingRequest, now: datetime | None) -> _Checked:
    day = parse_date(request.local_date)
    at = parse_time(request.local_time)
    party_size = check_party_size(request.party_size)
    channel = check_channel(request.channel)
    if channel is Channel.WALK_IN:
        raise InvalidRequest("Walk-ins are seated with seat_walk_in, not booked ahead.")
    if len(request.special_requests) > 2000:
        raise InvalidRequest("Special requests are limited to 2,000 characters.")
    now = check_aware(now, "booking time") if now is not None else ledger.clock()
    # Only a retried request needs recognising; hashing costs ~0.1 ms otherwise.
    fingerprint = request.fingerprint() if request.idempotency_key else None
    return _Checked(request, day, at, party_size, channel, now, fingerprint)


def _book_in(
    conn: sa.Connection,
    ledger: Ledger,
    checked: _Checked,
    policy: TableChoice | None,
    fresh: dict[tuple[int, date], _DayBookToKeep],
    pinned: Mapping[int, Floor] | None = None,
) -> _Booked:
    """The booking itself, inside the caller's write transaction. ``fresh``
    holds the day books this transaction has written so far (not committed,
    so not in the ledger's cache yet); ``pinned`` the floors it has pinned
    already (a batch's), which no change can move before it commits."""
    request, now, fingerprint = checked.request, checked.now, checked.fingerprint
    if request.idempotency_key and fingerprint:
        existing = _by_idempotency_key(conn, request.idempotency_key, fingerprint)
        if existing is not None:
            return _Booked(existing)

    def plan(floor: Floor) -> Slot:
        slot = _requested_slot(
            ledger, floor, checked.day, checked.at, checked.party_size, checked.channel
        )
        if slot.start_at <= now:
            raise InvalidRequest(
                f"{checked.day} {checked.at:%H:%M} has already passed in {floor.timezone}; "
                "a host seats a party that is here now as a walk-in."
            )
        return slot

    held = (pinned or {}).get(request.restaurant_id)
    floor = held or get_floor(ledger, conn, request.restaurant_id)
    slot = plan(floor)
    lock_service_days(conn, floor.restaurant_id, [slot.service_date])
    if request.idempotency_key and fingerprint and ledger.is_postgres:
        # A retry that raced its own first attempt waited on the day
        # lock; now that it holds it, the first attempt is visible.
        existing = _by_idempotency_key(conn, request.idempotency_key, fingerprint)
        if existing is not None:
            return _Booked(existing)
    if held is None:
        floor, slot = _on_pinned_floor(ledger, conn, floor, slot, plan, {slot.service_date})
    if request.diner_id is not None:
        _check_diner(conn, ledger, request.diner_id, slot.start_at, None)
    # Under the day lock, a remembered day book is exact if nothing but our
    # own version bump happened since it was remembered.
    stamp = day_stamp(conn, floor, slot.service_date)
    v = stamp[1]
    before = (stamp[0], (v[0], v[1] - 1, v[2]))
    ours = fresh.get((floor.restaurant_id, slot.service_date))
    cached = ours.day_book if ours and ours.stamp == before else None
    cached = cached or cached_day_book(ledger, floor, slot.service_date, before)
    day_book = cached.copy() if cached else load_day_book(conn, floor, slot.service_date)
    chosen = policy or table_policy.for_floor(floor)
    try:
        choice = _choose_option(
            floor,
            day_book,
            slot,
            checked.party_size,
            area_id=request.area_id,
            accessible=request.accessible,
            check_pacing=True,
            policy=chosen,
            demand=_demand(ledger, conn, floor, slot, day_book, chosen, now),
            overbook_at=now,
        )
    except BookingError as exc:
        _note_turnaway(
            exc,
            floor,
            slot.period,
            slot.service_date,
            slot.start_at,
            checked.party_size,
            checked.channel,
            request.diner_id,
        )
        raise
    option = choice.option
    _apply_moves(conn, floor, day_book, choice.moves, now)
    reservation = _insert(
        conn,
        floor,
        slot.service_date,
        slot.start_at,
        slot.end_at,
        checked.party_size,
        checked.channel,
        ReservationState.BOOKED,
        now,
        option,
        request=request,
        fingerprint=fingerprint,
        overbooked=choice.overbooked,
    )
    holding = Holding(
        reservation.id,
        option.table_ids,
        slot.start_granule,
        slot.end_granule,
        checked.party_size,
        True,
        request.area_id,
        request.accessible,
    )
    if choice.overbooked:
        day_book.overbooked[reservation.id] = holding  # no table; pacing counts it below
    else:
        day_book.add_holding(holding)
    day_book.add_start(slot.start_granule, checked.party_size)
    return _Booked(reservation, _DayBookToKeep(floor, slot.service_date, stamp, day_book))


def _after_race(
    ledger: Ledger, checked: _Checked, conn: sa.Connection | None = None
) -> Reservation | BookingError:
    """Only reachable when two writers raced past different day locks (an
    idempotency key reused on another day, or a table claimed by a
    neighbouring day's late service): the retried booking, or a refusal."""
    request, fingerprint = checked.request, checked.fingerprint
    if request.idempotency_key and fingerprint:
        if conn is not None:
            existing = _by_idempotency_key(conn, request.idempotency_key, fingerprint)
        else:
            with ledger.read() as fresh_conn:
                existing = _by_idempotency_key(fresh_conn, request.idempotency_key, fingerprint)
        if existing is not None:
            return existing
    return NoTableFree("That table was taken a moment ago; please search again.")


def _by_idempotency_key(conn: sa.Connection, key: str, fingerprint: str) -> Reservation | None:
    row = conn.execute(
        sa.select(reservations.c.id, reservations.c.request_fingerprint).where(
            reservations.c.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    if row.request_fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"Idempotency key {key!r} was already used for a different booking request."
        )
    return _load(conn, row.id)


_INSERT_RESERVATION = reservations.insert().returning(reservations.c.id)


def _insert(
    conn: sa.Connection,
    floor: Floor,
    service_date: date,
    start: datetime,
    end: datetime,
    party_size: int,
    channel: Channel,
    state: ReservationState,
    now: datetime,
    option: SeatingOption,
    *,
    request: BookingRequest | None = None,
    fingerprint: str | None = None,
    diner_id: int | None = None,
    guest_name: str = "",
    overbooked: bool = False,
) -> Reservation:
    policy = Terms(
        fee_minor=floor.cancellation_fee_minor,
        window_hours=floor.cancellation_window_hours,
        free_until=free_until(start, floor.cancellation_window_hours),
        deposit_minor=0,
        deposit_min_party=floor.deposit_min_party,
        deposit_per_cover_minor=floor.deposit_per_cover_minor,
    )
    # A walk-in is here already: a deposit secures a table for later.
    walk_in = channel is Channel.WALK_IN
    risk = request.no_show_risk if request else None
    reason = (
        None
        if walk_in
        else reason_to_ask(
            by_party_size=policy.asks_deposit(party_size),
            per_cover_minor=floor.deposit_per_cover_minor,
            risk_threshold=floor.deposit_risk_threshold,
            risk=risk,
        )
    )
    control = reason is DepositReason.RISK and in_control_group(
        risk, floor.deposit_risk_control_share
    )
    if control:
        reason = None
    if reason is DepositReason.RISK:
        # Kept as a deposit per cover from one guest, so that a change of
        # party size reprices it rather than dropping it.
        policy = replace(policy, deposit_min_party=1)
    deposit = reason is not None
    terms = replace(policy, deposit_minor=policy.deposit_for(party_size) if deposit else 0)
    pay_by = due_at(now, start, floor.deposit_pay_within_minutes) if terms.deposit_minor else None
    values: dict[str, Any] = {
        "restaurant_id": floor.restaurant_id,
        "diner_id": request.diner_id if request else diner_id,
        "guest_name": request.guest_name if request else guest_name,
        "service_date": service_date,
        "start_at": start,
        "end_at": end,
        "party_size": party_size,
        "channel": channel.value,
        "state": state.value,
        "special_requests": request.special_requests if request else "",
        "area_id": request.area_id if request else None,
        "accessible_required": request.accessible if request else False,
        "combination_id": option.combination_id,
        "deposit_required": deposit,
        "deposit_minor": terms.deposit_minor,
        "card_hold_minor": floor.card_hold_minor,
        "cancellation_fee_minor": terms.fee_minor,
        "cancellation_window_hours": terms.window_hours,
        "free_cancellation_until": terms.free_until,
        "deposit_min_party": terms.deposit_min_party,
        "deposit_per_cover_minor": terms.deposit_per_cover_minor,
        "deposit_due_at": pay_by,
        "deposit_reason": reason.value if reason else None,
        "no_show_risk": risk.probability if risk else None,
        "no_show_risk_model": risk.model if risk else None,
        "deposit_risk_control": control,
        "currency": floor.currency,
        "idempotency_key": request.idempotency_key if request else None,
        "request_fingerprint": fingerprint,
        "booked_at": now,
        "updated_at": now,
        "overbooked": overbooked,
    }
    if state is ReservationState.SEATED:
        values["seated_at"] = now
    reservation_id = int(conn.execute(_INSERT_RESERVATION, values).scalar_one())
    if option.table_ids:  # an overbooked booking holds none
        _claim(conn, reservation_id, option, start, end, now)
    payload: dict[str, Any] = {
        "state": state.value,
        "party_size": party_size,
        "service_date": service_date.isoformat(),
        "start_at": start.isoformat(),
        "end_at": end.isoformat(),
        "channel": channel.value,
        "table_ids": list(option.table_ids),
        "diner_id": values["diner_id"],
        # A change of party size can change it (``_modify_in``): the learning
        # loop reads each version's own (``LedgerSnapshot.versions``).
        "deposit_required": deposit,
    }
    if pay_by is not None:
        payload["deposit_minor"] = terms.deposit_minor
        payload["deposit_due_at"] = pay_by.isoformat()
    if reason is not None:
        payload["deposit_reason"] = reason.value
    if risk is not None:
        payload["no_show_risk"] = {"probability": risk.probability, "model": risk.model}
    if control:
        payload["deposit_risk_control"] = True
    if overbooked:
        payload["overbooked"] = True
        payload["reason"] = "predictive overbooking: expected no-shows leave room"
    event = "reservation.seated_walk_in" if channel is Channel.WALK_IN else "reservation.booked"
    outbox.append(conn, event, "reservation", reservation_id, floor.restaurant_id, payload, now)
    return Reservation(
        id=reservation_id,
        restaurant_id=floor.restaurant_id,
        diner_id=values["diner_id"],
        guest_name=values["guest_name"],
        service_date=service_date,
        start_at=start,
        end_at=end,
        party_size=party_size,
        channel=channel.value,
        state=state.value,
        table_ids=tuple(sorted(option.table_ids)),
        special_requests=values["special_requests"],
        deposit_required=deposit,
        deposit_minor=values["deposit_minor"],
        currency=floor.currency,
        idempotency_key=values["idempotency_key"],
        booked_at=now,
        area_id=values["area_id"],
        accessible=values["accessible_required"],
        updated_at=now,
        overbooked=overbooked,
        terms=terms,
        deposit=Deposit(terms.deposit_minor, due_at=pay_by),
        deposit_reason=reason,
        # The draw was the request's: the booking keeps the score and the outcome.
        no_show_risk=replace(risk, draw=None) if risk else None,
        deposit_risk_control=control,
        timestamps={
            col: values.get(col, now if col == "booked_at" else None)
            for col in STATE_TIMESTAMP.values()
        },
    )


def seat_walk_in(
    ledger: Ledger,
    restaurant_id: int,
    party_size: int,
    *,
    table_ids: tuple[int, ...] | None = None,
    diner_id: int | None = None,
    guest_name: str = "",
    policy: TableChoice | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Seat a party that walked in, now, on the given tables or the best free ones."""
    party_size = check_party_size(party_size)
    now = check_aware(now, "time") if now is not None else ledger.clock()
    # The restaurant's own setting prices the tables it would choose; a
    # caller's policy, or tables the host names, are taken as they are.
    priced = policy is None
    policy = policy or table_policy.policy
    if table_ids is not None:
        table_ids = tuple(sorted(set(table_ids)))
    try:
        with ledger.write() as conn:
            return _seat_walk_in_in(
                conn,
                ledger,
                restaurant_id,
                party_size,
                table_ids,
                diner_id,
                guest_name,
                policy,
                now,
                priced=priced,
            )
    except BookingError as exc:
        _record_turnaway(ledger, exc, now)
        raise
    except IntegrityError as exc:
        raise NoTableFree("That table was taken a moment ago; choose another.") from exc


class _WalkIn(NamedTuple):
    """A walk-in's service and planned end on a given floor."""

    service_date: date
    period: ServicePeriod
    end: datetime


def _seat_walk_in_in(
    conn: sa.Connection,
    ledger: Ledger,
    restaurant_id: int,
    party_size: int,
    table_ids: tuple[int, ...] | None,
    diner_id: int | None,
    guest_name: str,
    policy: TableChoice,
    now: datetime,
    *,
    priced: bool = False,
) -> Reservation:
    """``priced``: the restaurant's admission control (if any) may refuse
    the tables chosen for the party; tables the host names never are."""

    def plan(floor: Floor) -> _WalkIn:
        floor.check_party_fits(party_size)
        service_date, period, _ = current_service(floor, now)
        turn = stay_minutes(ledger, floor, party_size, [(period, now)], channel=Channel.WALK_IN)
        return _WalkIn(service_date, period, now + timedelta(minutes=turn[0]))

    floor = get_floor(ledger, conn, restaurant_id)
    walk_in = plan(floor)
    lock_service_days(conn, restaurant_id, [walk_in.service_date])
    floor, walk_in = _on_pinned_floor(ledger, conn, floor, walk_in, plan, {walk_in.service_date})
    service_date, period, end = walk_in
    g0 = granule_span(now, now)[0]
    if diner_id is not None:
        _check_diner(conn, ledger, diner_id, now, None)
    day_book = load_day_book(conn, floor, service_date)
    g1 = granule_span(now, end)[1]
    if table_ids:
        unknown = [t for t in table_ids if t not in floor.tables]
        if unknown:
            raise InvalidRequest(f"{floor.name} has no active table with id {unknown[0]}.")
        seats = sum(floor.tables[t].max_covers for t in table_ids)
        if seats < party_size:
            raise InvalidRequest(f"Those tables seat {seats}, not a party of {party_size}.")
        if not day_book.is_free(table_ids, g0, g1):
            raise NoTableFree("That table is held for another party during this turn.")
        option = SeatingOption(
            tuple(sorted(table_ids)),
            1,
            seats,
            frozenset(floor.tables[t].area_id for t in table_ids),
            False,
        )
    else:
        chosen = policy.choose(floor, day_book, party_size, g0, g1)
        if chosen is None:
            refused = NoTableFree(f"No table for {party_size} is free now; offer the waitlist.")
            start = turnaways.walk_in_start(now)
            _note_turnaway(
                refused, floor, period, service_date, start, party_size, Channel.WALK_IN, diner_id
            )
            raise refused
        if priced:
            _price_walk_in(
                conn, ledger, floor, period, service_date, day_book, chosen, party_size, g0, g1, now
            )
        option = chosen
    return _insert(
        conn,
        floor,
        service_date,
        now,
        end,
        party_size,
        Channel.WALK_IN,
        ReservationState.SEATED,
        now,
        option,
        diner_id=diner_id,
        guest_name=guest_name,
    )


def _price_walk_in(
    conn: sa.Connection,
    ledger: Ledger,
    floor: Floor,
    period: ServicePeriod,
    service_date: date,
    day_book: DayBook,
    chosen: SeatingOption,
    party_size: int,
    g0: int,
    g1: int,
    now: datetime,
) -> None:
    """A walk-in at a restaurant with bid-price admission control (pooled,
    or locking at booking with it on) is priced as a booking of the same
    tables would be: ``TablesKeptForLaterParties`` when the tables
    ``chosen`` for it displace more covers than it brings (nobody moves for
    a walk-in)."""
    policy = table_policy.for_floor(floor)
    if not isinstance(policy, DisplacementPricing):
        return
    demand = service_demand(ledger, conn, floor, period, service_date, day_book, now, asking=False)
    if demand is None:
        return
    try:
        policy.admit(floor, day_book, demand, party_size, chosen.table_ids, g0, g1)
    except TablesKeptForLaterParties as exc:
        names = " + ".join(floor.tables[t].name for t in chosen.table_ids)
        raise TablesKeptForLaterParties(
            f"{names} is kept for the parties still expected this service: {exc} "
            "Offer the waitlist, or choose the tables yourself to seat this party anyway."
        ) from None


def _note_turnaway(
    error: BookingError,
    floor: Floor,
    period: ServicePeriod,
    service_date: date,
    start: datetime,
    party_size: int,
    channel: Channel | str,
    diner_id: int | None,
) -> None:
    """Mark a refusal for lack of room or on price with what was asked, so
    that the caller records it once the booking's transaction is gone."""
    reason = turnaways.reason_for(error, channel)
    if reason is None:
        return
    opens = local_to_utc(floor, service_date, period.opens_min) or start
    last = local_to_utc(floor, service_date, period.last_seating_min) or start
    turnaways.note(
        error,
        turnaways.Refusal(
            floor.restaurant_id,
            service_date,
            start,
            party_size,
            Channel(channel).value,
            reason,
            diner_id,
            min(opens, start),
            max(last, start),
        ),
    )


def _record_turnaway(ledger: Ledger, error: BookingError, now: datetime) -> None:
    """Record a noted refusal in a short write of its own. A failure to
    record never hides the refusal itself from the caller."""
    refusal = turnaways.noted(error)
    if refusal is None:
        return
    try:
        turnaways.record(ledger, refusal, now)
    except Exception:
        log.warning("could not record a turn-away", exc_info=True)


def _record_turnaway_in(conn: sa.Connection, error: BookingError, now: datetime) -> None:
    """``_record_turnaway`` inside a batch's transaction, behind a savepoint
    of its own so that a failure leaves the batch's bookings standing."""
    refusal = turnaways.noted(error)
    if refusal is None:
        return
    try:
        with conn.begin_nested():
            turnaways.record_in(conn, refusal, now)
    except Exception:
        log.warning("could not record a turn-away", exc_info=True)


def modify(
    ledger: Ledger,
    reservation_id: int,
    *,
    local_date: date | str | None = None,
    local_time: time | str | None = None,
    party_size: int | None = None,
    policy: TableChoice | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Move a booking to another time or party size, keeping it if the new one
    cannot be had (the whole change is one transaction)."""
    if local_date is None and local_time is None and party_size is None:
        raise InvalidRequest("Nothing to change: give a new date, time or party size.")
    now = check_aware(now, "time") if now is not None else ledger.clock()
    try:
        with ledger.write() as conn:
            return _modify_in(
                conn, ledger, reservation_id, local_date, local_time, party_size, policy, now
            )
    except BookingError as exc:
        _record_turnaway(ledger, exc, now)
        raise
    except IntegrityError as exc:
        raise NoTableFree("That table was taken a moment ago; please search again.") from exc


def _check_changeable(current: Reservation, now: datetime) -> None:
    _check_not_before(current, now)
    if current.state not in (ReservationState.BOOKED, ReservationState.CONFIRMED):
        raise IllegalTransition(
            f"Reservation {current.id} is {current.state}; only booked or confirmed "
            "reservations can be changed."
        )


def _load_on_locked_days(
    conn: sa.Connection, reservation_id: int, days: Collection[date]
) -> Reservation:
    """The reservation locked, once the caller holds ``days``: a change that
    moved it to another day in between is a ``Conflict`` to send again."""
    current = _load(conn, reservation_id, lock=True)
    if current.service_date not in days:
        raise Conflict(
            f"Reservation {reservation_id} moved to {current.service_date} a moment ago; "
            "send the change again."
        )
    return current


def _modify_in(
    conn: sa.Connection,
    ledger: Ledger,
    reservation_id: int,
    local_date: date | str | None,
    local_time: time | str | None,
    party_size: int | None,
    policy: TableChoice | None,
    now: datetime,
) -> Reservation:
    # Planned from the row unlocked, then the days locked, then the row:
    # the order in which the moves of other parties (a pooled booking, a
    # table out of service) lock it, so the two cannot deadlock.
    current = _load(conn, reservation_id)
    _check_changeable(current, now)
    floor = get_floor(ledger, conn, current.restaurant_id)
    day = parse_date(local_date) if local_date is not None else current.service_date
    size = check_party_size(party_size) if party_size is not None else current.party_size

    def plan(floor: Floor) -> Slot:
        local_start = current.start_at.astimezone(floor.zone)
        at = parse_time(local_time) if local_time is not None else local_start.time()
        slot = _requested_slot(ledger, floor, day, at, size, current.channel)
        if slot.start_at <= now:
            raise InvalidRequest(f"{day} {at:%H:%M} has already passed.")
        return slot

    slot = plan(floor)
    days = {current.service_date, slot.service_date}
    lock_service_days(conn, floor.restaurant_id, days)
    current = _load_on_locked_days(conn, reservation_id, days)
    _check_changeable(current, now)
    if local_date is None:
        day = current.service_date
    if party_size is None:
        size = current.party_size
    slot = plan(floor)  # again: the locked row may differ from the one planned from
    if slot.service_date not in days:
        raise Conflict(f"Reservation {reservation_id} changed a moment ago; send it again.")
    floor, slot = _on_pinned_floor(ledger, conn, floor, slot, plan, days)
    if current.diner_id is not None:
        _check_diner(conn, ledger, current.diner_id, slot.start_at, reservation_id)
    _release(conn, reservation_id, now)
    day_book = load_day_book(conn, floor, slot.service_date, exclude_reservation=reservation_id)
    chosen = policy or table_policy.for_floor(floor)
    try:
        choice = _choose_option(
            floor,
            day_book,
            slot,
            size,
            area_id=current.area_id,
            accessible=current.accessible,
            check_pacing=True,
            policy=chosen,
            demand=_demand(ledger, conn, floor, slot, day_book, chosen, now),
        )
    except BookingError as exc:
        _note_turnaway(
            exc,
            floor,
            slot.period,
            slot.service_date,
            slot.start_at,
            size,
            current.channel,
            current.diner_id,
        )
        raise
    option = choice.option
    _apply_moves(conn, floor, day_book, choice.moves, now)
    # A new party size owes the deposit of the policy it was booked under.
    deposit = current.terms.deposit_for(size)
    asks = current.terms.asks_deposit(size)
    # A deposit asked by risk is kept per cover from one guest, so it stays;
    # one asked by size comes and goes with the size.
    reason = (current.deposit_reason or DepositReason.PARTY_SIZE) if asks else None
    money, refund = after_size_change(
        current.deposit, deposit, now, slot.start_at, floor.deposit_pay_within_minutes
    )
    conn.execute(
        reservations.update()
        .where(reservations.c.id == reservation_id)
        .values(
            deposit_required=asks,
            deposit_reason=reason.value if reason else None,
            deposit_minor=deposit,
            deposit_due_at=money.due_at,
            deposit_refunded_minor=money.refunded_minor,
            service_date=slot.service_date,
            start_at=slot.start_at,
            end_at=slot.end_at,
            party_size=size,
            combination_id=option.combination_id,
            updated_at=now,
            overbooked=False,  # a change is only taken with tables
            free_cancellation_until=free_until_after_change(current.terms, slot.start_at, now),
        )
    )
    _claim(conn, reservation_id, option, slot.start_at, slot.end_at, now)
    outbox.append(
        conn,
        "reservation.modified",
        "reservation",
        reservation_id,
        floor.restaurant_id,
        {
            "from": {
                "start_at": current.start_at.isoformat(),
                "party_size": current.party_size,
            },
            "to": {
                "start_at": slot.start_at.isoformat(),
                "party_size": size,
                "deposit_required": current.terms.asks_deposit(size),
            },
            "service_date": slot.service_date.isoformat(),
            "table_ids": list(option.table_ids),
            **(
                {
                    "deposit_minor": {"from": current.deposit_minor, "to": deposit},
                    "deposit_due_at": (
                        money.due_at.isoformat()
                        if money.due_at is not None and money.outstanding_minor
                        else None
                    ),
                }
                if deposit != current.deposit_minor
                else {}
            ),
            **({"deposit_refund_minor": refund, "currency": current.currency} if refund else {}),
        },
        now,
    )
    return _load(conn, reservation_id)


def advance(
    ledger: Ledger,
    reservation_id: int,
    to_state: ReservationState | str,
    *,
    cancelled_by: CancelledBy | str | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Move a reservation along its state machine; terminal states free its tables."""
    try:
        target = ReservationState(to_state)
    except ValueError:
        names = ", ".join(s.value for s in ReservationState)
        raise InvalidRequest(f"Unknown state {to_state!r}; use one of {names}.") from None
    who: CancelledBy | None = None
    if target is ReservationState.CANCELLED:
        try:
            who = CancelledBy(cancelled_by or CancelledBy.DINER)
        except ValueError:
            raise InvalidRequest("cancelled_by is 'diner' or 'restaurant'.") from None
    elif cancelled_by is not None:
        raise InvalidRequest("cancelled_by only applies to a cancellation.")
    now = check_aware(now, "time") if now is not None else ledger.clock()
    try:
        with ledger.write() as conn:
            return advance_in(conn, reservation_id, target, who, now)
    except IntegrityError as exc:  # only seating an overbooked party claims tables here
        raise NoTableFree("That table was taken a moment ago; choose another.") from exc


def _check_not_before(current: Reservation, now: datetime) -> None:
    if now < current.last_change:
        raise InvalidRequest(
            f"Reservation {current.id} last changed at {current.last_change:%Y-%m-%d %H:%M:%S} "
            f"UTC; a change dated {now:%Y-%m-%d %H:%M:%S} would rewrite its history."
        )


def advance_in(
    conn: sa.Connection,
    reservation_id: int,
    target: ReservationState,
    who: CancelledBy | None,
    now: datetime,
    *,
    reason: str | None = None,
) -> Reservation:
    """``advance`` inside a caller's write transaction (e.g. a POS check
    closing); ``reason`` is told in the event (e.g. a deposit not paid)."""
    return advance_locked(conn, lock_for_change(conn, reservation_id), target, who, now, reason)


def lock_for_change(conn: sa.Connection, reservation_id: int) -> Reservation:
    """The reservation, once its service day and then its row are locked
    (see ``_modify_in``), inside the caller's write transaction."""
    where = conn.execute(
        sa.select(reservations.c.restaurant_id, reservations.c.service_date).where(
            reservations.c.id == reservation_id
        )
    ).first()
    if where is None:
        raise UnknownReservation(f"There is no reservation with id {reservation_id}.")
    lock_service_days(conn, where.restaurant_id, [where.service_date])
    return _load_on_locked_days(conn, reservation_id, [where.service_date])


def advance_locked(
    conn: sa.Connection,
    current: Reservation,
    target: ReservationState,
    who: CancelledBy | None,
    now: datetime,
    reason: str | None = None,
) -> Reservation:
    """``advance_in`` for a reservation the caller has ``lock_for_change``d."""
    reservation_id = current.id
    state = ReservationState(current.state)
    _check_not_before(current, now)
    if target is ReservationState.NO_SHOW and now < current.start_at:
        raise InvalidRequest(
            f"Reservation {reservation_id} starts at {current.start_at:%Y-%m-%d %H:%M} UTC; "
            "a party cannot be a no-show before its time."
        )
    if target in (ReservationState.ARRIVED, ReservationState.SEATED) and (
        now < current.start_at - EARLIEST_ARRIVAL
    ):
        raise InvalidRequest(
            f"Reservation {reservation_id} is for {current.start_at:%Y-%m-%d %H:%M} UTC; "
            "it cannot be marked arrived or seated hours before that."
        )
    if target not in TRANSITIONS[state]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[state])) or "nothing"
        raise IllegalTransition(
            f"Reservation {reservation_id} is {state.value} and cannot become "
            f"{target.value}; from {state.value} it can become: {allowed}."
        )
    values: dict[str, Any] = {
        "state": target.value,
        STATE_TIMESTAMP[target]: now,
        "updated_at": now,
    }
    if who is not None:
        values["cancelled_by"] = who.value
    fee = fee_for(current.terms, state, target, who, now)
    if fee is not None:
        values["fee_minor"] = fee.amount_minor
        values["fee_reason"] = fee.reason.value
    seated_on: tuple[int, ...] = ()
    if target is ReservationState.SEATED and current.overbooked and not current.table_ids:
        seated_on, values["end_at"] = _seat_overbooked(conn, current, now)
    conn.execute(reservations.update().where(reservations.c.id == reservation_id).values(**values))
    if target in TERMINAL_STATES:
        _release(conn, reservation_id, now)
    payload: dict[str, Any] = {"from": state.value, "to": target.value}
    if seated_on:
        payload["table_ids"] = list(seated_on)
    if who is not None:
        payload["cancelled_by"] = who.value
    if reason is not None:
        payload["reason"] = reason
    if target in SETTLES:
        payload.update(
            settlement(current.terms, fee, target, current.currency, current.deposit.held_minor)
        )
    outbox.append(
        conn,
        f"reservation.{target.value}",
        "reservation",
        reservation_id,
        current.restaurant_id,
        payload,
        now,
    )
    return _load(conn, reservation_id)


def _seat_overbooked(
    conn: sa.Connection, current: Reservation, now: datetime
) -> tuple[tuple[int, ...], datetime]:
    """An overbooked party is seated at the best-fitting table free from now
    for its booked stay (the caller holds the day lock): its claims are
    written and its planned end moves with the later start. Returns the
    tables and the new end; ``NoTableFree`` while every table is taken."""
    if now >= current.end_at:
        raise InvalidRequest(
            f"Reservation {current.id} was booked until {current.end_at:%Y-%m-%d %H:%M} UTC; "
            "a party still here after that is seated as a walk-in."
        )
    floor = pin_floor(conn, load_floor(conn, current.restaurant_id))
    stay = current.end_at - current.start_at
    end = max(current.end_at, now + stay)
    book = load_day_book(conn, floor, current.service_date, exclude_reservation=current.id)
    g0, g1 = granule_span(now, end)
    option = BestFitAtBooking().choose(
        floor,
        book,
        current.party_size,
        g0,
        g1,
        area_id=current.area_id,
        accessible=current.accessible,
    )
    if option is None:
        raise NoTableFree(
            f"Reservation {current.id} was taken overbooked and no table for "
            f"{current.party_size} is free now; seat the party when one frees."
        )
    _claim(conn, current.id, option, now, end, now)
    conn.execute(
        reservations.update()
        .where(reservations.c.id == current.id)
        .values(combination_id=option.combination_id)
    )
    return option.table_ids, end


def cancel(
    ledger: Ledger,
    reservation_id: int,
    *,
    by: CancelledBy | str = CancelledBy.DINER,
    now: datetime | None = None,
) -> Reservation:
    return advance(ledger, reservation_id, ReservationState.CANCELLED, cancelled_by=by, now=now)


__all__ = [
    "BookingRequest",
    "Conflict",
    "Reservation",
    "TablePolicyHolder",
    "advance",
    "advance_in",
    "advance_locked",
    "book",
    "cancel",
    "get_reservation",
    "held_tables",
    "lock_for_change",
    "modify",
    "reservation_from_row",
    "seat_walk_in",
    "table_policy",
]
