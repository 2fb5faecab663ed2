"""The manager's service report: per service day and period, what happened
(bookings, covers seated, no-shows, cancellations, walk-ins), the demand
turned away and how full the seats were.

Read with three queries over the span (reservations counted in SQL, the
seated parties' times, turn-aways counted in SQL) and the floor; every
figure below is computed from those rows, never per reservation from the
database.

Which service a record belongs to: its ``service_date``, and the period of
that date (today's floor, after closures and special hours) in which its
start (a turn-away's requested start, a walk-in's seating) falls, counted
from the opening: the last period opening at or before it, else the first.
A date the floor no longer opens on keeps its records in one row whose
``period`` is ``None`` (no seats, no minutes).

Columns of a row (``ServiceFigures``):

- ``bookings`` / ``covers_booked``: reservations booked ahead (every
  channel but walk-in) that stood, i.e. are not cancelled, and their party
  sizes. No-shows count here too: they booked.
- ``parties_seated`` / ``covers_seated``: reservations of any channel that
  were seated (a ``seated_at``: now seated or completed).
- ``no_shows`` / ``no_show_covers``: reservations in state ``no_show``.
- ``cancellations`` / ``late_cancellations`` / ``late_cancelled_covers``:
  reservations in state ``cancelled``, by anyone; late ones were cancelled
  less than ``LATE_CANCEL_WINDOW`` (24 h) before their start, or after it,
  the attendance model's definition.
- ``fees_due_minor`` / ``fees_waived_minor``: the fees the reservations'
  own cancellation terms made due (``booking_core.cancellation_terms``: a
  diner's cancellation after the deadline, a no-show), still due or waived,
  in the restaurant's currency's minor units.
- ``deposits_held_minor`` / ``deposits_outstanding_minor``: of the
  bookings still standing (booked, confirmed, arrived, seated), the deposits
  paid and held (``booking_core.deposits``), and what they still owe;
  ``released_unpaid``: bookings the restaurant cancelled at or after their
  deposit's deadline with the deposit still owed (``unpaid_deposits``).
- ``walk_ins`` / ``walk_in_covers``: walk-ins seated (channel ``walk_in``).
- ``turned_away``: per reason code (``booking_core.turnaways``: always
  ``no_table``, ``pacing``, ``price``, ``walk_in_no_table``; any other code
  a history import wrote as well), the requests recorded and their covers
  (party sizes). A retry is recorded once, so each is one request.
- ``seat_minutes_used``: for every seated party, its covers times the
  minutes from ``seated_at`` to ``completed_at`` (a party still seated:
  its planned ``end_at``, and no later than now), clipped to the service's
  opening and closing.
- ``seat_minutes_available``: the seats of the tables in service at the
  service's opening (each table's ``max_covers``; combinations add none; a
  table taken out of service or put back counts from that change on, as
  the ledger's events date it) times the service's minutes from opening to
  closing (elapsed time: a DST night is an hour shorter or longer).
- ``utilisation``: used / available, None when nothing was available.
- ``completed_stays`` / ``stay_minutes``: completed parties and the sum of
  their whole stays, seated to completed, unclipped;
  ``average_stay_min`` is their ratio (None without a completed stay).

A service still to come, or in progress, reports what the ledger holds so
far (bookings taken, requests turned away)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from booking_core import validation
from booking_core.availability import get_floor
from booking_core.deposits import STANDING
from booking_core.domain import LATE_CANCEL_WINDOW, CancelledBy, Channel, ReservationState
from booking_core.errors import InvalidRequest
from booking_core.floor import Floor, ServicePeriod
from booking_core.ledger import Ledger
from booking_core.schema import dining_tables, outbox, reservations, turnaways
from booking_core.slots import local_to_utc
from booking_core.turnaways import NO_TABLE, PACING, PRICE, WALK_IN_NO_TABLE

# The longest span one report reads: a quarter, so one request stays cheap.
MAX_SPAN_DAYS = 92
REASONS = (NO_TABLE, PACING, PRICE, WALK_IN_NO_TABLE)


@dataclass(frozen=True)
class TurnedAway:
    requests: int = 0
    covers: int = 0


def _no_turnaways() -> dict[str, TurnedAway]:
    return {reason: TurnedAway() for reason in REASONS}


@dataclass(frozen=True, kw_only=True)
class ServiceFigures:
    """The counts of one service, or of a span (see the module's docstring)."""

    bookings: int = 0
    covers_booked: int = 0
    parties_seated: int = 0
    covers_seated: int = 0
    no_shows: int = 0
    no_show_covers: int = 0
    cancellations: int = 0
    late_cancellations: int = 0
    late_cancelled_covers: int = 0
    fees_due_minor: int = 0
    fees_waived_minor: int = 0
    deposits_held_minor: int = 0
    deposits_outstanding_minor: int = 0
    released_unpaid: int = 0
    walk_ins: int = 0
    walk_in_covers: int = 0
    turned_away: dict[str, TurnedAway] = field(default_factory=_no_turnaways)
    seat_minutes_used: float = 0.0
    seat_minutes_available: float = 0.0
    completed_stays: int = 0
    stay_minutes: float = 0.0

    @property
    def turned_away_requests(self) -> int:
        return sum(t.requests for t in self.turned_away.values())

    @property
    def turned_away_covers(self) -> int:
        return sum(t.covers for t in self.turned_away.values())

    @property
    def utilisation(self) -> float | None:
        if self.seat_minutes_available <= 0:
            return None
        return self.seat_minutes_used / self.seat_minutes_available

    @property
    def average_stay_min(self) -> float | None:
        return self.stay_minutes / self.completed_stays if self.completed_stays else None


@dataclass(frozen=True, kw_only=True)
class ServiceRow(ServiceFigures):
    service_date: date
    period: str | None  # None: a date the floor no longer opens on
    opens_at: datetime | None = None  # UTC
    closes_at: datetime | None = None
    seats: int = 0


@dataclass(frozen=True)
class ServiceReport:
    restaurant_id: int
    date_from: date
    date_to: date
    rows: tuple[ServiceRow, ...]
    totals: ServiceFigures


_SUMMED = tuple(f.name for f in fields(ServiceFigures) if f.name != "turned_away")


def total(rows: Iterable[ServiceFigures]) -> ServiceFigures:
    """The span's figures: every count summed, so utilisation and the average
    stay are the span's own ratios, not an average of the rows'."""
    sums: dict[str, float] = dict.fromkeys(_SUMMED, 0)
    away: dict[str, list[int]] = {reason: [0, 0] for reason in REASONS}
    for row in rows:
        for name in _SUMMED:
            sums[name] += getattr(row, name)
        for reason, t in row.turned_away.items():
            got = away.setdefault(reason, [0, 0])
            got[0] += t.requests
            got[1] += t.covers
    return ServiceFigures(
        **sums,  # type: ignore[arg-type]
        turned_away={r: TurnedAway(n, c) for r, (n, c) in away.items()},
    )


def check_span(date_from: date, date_to: date) -> None:
    # A service runs past midnight and is compared in UTC: a day to spare
    # at either end of the calendar.
    if date_from <= date.min or date_to >= date.max:
        raise InvalidRequest(f"A report runs between {date.min} and {date.max}, exclusive.")
    validation.check_span(date_from, date_to, max_days=MAX_SPAN_DAYS, what="A report")


# ---------------------------------------------------------------- queries

_r = reservations.c
_held = _r.deposit_paid_minor - _r.deposit_refunded_minor
_owed = _r.deposit_minor > _held
_standing = _r.state.in_([s.value for s in STANDING])
_COUNTED = (
    sa.select(
        _r.service_date,
        _r.start_at,
        _r.channel,
        _r.state,
        _r.cancelled_at,
        _r.seated_at.is_not(None).label("was_seated"),
        sa.func.count().label("parties"),
        sa.func.sum(_r.party_size).label("covers"),
        sa.func.sum(
            sa.case(
                (sa.and_(_r.fee_reason.is_not(None), _r.fee_waived_at.is_(None)), _r.fee_minor),
                else_=0,
            )
        ).label("fees_due"),
        sa.func.sum(sa.case((_r.fee_waived_at.is_not(None), _r.fee_minor), else_=0)).label(
            "fees_waived"
        ),
        sa.func.sum(sa.case((_standing, _held), else_=0)).label("deposits_held"),
        sa.func.sum(sa.case((sa.and_(_standing, _owed), _r.deposit_minor - _held), else_=0)).label(
            "deposits_outstanding"
        ),
        sa.func.sum(
            sa.case(
                (
                    sa.and_(
                        _r.state == ReservationState.CANCELLED.value,
                        _r.cancelled_by == CancelledBy.RESTAURANT.value,
                        _owed,
                        _r.deposit_due_at <= _r.cancelled_at,
                    ),
                    1,
                ),
                else_=0,
            )
        ).label("released_unpaid"),
    )
    .where(
        _r.restaurant_id == sa.bindparam("restaurant_id"),
        _r.service_date.between(sa.bindparam("first"), sa.bindparam("last")),
    )
    .group_by(
        _r.service_date,
        _r.start_at,
        _r.channel,
        _r.state,
        _r.cancelled_at,
        _r.seated_at.is_not(None),
    )
)
_SEATED = sa.select(
    _r.service_date, _r.start_at, _r.end_at, _r.party_size, _r.seated_at, _r.completed_at
).where(
    _r.restaurant_id == sa.bindparam("restaurant_id"),
    _r.service_date.between(sa.bindparam("first"), sa.bindparam("last")),
    _r.seated_at.is_not(None),
)
# Every table the restaurant has, in service or not, and when one was taken
# out of service or put back (``restaurants.set_table_active``'s events) or
# added (``floor_plan.add_table``: out of service before it).
_TABLES = sa.select(dining_tables.c.id, dining_tables.c.max_covers, dining_tables.c.active).where(
    dining_tables.c.restaurant_id == sa.bindparam("restaurant_id")
)
_TABLE_CHANGES = (
    sa.select(outbox.c.entity_id, outbox.c.occurred_at, outbox.c.payload)
    .where(
        outbox.c.restaurant_id == sa.bindparam("restaurant_id"),
        outbox.c.event_type.in_(["restaurant.table_changed", "restaurant.table_added"]),
    )
    .order_by(outbox.c.event_offset)
)


def seats_in_service(
    tables: Iterable[sa.Row], changes: Iterable[sa.Row]
) -> Callable[[datetime], int]:
    """Seats of the tables in service at an instant: a table taken out of
    service (or put back) counts from its change on, so a past night is
    measured against the tables it had, not today's. Before a table's first
    change it was as that change says it was (events without that say the
    opposite of what they set)."""
    history: dict[int, list[tuple[datetime, bool]]] = {}
    before: dict[int, bool] = {}
    for table_id, at, payload in changes:
        active = bool(payload["active"])
        before.setdefault(table_id, bool(payload.get("was_active", not active)))
        history.setdefault(table_id, []).append((at, active))
    floor = [(tid, seats, bool(active)) for tid, seats, active in tables]

    def seats_at(instant: datetime) -> int:
        total = 0
        for table_id, seats, active_now in floor:
            changed = history.get(table_id)
            if changed is None:
                total += seats if active_now else 0
                continue
            active = before[table_id]
            for at, state in changed:
                if at > instant:
                    break
                active = state
            total += seats if active else 0
        return total

    return seats_at


_t = turnaways.c
_TURNED_AWAY = (
    sa.select(
        _t.service_date,
        _t.requested_start_at,
        _t.reason,
        sa.func.count().label("requests"),
        sa.func.sum(_t.party_size).label("covers"),
    )
    .where(
        _t.restaurant_id == sa.bindparam("restaurant_id"),
        _t.service_date.between(sa.bindparam("first"), sa.bindparam("last")),
    )
    .group_by(_t.service_date, _t.requested_start_at, _t.reason)
)


# ---------------------------------------------------------------- services


@dataclass
class _Service:
    """One row being added up."""

    service_date: date
    period: ServicePeriod | None
    opens_at: datetime | None
    closes_at: datetime | None
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMMED, 0))
    away: dict[str, list[int]] = field(
        default_factory=lambda: {reason: [0, 0] for reason in REASONS}
    )


def _instant(floor: Floor, day: date, minute: int) -> datetime:
    # A wall time in the DST gap does not exist; the one an hour on does.
    found = local_to_utc(floor, day, minute) or local_to_utc(floor, day, minute + 60)
    assert found is not None
    return found


class _Services:
    """The span's services, found by a record's date and start."""

    def __init__(self, floor: Floor, first: date, last: date) -> None:
        self.floor = floor
        self.by_day: dict[date, list[_Service]] = {}
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            self.by_day[day] = [
                _Service(
                    day,
                    p,
                    _instant(floor, day, p.opens_min),
                    _instant(floor, day, p.closes_min),
                )
                for p in floor.periods_on(day)
            ]

    def of(self, day: date, start: datetime) -> _Service:
        services = self.by_day.setdefault(day, [])
        if not services:  # closed that day by today's floor: kept, period None
            services.append(_Service(day, None, None, None))
            return services[0]
        midnight = datetime.combine(day, time(), tzinfo=self.floor.zone)
        minute = (start.astimezone(self.floor.zone) - midnight).total_seconds() / 60
        found = services[0]
        for service in services:
            if service.period is not None and service.period.opens_min <= minute:
                found = service
        return found

    def rows(self, seats_at: Callable[[datetime], int]) -> tuple[ServiceRow, ...]:
        rows = []
        for day in sorted(self.by_day):
            for s in self.by_day[day]:
                seats = 0
                if s.opens_at is not None and s.closes_at is not None:
                    seats = seats_at(s.opens_at)
                    minutes = (s.closes_at - s.opens_at).total_seconds() / 60
                    s.counts["seat_minutes_available"] = seats * minutes
                rows.append(
                    ServiceRow(
                        service_date=day,
                        period=s.period.name if s.period is not None else None,
                        opens_at=s.opens_at,
                        closes_at=s.closes_at,
                        seats=seats if s.period is not None else 0,
                        turned_away={r: TurnedAway(n, c) for r, (n, c) in s.away.items()},
                        **s.counts,  # type: ignore[arg-type]
                    )
                )
        return tuple(rows)


def _count(services: _Services, rows: Sequence[sa.Row]) -> None:
    for row in rows:
        c = services.of(row.service_date, row.start_at).counts
        parties, covers = int(row.parties), int(row.covers)
        c["fees_due_minor"] += int(row.fees_due or 0)
        c["fees_waived_minor"] += int(row.fees_waived or 0)
        c["deposits_held_minor"] += int(row.deposits_held or 0)
        c["deposits_outstanding_minor"] += int(row.deposits_outstanding or 0)
        c["released_unpaid"] += int(row.released_unpaid or 0)
        ahead = row.channel != Channel.WALK_IN.value
        state = row.state
        if ahead and state != ReservationState.CANCELLED.value:
            c["bookings"] += parties
            c["covers_booked"] += covers
        if row.was_seated:
            c["parties_seated"] += parties
            c["covers_seated"] += covers
            if not ahead:
                c["walk_ins"] += parties
                c["walk_in_covers"] += covers
        if state == ReservationState.NO_SHOW.value:
            c["no_shows"] += parties
            c["no_show_covers"] += covers
        if state == ReservationState.CANCELLED.value:
            c["cancellations"] += parties
            late = row.cancelled_at is not None and (
                row.cancelled_at > row.start_at - LATE_CANCEL_WINDOW
            )
            if late:
                c["late_cancellations"] += parties
                c["late_cancelled_covers"] += covers


def _minutes(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds() / 60)


def _seat_minutes(services: _Services, rows: Sequence[sa.Row], now: datetime) -> None:
    for row in rows:
        s = services.of(row.service_date, row.start_at)
        end = row.completed_at if row.completed_at is not None else min(row.end_at, now)
        if s.opens_at is not None and s.closes_at is not None:
            used = _minutes(min(end, s.closes_at) - max(row.seated_at, s.opens_at))
            s.counts["seat_minutes_used"] += row.party_size * used
        if row.completed_at is not None:
            s.counts["completed_stays"] += 1
            s.counts["stay_minutes"] += _minutes(row.completed_at - row.seated_at)


def _turnaways(services: _Services, rows: Sequence[sa.Row]) -> None:
    for row in rows:
        got = services.of(row.service_date, row.requested_start_at).away.setdefault(
            row.reason, [0, 0]
        )
        got[0] += int(row.requests)
        got[1] += int(row.covers)


def service_report(
    ledger: Ledger,
    restaurant_id: int,
    date_from: date,
    date_to: date,
    *,
    now: datetime | None = None,
) -> ServiceReport:
    """One row per service day and period from ``date_from`` to ``date_to``
    (both included, at most ``MAX_SPAN_DAYS``), and the span's totals.
    ``InvalidRequest`` for a backwards or too long span, ``UnknownRestaurant``
    for an unknown restaurant."""
    check_span(date_from, date_to)
    now = (now or ledger.clock()).astimezone(UTC)
    params = {"restaurant_id": restaurant_id, "first": date_from, "last": date_to}
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        counted = conn.execute(_COUNTED, params).all()
        seated = conn.execute(_SEATED, params).all()
        away = conn.execute(_TURNED_AWAY, params).all()
        seats_at = seats_in_service(
            conn.execute(_TABLES, params).all(), conn.execute(_TABLE_CHANGES, params).all()
        )
    services = _Services(floor, date_from, date_to)
    _count(services, counted)
    _seat_minutes(services, seated, now)
    _turnaways(services, away)
    rows = services.rows(seats_at)
    return ServiceReport(restaurant_id, date_from, date_to, rows, total(rows))


__all__ = [
    "MAX_SPAN_DAYS",
    "REASONS",
    "ServiceFigures",
    "ServiceReport",
    "ServiceRow",
    "TurnedAway",
    "check_span",
    "service_report",
    "total",
]
