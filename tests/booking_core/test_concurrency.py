"""Races on acceptance: threads in several processes booking the last tables at once.

Each race synchronises its callers on a barrier so that they really collide on
the service-day lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the service_days row
lock), then checks the ledger with plain SQL rather than through the code under
test.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from queue import Empty
from typing import Any, NamedTuple

import pytest
import sqlalchemy as sa

from booking_core import errors
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book
from booking_core.restaurants import PeriodSpec, RestaurantSpec, TableSpec, add_restaurant
from booking_core.schema import dining_tables
from tests.conftest import insert_diner

# Same instant as conftest.NOW; defined here because spawned workers import this
# module on its own, and every booked date must lie after it.
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = date(2026, 6, 12)
# A party at 19:00 holds its table to 20:30 at least, so it overlaps any 19:30
# party: each free table can take exactly one of the racing requests.
TIMES = ("19:00", "19:30")
N_TABLES = 8
PREBOOKED = 3  # tables taken before the race; the race is for the other five
PARENT_THREADS = 16
CHILD_PROCESSES = 2
CHILD_THREADS = 8
REQUESTS_PER_THREAD = 2
BARRIER_TIMEOUT_S = 60.0
# Refusals the race may legitimately produce.
RACE_REFUSALS = (errors.NoTableFree, errors.PacingLimitReached)


class Outcome(NamedTuple):
    """What one caller was told; plain data so that it crosses process boundaries."""

    kind: str  # "accepted", a BookingError class name, or "unexpected"
    reservation_id: int | None
    table_ids: tuple[int, ...]
    message: str


def race_spec(name: str = "Race Bistro", *, tables: int = N_TABLES) -> RestaurantSpec:
    return RestaurantSpec(
        name=name,
        timezone="Europe/London",
        currency="GBP",
        country="GB",
        locale="en-GB",
        latitude=51.5,
        longitude=-0.12,
        cuisines=("french",),
        price_tier=2,
        tables=tuple(TableSpec(f"T{i}", "Main", 2, 4) for i in range(1, tables + 1)),
        # Five parties per slot: with three tables pre-booked at 19:00 that slot
        # refuses on pacing after two more, while 19:30 still competes for tables.
        periods=(
            PeriodSpec(
                "dinner",
                tuple(range(7)),
                "17:00",
                "23:00",
                "21:30",
                {2: 90, 4: 120},
                max_parties_per_slot=5,
            ),
        ),
    )


def _attempt(ledger: Ledger, requests: Sequence[BookingRequest], barrier: Any) -> list[Outcome]:
    barrier.wait(BARRIER_TIMEOUT_S)
    outcomes = []
    for request in requests:
        try:
            reservation = book(ledger, request, now=NOW)
        except errors.BookingError as exc:
            outcomes.append(Outcome(type(exc).__name__, None, (), str(exc)))
        except Exception as exc:  # reported and asserted on; a race must not crash
            outcomes.append(Outcome("unexpected", None, (), repr(exc)))
        else:
            outcomes.append(Outcome("accepted", reservation.id, reservation.table_ids, ""))
    return outcomes


def _run_threads(
    ledger: Ledger, batches: Sequence[Sequence[BookingRequest]], barrier: Any
) -> list[Outcome]:
    results: list[list[Outcome]] = [[] for _ in batches]

    def run(i: int) -> None:
        try:
            results[i] = _attempt(ledger, batches[i], barrier)
        except Exception as exc:  # e.g. a broken barrier: surface it, do not hang
            results[i] = [Outcome("unexpected", None, (), repr(exc))]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [o for batch in results for o in batch]


def _process_main(url: str, batches: list[list[BookingRequest]], barrier: Any, queue: Any) -> None:
    """Entry point of a spawned process: its own Ledger (engine, pool, caches)."""
    ledger: Ledger | None = None
    try:
        ledger = Ledger.open(url, migrate=False, pool_size=len(batches))
        queue.put(_run_threads(ledger, batches, barrier))
    except Exception as exc:
        barrier.abort()  # the other callers must not wait for this one
        queue.put([Outcome("unexpected", None, (), repr(exc))])
    finally:
        if ledger is not None:
            ledger.dispose()


def _batches(restaurant_id: int, threads: int, offset: int) -> list[list[BookingRequest]]:
    return [
        [
            BookingRequest(
                restaurant_id,
                DAY,
                TIMES[(offset + t + k) % 2],
                2 + (offset + t + k) % 3,
                guest_name=f"racer {offset + t}.{k}",
            )
            for k in range(REQUESTS_PER_THREAD)
        ]
        for t in range(threads)
    ]


def _spawn_and_race(
    url: str,
    parent_ledger: Ledger,
    parent_batches: list[list[BookingRequest]],
    child_batches: list[list[list[BookingRequest]]],
) -> list[Outcome]:
    ctx = mp.get_context("spawn")
    parties = len(parent_batches) + sum(len(b) for b in child_batches)
    barrier = ctx.Barrier(parties)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_process_main, args=(url, batches, barrier, queue))
        for batches in child_batches
    ]
    for p in procs:
        p.start()
    mine: list[Outcome] = []
    parent = threading.Thread(
        target=lambda: mine.extend(_run_threads(parent_ledger, parent_batches, barrier))
    )
    parent.start()
    outcomes: list[Outcome] = []
    received = 0
    deadline = time.monotonic() + BARRIER_TIMEOUT_S + 30
    try:
        while received < len(procs):
            try:
                outcomes.extend(queue.get(timeout=0.5))
                received += 1
            except Empty:
                # A worker that died (say, on import) never reaches the barrier:
                # break it so that nobody waits out the timeout.
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    barrier.abort()
                    pytest.fail(f"race worker failed (exit codes {dead}); see captured stderr")
    finally:
        parent.join(BARRIER_TIMEOUT_S + 30)
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():  # only reached when a worker hung; do not leak it
                p.kill()
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return mine + outcomes


# ---------------------------------------------------------------- ledger checks


def overlapping_assignments(conn: sa.Connection) -> int:
    """Pairs of unreleased assignments of one table whose intervals overlap."""
    return int(
        conn.execute(
            sa.text(
                "SELECT count(*) FROM reservation_tables a JOIN reservation_tables b "
                "ON a.table_id = b.table_id AND a.id < b.id "
                "WHERE a.released_at IS NULL AND b.released_at IS NULL "
                "AND a.start_at < b.end_at AND b.start_at < a.end_at"
            )
        ).scalar_one()
    )


def booked_events(conn: sa.Connection) -> Counter[int]:
    rows = conn.execute(
        sa.text("SELECT entity_id FROM outbox WHERE event_type = 'reservation.booked'")
    ).scalars()
    return Counter(int(r) for r in rows)


def held_tables(conn: sa.Connection, reservation_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    rows = conn.execute(
        sa.text(
            "SELECT r.id, rt.table_id FROM reservations r JOIN reservation_tables rt "
            "ON rt.reservation_id = r.id AND rt.released_at IS NULL "
            "WHERE r.state = 'booked' AND r.id IN :ids ORDER BY r.id, rt.table_id"
        ).bindparams(sa.bindparam("ids", expanding=True)),
        {"ids": list(reservation_ids)},
    ).all()
    held: dict[int, tuple[int, ...]] = {}
    for rid, table_id in rows:
        held[rid] = (*held.get(rid, ()), table_id)
    return held


def _error_class(kind: str) -> type[BaseException] | None:
    found = getattr(errors, kind, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


# ---------------------------------------------------------------- races


def test_last_tables_race_across_threads_and_processes(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url, migrate=False, pool_size=PARENT_THREADS)
    try:
        rid = add_restaurant(ledger, race_spec())
        prebooked = [
            book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name=f"early {i}"), now=NOW)
            for i in range(PREBOOKED)
        ]
        with ledger.read() as conn:
            all_tables = set(
                conn.execute(
                    sa.select(dining_tables.c.id).where(dining_tables.c.restaurant_id == rid)
                ).scalars()
            )
        free_tables = all_tables - {t for r in prebooked for t in r.table_ids}
        assert len(free_tables) == N_TABLES - PREBOOKED

        outcomes = _spawn_and_race(
            ledger_url,
            ledger,
            _batches(rid, PARENT_THREADS, 0),
            [
                _batches(rid, CHILD_THREADS, PARENT_THREADS + p * CHILD_THREADS)
                for p in range(CHILD_PROCESSES)
            ],
        )
        total = (PARENT_THREADS + CHILD_PROCESSES * CHILD_THREADS) * REQUESTS_PER_THREAD
        assert len(outcomes) == total

        unexpected = [o for o in outcomes if o.kind == "unexpected"]
        assert not unexpected, unexpected
        accepted = [o for o in outcomes if o.kind == "accepted"]
        refused = [o for o in outcomes if o.kind != "accepted"]
        for o in refused:
            cls = _error_class(o.kind)
            assert cls is not None and issubclass(cls, RACE_REFUSALS), o
            assert o.message.endswith("."), o

        # Capacity: every free table taken exactly once, and nothing more.
        accepted_tables = Counter(t for o in accepted for t in o.table_ids)
        assert len(accepted) == len(free_tables)
        assert set(accepted_tables) == free_tables
        assert set(accepted_tables.values()) == {1}

        accepted_ids = [o.reservation_id for o in accepted if o.reservation_id is not None]
        assert len(set(accepted_ids)) == len(accepted)
        with ledger.read() as conn:
            assert overlapping_assignments(conn) == 0
            # What each caller was told is what the ledger holds.
            assert held_tables(conn, accepted_ids) == {
                o.reservation_id: o.table_ids for o in accepted
            }
            n_rows = conn.execute(
                sa.text("SELECT count(*) FROM reservations WHERE restaurant_id = :r"), {"r": rid}
            ).scalar_one()
            assert n_rows == PREBOOKED + len(accepted)
            events = booked_events(conn)
        assert events == Counter({r: 1 for r in [*accepted_ids, *(p.id for p in prebooked)]})
    finally:
        ledger.dispose()


def test_idempotent_retries_race_to_one_reservation(ledger: Ledger) -> None:
    rid = add_restaurant(ledger, race_spec())
    request = BookingRequest(rid, DAY, "20:00", 4, guest_name="retry", idempotency_key="k-race-1")
    threads, retries = 16, 3
    barrier = threading.Barrier(threads)
    seen: list[int | str] = []
    lock = threading.Lock()

    def client() -> None:
        barrier.wait(BARRIER_TIMEOUT_S)
        for _ in range(retries):  # a client that timed out and tries again
            try:
                got: int | str = book(ledger, request, now=NOW).id
            except Exception as exc:
                got = repr(exc)
            with lock:
                seen.append(got)

    _run_all([client] * threads)
    assert len(seen) == threads * retries
    assert len(set(seen)) == 1, Counter(seen)
    (reservation_id,) = set(seen)
    with ledger.read() as conn:
        rows = (
            conn.execute(sa.text("SELECT id FROM reservations WHERE idempotency_key = 'k-race-1'"))
            .scalars()
            .all()
        )
        assert rows == [reservation_id]
        assert conn.execute(sa.text("SELECT count(*) FROM reservations")).scalar_one() == 1
        assert booked_events(conn) == Counter({reservation_id: 1})
        assert overlapping_assignments(conn) == 0


@pytest.mark.parametrize("variant", ["last_table", "same_diner"])
def test_idempotent_retry_is_not_refused_by_its_own_booking(
    ledger: Ledger, backend: str, variant: str, request: pytest.FixtureRequest
) -> None:
    """A retry racing the request it repeats must get that booking back, not a
    refusal caused by the booking itself (the last table is now taken; the
    diner now holds a reservation within two hours)."""
    rid = add_restaurant(ledger, race_spec(tables=1 if variant == "last_table" else N_TABLES))
    diner_id = insert_diner(ledger, "Retrying Diner") if variant == "same_diner" else None
    booking = BookingRequest(rid, DAY, "20:00", 2, diner_id=diner_id, idempotency_key="k-retry")
    threads = 8
    barrier = threading.Barrier(threads)
    seen: list[int | str] = []
    lock = threading.Lock()

    def client() -> None:
        barrier.wait(BARRIER_TIMEOUT_S)
        try:
            got: int | str = book(ledger, booking, now=NOW).id
        except Exception as exc:
            got = f"{type(exc).__name__}: {exc}"
        with lock:
            seen.append(got)

    _run_all([client] * threads)
    with ledger.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM reservations")).scalar_one() == 1
    assert len(set(seen)) == 1, Counter(seen)


def test_one_diner_two_restaurants_at_once(ledger: Ledger) -> None:
    """The two bookings take different service-day locks; the diner check must
    still let only one through (PostgreSQL locks the diner row for it)."""
    first = add_restaurant(ledger, race_spec("Race One"))
    second = add_restaurant(ledger, race_spec("Race Two"))
    rounds = 8
    diner_ids = [insert_diner(ledger, f"Diner {i}") for i in range(rounds)]
    for n, diner_id in enumerate(diner_ids):
        barrier = threading.Barrier(2)
        day = DAY + timedelta(days=n)  # a fresh day per round: pacing never interferes
        requests = [
            # 19:00 and 20:00 are within the two-hour spacing of each other.
            BookingRequest(first, day, "19:00", 2, diner_id=diner_id),
            BookingRequest(second, day, "20:00", 2, diner_id=diner_id),
        ]
        outcomes = _run_threads(ledger, [[r] for r in requests], barrier)
        kinds = sorted(o.kind for o in outcomes)
        assert kinds == ["DinerAlreadyBooked", "accepted"], outcomes
        with ledger.read() as conn:
            held = conn.execute(
                sa.text(
                    "SELECT count(*) FROM reservations WHERE diner_id = :d "
                    "AND state IN ('booked', 'confirmed', 'arrived', 'seated')"
                ),
                {"d": diner_id},
            ).scalar_one()
        assert held == 1


def _run_all(targets: Sequence[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BARRIER_TIMEOUT_S + 30)
        assert not t.is_alive()


def test_a_deadlock_is_a_conflict_to_retry_and_writes_nothing(ledger: Ledger) -> None:
    """Two writers that lock two service days in opposite orders: PostgreSQL
    ends the deadlock by rolling one back, and the ledger says so as a typed
    ``Conflict`` (a 409 "send it again" over HTTP), not a driver error. The
    other writer commits."""
    if not ledger.is_postgres:
        pytest.skip("SQLite serialises writers: two cannot hold a lock each")
    from booking_core.ledger import lock_service_days

    rid = add_restaurant(ledger, race_spec("Deadlock Bistro"))
    first, second = date(2026, 4, 1), date(2026, 4, 2)
    both_hold = threading.Barrier(2, timeout=10)
    outcomes: dict[str, BaseException | None] = {}

    def writer(name: str, order: tuple[date, date]) -> None:
        try:
            with ledger.write() as conn:
                lock_service_days(conn, rid, [order[0]])
                both_hold.wait()
                lock_service_days(conn, rid, [order[1]])
            outcomes[name] = None
        except BaseException as exc:  # recorded for the assertions
            outcomes[name] = exc

    threads = [
        threading.Thread(target=writer, args=("a", (first, second))),
        threading.Thread(target=writer, args=("b", (second, first))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    failed = [e for e in outcomes.values() if e is not None]
    assert len(outcomes) == 2 and len(failed) == 1, outcomes
    assert isinstance(failed[0], errors.Conflict), repr(failed[0])
    assert "send the request again" in str(failed[0])
    with ledger.read() as conn:
        versions = conn.execute(
            sa.text(
                "SELECT local_date, bookings_version FROM service_days "
                "WHERE restaurant_id = :r ORDER BY local_date"
            ),
            {"r": rid},
        ).all()
    # Only the survivor's two bumps are there: the loser's were rolled back.
    assert [v for _, v in versions] == [1, 1]
