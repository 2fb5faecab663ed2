"""The booking core's invariants under pooled seating: whatever sequence of
bookings, changes and cancellations a pooled restaurant takes (moving
parties not yet seated, refusing by admission control), no two parties
ever hold one table at the same time, the claims are exactly the
assignments, and a refusal writes nothing. Two pooled restaurants: one with
past nights to forecast from (admission control on), one without. And a
restaurant that locks at booking with admission control on, with the same
past: it never double-books either, and never moves anybody. And a pooled
restaurant booking predicted stays (some short, some absurd and bounded,
some unknown and booked for the turn time) with that past."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import event, given, settings
from hypothesis import strategies as st

from booking_core.audit import audit_ledger
from booking_core.daybook import BestFitAtBooking, table_policy
from booking_core.errors import BookingError
from booking_core.floor import Floor
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, Reservation, book, cancel, modify
from booking_core.restaurants import PeriodSpec, RestaurantSpec, TableSpec, add_restaurant
from booking_core.schema import outbox
from booking_core.stays import stay_forecast
from optimizer.pooled_policy import PooledAcceptance
from tests.booking_core.test_properties import (
    MAX_COVERS_PER_SLOT,
    MAX_PARTIES_PER_SLOT,
    NOW,
    PROPERTY_SETTINGS,
    SLOT_MINUTES,
    assert_invariants,
    fresh_ledger,
    hhmm,
    property_spec,
    snapshot,
)

# A Friday and a Saturday soon after NOW, so the past nights are in reach.
DAYS = (date(2026, 3, 6), date(2026, 3, 7))
PAST_NIGHTS = [NOW.date() - timedelta(days=d) for d in range(1, 22)]


def pooled_spec(
    name: str, table_policy: str = "pooled", booked_stays: str = "turn_times"
) -> RestaurantSpec:
    """Tables of three sizes and short turns: bookings over a whole evening
    leave gaps that moving a party can close (about one booking in thirty
    is taken that way; with the property ledger's six tables, one in a hundred)."""
    return replace(
        property_spec(),
        name=name,
        tables=(
            TableSpec("A", "Main", 1, 2),
            TableSpec("B", "Main", 1, 2),
            TableSpec("C", "Main", 2, 4),
            TableSpec("D", "Main", 2, 4),
            TableSpec("E", "Main", 3, 6),
        ),
        combinations=(),
        periods=(
            PeriodSpec(
                "dinner",
                tuple(range(7)),
                "17:00",
                "23:30",
                "22:30",
                {2: 60, 4: 90, 6: 120},
                max_covers_per_slot=MAX_COVERS_PER_SLOT,
                max_parties_per_slot=MAX_PARTIES_PER_SLOT,
            ),
        ),
        table_policy=table_policy,
        admission_control=table_policy != "pooled",
        booked_stays=booked_stays,
    )


@dataclass(frozen=True)
class PooledTemplate:
    path: Path
    with_history: int
    without_history: int
    # Only this module's template has one (others reuse the class).
    locked_with_admission: int | None = None
    predicted_stays: int | None = None


class VariedStays:
    """Predicted stays that vary with the party and the time: a quarter
    hour to past the bound, and now and then no answer (the turn time)."""

    ANSWERS = (None, 5, 30, 45, 50, 75, 100, 400)

    def minutes(
        self,
        ledger: Ledger,
        floor: Floor,
        party_size: int,
        starts: Sequence[datetime],
        *,
        channel: str,
    ) -> list[int | None]:
        return [
            self.ANSWERS[(party_size + at.hour + at.minute // 15) % len(self.ANSWERS)]
            for at in starts
        ]


@pytest.fixture(scope="module")
def pooled_plugged_in() -> Iterator[None]:
    before = (table_policy.pooled, table_policy.admission)
    table_policy.pooled = PooledAcceptance()
    table_policy.admission = PooledAcceptance(pool=False)
    yield
    table_policy.pooled, table_policy.admission = before


@pytest.fixture(scope="module")
def pooled_template(
    tmp_path_factory: pytest.TempPathFactory, pooled_plugged_in: None
) -> PooledTemplate:
    path = tmp_path_factory.mktemp("pooled") / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path.as_posix()}")
    ledger.clock = lambda: NOW
    try:
        with_history = add_restaurant(ledger, pooled_spec("Pooled With Past"))
        without = add_restaurant(ledger, pooled_spec("Pooled New"))
        locked = add_restaurant(ledger, pooled_spec("Locked With Past", "lock_at_booking"))
        predicted = add_restaurant(
            ledger, pooled_spec("Predicted With Past", "pooled", "predicted")
        )
        # Past nights: twos booked weeks ahead, fours and a six on the day.
        for night in PAST_NIGHTS:
            for at, size, lead in (
                ("19:00", 2, timedelta(days=20)),
                ("19:00", 4, timedelta(hours=2)),
                ("19:30", 6, timedelta(hours=3)),
                ("20:00", 2, timedelta(days=10)),
            ):
                seating = datetime.combine(night, time.fromisoformat(at), tzinfo=NOW.tzinfo)
                book(ledger, BookingRequest(with_history, night, at, size), now=seating - lead)
                # The same past, every booking taken as it came.
                for rid in (locked, predicted):
                    book(
                        ledger,
                        BookingRequest(rid, night, at, size),
                        now=seating - lead,
                        policy=BestFitAtBooking(),
                    )
        with ledger.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        ledger.dispose()
    return PooledTemplate(path, with_history, without, locked, predicted)


@dataclass(frozen=True)
class Book:
    day: int
    minute: int
    party: int


@dataclass(frozen=True)
class Cancel:
    pick: int


@dataclass(frozen=True)
class Modify:
    pick: int
    minute: int
    party: int | None


# Mostly one night, filled: parties are moved when tables run short.
books = st.builds(
    Book,
    st.sampled_from((0, 0, 0, 1)),
    st.sampled_from(SLOT_MINUTES),
    st.sampled_from((1, 2, 2, 3, 4, 5, 6)),
)
# Cancellations and changes of a booking already made (any of them).
changes = st.one_of(
    st.builds(Cancel, st.integers(0, 1000)),
    st.builds(
        Modify,
        st.integers(0, 1000),
        st.sampled_from(SLOT_MINUTES),
        st.one_of(st.none(), st.integers(1, 6)),
    ),
)
operations = st.one_of(books, books, books, changes)


def _moves(ledger: Ledger) -> int:
    with ledger.read() as conn:
        payloads = conn.execute(
            sa.select(outbox.c.payload).where(outbox.c.event_type == "reservation.modified")
        ).scalars()
        return sum(1 for p in payloads if p.get("reason") == "pooled seating plan")


def _apply(ledger: Ledger, rid: int, op: Book | Cancel | Modify, known: list[int]) -> Reservation:
    if isinstance(op, Book):
        r = book(ledger, BookingRequest(rid, DAYS[op.day], hhmm(op.minute), op.party), now=NOW)
        known.append(r.id)
        return r
    if not known:
        raise _NothingYet("There is no booking to cancel or change yet.")
    pick = known[op.pick % len(known)]
    if isinstance(op, Cancel):
        return cancel(ledger, pick, now=NOW)
    return modify(ledger, pick, local_time=hhmm(op.minute), party_size=op.party, now=NOW)


class _NothingYet(BookingError):
    """No booking to cancel or change yet (not a refusal of the ledger's)."""


@settings(PROPERTY_SETTINGS, max_examples=30)
@given(
    history=st.booleans(),
    ops=st.lists(operations, min_size=30, max_size=60),
)
def test_pooled_seating_never_double_books(
    pooled_template: PooledTemplate, history: bool, ops: list[Book | Cancel | Modify]
) -> None:
    rid = pooled_template.with_history if history else pooled_template.without_history
    _never_double_books(pooled_template, rid, ops)


@settings(PROPERTY_SETTINGS, max_examples=30)
@given(ops=st.lists(operations, min_size=30, max_size=60))
def test_locking_with_admission_control_never_double_books_nor_moves(
    pooled_template: PooledTemplate, ops: list[Book | Cancel | Modify]
) -> None:
    rid = pooled_template.locked_with_admission
    assert rid is not None
    _never_double_books(pooled_template, rid, ops, moves=False)


@settings(PROPERTY_SETTINGS, max_examples=20)
@given(ops=st.lists(operations, min_size=30, max_size=60))
def test_predicted_stays_never_double_book(
    pooled_template: PooledTemplate, ops: list[Book | Cancel | Modify]
) -> None:
    rid = pooled_template.predicted_stays
    assert rid is not None
    before = stay_forecast.forecast
    stay_forecast.forecast = VariedStays()
    try:
        _never_double_books(pooled_template, rid, ops)
    finally:
        stay_forecast.forecast = before


def _never_double_books(
    pooled_template: PooledTemplate,
    rid: int,
    ops: list[Book | Cancel | Modify],
    *,
    moves: bool = True,
) -> None:
    with fresh_ledger(pooled_template) as ledger:
        known: list[int] = []
        for op in ops:
            before = snapshot(ledger)
            moved = _moves(ledger)
            try:
                _apply(ledger, rid, op, known)
            except BookingError as exc:
                event(f"{type(op).__name__}: {type(exc).__name__}")
                assert snapshot(ledger) == before, (op, exc)  # a refusal writes nothing
            else:
                event(f"{type(op).__name__}: ok")
                if _moves(ledger) > moved:
                    assert moves, op  # locking at booking moves nobody
                    event(f"{type(op).__name__}: parties moved")
            assert_invariants(ledger)
        with ledger.read() as conn:
            assert audit_ledger(conn).violations == []
