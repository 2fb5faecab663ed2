"""Property tests of the booking core's invariants, and its refusals of bad input.

The properties run on SQLite only (speed): every example gets its own copy of
a migrated template ledger, so examples never see each other's bookings. The
bad-input tests run on both backends through the ``ledger`` fixture.
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from booking_core.availability import find_times, get_floor
from booking_core.domain import HOLDING_STATES, PACING_STATES, TERMINAL_STATES, ReservationState
from booking_core.errors import (
    BookingError,
    DinerAlreadyBooked,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    NoTableFree,
    OutsideServiceHours,
    PacingLimitReached,
    PartyTooLarge,
    RestaurantClosed,
    UnknownRestaurant,
)
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    book,
    cancel,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import (
    CombinationSpec,
    PeriodSpec,
    RestaurantSpec,
    TableSpec,
    add_restaurant,
    set_special_date,
    table_ids_by_name,
)
from booking_core.schema import (
    outbox,
    reservation_tables,
    reservations,
    service_days,
    table_claims,
)
from booking_core.slots import granule_span, service_slots
from tests.conftest import insert_diner

# Same instant as conftest.NOW: every date booked here lies after it.
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
DAYS = (date(2026, 6, 12), date(2026, 6, 13))  # a Friday and a Saturday
MAX_COVERS_PER_SLOT = 10
MAX_PARTIES_PER_SLOT = 3
# Dinner 17:00 to 23:30, last seating 22:30. The service stays before midnight
# on purpose: which local date names an after-midnight seating is not what
# these properties are about (the DST tests below cover the small hours).
SLOT_MINUTES = tuple(range(17 * 60, 22 * 60 + 31, 15))
TABLE_NAMES = ("T1", "T2", "T3", "T4", "W1", "W2")

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _spec(name: str, timezone: str, periods: tuple[PeriodSpec, ...]) -> RestaurantSpec:
    return RestaurantSpec(
        name=name,
        timezone=timezone,
        currency="GBP" if timezone == "Europe/London" else "USD",
        country="GB" if timezone == "Europe/London" else "US",
        locale="en-GB" if timezone == "Europe/London" else "en-US",
        latitude=51.5,
        longitude=-0.12,
        cuisines=("french",),
        price_tier=2,
        tables=(
            TableSpec("T1", "Main", 1, 2),
            TableSpec("T2", "Main", 1, 2),
            TableSpec("T3", "Main", 2, 4, accessible=True),
            TableSpec("T4", "Main", 2, 4),
            TableSpec("W1", "Window", 2, 4, features=("window",)),
            TableSpec("W2", "Window", 2, 4, features=("window",)),
        ),
        combinations=(CombinationSpec("W1+W2", ("W1", "W2"), 5, 8),),
        periods=periods,
    )


def property_spec() -> RestaurantSpec:
    """Six tables and tight pacing, so that every kind of refusal is common."""
    return _spec(
        "Property Bistro",
        "Europe/London",
        (
            PeriodSpec(
                "dinner",
                tuple(range(7)),
                "17:00",
                "23:30",
                "22:30",
                {2: 90, 4: 120, 8: 150},
                max_covers_per_slot=MAX_COVERS_PER_SLOT,
                max_parties_per_slot=MAX_PARTIES_PER_SLOT,
            ),
        ),
    )


# Turn times that are not whole granules, so that rounding up is exercised.
DST_TURNS = {2: 80, 4: 100, 8: 130}


# Service periods (opens, last seating) in minutes after the service date's midnight.
DST_PERIODS = {
    # Brunch, then a late service of the evening that runs through the small
    # hours of the next calendar day, where the clocks change.
    "late": ((9 * 60, 14 * 60), (20 * 60, 27 * 60 + 30)),
    # A service that opens at midnight: the clock change falls inside it.
    "night": ((0, 3 * 60 + 30),),
}


def dst_spec(kind: str, timezone: str) -> RestaurantSpec:
    periods = {
        "late": (
            PeriodSpec("brunch", tuple(range(7)), "09:00", "15:00", "14:00", DST_TURNS),
            PeriodSpec("late", tuple(range(7)), "20:00", "05:00", "03:30", DST_TURNS),
        ),
        "night": (PeriodSpec("night", tuple(range(7)), "00:00", "05:00", "03:30", DST_TURNS),),
    }
    return _spec(f"{kind.title()} {timezone}", timezone, periods[kind])


@dataclass(frozen=True)
class Template:
    path: Path
    restaurant_id: int
    dst_restaurants: dict[tuple[str, str], int]  # (kind, time zone) -> id
    diner_ids: tuple[int, ...]
    tables: dict[str, int]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A migrated SQLite ledger with the restaurants and diners, copied per example."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path.as_posix()}")
    ledger.clock = lambda: NOW
    try:
        rid = add_restaurant(ledger, property_spec())
        dst = {
            (kind, tz): add_restaurant(ledger, dst_spec(kind, tz))
            for kind in DST_PERIODS
            for tz in ("Europe/London", "America/New_York")
        }
        diner_ids = tuple(insert_diner(ledger, f"Diner {i}") for i in range(2))
        with ledger.write() as conn:
            tables = table_ids_by_name(conn, rid)
        with ledger.engine.connect() as conn:
            # Fold the WAL into the main file so that copying it copies everything.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        ledger.dispose()
    return Template(path, rid, dst, diner_ids, tables)


class _Copyable(Protocol):
    @property
    def path(self) -> Path: ...  # a migrated ledger file to copy


@contextmanager
def fresh_ledger(template: _Copyable) -> Iterator[Ledger]:
    """A fresh copy of a template's ledger (any template with a ``path``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.db"
        shutil.copyfile(template.path, path)
        ledger = Ledger.open(f"sqlite:///{path.as_posix()}", migrate=False, pool_size=2)
        ledger.clock = lambda: NOW
        try:
            yield ledger
        finally:
            ledger.dispose()


def hhmm(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


# ---------------------------------------------------------------- ledger state

WATCHED = (reservations, reservation_tables, table_claims, outbox, service_days)


def snapshot(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a booking operation writes, in key order."""
    with ledger.read() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for t in WATCHED
        }


def assert_invariants(ledger: Ledger) -> None:
    with ledger.read() as conn:
        held = conn.execute(
            sa.select(
                reservation_tables.c.reservation_id,
                reservation_tables.c.table_id,
                reservation_tables.c.start_at,
                reservation_tables.c.end_at,
            ).where(reservation_tables.c.released_at.is_(None))
        ).all()
        # No two parties on one table at once (exact intervals, not granules).
        by_table: dict[int, list[tuple[datetime, datetime, int]]] = {}
        for rid, table_id, start, end in held:
            by_table.setdefault(table_id, []).append((start, end, rid))
        for table_id, spans in by_table.items():
            spans.sort()
            for (_, end_a, a), (start_b, _, b) in itertools.pairwise(spans):
                assert end_a <= start_b, f"table {table_id} double-booked by {a} and {b}"
        # The granule claims are exactly the unreleased assignments.
        expected = {
            (table_id, g, rid)
            for rid, table_id, start, end in held
            for g in range(*granule_span(start, end))
        }
        claims = set(
            conn.execute(
                sa.select(
                    table_claims.c.table_id, table_claims.c.granule, table_claims.c.reservation_id
                )
            ).all()
        )
        assert claims == expected
        # Exactly the reservations in a holding state hold tables, except
        # parties taken overbooked and not yet seated, which hold none.
        rows = conn.execute(
            sa.select(reservations.c.id, reservations.c.state, reservations.c.overbooked)
        ).all()
        holding = {r.id for r in rows if r.state in HOLDING_STATES}
        seated_somewhere = {h[0] for h in held}
        waiting = {
            r.id
            for r in rows
            if r.overbooked and r.state in HOLDING_STATES and r.id not in seated_somewhere
        }
        assert all(r.state != ReservationState.SEATED.value for r in rows if r.id in waiting), (
            "a seated party without a table"
        )
        assert seated_somewhere == holding - waiting
        # Pacing: covers and parties starting per slot (walk-ins are not paced).
        paced = conn.execute(
            sa.select(sa.func.sum(reservations.c.party_size), sa.func.count())
            .where(
                reservations.c.channel != "walk_in",
                reservations.c.state.in_([s.value for s in PACING_STATES]),
            )
            .group_by(
                reservations.c.restaurant_id, reservations.c.service_date, reservations.c.start_at
            )
        ).all()
        for covers, parties in paced:
            assert covers <= MAX_COVERS_PER_SLOT and parties <= MAX_PARTIES_PER_SLOT


def outbox_events(ledger: Ledger) -> list[tuple[str, int]]:
    with ledger.read() as conn:
        return [
            (e, i)
            for e, i in conn.execute(
                sa.select(outbox.c.event_type, outbox.c.entity_id).order_by(outbox.c.event_offset)
            )
        ]


def claims_of(ledger: Ledger, reservation_id: int) -> int:
    with ledger.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(table_claims.c.reservation_id == reservation_id)
            ).scalar_one()
        )


# ---------------------------------------------------------------- (a) operation sequences


@dataclass(frozen=True)
class Book:
    day: int
    minute: int
    party: int
    diner: int | None  # index into the template's diners; 9 is an unknown diner
    key: str | None
    channel: str


@dataclass(frozen=True)
class Cancel:
    pick: int


@dataclass(frozen=True)
class Modify:
    pick: int
    day: int | None
    minute: int | None
    party: int | None


@dataclass(frozen=True)
class Advance:
    pick: int
    to: str


@dataclass(frozen=True)
class WalkIn:
    day: int
    minute: int  # after the service date's local midnight; up to 26:59
    party: int
    tables: tuple[str, ...] | None


Operation = Book | Cancel | Modify | Advance | WalkIn

# Weights by repetition: mostly the busy evening slots and small parties, so
# that tables and pacing run out, with some times and sizes that are refused.
HOT = [19 * 60, 19 * 60 + 15, 19 * 60 + 30, 20 * 60]
OFF_HOURS = [12 * 60, 16 * 60 + 45, 19 * 60 + 10, 23 * 60, 15, 3 * 60]
minutes = st.sampled_from(HOT * 6 + list(SLOT_MINUTES) + OFF_HOURS)
party_sizes = st.sampled_from([2, 2, 2, 2, 3, 4, 4, 4, 1, 5, 6, 8, 9, 0, 41, 500])
OPERATION_STRATEGIES: dict[str, st.SearchStrategy[Operation]] = {
    "book": st.builds(
        Book,
        day=st.integers(0, 1),
        minute=minutes,
        party=party_sizes,
        diner=st.sampled_from([None, None, None, 0, 1, 9]),
        key=st.sampled_from([None, None, None, "k1", "k2"]),
        channel=st.sampled_from(["web"] * 12 + ["phone", "walk_in", "fax"]),
    ),
    "cancel": st.builds(Cancel, pick=st.integers(0, 30)),
    "modify": st.builds(
        Modify,
        pick=st.integers(0, 30),
        day=st.one_of(st.none(), st.integers(0, 1)),
        minute=st.one_of(st.none(), minutes),
        party=st.one_of(st.none(), party_sizes),
    ),
    "advance": st.builds(
        Advance,
        pick=st.integers(0, 30),
        to=st.sampled_from([*(s.value for s in ReservationState), "lost"]),
    ),
    "walk_in": st.builds(
        WalkIn,
        day=st.integers(0, 1),
        minute=st.sampled_from(range(16 * 60, 27 * 60, 7)),
        party=st.sampled_from([2, 2, 4, 1, 3, 6, 9]),
        tables=st.one_of(
            st.none(),
            st.lists(st.sampled_from(TABLE_NAMES), min_size=1, max_size=2, unique=True).map(tuple),
        ),
    ),
}
operations: st.SearchStrategy[Operation] = st.sampled_from(
    ["book"] * 5 + ["cancel", "modify", "advance", "advance", "walk_in"]
).flatmap(OPERATION_STRATEGIES.__getitem__)


def _pick(known: list[int], pick: int) -> int:
    """One of the reservations made so far, or (one time in len+1) an unknown id."""
    i = pick % (len(known) + 1)
    return known[i] if i < len(known) else 999_999


def _apply(ledger: Ledger, t: Template, op: Operation, known: list[int]) -> Reservation:
    if isinstance(op, Book):
        diner = None if op.diner is None else (t.diner_ids[op.diner] if op.diner < 2 else 9999)
        request = BookingRequest(
            t.restaurant_id,
            DAYS[op.day],
            hhmm(op.minute),
            op.party,
            diner_id=diner,
            channel=op.channel,
            idempotency_key=op.key,
        )
        return book(ledger, request, now=NOW)
    if isinstance(op, Cancel):
        return cancel(ledger, _pick(known, op.pick), now=NOW)
    if isinstance(op, Modify):
        return modify(
            ledger,
            _pick(known, op.pick),
            local_date=None if op.day is None else DAYS[op.day],
            local_time=None if op.minute is None else hhmm(op.minute),
            party_size=op.party,
            now=NOW,
        )
    if isinstance(op, Advance):
        return advance(ledger, _pick(known, op.pick), op.to, now=NOW)
    at = datetime.combine(DAYS[op.day], time(), tzinfo=LONDON) + timedelta(minutes=op.minute)
    tables = None if op.tables is None else tuple(t.tables[n] for n in op.tables)
    return seat_walk_in(ledger, t.restaurant_id, op.party, table_ids=tables, now=at)


def _check_effect(
    ledger: Ledger,
    op: Operation,
    before: dict[str, list[tuple[Any, ...]]],
    events_before: list[tuple[str, int]],
    r: Reservation,
    known: list[int],
) -> None:
    """A successful operation happened completely: its row, claims and one event."""
    events = outbox_events(ledger)
    new_events = events[len(events_before) :]
    assert events[: len(events_before)] == events_before  # the outbox only grows
    if isinstance(op, Book) and r.id in known:
        # An idempotent replay returns the earlier booking and writes nothing.
        assert op.key is not None and r.idempotency_key == op.key
        assert snapshot(ledger) == before
        return
    if isinstance(op, Book | WalkIn):
        known.append(r.id)
        kind = "reservation.booked" if isinstance(op, Book) else "reservation.seated_walk_in"
        assert new_events == [(kind, r.id)]
        assert r.state == (ReservationState.BOOKED if isinstance(op, Book) else "seated")
        assert r.table_ids
        g0, g1 = granule_span(r.start_at, r.end_at)
        assert claims_of(ledger, r.id) == len(r.table_ids) * (g1 - g0)
    elif isinstance(op, Modify):
        assert new_events == [("reservation.modified", r.id)]
        if op.party is not None:
            assert r.party_size == op.party
        if op.minute is not None:
            assert r.start_at.astimezone(LONDON).strftime("%H:%M") == hhmm(op.minute)
        assert r.table_ids
    else:
        target = ReservationState.CANCELLED if isinstance(op, Cancel) else op.to
        assert r.state == target
        assert new_events == [(f"reservation.{target}", r.id)]
        if ReservationState(target) in TERMINAL_STATES:
            assert r.table_ids == () and claims_of(ledger, r.id) == 0


@settings(PROPERTY_SETTINGS, max_examples=40)
@given(ops=st.lists(operations, min_size=15, max_size=50))
def test_any_operation_sequence_keeps_the_ledger_consistent(
    template: Template, ops: list[Operation]
) -> None:
    with fresh_ledger(template) as ledger:
        known: list[int] = []
        event(f"{len(ops) // 10 * 10}+ operations")
        for op in ops:
            before = snapshot(ledger)
            events_before = outbox_events(ledger)
            try:
                r = _apply(ledger, template, op, known)
            except BookingError as exc:
                event(f"{type(op).__name__}: {type(exc).__name__}")
                # A refusal writes nothing at all, and says why in words.
                assert snapshot(ledger) == before, (op, exc)
                assert str(exc).strip(), op
            else:
                event(f"{type(op).__name__}: ok")
                _check_effect(ledger, op, before, events_before, r, known)
            assert_invariants(ledger)


# ---------------------------------------------------------------- (b) availability vs acceptance


@PROPERTY_SETTINGS
@given(
    setup=st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from(SLOT_MINUTES), st.integers(1, 8)),
        max_size=30,
    ),
    cancels=st.lists(st.integers(0, 29), max_size=5),
    day=st.integers(0, 1),
    party=st.integers(1, 8),
    window=st.one_of(
        st.none(), st.lists(st.sampled_from(SLOT_MINUTES), min_size=2, max_size=2).map(sorted)
    ),
    data=st.data(),
)
def test_offered_times_can_be_booked_and_others_cannot(
    template: Template,
    setup: list[tuple[int, int, int]],
    cancels: list[int],
    day: int,
    party: int,
    window: list[int] | None,
    data: st.DataObject,
) -> None:
    rid = template.restaurant_id
    with fresh_ledger(template) as ledger:
        made = []
        for d, minute, size in setup:
            with suppress(BookingError):
                made.append(book(ledger, BookingRequest(rid, DAYS[d], hhmm(minute), size)).id)
        for victim in {made[i % len(made)] for i in cancels} if made else ():
            cancel(ledger, victim)

        offered = find_times(ledger, rid, DAYS[day], party, now=NOW)
        labels = [t.local_time for t in offered]
        assert len(set(labels)) == len(labels)
        if window is not None:
            lo, hi = window
            in_window = find_times(
                ledger, rid, DAYS[day], party, earliest=hhmm(lo), latest=hhmm(hi), now=NOW
            )
            assert in_window == [t for t in offered if lo <= _wall(t.local_time) <= hi]

        with ledger.read() as conn:
            floor = get_floor(ledger, conn, rid)
        not_offered = [
            s.local_time
            for s in service_slots(floor, DAYS[day], party)
            if s.local_time not in labels
        ]
        if not_offered:
            at = data.draw(st.sampled_from(not_offered), label="time not offered")
            before = snapshot(ledger)
            with pytest.raises((NoTableFree, PacingLimitReached)):
                book(ledger, BookingRequest(rid, DAYS[day], at, party))
            assert snapshot(ledger) == before
        if offered:
            choice = data.draw(st.sampled_from(offered), label="offered time")
            r = book(ledger, BookingRequest(rid, DAYS[day], choice.local_time, party))
            assert (r.start_at, r.end_at, r.table_ids) == (
                choice.start_at,
                choice.end_at,
                choice.table_ids,
            )
        assert_invariants(ledger)


def _wall(label: str) -> int:
    hours, minutes = label.split(":")
    return int(hours) * 60 + int(minutes)


# ---------------------------------------------------------------- (c) daylight saving time

# (zone, the night the clocks change): spring forward, then fall back, in 2026.
DST_NIGHTS = {
    "Europe/London": (date(2026, 3, 29), date(2026, 10, 25)),
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
}


def _wall_exists(zone: ZoneInfo, wall: datetime) -> bool:
    """Whether a naive wall-clock time happens in the zone (not in a spring gap)."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@pytest.fixture(scope="module")
def dst_ledger(template: Template) -> Iterator[Ledger]:
    """Read-only: the empty late-night restaurants offer every slot that exists."""
    with fresh_ledger(template) as ledger:
        yield ledger


@PROPERTY_SETTINGS
@given(
    kind=st.sampled_from(sorted(DST_PERIODS)),
    timezone=st.sampled_from(sorted(DST_NIGHTS)),
    change=st.integers(0, 1),  # 0: spring forward, 1: fall back
    eve=st.booleans(),  # the service date before the change (its late service spans it)
    party=st.integers(1, 8),
)
def test_slots_around_clock_changes(
    template: Template,
    dst_ledger: Ledger,
    kind: str,
    timezone: str,
    change: int,
    eve: bool,
    party: int,
) -> None:
    zone = ZoneInfo(timezone)
    day = DST_NIGHTS[timezone][change] - timedelta(days=1 if eve else 0)
    rid = template.dst_restaurants[kind, timezone]
    offered = find_times(dst_ledger, rid, day, party, now=NOW)
    assert offered
    turn = next(m for size, m in sorted(DST_TURNS.items()) if size >= party)
    expected_labels = []
    for period_open, last in DST_PERIODS[kind]:
        for minute in range(period_open, last + 1, 15):
            local = datetime.combine(day + timedelta(days=minute // 1440), time()) + timedelta(
                minutes=minute % 1440
            )
            if _wall_exists(zone, local):
                expected_labels.append(hhmm(minute))
    # Every wall time that exists is offered exactly once, in order; none in the gap.
    assert [t.local_time for t in offered] == expected_labels
    starts = [t.start_at for t in offered]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for t in offered:
        local = t.start_at.astimezone(zone)
        assert local.strftime("%H:%M") == t.local_time
        assert _wall_exists(zone, local.replace(tzinfo=None))
        # A repeated (fall-back) wall time is offered at its first occurrence.
        assert local.fold == 0
        assert t.end_at - t.start_at == timedelta(minutes=15 * math.ceil(turn / 15))


@pytest.mark.parametrize(
    ("timezone", "gap", "repeated", "first_utc"),
    [
        ("Europe/London", "01:30", "01:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("America/New_York", "02:30", "01:30", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
    ],
)
def test_booking_across_clock_changes(
    template: Template, timezone: str, gap: str, repeated: str, first_utc: datetime
) -> None:
    """Booked at a service that opens at midnight, so the request's date is the
    calendar date of the seating whichever date names after-midnight times."""
    spring, autumn = DST_NIGHTS[timezone]
    rid = template.dst_restaurants["night", timezone]
    with fresh_ledger(template) as ledger:
        with refused(ledger, OutsideServiceHours, gap, "does not exist"):
            book(ledger, BookingRequest(rid, spring, gap, 2))
        # The repeated hour of the autumn change books its first occurrence.
        r = book(ledger, BookingRequest(rid, autumn, repeated, 2))
        assert r.start_at == first_utc
        assert r.end_at - r.start_at == timedelta(minutes=90)  # 80 rounded up to granules


# ---------------------------------------------------------------- bad input, both backends


def assert_helpful(exc: BaseException, *mentions: str) -> None:
    """A message a host can act on: a whole sentence, naming what was wrong."""
    message = str(exc)
    assert message[:1].isupper() or message[:1].isdigit(), message  # "01:30 does not..."
    assert message.endswith("."), message
    assert len(message.split()) >= 5, message
    for banned in ("Traceback", "sqlalchemy", "psycopg", "sqlite3", "None"):
        assert banned not in message, message
    for text in mentions:
        assert text in message, message


def counts(ledger: Ledger) -> dict[str, int]:
    with ledger.read() as conn:
        return {
            t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in WATCHED
        }


@contextmanager
def refused(ledger: Ledger, error: type[BookingError], *mentions: str) -> Iterator[None]:
    """The block raises ``error`` with a helpful message and writes nothing."""
    before = counts(ledger), snapshot(ledger)
    with pytest.raises(error) as caught:
        yield
    assert_helpful(caught.value, *mentions)
    assert (counts(ledger), snapshot(ledger)) == before


FRIDAY = DAYS[0]


def test_unknown_restaurant(ledger: Ledger, bistro: int) -> None:
    with refused(ledger, UnknownRestaurant, "999999"):
        book(ledger, BookingRequest(999_999, FRIDAY, "19:00", 2))


# Each case below loops over its bad values in one test: a PostgreSQL ledger
# costs a scratch database per test, and every value is checked the same way.


def test_party_size_out_of_range(ledger: Ledger, bistro: int) -> None:
    for party in (0, 500, -1):
        with refused(ledger, InvalidRequest, str(party), "1 to 40"):
            book(ledger, BookingRequest(bistro, FRIDAY, "19:00", party))


def test_party_larger_than_any_table(ledger: Ledger, bistro: int) -> None:
    with refused(ledger, PartyTooLarge, "9", "at most 8"):
        book(ledger, BookingRequest(bistro, FRIDAY, "19:00", 9))


def test_malformed_dates_and_times(ledger: Ledger, bistro: int) -> None:
    for bad_date in ("2026-02-30", "12/06/2026", "tomorrow", "", "2026-6-12x"):
        with refused(ledger, InvalidRequest, "YYYY-MM-DD"):
            book(ledger, BookingRequest(bistro, bad_date, "19:00", 2))
    for bad_time in ("25:00", "7pm", "19:60", "nineteen", ""):
        with refused(ledger, InvalidRequest, "HH:MM"):
            book(ledger, BookingRequest(bistro, FRIDAY, bad_time, 2))
    with refused(ledger, InvalidRequest, "local time"):
        book(ledger, BookingRequest(bistro, FRIDAY, "19:00+01:00", 2))


def test_time_outside_service_hours(ledger: Ledger, bistro: int) -> None:
    for at, mention in (
        ("12:00", "outside those hours"),
        ("22:00", "21:30"),
        ("19:10", "every 15"),
    ):
        with refused(ledger, OutsideServiceHours, at, mention):
            book(ledger, BookingRequest(bistro, FRIDAY, at, 2))


def test_time_already_passed(ledger: Ledger, bistro: int) -> None:
    with refused(ledger, InvalidRequest, "already passed"):
        book(ledger, BookingRequest(bistro, NOW.date() - timedelta(days=1), "19:00", 2))


def test_closed_date(ledger: Ledger, bistro: int) -> None:
    set_special_date(ledger, bistro, FRIDAY, note="Private party")
    with refused(ledger, RestaurantClosed, "closed", "12 June 2026", "Private party"):
        book(ledger, BookingRequest(bistro, FRIDAY, "19:00", 2))


def test_illegal_state_change(ledger: Ledger, bistro: int) -> None:
    r = book(ledger, BookingRequest(bistro, FRIDAY, "19:00", 2))
    with refused(ledger, IllegalTransition, str(r.id), "completed", "cancelled"):
        advance(ledger, r.id, ReservationState.COMPLETED)
    cancel(ledger, r.id)
    with refused(ledger, IllegalTransition, "cancelled", "nothing"):
        cancel(ledger, r.id)
    with refused(ledger, IllegalTransition, "only booked or confirmed"):
        modify(ledger, r.id, party_size=3)


def test_idempotency_key_reused_for_another_request(ledger: Ledger, bistro: int) -> None:
    first = BookingRequest(bistro, FRIDAY, "19:00", 2, idempotency_key="checkout-42")
    r = book(ledger, first)
    assert book(ledger, first).id == r.id  # the same request again is a replay
    with refused(ledger, IdempotencyConflict, "checkout-42"):
        book(ledger, BookingRequest(bistro, FRIDAY, "19:00", 3, idempotency_key="checkout-42"))


def test_diner_already_booked_within_two_hours(ledger: Ledger, bistro: int) -> None:
    diner = insert_diner(ledger, "Ada")
    r = book(ledger, BookingRequest(bistro, FRIDAY, "19:00", 2, diner_id=diner))
    with refused(ledger, DinerAlreadyBooked, str(r.id), "2 hours"):
        book(ledger, BookingRequest(bistro, FRIDAY, "20:45", 2, diner_id=diner))
    # Two hours apart is allowed.
    book(ledger, BookingRequest(bistro, FRIDAY, "21:00", 2, diner_id=diner))
