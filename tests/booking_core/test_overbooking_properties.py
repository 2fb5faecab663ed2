"""The booking core's invariants with predictive overbooking on (the
loosest bound, show probabilities between 0.1 and 0.6): whatever
bookings, changes, cancellations, seatings and no-shows a pooled restaurant
takes, no two parties ever hold one table at the same time, the claims are
exactly the assignments, the parties taken overbooked hold no table until
seated, pacing counts them, and a refusal writes nothing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from booking_core.audit import audit_ledger
from booking_core.daybook import table_policy
from booking_core.domain import ReservationState
from booking_core.errors import BookingError
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    book,
    cancel,
    get_reservation,
    modify,
)
from booking_core.restaurants import add_restaurant
from optimizer.pooled_policy import PooledAcceptance
from tests.booking_core.test_pooled_properties import (
    DAYS,
    Book,
    Cancel,
    Modify,
    PooledTemplate,
    changes,
    pooled_spec,
)
from tests.booking_core.test_properties import (
    NOW,
    PROPERTY_SETTINGS,
    SLOT_MINUTES,
    assert_invariants,
    fresh_ledger,
    hhmm,
    snapshot,
)


def show_probability(reservation_id: int) -> float:
    """Fixed per party, spread over 0.1-0.6: many likely no-shows."""
    return 0.1 + 0.5 * ((reservation_id * 37) % 11) / 10


def shows(ids: Sequence[int], now: datetime | None) -> Mapping[int, float]:
    return {i: show_probability(i) for i in ids}


@pytest.fixture(scope="module")
def overbooking_plugged_in() -> Iterator[None]:
    before = table_policy.pooled
    table_policy.pooled = PooledAcceptance(show_probabilities=shows, overbooking_samples=32)
    yield
    table_policy.pooled = before


@pytest.fixture(scope="module")
def overbooking_template(
    tmp_path_factory: pytest.TempPathFactory, overbooking_plugged_in: None
) -> PooledTemplate:
    path = tmp_path_factory.mktemp("overbooking") / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path.as_posix()}")
    ledger.clock = lambda: NOW
    try:
        spec = replace(pooled_spec("Overbooks"), overbooking_max_wait_risk=0.2)
        rid = add_restaurant(ledger, spec)
        with ledger.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        ledger.dispose()
    return PooledTemplate(path, rid, rid)


@dataclass(frozen=True)
class Turn:
    """The host moves a party along: seated, no-show or completed, some
    minutes after its booked time."""

    pick: int
    state: ReservationState
    after: int


@dataclass(frozen=True)
class FreeATable:
    """A party holding a table when an overbooked one is due does not come;
    the host then seats the overbooked party (if a table fits it)."""

    pick: int


books = st.builds(
    Book,
    st.sampled_from((0, 0, 0, 1)),
    # A narrow evening: the tables run out and overbooking is asked.
    st.sampled_from(SLOT_MINUTES[4:12]),
    st.sampled_from((1, 2, 2, 3, 4, 5, 6)),
)
# Bookings, changes and cancellations ahead; then the evenings, where the
# host moves parties along (time only moves forward: see ``Clock``).
ahead = st.one_of(books, books, books, books, changes)
evening = st.one_of(
    st.builds(FreeATable, st.integers(0, 1000)),
    st.builds(
        Turn,
        st.integers(0, 1000),
        st.sampled_from(
            (ReservationState.SEATED, ReservationState.NO_SHOW, ReservationState.COMPLETED)
        ),
        st.sampled_from((0, 20, 45, 90)),
    ),
)


class _NothingYet(BookingError):
    """No booking to change yet (not a refusal of the ledger's)."""


@dataclass
class Clock:
    """The ops' time, only ever forward (a table released at 19:20 cannot
    have been given to a booking made before then): bookings, changes and
    cancellations happen now; the host's turns move time to their moment."""

    now: datetime = NOW


Op = Book | Cancel | Modify | Turn | FreeATable


def _free_a_table(ledger: Ledger, op: FreeATable, known: list[int], clock: Clock) -> str:
    parties = [get_reservation(ledger, i) for i in known]
    waiting = [
        r
        for r in parties
        if r.overbooked and not r.table_ids and r.state == ReservationState.BOOKED.value
    ]
    if not waiting:
        raise _NothingYet("Nobody is waiting for a table.")
    w = waiting[op.pick % len(waiting)]
    holders = [
        r
        for r in parties
        if r.table_ids
        and r.state == ReservationState.BOOKED.value
        and r.service_date == w.service_date
        and r.start_at <= w.start_at < r.end_at
    ]
    if not holders:
        raise _NothingYet("No booked party holds a table when it is due.")
    gone = holders[op.pick % len(holders)]
    when = max(
        gone.start_at + timedelta(minutes=20),
        w.start_at,
        clock.now,
        gone.last_change,
        w.last_change,
    )
    clock.now = when
    advance(ledger, gone.id, ReservationState.NO_SHOW, now=when)
    try:
        advance(ledger, w.id, ReservationState.SEATED, now=when)
    except BookingError as exc:  # e.g. the table freed does not fit it: it waits on
        return f"a no-show, not seated: {type(exc).__name__}"
    return "overbooked party seated"


def _apply(ledger: Ledger, rid: int, op: Op, known: list[int], clock: Clock) -> str:
    now = clock.now
    if isinstance(op, Book):
        r = book(ledger, BookingRequest(rid, DAYS[op.day], hhmm(op.minute), op.party), now=now)
        known.append(r.id)
        return "overbooked" if r.overbooked else "ok"
    if not known:
        raise _NothingYet("There is no booking yet.")
    if isinstance(op, FreeATable):
        return _free_a_table(ledger, op, known, clock)
    pick = known[op.pick % len(known)]
    if isinstance(op, Cancel):
        cancel(ledger, pick, now=now)
    elif isinstance(op, Modify):
        modify(ledger, pick, local_time=hhmm(op.minute), party_size=op.party, now=now)
    else:
        current: Reservation = get_reservation(ledger, pick)
        waiting = current.overbooked and not current.table_ids
        when = max(current.start_at + timedelta(minutes=op.after), current.last_change, now)
        advance(ledger, pick, op.state, now=when)
        clock.now = when
        if waiting and op.state is ReservationState.SEATED:
            return "overbooked party seated"
    return "ok"


@settings(PROPERTY_SETTINGS, max_examples=20)
@given(
    ops=st.tuples(
        st.lists(ahead, min_size=30, max_size=60), st.lists(evening, min_size=5, max_size=20)
    ).map(lambda phases: [*phases[0], *phases[1]])
)
def test_overbooking_never_double_books(
    overbooking_template: PooledTemplate, ops: list[Op]
) -> None:
    rid = overbooking_template.with_history
    with fresh_ledger(overbooking_template) as ledger:
        known: list[int] = []
        clock = Clock()
        for op in ops:
            before = snapshot(ledger)
            try:
                outcome = _apply(ledger, rid, op, known, clock)
            except BookingError as exc:
                event(f"{type(op).__name__}: {type(exc).__name__}")
                assert snapshot(ledger) == before, (op, exc)  # a refusal writes nothing
            else:
                event(f"{type(op).__name__}: {outcome}")
            assert_invariants(ledger)
        with ledger.read() as conn:
            assert audit_ledger(conn).violations == []
