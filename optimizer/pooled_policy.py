"""Pooled acceptance as the booking core's table choice.

``PooledAcceptance`` first does what ``BestFitAtBooking`` does (a free table
that fits: nobody moves, the hot path stays as fast as it was). Only when no
table is free does it ask the optimizer whether moving booked parties of that
service date (not those at the restaurant, nor another day's) makes room; the
booking core then writes the moves with the booking, under the same day lock.
Times are the day book's 15-minute granules and the restaurant's turn times,
which already include the reset of the table, so no buffer is added.

Admission control (when the booking core hands over the service's demand:
enough past bookings of that service): a booking that fits is still
refused when its covers are below ``bid_price_margin`` times the covers its
table time displaces from the requests still expected, as the seating
simulator's pooled-predictive policy does (``optimizer.bid_price``: the LP
over the rest of the night, re-solved without the booking's tables). As in
the simulator, the tables priced are the ones the check chose, the holds
are the parties as they stand (before any move), and every party is held
for its turn time.

Two shortcuts, both exact. A booking whose tables the LP's optimum leaves
free at every granule they would be held displaces nothing (the optimum
stays feasible without them), so no re-solve is needed; most bookings away
from the peak end there. And a search re-uses the programme of the
previous search of that service in the same thread: as it is while the day
book is the same cached object and neither the requests received nor the
past requests already arrived by now have changed (the LP depends on
nothing else), and otherwise brought up to date (``Programme.update``: the
holds and the forecast only set the LP's bounds, so the new ones and a warm
re-solve answer as a programme built afresh would); it is built afresh
only when the forecast no longer fits it (requests it has no variables
for, or fewer than half of those it has). A booking builds its own (its
day book is a fresh copy), and never touches a search's.

``pool=False`` (lock-at-booking restaurants with admission control): the
fit is the best free table only, nobody moves, and the same admission rule
prices it; when no table is free the booking is refused as at any
lock-at-booking restaurant.

Predictive overbooking (``overbooking_allows``, for restaurants that opted
in): when no table can be made free, the booking may still be taken without
one if, sampling who of the service's booked parties comes (their show
probabilities, from ``show_probabilities``, which the application hands
over) and seating the night as a host would, the chance that a guest who
comes waits over 15 minutes stays within the restaurant's bound
(``optimizer.overbooking``). Without ``show_probabilities`` it never
overbooks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from booking_core.daybook import (
    BestFitAtBooking,
    DayBook,
    Holding,
    PooledChoice,
    TableMove,
)
from booking_core.domain import GRANULE_MINUTES
from booking_core.errors import TablesKeptForLaterParties
from booking_core.floor import Floor, SeatingOption
from booking_core.past_demand import ServiceDemand, ServiceHistory
from optimizer.acceptance import check_acceptance
from optimizer.bid_price import BidPrices, DemandHistory, Programme
from optimizer.errors import SeatingInputError
from optimizer.overbooking import OverbookingPolicy
from optimizer.plan import PlanSettings
from optimizer.service import FloorPlan, Party

log = logging.getLogger("servicesphere.optimizer")

NEW_PARTY = -1
# Show probabilities of booked parties, by reservation id, as known at a
# moment (an id it cannot score may be left out: that party is taken to come).
ShowProbabilities = Callable[[Sequence[int], datetime | None], Mapping[int, float]]
# Bid prices kept per (restaurant, service date, period, floor version).
BID_PRICE_BOUND = 256
# Solved programmes a thread keeps for searches (each holds its day book).
SEARCHES_KEPT = 8


@dataclass
class _Priced:
    """A solved programme and how much of each capacity row its optimum
    uses. Kept per thread for searches: a programme is re-solved and
    brought up to date in place, so it is never shared between threads."""

    book: DayBook
    key: tuple[object, ...]  # the history, share arrived by now, requests received
    programme: Programme
    used: dict[tuple[int, int], float]  # (table class, granule) -> tables at the optimum
    answers: dict[tuple[tuple[int, ...], int, int], float] = field(default_factory=dict)

    @classmethod
    def of(cls, book: DayBook, key: tuple[object, ...], programme: Programme) -> _Priced:
        used: dict[tuple[int, int], float] = {}
        if programme.rows and programme.value > 0:
            activity = programme.solver.ComputeConstraintActivities()
            used = {cg: activity[row.index()] for cg, row in programme.rows.items()}
        return cls(book, key, programme, used)

    def displaced(self, tables: tuple[int, ...], start: int, end: int) -> float:
        if self.programme.value <= 0:
            return 0.0  # nothing is expected that tables could serve
        known = self.answers.get((tables, start, end))
        if known is None:
            needed = self.optimum_needs(tables, start, end)
            known = self.programme.displaced(tables, start, end) if needed else 0.0
            self.answers[tables, start, end] = known
        return known

    def optimum_needs(self, tables: tuple[int, ...], start: int, end: int) -> bool:
        """Whether the LP's optimum uses so many tables of their class at
        some granule of [start, end) that these could not be spared."""
        bids = self.programme.bids
        g0, g1 = bids.span(start, end)
        return any(
            self.used[c, g] + n > row.ub() + 1e-9
            for c, n in bids.uses(tables).items()
            for g in range(g0, g1)
            if (row := self.programme.rows.get((c, g))) is not None
        )


class PooledAcceptance:
    """``TableChoice`` + ``PooledTableChoice`` for the booking core."""

    def __init__(
        self,
        *,
        time_limit_s: float = 0.025,
        bid_price_margin: float | None = 1.0,
        min_share: float = 0.25,
        show_probabilities: ShowProbabilities | None = None,
        overbooking_samples: int = 64,
        pool: bool = True,
    ) -> None:
        self.time_limit_s = time_limit_s
        # False: lock the best free table (no moves), admission control only.
        self.pool = pool
        self.show_probabilities = show_probabilities
        self.overbooking_samples = overbooking_samples
        # 1: break-even as the LP defines it, ties taken (the simulator's
        # pooled-predictive setting); None: no admission control.
        self.bid_price_margin = bid_price_margin
        self.min_share = min_share
        self._best_fit = BestFitAtBooking()
        self._floors: dict[tuple[int, int], FloorPlan] = {}
        self._bids: dict[tuple[int, date, str, int, date], BidPrices] = {}
        self._search = threading.local()

    def choose(
        self,
        floor: Floor,
        book: DayBook,
        party_size: int,
        g0: int,
        g1: int,
        *,
        area_id: int | None = None,
        accessible: bool = False,
    ) -> SeatingOption | None:
        return self._best_fit.choose(
            floor, book, party_size, g0, g1, area_id=area_id, accessible=accessible
        )

    def choose_pooled(
        self,
        floor: Floor,
        book: DayBook,
        party_size: int,
        g0: int,
        g1: int,
        *,
        area_id: int | None = None,
        accessible: bool = False,
        quick: bool = False,
        demand: ServiceDemand | None = None,
    ) -> PooledChoice | None:
        choice = self._fit(
            floor, book, party_size, g0, g1, area_id=area_id, accessible=accessible, quick=quick
        )
        if choice is not None and demand is not None:
            self.admit(
                floor, book, demand, party_size, choice.option.table_ids, g0, g1, quick=quick
            )
        return choice

    def admit(
        self,
        floor: Floor,
        book: DayBook,
        demand: ServiceDemand,
        party_size: int,
        tables: tuple[int, ...],
        g0: int,
        g1: int,
        *,
        quick: bool = False,
    ) -> None:
        """Bid-price admission: ``TablesKeptForLaterParties`` when a party
        holding ``tables`` over granules [g0, g1) displaces more covers
        still expected than it brings (ties are taken)."""
        if self.bid_price_margin is None:
            return
        displaced = self.displaced(floor, book, demand, tables, g0, g1, quick=quick)
        if party_size < self.bid_price_margin * displaced - 1e-6:
            raise TablesKeptForLaterParties(
                f"A party of {party_size} would displace {displaced:.1f} covers still expected."
            )

    def overbooking_allows(
        self,
        floor: Floor,
        book: DayBook,
        party_size: int,
        g0: int,
        g1: int,
        *,
        max_wait_risk: float,
        service: tuple[int, int],
        area_id: int | None = None,
        accessible: bool = False,
        now: datetime | None = None,
    ) -> bool:
        """Whether a party no table can be made free for may be taken
        beyond the tables (see the module's docstring)."""
        if self.show_probabilities is None:
            return False
        plan = self._floor_plan(floor)
        opens, closes = service
        holdings = [
            h
            for h in (*book.holdings.values(), *book.overbooked.values())
            if h.g1 > h.g0 and all(t in plan.tables for t in h.table_ids)
        ]
        # The service's parties not yet here are the ones who may not come;
        # every other holding keeps its tables as they are.
        waiting = [h for h in holdings if h.movable and opens <= h.g0 < closes]
        try:
            shows = self.show_probabilities([h.reservation_id for h in waiting], now)
        except Exception:  # no prediction, no overbooking: the booking is refused
            log.warning("show probabilities unavailable: not overbooking", exc_info=True)
            return False
        parties = [
            self._party(
                book, h, shows.get(h.reservation_id, 1.0), in_service=opens <= h.g0 < closes
            )
            for h in holdings
        ]
        new = Holding(NEW_PARTY, (), g0, g1, party_size, True, area_id, accessible)
        asked = self._party(book, new, 1.0, in_service=True)
        assert asked is not None  # in the service and movable: always a party
        policy = OverbookingPolicy(max_wait_risk, samples=self.overbooking_samples)
        try:
            return policy.allows(
                plan, [p for p in parties if p is not None], asked, PlanSettings(reset_minutes=0)
            )
        except SeatingInputError:  # a floor the sampler cannot seat: refuse, never guess
            log.warning("overbooking could not weigh this service", exc_info=True)
            return False

    @staticmethod
    def _party(book: DayBook, h: Holding, show: float, *, in_service: bool) -> Party | None:
        """A holding as the overbooking sampler sees it, in minutes from the
        day book's base: in the service and not yet here, a party who may
        not come and whom the host seats at whichever table fits; otherwise
        fixed where it is (one with no table outside the service is left out)."""
        start = (h.g0 - book.base) * GRANULE_MINUTES
        duration = (h.g1 - h.g0) * GRANULE_MINUTES
        if in_service and (h.movable or not h.table_ids):
            return Party(
                h.reservation_id,
                h.party_size,
                start,
                duration,
                show_probability=min(max(float(show), 0.0), 1.0),
                tables=h.table_ids,
                area_id=h.area_id,
                area_required=h.area_id is not None,
                accessible=h.accessible,
            )
        if not h.table_ids:
            return None
        return Party(
            h.reservation_id, h.party_size, start, duration, pinned=True, tables=h.table_ids
        )

    def displaced(
        self,
        floor: Floor,
        book: DayBook,
        demand: ServiceDemand,
        tables: tuple[int, ...],
        g0: int,
        g1: int,
        *,
        quick: bool = False,
    ) -> float:
        """Covers the requests still expected lose if ``tables`` are held
        over granules [g0, g1)."""
        history = demand.history
        priced = self._priced(floor, book, demand, reuse=quick)
        return priced.displaced(tables, history.minute_of(g0), history.minute_of(g1))

    def _priced(
        self, floor: Floor, book: DayBook, demand: ServiceDemand, *, reuse: bool
    ) -> _Priced:
        history = demand.history
        bids = self._bid_prices(floor, history)
        # The LP sees ``now`` only through which past requests had arrived by
        # then: the share arrived names that set exactly.
        key = (history.key, bids.history.share_received_by(demand.now), demand.requests)
        # One per service (a search spans lunch and dinner), per thread.
        recent: dict[object, _Priced] = self._search.__dict__.setdefault("recent", {})
        last = recent.get(history.key) if reuse else None
        if last is not None and last.book is book and last.key == key:
            return last
        holds = [
            (h.table_ids, history.minute_of(h.g0), history.minute_of(h.g1))
            for h in book.holdings.values()
        ]
        if last is not None and last.programme.update(demand.now, demand.requests, holds):
            programme = last.programme  # the day book changed: new bounds, a warm re-solve
        else:
            programme = bids.programme(demand.now, demand.requests, holds)
        priced = _Priced.of(book, key, programme)
        if reuse:
            if history.key not in recent and len(recent) >= SEARCHES_KEPT:
                recent.clear()
            recent[history.key] = priced
        return priced

    def _bid_prices(self, floor: Floor, history: ServiceHistory) -> BidPrices:
        bids = self._bids.get(history.key)
        if bids is None:
            if len(self._bids) >= BID_PRICE_BOUND:
                self._bids.clear()
            past = DemandHistory(history.sizes, history.starts, history.leads, history.last_seating)
            bids = self._bids[history.key] = BidPrices(
                self._floor_plan(floor),
                past,
                history.turn_time,
                history.closes,
                min_share=self.min_share,
            )
        return bids

    def _fit(
        self,
        floor: Floor,
        book: DayBook,
        party_size: int,
        g0: int,
        g1: int,
        *,
        area_id: int | None,
        accessible: bool,
        quick: bool,
    ) -> PooledChoice | None:
        """A free table, or room made by moving parties not yet seated."""
        free = self._best_fit.choose(
            floor, book, party_size, g0, g1, area_id=area_id, accessible=accessible
        )
        if free is not None:
            return PooledChoice(free)
        if not self.pool:
            return None
        plan = self._floor_plan(floor)
        parties = [
            Party(
                h.reservation_id,
                h.party_size,
                h.g0,
                h.g1 - h.g0,
                pinned=not h.movable,
                tables=h.table_ids,
                area_id=h.area_id,
                area_required=h.area_id is not None,
                accessible=h.accessible,
            )
            for h in book.holdings.values()
            if h.g1 > h.g0 and all(t in plan.tables for t in h.table_ids)
        ]
        new = Party(
            NEW_PARTY,
            party_size,
            g0,
            g1 - g0,
            area_id=area_id,
            area_required=area_id is not None,
            accessible=accessible,
        )
        settings = PlanSettings(reset_minutes=0, time_limit_s=0.0 if quick else self.time_limit_s)
        answer = check_acceptance(plan, parties, new, settings=settings)
        if not answer.accepted or answer.tables is None:
            return None
        moves = tuple(
            TableMove(rid, book.holdings[rid].table_ids, plan.option_for(tables))
            for rid, tables in sorted(answer.moves.items())
        )
        return PooledChoice(plan.option_for(answer.tables), moves)

    def _floor_plan(self, floor: Floor) -> FloorPlan:
        key = (floor.restaurant_id, floor.floor_version)
        plan = self._floors.get(key)
        if plan is None:
            if len(self._floors) > 1024:
                self._floors.clear()
            plan = self._floors[key] = FloorPlan.from_floor(floor)
        return plan


__all__ = ["PooledAcceptance"]
