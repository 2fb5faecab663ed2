"""Whole-ledger audit: the invariants acceptance keeps, checked after the fact.

Acceptance enforces its rules one booking at a time under a service-day lock;
this module re-checks them across the whole ledger (after an import, a bulk
world generation, a migration or a suspected bug) and lists every violation
instead of stopping at the first. Grouping, window functions and joins on
indexed columns run in the database, so only suspicious rows reach Python and
a ledger of a million reservations is audited in seconds, on SQLite and
PostgreSQL alike.

Each query is a single statement and so sees one snapshot; on a live
PostgreSQL ledger run the whole audit inside a REPEATABLE READ transaction so
that the rules agree with each other too.
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

from booking_core.domain import (
    HOLDING_STATES,
    PACING_STATES,
    STATE_TIMESTAMP,
    TRANSITIONS,
    Channel,
    ReservationState,
)
from booking_core.floor import Floor, ServicePeriod, load_floor
from booking_core.schema import (
    dining_tables,
    outbox,
    reservation_tables,
    reservations,
    restaurants,
    service_periods,
    table_claims,
)
from booking_core.slots import GRANULE_SECONDS, granule_span, granule_start

DOUBLE_BOOKING = "double_booking"
CLAIMS_MISMATCH = "claims_mismatch"
PACING = "pacing"
STATE_HISTORY = "state_history"
OUTBOX = "outbox"
RULES = (DOUBLE_BOOKING, CLAIMS_MISMATCH, PACING, STATE_HISTORY, OUTBOX)

_HOLDING = sorted(s.value for s in HOLDING_STATES)
_PACING = sorted(s.value for s in PACING_STATES)
_WALK_IN = Channel.WALK_IN.value

_Select: TypeAlias = "sa.Select[*tuple[Any, ...]]"
_Row: TypeAlias = "sa.Row[*tuple[Any, ...]]"


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
            lines += [f"  - {v.entity} {v.entity_id}: {v.message}" for v in vs[:per_rule]]
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
    ids = sorted(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


# ---------------------------------------------------------------- 1. tables


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
    # Only rows that overlap a neighbour can be part of a clash: the running
    # maximum of earlier ends passes a row's start, or the next start falls
    # before its end. Legal early releases land here too and are sorted out below.
    order = (rt.c.start_at, rt.c.id)
    windowed = (
        base.add_columns(
            sa.func.max(rt.c.end_at)
            .over(partition_by=rt.c.table_id, order_by=order, rows=(None, -1))
            .label("prev_end"),
            sa.func.lead(rt.c.start_at, 1, type_=rt.c.start_at.type)
            .over(partition_by=rt.c.table_id, order_by=order)
            .label("next_start"),
        )
    ).subquery()
    w = windowed.c
    rows = conn.execute(
        sa.select(
            w.id,
            w.reservation_id,
            w.table_id,
            w.start_at,
            w.end_at,
            w.assigned_at,
            w.released_at,
            dt.c.name,
            dt.c.restaurant_id,
        )
        .join_from(windowed, dt, dt.c.id == w.table_id)
        .where(sa.or_(w.prev_end > w.start_at, w.next_start < w.end_at))
        .order_by(w.table_id, w.start_at, w.id)
    )
    # A sweep over each table's rows in start order: the active list holds the
    # earlier rows still running when the next one starts (rarely more than one).
    active: list[_Row] = []
    for row in rows:
        if active and active[0].table_id != row.table_id:
            active = []
        active = [a for a in active if a.end_at > row.start_at]
        if row.end_at > row.start_at:
            for other in active:
                if not _released_before(other, row) and not _released_before(row, other):
                    report.violations.append(_clash(other, row))
        active.append(row)


def _released_before(a: _Row, b: _Row) -> bool:
    return a.released_at is not None and a.released_at <= b.assigned_at


def _clash(a: _Row, b: _Row) -> Violation:
    # Blame the assignment made last: the one that should have been refused.
    first, last = sorted((a, b), key=lambda r: (r.assigned_at, r.id))

    def held(r: _Row) -> str:
        released = f"released {_ts(r.released_at)}" if r.released_at else "not released"
        return (
            f"reservation {r.reservation_id} (reservation_tables row {r.id}, "
            f"{_ts(r.start_at)} to {_ts(r.end_at)}, assigned {_ts(r.assigned_at)}, {released})"
        )

    return Violation(
        DOUBLE_BOOKING,
        "reservation",
        last.reservation_id,
        f"table {last.table_id} ({last.name}, restaurant {last.restaurant_id}) is held by "
        f"{held(last)} while also held by {held(first)}",
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
    # set is the expected range when it is one range; several unreleased rows
    # of one reservation on one table (never written by acceptance) are compared granule by granule.
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
                f"table {table_id} is assigned {_granules(lo, hi)} but claims {got_n} granules "
                f"between {_granules(got_lo, got_hi)}"
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
        minute = (local.date() - day).days * 1440 + local.hour * 60 + local.minute
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
    weekday = [p for p in floor.periods if p.weekday == day.weekday()]
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
    if ReservationState.BOOKED not in entered:
        problems.append("booked_at is not set")
    if current not in entered and current is not ReservationState.BOOKED:
        problems.append(f"state is {current.value} but {STATE_TIMESTAMP[current]} is not set")
    if current is ReservationState.CANCELLED and cancelled_by is None:
        problems.append("cancelled without cancelled_by")
    if current is not ReservationState.CANCELLED and cancelled_by is not None:
        problems.append(f"cancelled_by is {cancelled_by!r} but the state is {current.value}")
    candidates = [p for p in LEGAL_PATHS if p[-1] is current]
    matches = [p for p in candidates if set(p) == entered]
    if not matches and not problems:
        on_a_path = {s for p in candidates for s in p}
        required = {s for s in on_a_path if all(s in p for p in candidates)}
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
        if not problems:
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
# Events of states entered one after another on every path, in that order.
_ORDERED = tuple(
    _STATE_EVENTS[s]
    for s in (ReservationState.CONFIRMED, ReservationState.ARRIVED, ReservationState.SEATED)
)


def _col(event_type: str) -> str:
    return event_type.removeprefix("reservation.")


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


def _check_outbox(conn: sa.Connection, scope: _Scope, report: AuditReport) -> None:
    """Each reservation's events tell its history: one creation event, one event
    per later state, in order, the last one naming its current state."""
    r, ob = reservations, outbox
    events = ob.c.entity == "reservation"
    if scope.restaurant_ids is not None:
        events = sa.and_(events, ob.c.entity_id.in_(scope.reservation_ids()))
    report.checked["outbox_events"] = _count(conn, sa.select(ob.c.event_offset).where(events))

    def when(event_types: Sequence[str], then: Any) -> Any:
        return sa.case((ob.c.event_type.in_(event_types), then))

    pivot = (
        sa.select(
            ob.c.entity_id,
            *(sa.func.count(when([t], 1)).label(f"n_{_col(t)}") for t in _KNOWN),
            *(sa.func.min(when([t], ob.c.event_offset)).label(f"o_{_col(t)}") for t in _KNOWN),
            sa.func.count(sa.case((ob.c.event_type.not_in([*_KNOWN, _MODIFIED]), 1))).label(
                "n_other"
            ),
            sa.func.min(ob.c.event_offset).label("first_offset"),
            sa.func.max(when(_KNOWN, ob.c.event_offset)).label("last_offset"),
        )
        .where(events)
        .group_by(ob.c.entity_id)
    ).subquery()
    p = pivot.c
    last = ob.alias("last_event")

    def n(event_type: str) -> ColumnElement[int]:
        return sa.func.coalesce(p[f"n_{_col(event_type)}"], 0)

    walk_in = r.c.channel == _WALK_IN

    def flag(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return sa.case((cond, 1), else_=0)

    expected_n = {
        "reservation.booked": flag(~walk_in),
        "reservation.seated_walk_in": flag(walk_in),
        **{
            event: flag(
                sa.and_(r.c[STATE_TIMESTAMP[s]].isnot(None), ~walk_in)
                if s is ReservationState.SEATED
                else r.c[STATE_TIMESTAMP[s]].isnot(None)
            )
            for s, event in _STATE_EVENTS.items()
        },
    }
    last_type = sa.func.coalesce(last.c.event_type, "")
    last_ok = sa.or_(
        last_type == sa.literal("reservation.") + r.c.state,
        sa.and_(
            walk_in,
            r.c.state == ReservationState.SEATED.value,
            last_type == "reservation.seated_walk_in",
        ),
    )
    created = sa.func.coalesce(p.o_booked, p.o_seated_walk_in)
    out_of_order = [
        sa.and_(
            p[f"o_{_col(a)}"].isnot(None),
            p[f"o_{_col(b)}"].isnot(None),
            p[f"o_{_col(a)}"] >= p[f"o_{_col(b)}"],
        )
        for i, a in enumerate(_ORDERED)
        for b in _ORDERED[i + 1 :]
    ]
    bad = sa.or_(
        *(n(t) != expected_n[t] for t in _KNOWN),
        sa.func.coalesce(p.n_other, 0) != 0,
        ~last_ok,
        sa.and_(created.isnot(None), p.first_offset < created),
        *out_of_order,
    )
    stamp_cols = [r.c[col] for col in STATE_TIMESTAMP.values()]
    rows = conn.execute(
        scope.where(
            sa.select(
                r.c.id,
                r.c.state,
                r.c.channel,
                *stamp_cols,
                *pivot.c,
                last.c.event_type.label("last_type"),
            )
            .select_from(
                r.outerjoin(pivot, p.entity_id == r.c.id).outerjoin(
                    last, last.c.event_offset == p.last_offset
                )
            )
            .where(bad)
            .order_by(r.c.id),
            r.c.restaurant_id,
        )
    ).mappings()
    for row in rows:
        message = "; ".join(_outbox_problems(row)) or "events disagree with the reservation"
        report.violations.append(
            Violation(OUTBOX, "reservation", row["id"], f"reservation {row['id']}: {message}")
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


def _outbox_problems(row: Mapping[Any, Any]) -> list[str]:
    problems = []
    for event, want in _expected_events(row).items():
        got = row[f"n_{_col(event)}"] or 0
        if got == want:
            continue
        if want == 0 and got:
            problems.append(f"{got} unexpected {event} event(s)")
        elif got == 0:
            problems.append(f"no {event} event")
        else:
            problems.append(f"{got} {event} events, expected {want}")
    if row["n_other"]:
        problems.append(f"{row['n_other']} event(s) of unknown reservation.* types")
    last, state = row["last_type"], row["state"]
    fits = last == f"reservation.{state}" or (
        state == ReservationState.SEATED.value
        and row["channel"] == _WALK_IN
        and last == "reservation.seated_walk_in"
    )
    if last is not None and not fits:
        problems.append(
            f"the last state event is {last} (offset {row['last_offset']}) "
            f"but the reservation is {state}"
        )
    created = row["o_booked"] or row["o_seated_walk_in"]
    if created is not None and row["first_offset"] < created:
        problems.append(
            f"event offset {row['first_offset']} comes before the creation event {created}"
        )
    for i, a in enumerate(_ORDERED):
        for b in _ORDERED[i + 1 :]:
            oa, ob = row[f"o_{_col(a)}"], row[f"o_{_col(b)}"]
            if oa is not None and ob is not None and oa >= ob:
                problems.append(f"{a} (offset {oa}) is not before {b} (offset {ob})")
    return problems


__all__ = [
    "CLAIMS_MISMATCH",
    "DOUBLE_BOOKING",
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
