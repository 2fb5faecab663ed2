"""Pooled acceptance's admission control prices a booking exactly as the
bid-price LP does: its shortcuts (no re-solve when the optimum spares the
tables; a search re-using its programme, or bringing it up to date after
the day book changed) never change an answer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking_core.daybook import DayBook, Holding
from booking_core.errors import TablesKeptForLaterParties
from booking_core.floor import Floor, Table, build_options
from booking_core.past_demand import ServiceDemand, ServiceHistory
from optimizer.bid_price import BidPrices, DemandHistory
from optimizer.pooled_policy import PooledAcceptance
from optimizer.service import FloorPlan
from tests.optimizer.conftest import past_requests

OPENS = 100_000  # the service's opening, as a ledger granule
TURNS = ((2, 90), (4, 120), (6, 150))


def floor_of(sizes: list[int]) -> Floor:
    tables = {
        i + 1: Table(i + 1, f"T{i + 1}", 1, max(1, size - 2), size) for i, size in enumerate(sizes)
    }
    return Floor(1, "Test", "UTC", "GBP", "GB", tables, build_options(tables, []), ())


def history_of(past: list[tuple[int, int, int]]) -> ServiceHistory:
    return ServiceHistory(
        (1, date(2026, 3, 10), "dinner", 0, date(2026, 3, 1)),
        tuple(s for s, _, _ in past),
        tuple(t for _, t, _ in past),
        tuple(lead for _, _, lead in past),
        270,
        360,
        TURNS,
        OPENS,
    )


holds = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 18)), max_size=10)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.sampled_from((2, 4, 6)), min_size=2, max_size=8),
    past=past_requests,
    held=holds,
    now=st.integers(-3000, 200),
    received=st.integers(0, 30),
    asks=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 18)), min_size=1, max_size=6),
)
def test_shortcuts_give_the_lps_own_answer(
    sizes: list[int],
    past: list[tuple[int, int, int]],
    held: list[tuple[int, int]],
    now: int,
    received: int,
    asks: list[tuple[int, int]],
) -> None:
    floor = floor_of(sizes)
    history = history_of(past)
    book = DayBook(base=OPENS - 96)
    for rid, (t, slot) in enumerate(held):
        table = t % len(sizes) + 1
        g0 = OPENS + slot
        if book.is_free((table,), g0, g0 + 6):
            book.add_holding(Holding(rid, (table,), g0, g0 + 6, 2, True))
    demand = ServiceDemand(history, now, received)
    bids = BidPrices(
        FloorPlan.from_floor(floor),
        DemandHistory(history.sizes, history.starts, history.leads, history.last_seating),
        history.turn_time,
        history.closes,
    )
    minute = history.minute_of
    policy = PooledAcceptance()

    def agrees(day: DayBook, now_demand: ServiceDemand, *, quick: bool) -> None:
        """The policy prices every ask as a programme built afresh does."""
        stands = [(h.table_ids, minute(h.g0), minute(h.g1)) for h in day.holdings.values()]
        for t, slot in asks:
            tables = (t % len(sizes) + 1,)
            g0, g1 = OPENS + slot, OPENS + slot + 8
            direct = bids.programme(now, now_demand.requests, stands).displaced(
                tables, minute(g0), minute(g1)
            )
            ours = policy.displaced(floor, day, now_demand, tables, g0, g1, quick=quick)
            assert ours == pytest.approx(direct, abs=1e-6)

    for quick in (True, False, True):  # a search, a booking, the search again
        agrees(book, demand, quick=quick)
    # A search of a day book that has changed since (a party booked, one
    # more request received; then the day as it was) prices afresh.
    changed = book.copy()
    t, slot = asks[0]
    taken = (t % len(sizes) + 1,)
    changed.release(taken, 0, OPENS + 200)
    changed.add_holding(Holding(999, taken, OPENS + slot, OPENS + slot + 8, 2, True))
    for day, now_demand in ((changed, ServiceDemand(history, now, received + 1)), (book, demand)):
        agrees(day, now_demand, quick=True)


def test_a_booking_worth_less_than_it_displaces_is_refused() -> None:
    """One table for four; a party of four is expected at 19:00 (every past
    night had one, booked on the day); a party of two asking for 19:00 would
    hold the table through the four's stay."""
    floor = floor_of([4])
    history = history_of([(4, 120, 60)] * 20)
    book = DayBook(base=OPENS - 96)
    policy = PooledAcceptance()
    demand = ServiceDemand(history, -3 * 1440, received=1)
    g0 = OPENS + 8  # 19:00 for a service opening at 17:00
    with pytest.raises(TablesKeptForLaterParties, match="party of 2"):
        policy.choose_pooled(floor, book, 2, g0, g0 + 6, demand=demand)
    # The four itself is worth what it displaces (a tie is taken) ...
    assert policy.choose_pooled(floor, book, 4, g0, g0 + 8, demand=demand) is not None
    # ... a party of two that is gone before any four could want the table
    # displaces nothing ...
    assert policy.choose_pooled(floor, book, 2, OPENS, OPENS + 6, demand=demand) is not None
    # ... and without the demand, or with admission control off, it fits.
    assert policy.choose_pooled(floor, book, 2, g0, g0 + 6) is not None
    off = PooledAcceptance(bid_price_margin=None)
    assert off.choose_pooled(floor, book, 2, g0, g0 + 6, demand=demand) is not None


def test_searches_in_two_threads_keep_programmes_of_their_own() -> None:
    """Each thread brings its own programme up to date as the day book
    changes under it (a programme is re-solved in place: shared, one thread
    could read another's bounds)."""
    floor = floor_of([2, 4, 4, 6])
    history = history_of([(4, 120, 60), (2, 90, 300), (6, 150, 60)] * 10)
    demand = ServiceDemand(history, -3 * 1440, received=6)
    policy = PooledAcceptance()
    books, book = [], DayBook(base=OPENS - 96)
    for rid, (table, slot) in enumerate([(2, 8), (3, 4), (1, 0), (4, 10)]):
        book = book.copy()
        book.add_holding(Holding(rid, (table,), OPENS + slot, OPENS + slot + 8, 4, True))
        books.append(book)
    asked = (3,), OPENS + 8, OPENS + 16
    # A booking's own programme, built afresh each time.
    fresh = [policy.displaced(floor, b, demand, *asked) for b in books]
    ready = threading.Barrier(2)

    def search(order: list[int]) -> tuple[list[float], object]:
        ready.wait()
        got = [policy.displaced(floor, books[i], demand, *asked, quick=True) for i in order]
        return got, policy._search.recent[history.key].programme

    order = [0, 1, 2, 3, 2, 1, 0, 3] * 3
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(search, o) for o in (order, order[::-1])]
        (a, mine), (b, theirs) = (run.result() for run in runs)
    assert a == pytest.approx([fresh[i] for i in order], abs=1e-6)
    assert b == pytest.approx([fresh[i] for i in order[::-1]], abs=1e-6)
    assert mine is not theirs
    assert any(f > 0 for f in fresh)  # the tables were worth something
