"""Whole-ledger audit: the invariants acceptance keeps, checked after the fact.

Acceptance enforces its rules one booking at a time under a service-day lock;
this module re-checks them across the whole ledger (after an import, a bulk
world generation, a migration or a suspected bug) and lists every violation
instead of stopping at the first. Grouping, window functions and joins on
indexed columns run in the database, so only suspicious rows reach Python and
a ledger of a million reservations is audited in seconds, on SQLite and
PostgreSQL alike.

On SQLite the audit's read transaction is one snapshot. On PostgreSQL each
query is (READ COMMITTED); on a live ledger run the audit in a REPEATABLE READ
transaction so that writes landing between two rules cannot show as violations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from booking_core.cancellation_terms import FeeReason
from booking_core.domain import (
    HOLDING_STATES,
    PACING_STATES,
    STATE_TIMESTAMP,
    TRANSITIONS,
    CancelledBy,
    Channel,
    ReservationState,
)
from booking_core.floor import Floor, ServicePeriod, load_floor
from booking_core.schema import (
    deposit_payments,
    dining_tables,
    outbox,
    reservation_tables,
    reservations,
    restaurants,
    service_periods,
    table_claims,
)
from booking_core.slots import GRANULE_SECONDS, granule_span, granule_start, minute_of_service

DOUBLE_BOOKING = "double_booking"
CLAIMS_MISMATCH = "claims_mismatch"
PACING = "pacing"
STATE_HISTORY = "state_history"
OUTBOX = "outbox"
FEES = "fees"
DEPOSITS = "deposits"
RULES = (DOUBLE_BOOKING, CLAIMS_MISMATCH, PACING, STATE_HISTORY, OUTBOX, FEES, DEPOSITS)

_HOLDING = sorted(s.value for s in HOLDING_STATES)
_PACING = sorted(s.value for s in PACING_STATES)
_WALK_IN = Channel.WALK_IN.value

_Select: TypeAlias = "sa.Select[*tuple[Any, ...]]"


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    entity: str  # "reservation", "restaurant", ...
    entity_id: int
    message: str


@dataclass
class AuditReport:
    violations: list[Violation] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_rule(self) -> dict[str, list[Violation]]:
        grouped: dict[str, list[Violation]] = {}
        for v in self.violations:
            grouped.setdefault(v.rule, []).append(v)
        return grouped

    def to_text(self, per_rule: int = 10) -> str:
        checked = ", ".join(f"{k}={v}" for k, v in self.checked.items())
        if self.ok:
            return f"Ledger audit: no violations.\nChecked: {checked}"
        grouped = self.by_rule()
        totals = ", ".join(f"{rule} {len(vs)}" for rule, vs in grouped.items())
        lines = [
            f"Ledger audit: {len(self.violations)} violations ({totals}).",
            f"Checked: {checked}",
        ]
        for rule, vs in grouped.items():
            lines.append(f"\n[{rule}] {len(vs)} violation{'s' if len(vs) != 1 else ''}")
            lines += [f"  - {v.message}" for v in vs[:per_rule]]
            if len(vs) > per_rule:
                lines.append(f"  ... and {len(vs) - per_rule} more")
        return "\n".join(lines)


def audit_ledger(
    conn: sa.Connection, *, restaurant_ids: Sequence[int] | None = None
) -> AuditReport:
    """Check the whole ledger (or only these restaurants) and report every violation."""
    scope = _Scope(None if restaurant_ids is None else tuple(restaurant_ids))
    report = AuditReport()
    _check_double_booking(conn, scope, report)
    _check_claims(conn, scope, report)
    _check_pacing(conn, scope, report)
    _check_state_history(conn, scope, report)
    _check_outbox(conn, scope, report)
    _check_fees(conn, scope, report)
    _check_deposits(conn, scope, report)
    report.violations.sort(key=lambda v: (RULES.index(v.rule), v.entity, v.entity_id))
    return report


@dataclass(frozen=True)
class _Scope:
    restaurant_ids: tuple[int, ...] | None

    def reservation_ids(self) -> sa.Select[int]:
        query = sa.select(reservations.c.id)
        if self.restaurant_ids is not None:
            query = query.where(reservations.c.restaurant_id.in_(self.restaurant_ids))
        return query

    def where(self, query: _Select, restaurant_col: sa.ColumnElement[Any]) -> _Select:
        if self.restaurant_ids is None:
            return query
        return query.where(restaurant_col.in_(self.restaurant_ids))


def _count(conn: sa.Connection, query: _Select) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())


def _ts(moment: datetime | None) -> str:
    return "unset" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _ids(ids: Iterable[int], limit: int = 20) -> str:
    ordered = sorted(ids)
    shown = ", ".join(str(i) for i in ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


# ---------------------------------------------------------------- 1. tables


@dataclass(frozen=True, slots=True)
class _Held:
    """One reservation_tables row."""

    id: int
    reservation_id: int
    start_at: datetime
    end_at: datetime
    assigned_at: datetime
    released_at: datetime | None

    def released_before(self, other: _Held) -> bool:
        return self.released_at is not None and self.released_at <= other.assigned_at


_HELD = ("id", "reservation_id", "start_at", "end_at", "assigned_at", "released_at")


def _check_double_booking(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    """Two assignments of one table that overlap in time, unless one was released
    before the other was made (a table freed early may be given away)."""
    rt, dt = reservation_tables, dining_tables
    base = sa.select(rt)
    if scope.restaurant_ids is not None:
        base = base.where(
            rt.c.table_id.in_(
                sa.select(dt.c.id).where(dt.c.restaurant_id.in_(scope.restaurant_ids))
            )
        )
    report.checked["reservation_tables"] = _count(conn, base)
    # In (start, id) order per table, a row overlaps an earlier one iff that
    # one ends after it starts. The usual case, the row just before, is judged
    # in SQL from lag(); a row that also overlaps rows further back (three at
    # once: rare, even with early releases) is compared with each in Python.
    per_table, order = rt.c.table_id, (rt.c.start_at, rt.c.id)

    def lag(col: sa.Column[Any]) -> sa.Label[Any]:
        lagged = sa.func.lag(col, type_=col.type).over(partition_by=per_table, order_by=order)
        return lagged.label("p_" + col.name)

    windowed = base.add_columns(
        *(lag(rt.c[name]) for name in _HELD),
        sa.func.max(rt.c.end_at)
        .over(partition_by=per_table, order_by=order, rows=(None, -2))
        .label("further_end"),
    ).subquery()
    w = windowed.c
    legal = sa.or_(
        sa.and_(w.p_released_at.isnot(None), w.p_released_at <= w.assigned_at),
        sa.and_(w.released_at.isnot(None), w.released_at <= w.p_assigned_at),
    )
    further_back = w.further_end > w.start_at
    rows = conn.execute(
        sa.select(
            *(w[name] for name in _HELD),
            *(w["p_" + name] for name in _HELD),
            further_back.label("further_back"),
            w.table_id,
            dt.c.name,
            dt.c.restaurant_id,
        )
        .join_from(windowed, dt, dt.c.id == w.table_id)
        .where(
            w.end_at > w.start_at,
            sa.or_(further_back, sa.and_(w.p_end_at > w.start_at, ~legal)),
        )
        .order_by(w.table_id, w.start_at, w.id)
    ).mappings()
    for row in rows:
        held = _Held(*(row[name] for name in _HELD))
        where = f"table {row['table_id']} ({row['name']}, restaurant {row['restaurant_id']})"
        if not row["further_back"]:
            earlier = [_Held(*(row["p_" + name] for name in _HELD))]
        else:
            earlier = [
                _Held(*other)
                for other in conn.execute(
                    sa.select(*(rt.c[name] for name in _HELD)).where(
                        rt.c.table_id == row["table_id"],
                        rt.c.start_at <= held.start_at,
                        rt.c.end_at > held.start_at,
                        rt.c.id != held.id,
                        sa.or_(rt.c.start_at < held.start_at, rt.c.id < held.id),
                    )
                )
            ]
        for other in earlier:
            if not other.released_before(held) and not held.released_before(other):
                report.violations.append(_clash(where, other, held))


def _clash(where: str, a: _Held, b: _Held) -> Violation:
    # Blame the assignment made last: the one that should have been refused.
    first, last = sorted((a, b), key=lambda r: (r.assigned_at, r.id))

    def held(r: _Held) -> str:
        released = f"released {_ts(r.released_at)}" if r.released_at else "not released"
        return (
            f"reservation {r.reservation_id} (reservation_tables row {r.id}, "
            f"{_ts(r.start_at)} to {_ts(r.end_at)}, assigned {_ts(r.assigned_at)}, {released})"
        )

    return Violation(
        DOUBLE_BOOKING,
        "reservation",
        last.reservation_id,
        f"{where} is held by {held(last)} while also held by {held(first)}",
    )


def _epoch_seconds(conn: sa.Connection, col: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """Whole seconds since the epoch, truncated like ``int(dt.timestamp())``."""
    if conn.dialect.name == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; strftime would round the fraction.
        return sa.cast(sa.func.strftime("%s", sa.func.substr(col, 1, 19)), sa.Integer)
    return sa.cast(sa.func.floor(sa.extract("epoch", col)), sa.BigInteger)


def _check_claims(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    """Holding reservations claim exactly the granules of their unreleased
    assignments; terminal ones hold neither claims nor unreleased assignments."""
    rt, tc, r = reservation_tables, table_claims, reservations
    in_scope = scope.reservation_ids()
    report.checked["table_claims"] = _count(
        conn, sa.select(tc.c.granule).where(tc.c.reservation_id.in_(in_scope))
    )
    g0 = _epoch_seconds(conn, rt.c.start_at) // GRANULE_SECONDS
    g1 = (_epoch_seconds(conn, rt.c.end_at) + (GRANULE_SECONDS - 1)) // GRANULE_SECONDS
    g1 = sa.case((g1 > g0, g1), else_=g0 + 1)  # as slots.granule_span: at least one
    expected = scope.where(
        sa.select(
            rt.c.reservation_id,
            rt.c.table_id,
            sa.func.min(g0).label("lo"),
            sa.func.max(g1).label("hi"),
            sa.func.count().label("n"),
        )
        .join_from(rt, r, r.c.id == rt.c.reservation_id)
        .where(rt.c.released_at.is_(None), r.c.state.in_(_HOLDING))
        .group_by(rt.c.reservation_id, rt.c.table_id),
        r.c.restaurant_id,
    ).cte("expected")
    claimed = (
        sa.select(
            tc.c.reservation_id,
            tc.c.table_id,
            sa.func.min(tc.c.granule).label("lo"),
            (sa.func.max(tc.c.granule) + 1).label("hi"),
            sa.func.count().label("n"),
        )
        .where(tc.c.reservation_id.in_(in_scope))
        .group_by(tc.c.reservation_id, tc.c.table_id)
    ).cte("claimed")
    e, c = expected.c, claimed.c
    problems: dict[int, list[str]] = defaultdict(list)

    # Claims are unique per (table, granule), so count, min and max prove the
    # set is the expected range when that is one range. Several unreleased rows
    # of one reservation on one table (acceptance never writes them) are
    # compared granule by granule.
    same = sa.and_(c.reservation_id == e.reservation_id, c.table_id == e.table_id)
    for row in conn.execute(
        sa.select(e.reservation_id, e.table_id, e.lo, e.hi, e.n, c.lo, c.hi, c.n)
        .join_from(expected, claimed, same, isouter=True)
        .where(
            sa.or_(
                c.n.is_(None),
                e.n > 1,
                c.lo != e.lo,
                c.hi != e.hi,
                c.n != e.hi - e.lo,
            )
        )
    ):
        res_id, table_id, lo, hi, n_rows, got_lo, got_hi, got_n = row
        if n_rows > 1:
            msg = _compare_granules(conn, res_id, table_id)
            if msg:
                problems[res_id].append(msg)
        elif got_n is None:
            problems[res_id].append(
                f"table {table_id} is assigned {_granules(lo, hi)} but has no table_claims"
            )
        else:
            problems[res_id].append(
                f"table {table_id} is assigned {_granules(lo, hi)} but its {got_n} claims "
                f"lie within {_granules(got_lo, got_hi)}"
            )

    for res_id, table_id, lo, hi, n, state in conn.execute(
        sa.select(c.reservation_id, c.table_id, c.lo, c.hi, c.n, r.c.state)
        .join_from(claimed, expected, same, isouter=True)
        .join(r, r.c.id == c.reservation_id)
        .where(e.reservation_id.is_(None))
    ):
        why = "is " + state if state not in _HOLDING else "holds no unreleased assignment of it"
        problems[res_id].append(
            f"claims {n} granules of table {table_id} ({_granules(lo, hi)}) but {why}"
        )

    for res_id, state, tables in conn.execute(
        scope.where(
            sa.select(rt.c.reservation_id, r.c.state, sa.func.count())
            .join_from(rt, r, r.c.id == rt.c.reservation_id)
            .where(rt.c.released_at.is_(None), r.c.state.not_in(_HOLDING))
            .group_by(rt.c.reservation_id, r.c.state),
            r.c.restaurant_id,
        )
    ):
        problems[res_id].append(
            f"is {state} but still holds {tables} unreleased table assignment(s)"
        )

    for res_id, msgs in problems.items():
        report.violations.append(
            Violation(
                CLAIMS_MISMATCH, "reservation", res_id, f"reservation {res_id}: " + "; ".join(msgs)
            )
        )


def _granules(lo: int, hi: int) -> str:
    return f"granules {lo}..{hi - 1} ({_ts(granule_start(lo))} to {_ts(granule_start(hi))})"


def _compare_granules(conn: sa.Connection, reservation_id: int, table_id: int) -> str | None:
    rt, tc = reservation_tables, table_claims
    want: set[int] = set()
    for start, end in conn.execute(
        sa.select(rt.c.start_at, rt.c.end_at).where(
            rt.c.reservation_id == reservation_id,
            rt.c.table_id == table_id,
            rt.c.released_at.is_(None),
        )
    ):
        want.update(range(*granule_span(start, end)))
    got = set(
        conn.execute(
            sa.select(tc.c.granule).where(
                tc.c.reservation_id == reservation_id, tc.c.table_id == table_id
            )
        ).scalars()
    )
    if want == got:
        return None
    return (
        f"table {table_id}: {len(want - got)} assigned granules are not claimed and "
        f"{len(got - want)} claimed granules are not assigned"
    )


# ---------------------------------------------------------------- 2. pacing


def _check_pacing(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    """Covers and parties starting at one exact time stay within the period's limits."""
    r, sp = reservations, service_periods
    has_periods = sa.exists().where(sp.c.restaurant_id == restaurants.c.id)
    total, with_periods = conn.execute(
        scope.where(
            sa.select(sa.func.count(), sa.func.count(sa.case((has_periods, 1)))).select_from(
                restaurants
            ),
            restaurants.c.id,
        )
    ).one()
    # Restaurants without hours (e.g. imported history) have no limits to check.
    report.checked["pacing_restaurants"] = int(with_periods)
    report.checked["pacing_restaurants_skipped"] = int(total - with_periods)

    # The strictest limit of each restaurant prunes in SQL; the slot's own
    # period (weekday, local minute) is then found in Python for the few left.
    limits = (
        sa.select(
            sp.c.restaurant_id,
            sa.func.min(sp.c.max_covers_per_slot).label("covers"),
            sa.func.min(sp.c.max_parties_per_slot).label("parties"),
        ).group_by(sp.c.restaurant_id)
    ).subquery()
    slots = scope.where(
        sa.select(
            r.c.restaurant_id,
            r.c.service_date,
            r.c.start_at,
            sa.func.sum(r.c.party_size).label("covers"),
            sa.func.count().label("parties"),
        )
        .where(r.c.state.in_(_PACING), r.c.channel != _WALK_IN)
        .group_by(r.c.restaurant_id, r.c.service_date, r.c.start_at),
        r.c.restaurant_id,
    ).subquery()
    s, lim = slots.c, limits.c
    joined = sa.select(s.restaurant_id, s.service_date, s.start_at, s.covers, s.parties).join_from(
        slots, limits, lim.restaurant_id == s.restaurant_id
    )
    report.checked["pacing_slots"] = _count(conn, joined)
    over = joined.where(
        sa.or_(
            sa.and_(lim.covers.isnot(None), s.covers > lim.covers),
            sa.and_(lim.parties.isnot(None), s.parties > lim.parties),
        )
    ).subquery()
    o = over.c
    rows = conn.execute(
        sa.select(o.restaurant_id, o.service_date, o.start_at, o.covers, o.parties, r.c.id)
        .join_from(
            over,
            r,
            sa.and_(
                r.c.restaurant_id == o.restaurant_id,
                r.c.service_date == o.service_date,
                r.c.start_at == o.start_at,
                r.c.state.in_(_PACING),
                r.c.channel != _WALK_IN,
            ),
        )
        .order_by(o.restaurant_id, o.service_date, o.start_at, r.c.id)
    ).all()
    slot_ids: dict[tuple[int, date, datetime], list[int]] = defaultdict(list)
    totals: dict[tuple[int, date, datetime], tuple[int, int]] = {}
    for rest_id, day, start, covers, parties, res_id in rows:
        slot_ids[rest_id, day, start].append(res_id)
        totals[rest_id, day, start] = (int(covers), int(parties))
    floors: dict[int, Floor] = {}
    outside = 0
    for (rest_id, day, start), (covers, parties) in totals.items():
        if rest_id not in floors:
            floors[rest_id] = load_floor(conn, rest_id)
        floor = floors[rest_id]
        local = start.astimezone(floor.zone)
        minute = minute_of_service(floor, day, start)
        period = _period_of(floor, day, minute)
        if period is None:
            outside += 1
            continue
        excess = []
        if period.max_covers_per_slot is not None and covers > period.max_covers_per_slot:
            excess.append(f"{covers} covers (max {period.max_covers_per_slot})")
        if period.max_parties_per_slot is not None and parties > period.max_parties_per_slot:
            excess.append(f"{parties} parties (max {period.max_parties_per_slot})")
        if excess:
            report.violations.append(
                Violation(
                    PACING,
                    "restaurant",
                    rest_id,
                    f"restaurant {rest_id} ({floor.name}), {period.name} on {day}, "
                    f"{local:%H:%M} {floor.timezone} ({_ts(start)}): "
                    + " and ".join(excess)
                    + f"; reservations {_ids(slot_ids[rest_id, day, start])}",
                )
            )
    report.checked["pacing_slots_outside_periods"] = outside


def _period_of(floor: Floor, day: date, minute: int) -> ServicePeriod | None:
    weekday = [p for p in floor.timetable_on(day) if p.weekday == day.weekday()]
    # A special date's own hours come second: they carry the weekday's limits.
    for period in (*weekday, *floor.periods_on(day)):
        if period.opens_min <= minute <= period.last_seating_min:
            return period
    return None


# ---------------------------------------------------------------- 3. history


def _legal_paths() -> tuple[tuple[ReservationState, ...], ...]:
    """Every path through TRANSITIONS from booked (the graph has no cycles)."""
    found: list[tuple[ReservationState, ...]] = []

    def walk(path: tuple[ReservationState, ...]) -> None:
        found.append(path)
        for nxt in sorted(TRANSITIONS[path[-1]]):
            if nxt not in path:
                walk((*path, nxt))

    walk((ReservationState.BOOKED,))
    return tuple(found)


LEGAL_PATHS = _legal_paths()
_WALK_IN_NEVER = (ReservationState.CONFIRMED, ReservationState.ARRIVED)


def _legal_history_sql() -> ColumnElement[bool]:
    """True where a row's state and timestamps are those of a legal path; never NULL,
    so NOT of it selects exactly the rows to explain."""
    r = reservations
    stamp = {s: r.c[STATE_TIMESTAMP[s]] for s in ReservationState}
    paths = []
    for path in LEGAL_PATHS:
        paths.append(
            sa.and_(
                r.c.state == path[-1].value,
                *(stamp[s].isnot(None) for s in path),
                *(stamp[s].is_(None) for s in ReservationState if s not in path),
                *(stamp[a] <= stamp[b] for a, b in pairwise(path)),
            )
        )
    cancelled = r.c.state == ReservationState.CANCELLED.value
    by_whom = sa.or_(
        sa.and_(cancelled, r.c.cancelled_by.isnot(None)),
        sa.and_(~cancelled, r.c.cancelled_by.is_(None)),
    )
    walk_in = sa.or_(
        r.c.channel != _WALK_IN,
        sa.and_(
            r.c.seated_at.isnot(None),
            r.c.seated_at == r.c.booked_at,
            *(stamp[s].is_(None) for s in _WALK_IN_NEVER),
        ),
    )
    return sa.and_(sa.or_(*paths), by_whom, walk_in)


def history_problems(
    state: str, channel: str, stamps: Mapping[str, datetime | None], cancelled_by: str | None
) -> list[str]:
    """Why a reservation's state and timestamps are not a legal history (empty if they are).

    ``stamps`` maps the STATE_TIMESTAMP columns to their values.
    """
    try:
        current = ReservationState(state)
    except ValueError:
        return [f"state {state!r} is not a reservation state"]
    problems = []
    entered = {s for s in ReservationState if stamps.get(STATE_TIMESTAMP[s]) is not None}
    for s in sorted({ReservationState.BOOKED, current} - entered):
        problems.append(f"state is {current.value} but {STATE_TIMESTAMP[s]} is not set")
    if current is ReservationState.CANCELLED and cancelled_by is None:
        problems.append("cancelled without cancelled_by")
    if current is not ReservationState.CANCELLED and cancelled_by is not None:
        problems.append(f"cancelled_by is {cancelled_by!r} but the state is {current.value}")
    candidates = [p for p in LEGAL_PATHS if p[-1] is current]
    matches = [p for p in candidates if set(p) == entered]
    if not matches and {ReservationState.BOOKED, current} <= entered:
        on_a_path = {s for p in candidates for s in p}
        required = {s for s in on_a_path if all(s in p for p in candidates)}
        explained = len(problems)
        problems += [
            f"{STATE_TIMESTAMP[s]} is set but {s.value} cannot lead to {current.value}"
            for s in ReservationState
            if s in entered and s not in on_a_path
        ]
        problems += [
            f"{current.value} requires {STATE_TIMESTAMP[s]}"
            for s in ReservationState
            if s in required and s not in entered
        ]
        if len(problems) == explained:  # not reached with today's TRANSITIONS
            names = ", ".join(STATE_TIMESTAMP[s] for s in ReservationState if s in entered)
            problems.append(f"{names} are no legal path from booked to {current.value}")
    elif matches and not any(_in_order(p, stamps) for p in matches):
        for a, b in pairwise(matches[0]):
            ta, tb = stamps[STATE_TIMESTAMP[a]], stamps[STATE_TIMESTAMP[b]]
            if ta is not None and tb is not None and ta > tb:
                problems.append(
                    f"{STATE_TIMESTAMP[a]} {_ts(ta)} is after {STATE_TIMESTAMP[b]} {_ts(tb)}"
                )
    if channel == _WALK_IN:
        booked, seated = stamps.get("booked_at"), stamps.get("seated_at")
        if seated is None or seated != booked:
            problems.append(
                f"a walk-in is seated as it is created, but booked_at is {_ts(booked)} "
                f"and seated_at {_ts(seated)}"
            )
        problems += [
            f"a walk-in is never {s.value} but {STATE_TIMESTAMP[s]} is set"
            for s in _WALK_IN_NEVER
            if s in entered
        ]
    return problems


def _in_order(path: tuple[ReservationState, ...], stamps: Mapping[str, datetime | None]) -> bool:
    times = [stamps[STATE_TIMESTAMP[s]] for s in path]
    return all(a is not None and b is not None and a <= b for a, b in pairwise(times))


def _check_state_history(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    r = reservations
    report.checked["reservations"] = _count(conn, scope.reservation_ids())
    stamp_cols = [r.c[col] for col in STATE_TIMESTAMP.values()]
    rows = conn.execute(
        scope.where(
            sa.select(r.c.id, r.c.state, r.c.channel, r.c.cancelled_by, *stamp_cols)
            .where(~_legal_history_sql())
            .order_by(r.c.id),
            r.c.restaurant_id,
        )
    ).mappings()
    for row in rows:
        stamps = {col: row[col] for col in STATE_TIMESTAMP.values()}
        problems = history_problems(row["state"], row["channel"], stamps, row["cancelled_by"])
        # The database flagged it; if Python sees no fault, the stored values
        # compare differently there (e.g. text timestamps in another format).
        message = "; ".join(problems) or "timestamps compare out of order as stored"
        report.violations.append(
            Violation(
                STATE_HISTORY, "reservation", row["id"], f"reservation {row['id']}: {message}"
            )
        )


# ---------------------------------------------------------------- 4. outbox

_CREATED = ("reservation.booked", "reservation.seated_walk_in")
_STATE_EVENTS = {
    s: f"reservation.{s.value}" for s in ReservationState if s is not ReservationState.BOOKED
}
_KNOWN = (*_CREATED, *_STATE_EVENTS.values())
_MODIFIED = "reservation.modified"
# Events beside the state history, any number of them (code 0).
_SIDE = (_MODIFIED, "reservation.fee_waived", "reservation.deposit_paid")
# Events of states entered one after another on every path, in that order.
_ORDERED = tuple(
    _STATE_EVENTS[s]
    for s in (ReservationState.CONFIRMED, ReservationState.ARRIVED, ReservationState.SEATED)
)
# A small code per event type (0: modified, 15: anything else). The check packs
# counts and codes into single aggregates: one pass over millions of events,
# a handful of aggregates instead of two per type.
_CODE = {event: i for i, event in enumerate(_KNOWN, start=1)}
_OTHER_CODE = 15
_CODE_BITS = 4
# Counts add up in 6-bit digits, one per type, and other types above them; a
# reservation's sum equals the expected one only if every count does (short of
# 64 duplicates of one type cancelling a missing event of the next).
_COUNT_BITS = 6


def _weight(code: int) -> int:
    return 1 << (_COUNT_BITS * (code - 1))


def _first_label(event: str) -> str:
    return "first_" + event.removeprefix("reservation.")


def _expected_events(row: Mapping[Any, Any]) -> dict[str, int]:
    walk_in = row["channel"] == _WALK_IN
    expected = {
        "reservation.booked": int(not walk_in),
        "reservation.seated_walk_in": int(walk_in),
    }
    for s, event in _STATE_EVENTS.items():
        entered = row[STATE_TIMESTAMP[s]] is not None
        # A walk-in's seating is announced by its creation event.
        expected[event] = int(entered and not (walk_in and s is ReservationState.SEATED))
    return expected


def _last_event_for(state: str, channel: str) -> str:
    if state == ReservationState.SEATED.value and channel == _WALK_IN:
        return "reservation.seated_walk_in"
    return f"reservation.{state}"


def _check_outbox(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    """Each reservation's events tell its history: one creation event, one event
    per later state, in order, the last one naming its current state."""
    r, ob = reservations, outbox
    events = ob.c.entity == "reservation"
    if scope.restaurant_ids is not None:
        events = sa.and_(events, ob.c.entity_id.in_(scope.reservation_ids()))
    report.checked["outbox_events"] = _count(conn, sa.select(ob.c.event_offset).where(events))

    def const(value: int) -> ColumnElement[int]:
        return sa.literal_column(str(value), sa.BigInteger)

    code = sa.case(
        {event: const(c) for event, c in _CODE.items()} | {e: const(0) for e in _SIDE},
        value=ob.c.event_type,
        else_=const(_OTHER_CODE),
    )
    weight = sa.case(
        {event: const(_weight(c)) for event, c in _CODE.items()} | {e: const(0) for e in _SIDE},
        value=ob.c.event_type,
        else_=const(_weight(_OTHER_CODE)),
    )
    # max/min of offset * 16 + code: the last and first event's offset and type at once.
    tagged = ob.c.event_offset * (1 << _CODE_BITS) + code
    is_state = ob.c.event_type.in_(_KNOWN)

    def first_of(event: str) -> sa.Label[Any]:
        offset = sa.func.min(sa.case((ob.c.event_type == event, ob.c.event_offset)))
        return offset.label(_first_label(event))

    pivot = (
        sa.select(
            ob.c.entity_id,
            sa.func.sum(weight).label("counts"),
            sa.func.min(tagged).label("first"),
            sa.func.max(sa.case((is_state, tagged))).label("last"),
            *(first_of(event) for event in _ORDERED),
        )
        .where(events)
        .group_by(ob.c.entity_id)
    ).subquery()
    p = pivot.c

    walk_in = r.c.channel == _WALK_IN
    expected_counts: ColumnElement[Any] = sa.case(
        (walk_in, const(_weight(_CODE[_CREATED[1]]))), else_=const(1)
    )
    for s, event in _STATE_EVENTS.items():
        entered: ColumnElement[bool] = r.c[STATE_TIMESTAMP[s]].isnot(None)
        if s is ReservationState.SEATED:
            entered = sa.and_(entered, ~walk_in)
        expected_counts = expected_counts + sa.case(
            (entered, const(_weight(_CODE[event]))), else_=const(0)
        )
    last_code = sa.case(
        (sa.and_(walk_in, r.c.state == ReservationState.SEATED.value), const(_CODE[_CREATED[1]])),
        else_=sa.case(
            {s.value: const(_CODE[f"reservation.{s.value}"]) for s in ReservationState},
            value=r.c.state,
            else_=const(0),
        ),
    )
    created_code = sa.case((walk_in, const(_CODE[_CREATED[1]])), else_=const(_CODE[_CREATED[0]]))
    modulo = 1 << _CODE_BITS
    bad = sa.or_(
        p.entity_id.is_(None),
        p.counts != expected_counts,
        p.last % modulo != last_code,
        p.first % modulo != created_code,
        *(
            p[_first_label(a)] >= p[_first_label(b)]
            for i, a in enumerate(_ORDERED)
            for b in _ORDERED[i + 1 :]
        ),
    )
    stamp_cols = [r.c[col] for col in STATE_TIMESTAMP.values()]
    flagged = (
        conn.execute(
            scope.where(
                sa.select(r.c.id, r.c.state, r.c.channel, *stamp_cols)
                .select_from(r.outerjoin(pivot, p.entity_id == r.c.id))
                .where(bad)
                .order_by(r.c.id),
                r.c.restaurant_id,
            )
        )
        .mappings()
        .all()
    )
    for chunk in _chunks(flagged, 500):
        # The few flagged reservations are explained from their plain per-type counts.
        seen: dict[int, dict[str, tuple[int, int, int]]] = defaultdict(dict)
        for entity_id, event_type, n, first, last in conn.execute(
            sa.select(
                ob.c.entity_id,
                ob.c.event_type,
                sa.func.count(),
                sa.func.min(ob.c.event_offset),
                sa.func.max(ob.c.event_offset),
            )
            .where(ob.c.entity == "reservation", ob.c.entity_id.in_([row["id"] for row in chunk]))
            .group_by(ob.c.entity_id, ob.c.event_type)
        ):
            seen[entity_id][event_type] = (int(n), int(first), int(last))
        for row in chunk:
            message = "; ".join(_outbox_problems(row, seen[row["id"]]))
            report.violations.append(
                Violation(
                    OUTBOX,
                    "reservation",
                    row["id"],
                    f"reservation {row['id']}: " + (message or "events disagree with it"),
                )
            )

    orphans: dict[int, list[int]] = defaultdict(list)
    query = sa.select(ob.c.entity_id, ob.c.event_offset).where(
        ob.c.entity == "reservation", ~sa.exists().where(r.c.id == ob.c.entity_id)
    )
    if scope.restaurant_ids is not None:
        query = query.where(ob.c.restaurant_id.in_(scope.restaurant_ids))
    for entity_id, offset in conn.execute(query.order_by(ob.c.event_offset)):
        orphans[entity_id].append(offset)
    for entity_id, offsets in orphans.items():
        report.violations.append(
            Violation(
                OUTBOX,
                "reservation",
                entity_id,
                f"reservation {entity_id} does not exist but outbox events "
                f"{_ids(offsets)} point at it",
            )
        )


# ---------------------------------------------------------------- 5. fees


def _check_fees(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    """A fee is recorded exactly where the reservation's own terms make one
    due (``booking_core.cancellation_terms``), for the amount they name, and
    only a recorded fee is waived."""
    r = reservations.c
    amount = sa.case(
        (r.cancellation_fee_minor > r.deposit_minor, r.cancellation_fee_minor),
        else_=r.deposit_minor,
    )
    late = sa.and_(
        r.state == ReservationState.CANCELLED.value,
        r.cancelled_by == CancelledBy.DINER.value,
        r.arrived_at.is_(None),
        r.free_cancellation_until.is_not(None),
        r.cancelled_at > r.free_cancellation_until,
    )
    expected = sa.case(
        (amount <= 0, sa.null()),
        (r.state == ReservationState.NO_SHOW.value, sa.literal(FeeReason.NO_SHOW.value)),
        (late, sa.literal(FeeReason.LATE_CANCELLATION.value)),
        else_=sa.null(),
    )
    wrong = sa.or_(
        sa.and_(r.fee_reason.is_(None), expected.is_not(None)),
        sa.and_(r.fee_reason.is_not(None), sa.or_(expected.is_(None), r.fee_reason != expected)),
        sa.and_(r.fee_reason.is_not(None), r.fee_minor != amount),
        sa.and_(r.fee_reason.is_(None), r.fee_waived_at.is_not(None)),
    )
    rows = conn.execute(
        scope.where(
            sa.select(r.id, r.state, r.fee_reason, r.fee_minor, amount.label("amount"), expected)
            .where(wrong)
            .order_by(r.id),
            r.restaurant_id,
        )
    ).all()
    report.checked["fees"] = _count(
        conn, scope.where(sa.select(r.id).where(r.fee_reason.is_not(None)), r.restaurant_id)
    )
    for row in rows:
        want = row[-1]
        report.violations.append(
            Violation(
                FEES,
                "reservation",
                row.id,
                f"reservation {row.id} ({row.state}) records fee "
                f"{row.fee_reason or 'none'} of {row.fee_minor}; its terms make "
                + (f"{want} of {row.amount} due" if want else "nothing due"),
            )
        )


# ---------------------------------------------------------------- 6. deposits


def _check_deposits(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    """A reservation's deposit money adds up (``booking_core.deposits``): paid
    is the sum of its payments, each in the reservation's currency; refunded
    lies between nothing and what was paid; what is held (paid -
    refunded) is never more than the deposit asked; and a deposit asked
    says why, one asked by risk with the risk it was scored at."""
    r, p = reservations.c, deposit_payments.c
    foreign = p.currency != r.currency
    # One pass over the payments, grouped per reservation (indexed).
    paid = scope.where(
        sa.select(
            p.reservation_id,
            sa.func.sum(p.amount_minor).label("total"),
            sa.func.count().label("n"),
            sa.func.count(sa.case((foreign, 1))).label("foreign"),
        )
        .join_from(deposit_payments, reservations, r.id == p.reservation_id)
        .group_by(p.reservation_id),
        r.restaurant_id,
    ).subquery()
    total = sa.func.coalesce(paid.c.total, 0)
    held = r.deposit_paid_minor - r.deposit_refunded_minor
    wrong = sa.or_(
        r.deposit_paid_minor != total,
        r.deposit_refunded_minor < 0,
        r.deposit_refunded_minor > r.deposit_paid_minor,
        held > r.deposit_minor,
        paid.c.foreign > 0,
        sa.and_(r.deposit_minor > 0, r.deposit_reason.is_(None)),
        sa.and_(r.deposit_reason == "risk", r.no_show_risk.is_(None)),
        sa.and_(
            r.deposit_risk_control,
            sa.or_(r.no_show_risk.is_(None), r.deposit_reason == "risk"),
        ),
    )
    rows = conn.execute(
        scope.where(
            sa.select(
                r.id,
                r.currency,
                r.deposit_minor,
                r.deposit_paid_minor,
                r.deposit_refunded_minor,
                r.deposit_reason,
                r.no_show_risk,
                r.deposit_risk_control,
                total.label("total"),
                sa.func.coalesce(paid.c.n, 0).label("n"),
                sa.func.coalesce(paid.c.foreign, 0).label("foreign"),
            )
            .select_from(reservations.outerjoin(paid, paid.c.reservation_id == r.id))
            .where(wrong)
            .order_by(r.id),
            r.restaurant_id,
        )
    ).all()
    report.checked["deposits"] = _count(
        conn,
        scope.where(
            sa.select(r.id).where(sa.or_(r.deposit_minor > 0, r.deposit_paid_minor > 0)),
            r.restaurant_id,
        ),
    )
    report.checked["deposit_payments"] = _count(
        conn,
        scope.where(
            sa.select(p.id).join_from(deposit_payments, reservations, r.id == p.reservation_id),
            r.restaurant_id,
        ),
    )
    # The few reservations paid in another currency name those payments.
    strays: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks([row.id for row in rows if row.foreign], 500):
        for res_id, ref, amount, currency in conn.execute(
            sa.select(p.reservation_id, p.payment_ref, p.amount_minor, p.currency)
            .join_from(deposit_payments, reservations, r.id == p.reservation_id)
            .where(p.reservation_id.in_(chunk), foreign)
            .order_by(p.id)
        ):
            strays[res_id].append(f"{ref!r} ({amount} {currency})")
    for row in rows:
        cur, paid_minor, refunded = row.currency, row.deposit_paid_minor, row.deposit_refunded_minor
        problems = []
        if paid_minor != row.total:
            problems.append(
                f"records {paid_minor} {cur} paid but its {row.n} deposit payment(s) "
                f"sum to {row.total}"
            )
        if refunded < 0:
            problems.append(f"records {refunded} {cur} refunded, below 0")
        elif refunded > paid_minor:
            problems.append(f"records {refunded} {cur} refunded, more than the {paid_minor} paid")
        if paid_minor - refunded > row.deposit_minor:
            problems.append(
                f"holds {paid_minor - refunded} {cur} ({paid_minor} paid - {refunded} "
                f"refunded), more than its deposit of {row.deposit_minor}"
            )
        if row.deposit_minor > 0 and row.deposit_reason is None:
            problems.append(f"asks a deposit of {row.deposit_minor} {cur} without a reason")
        if row.deposit_reason == "risk" and row.no_show_risk is None:
            problems.append("asks a deposit by risk with no risk recorded")
        if row.deposit_risk_control and (row.no_show_risk is None or row.deposit_reason == "risk"):
            problems.append(
                "is in the control group, left without a deposit by risk, "
                + ("with no risk recorded" if row.no_show_risk is None else "yet asked one by risk")
            )
        if row.foreign:
            problems.append(
                f"{row.foreign} deposit payment(s) not in its currency {cur}: "
                + ", ".join(strays[row.id])
            )
        report.violations.append(
            Violation(
                DEPOSITS, "reservation", row.id, f"reservation {row.id}: " + "; ".join(problems)
            )
        )


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _outbox_problems(row: Mapping[Any, Any], seen: Mapping[str, tuple[int, int, int]]) -> list[str]:
    """``seen``: event type -> (count, first offset, last offset) of one reservation."""
    problems = []
    for event, want in _expected_events(row).items():
        got = seen.get(event, (0, 0, 0))[0]
        if got == want:
            continue
        if want == 0:
            problems.append(f"{got} unexpected {event} event(s)")
        elif got == 0:
            problems.append(f"no {event} event")
        else:
            problems.append(f"{got} {event} events, expected {want}")
    other = sorted(t for t in seen if t not in _KNOWN and t not in _SIDE)
    if other:
        problems.append(f"events of unknown types: {', '.join(other)}")
    states = [(offsets[2], t) for t, offsets in seen.items() if t in _KNOWN]
    if states:
        last_offset, last_type = max(states)
        if last_type != _last_event_for(row["state"], row["channel"]):
            problems.append(
                f"the last state event is {last_type} (offset {last_offset}) but the "
                f"reservation is {row['state']}"
            )
    if seen:
        first_offset, first = min((first, t) for t, (_, first, _) in seen.items())
        if first not in _CREATED:
            problems.append(f"its first event is {first} (offset {first_offset}), not a creation")
    for i, a in enumerate(_ORDERED):
        for b in _ORDERED[i + 1 :]:
            if a in seen and b in seen and seen[a][1] >= seen[b][1]:
                problems.append(
                    f"{a} (offset {seen[a][1]}) is not before {b} (offset {seen[b][1]})"
                )
    return problems


__all__ = [
    "CLAIMS_MISMATCH",
    "DEPOSITS",
    "DOUBLE_BOOKING",
    "FEES",
    "LEGAL_PATHS",
    "OUTBOX",
    "PACING",
    "RULES",
    "STATE_HISTORY",
    "AuditReport",
    "Violation",
    "audit_ledger",
    "history_problems",
]
