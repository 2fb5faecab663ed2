"""Replaying a night under a seating policy.

A night is a stream of booking requests, each with what really happens
(does the party come, how late, how long it stays), drawn once; every policy
replays the very same night, so the only difference is the policy.

Policies:
- ``lock-at-booking``: the best-fitting free table is locked when the booking
  is taken and the booking is refused if none is free (what the booking core
  did until now);
- ``pooled``: a booking is taken when some assignment of every party not yet
  seated fits (CP-SAT acceptance), tables are decided when parties arrive;
- ``pooled-predictive``: the same with predicted turn times per party (a
  quantile of the predicted duration plus the reset buffer) instead of the
  restaurant's turn time per party size, bid-price admission control
  (``optimizer.bid_price``: a booking is taken only when its covers are worth
  the covers its table time displaces from the requests still expected,
  forecast from the restaurant's past bookings; the request and the requests
  still to come are held for the stays the policy books, by one rule,
  ``SeatingPolicy.stay_minutes``) and time steering (of the
  times a flexible guest would take, the one the rest of the night misses
  least); opt-in, overbooking bounded by the risk that someone waits more
  than 15 minutes.

The host is the same in every policy: an arriving party is seated at a free
table that keeps the policy's promises to the other bookings (its own locked
table, or one that keeps the plan feasible); after 15 minutes of waiting at
any free table that fits; a party still waiting after 45 minutes leaves. A
booked party that has not come 20 minutes after its time is a no-show.
"""

from __future__ import annotations

import bisect
import heapq
import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Protocol

import numpy as np

from booking_core.domain import TIE_COVERS
from booking_core.floor import SeatingOption
from optimizer.acceptance import ACCEPT_SETTINGS, chained, check_acceptance
from optimizer.bid_price import BidPrices, DemandHistory, Programme
from optimizer.overbooking import added_long_waits, wait_risk
from optimizer.plan import PlanSettings, _greedy, _Occupancy, greedy_plan, seat_everyone
from optimizer.service import FloorPlan, Party, intervals, party_fits

SEAT_ANYWHERE_AFTER = 15
LEAVES_AFTER = 45
NO_SHOW_AFTER = 20
LONG_WAIT = 15
OVERBOOK_WITHIN = 24 * 60


@dataclass(frozen=True, slots=True)
class Request:
    """One booking request, with the policy-visible predictions and the
    night's realisation (the same for every policy)."""

    id: int
    requested_at: int  # minutes from the opening of the service (negative: days before)
    start: int  # the seating time asked for, minutes from the opening
    size: int
    flexibility: int  # minutes earlier or later the guest would also take
    show_probability: float  # predicted, 1 - attendance risk
    predicted_minutes: float  # predicted median time at the table
    predicted_spread: float  # log-normal sigma around that median
    shows: bool
    late_minutes: int
    actual_minutes: int
    accessible: bool = False


@dataclass(frozen=True)
class Night:
    name: str
    floor: FloorPlan
    turn_times: tuple[tuple[int, int], ...]  # (party size, minutes held), ascending sizes
    last_seating: int
    closes: int
    requests: tuple[Request, ...]
    reset_minutes: int = 10
    slot_minutes: int = 15
    # The restaurant's past requests for this service (never this night's):
    # what bid-price acceptance forecasts the demand still to come from.
    demand: DemandHistory | None = None
    # False when the predicted stays are the per-size baseline (the median
    # and spread of the restaurant's past stays per party size), not a
    # learned model's per-party predictions.
    learned_predictions: bool = True
    # Per party size, the median and log spread of how long the restaurant's
    # past parties stayed: what a request still to come is expected to be
    # booked for (its own prediction is not known until it asks).
    past_stays: tuple[tuple[int, float, float], ...] = ()

    def share_of_tables(self, size: int) -> float:
        return share_of_tables(self.floor.tables.values(), size)

    def turn_time(self, size: int) -> int:
        sizes = [s for s, _ in self.turn_times]
        i = bisect.bisect_left(sizes, size)
        return self.turn_times[min(i, len(self.turn_times) - 1)][1]


@dataclass(frozen=True)
class SeatingPolicy:
    name: str
    pooled: bool
    predictive: bool = False
    # Predictive turn times book P50 + k x (P90 - P50) of each party's
    # predicted stay: the median alone lets half the parties overstay into
    # the next booking. k is chosen on calibration nights (benchmarks/seating.py).
    spread_margin: float = 0.0
    # The margin k on nights whose predictions are the per-size baseline
    # (``Night.learned_predictions`` False): a median per party size misses
    # more than a per-party prediction does (None: ``spread_margin``).
    baseline_spread_margin: float | None = None
    max_wait_risk: float | None = None  # overbook while P(wait > 15 min) stays below this
    # Wait-aware acceptance: refuse a booking that adds more than this many
    # expected guests waiting over 15 minutes (stays and no-shows sampled).
    max_added_waits: float | None = None
    # Deterministic work units (the same answer on a busy or idle machine);
    # 0.02 is about 30-50 ms of solver time on this 2-core machine.
    time_limit_s: float = 0.02
    # A hard wall-clock deadline on an acceptance check, as the product has
    # (``optimizer.acceptance.ACCEPT_SETTINGS``, 40 ms). None in replays:
    # work units alone bound the solver, so the same nights give the same
    # answers on a busy or an idle machine (``LIVE_DEADLINE_S`` measures the
    # live check's latency and what the deadline costs).
    wall_limit_s: float | None = None
    # Bid-price admission control (optimizer.bid_price): refuse a booking
    # whose covers are below this many times the covers its table time
    # displaces from the requests still expected (None: off; needs the
    # night's demand history). 1 is the break-even the LP defines; ties are taken.
    bid_price_margin: float | None = None
    bid_price_min_share: float = 0.25
    # With bid prices: of the times the guest would take, offer the one whose
    # table time the rest of the night misses least (not the first that fits).
    steer_times: bool = False
    # The margin k shrinks with the share of the floor's tables that seat the
    # party (k x (1 - share)): when a party overstays, the next one waits
    # only if no other table that fits frees in time, and a party many
    # tables can seat rarely has none (on calibration nights the long waits
    # fell on the sizes few tables seat). False: one k for every size.
    margin_by_scarcity: bool = False

    def stay_minutes(self, night: Night, size: int, median: float, spread: float) -> int:
        """Minutes a party is booked at the table (without the reset buffer),
        given its predicted median stay and log spread: the one stay rule,
        for the booking and for the bid-price LP's requests still to come."""
        if not self.predictive:
            return max(night.turn_time(size) - night.reset_minutes, 5)
        k = self.spread_margin
        if not night.learned_predictions and self.baseline_spread_margin is not None:
            k = self.baseline_spread_margin
        if self.margin_by_scarcity:
            k = scarcity_margin(k, night.floor.tables.values(), size)
        return stay_with_margin(median, median * math.exp(Z90 * spread), k)

    def planned_minutes(self, night: Night, r: Request) -> int:
        """Minutes the party is planned at the table (without the reset buffer)."""
        return self.stay_minutes(night, r.size, r.predicted_minutes, r.predicted_spread)

    def expected_minutes(self, night: Night, size: int) -> int:
        """Minutes a request of ``size`` still to come is expected to be booked
        for: the stay rule on the restaurant's past stays of that size (the
        turn time's stay where none are known)."""
        if self.predictive:
            for s, median, spread in night.past_stays:
                if s == size:
                    return self.stay_minutes(night, size, median, spread)
        return max(night.turn_time(size) - night.reset_minutes, 5)


class _Seats(Protocol):
    @property
    def min_covers(self) -> int: ...

    @property
    def max_covers(self) -> int: ...


def share_of_tables(tables: Collection[_Seats], size: int) -> float:
    """Share of the floor's tables that seat a party of ``size`` alone."""
    fits = sum(1 for t in tables if t.min_covers <= size <= t.max_covers)
    return fits / max(len(tables), 1)


def scarcity_margin(k: float, tables: Collection[_Seats], size: int) -> float:
    """The margin k scaled by how few of the floor's tables seat the party
    (``SeatingPolicy.margin_by_scarcity``): k x (1 - share); the product's
    predicted stays scale it the same way (``serving.stays``)."""
    return k * (1.0 - share_of_tables(tables, size))


def stay_with_margin(p50: float, p90: float, k: float) -> int:
    """P50 + k x (P90 - P50) of a predicted stay, rounded up to 5 minutes:
    the stay a predictive policy books (the product books it too,
    ``serving.stays``)."""
    minutes = p50 + k * max(p90 - p50, 0.0)
    return max(5, 5 * math.ceil(minutes / 5))


def bid_prices_for(night: Night, policy: SeatingPolicy) -> BidPrices | None:
    """The bid prices a policy admits with on a night (None: off, or no demand
    history). The LP holds a table for a request still to come as long as the
    policy would book it (``expected_minutes``), reset included, as it
    charges the request being priced its booked stay."""
    if policy.bid_price_margin is None or night.demand is None:
        return None
    reset = night.reset_minutes
    held = {s: policy.expected_minutes(night, s) + reset for s in set(night.demand.sizes)}

    def duration(size: int) -> int:
        minutes = held.get(size)
        return policy.expected_minutes(night, size) + reset if minutes is None else minutes

    return BidPrices(
        night.floor, night.demand, duration, night.closes, min_share=policy.bid_price_min_share
    )


Z90 = NormalDist().inv_cdf(0.9)
# The live acceptance check's wall-clock deadline, for replays that measure
# its latency or what it costs (never for the ones that compare policies).
LIVE_DEADLINE_S = ACCEPT_SETTINGS.wall_limit_s
# Chosen on calibration nights apart from the benchmark's (benchmarks/seating.py
# --calibrate --calibration-nights 12 --seed 11: seed-101 nights,
# results/seating_calibration_sixth_rule.json) by the sixth rule in
# ``calibrate``: the pair (k for learned predictions, k for the per-size
# baseline) likeliest to meet every target on a fresh run of 24 nights per
# restaurant: learned k = 0.2 and baseline k = 0.7, both scaled by scarcity
# (k x (1 - the share of the floor's tables that seat the party)); there
# +9.1% covers at high load, long waits -11 (80% interval -23 to +1), low
# load +5.2% and -8, meeting every target in 95% of bootstrap runs. The
# fifth rule (fifth to seventh runs) chose learned k = 0 and baseline k =
# 0.1, one k for every size: on these nights +9.9% and long waits +0, 50%.
SPREAD_MARGIN = 0.2
BASELINE_SPREAD_MARGIN = 0.7
MARGIN_BY_SCARCITY = True
LOCK_AT_BOOKING = SeatingPolicy("lock-at-booking", pooled=False)
POOLED = SeatingPolicy("pooled", pooled=True)
# Pooled tables, bid-price admission from the demand still expected, steering
# flexible guests to the time the night misses least, and each party booked
# for P50 + k (P90 - P50) of its predicted stay (k by what predicted it).
POOLED_PREDICTIVE = SeatingPolicy(
    "pooled-predictive",
    pooled=True,
    predictive=True,
    spread_margin=SPREAD_MARGIN,
    baseline_spread_margin=BASELINE_SPREAD_MARGIN,
    margin_by_scarcity=MARGIN_BY_SCARCITY,
    bid_price_margin=1.0,
    steer_times=True,
)
POLICIES = (LOCK_AT_BOOKING, POOLED, POOLED_PREDICTIVE)
# The product's other seating settings, as replayed (names as the seating
# benchmark has recorded them): a lock-at-booking restaurant with
# admission control (turn times), and the same booking predicted stays,
# whose searches steer flexible guests to the time the night misses least.
LOCK_ADMISSION = replace(LOCK_AT_BOOKING, name="lock-at-booking + bid prices", bid_price_margin=1.0)
LOCK_PREDICTIVE = replace(
    POOLED_PREDICTIVE, name="lock-at-booking, the predictive policy's stays", pooled=False
)
# Every setting a restaurant can choose, for a manager's what-if.
SETTINGS = (LOCK_AT_BOOKING, LOCK_ADMISSION, LOCK_PREDICTIVE, POOLED, POOLED_PREDICTIVE)


@dataclass
class NightResult:
    night: str
    policy: str
    requests: int = 0
    accepted: int = 0
    overbooked: int = 0
    turned_away: int = 0
    covers_seated: int = 0
    parties_seated: int = 0
    no_shows: int = 0
    waited_over_15: int = 0
    walked_out: int = 0
    table_moves: int = 0
    seat_minutes: float = 0.0
    seat_capacity_minutes: float = 0.0
    solver_ms: list[float] = field(default_factory=list)  # acceptance checks
    timed_out: int = 0  # acceptance checks cut short by the deadline (answered "no")
    risk_ms: list[float] = field(default_factory=list)  # overbooking risk estimates

    @property
    def utilisation(self) -> float:
        return self.seat_minutes / self.seat_capacity_minutes if self.seat_capacity_minutes else 0.0


@dataclass(frozen=True)
class _Offer:
    """A time the party could have, its tables, the moves that makes, and
    the covers the rest of the night would lose (bid prices)."""

    start: int
    tables: tuple[int, ...]
    moves: dict[int, tuple[int, ...]]
    displaced: float


@dataclass
class _Booking:
    request: Request
    start: int
    minutes: int  # planned, without reset
    tables: tuple[int, ...]
    overbooked: bool = False
    state: str = "booked"  # booked, waiting, seated, done, no_show, left
    arrived_at: int | None = None
    seated_at: int | None = None
    leaves_at: int | None = None  # when the table is free again (reset included)


# Event kinds, in the order they are handled at the same minute.
_FREE, _NO_SHOW, _ARRIVE, _PATIENCE, _LEAVE, _REQUEST = range(6)


class _Service:
    def __init__(self, night: Night, policy: SeatingPolicy) -> None:
        self.night = night
        self.policy = policy
        self.floor = night.floor
        self.bookings: dict[int, _Booking] = {}
        self.occupied: dict[int, int] = {}  # table -> booking id seated there
        self.waiting: list[int] = []
        self.result = NightResult(night.name, policy.name, requests=len(night.requests))
        self.events: list[tuple[int, int, int, int]] = []
        self.settings = PlanSettings(
            reset_minutes=night.reset_minutes,
            time_limit_s=policy.time_limit_s,
            deterministic=True,
            wall_limit_s=policy.wall_limit_s,
        )
        self.now = -(10**9)
        self.received = 0
        self.bids = bid_prices_for(night, policy)
        self.programme: Programme | None = None

    # -------------------------------------------------------------- plumbing

    def push(self, at: int, kind: int, booking_id: int) -> None:
        heapq.heappush(self.events, (at, kind, booking_id, len(self.events)))

    def run(self) -> NightResult:
        for r in self.night.requests:
            self.push(r.requested_at, _REQUEST, r.id)
        requests = {r.id: r for r in self.night.requests}
        handlers: dict[int, Callable[[int], None]] = {
            _FREE: self.on_free,
            _NO_SHOW: self.on_no_show,
            _ARRIVE: self.on_arrive,
            _PATIENCE: lambda _b: self.seat_waiting(),
            _LEAVE: self.on_leave,
        }
        while self.events:
            at, kind, bid, _ = heapq.heappop(self.events)
            self.now = at
            if kind == _REQUEST:
                self.on_request(requests[bid])
            else:
                handlers[kind](bid)
        seats = self.floor.seats
        self.result.seat_capacity_minutes = float(seats * self.night.closes)
        return self.result

    def parties(self, *, skip: int | None = None) -> list[Party]:
        """Everyone who still needs or holds a table, as the optimizer sees them."""
        out = []
        for b in self.bookings.values():
            if b.request.id == skip or b.state in ("done", "no_show", "left"):
                continue
            r = b.request
            if b.state == "seated":
                assert b.seated_at is not None
                # An overstaying party is expected to leave soon, not at once.
                end = max(b.seated_at + b.minutes, self.now + 10)
                out.append(
                    Party(
                        r.id, r.size, b.seated_at, end - b.seated_at, seated=True, tables=b.tables
                    )
                )
                continue
            start = max(b.start, self.now) if b.state == "waiting" else b.start
            out.append(
                Party(
                    r.id,
                    r.size,
                    start,
                    b.minutes,
                    show_probability=1.0 if b.state == "waiting" else r.show_probability,
                    tables=b.tables,
                    accessible=r.accessible,
                    must_seat=not b.overbooked,
                    duration_spread=self.spread(r),
                )
            )
        return out

    def set_tables(self, booking: _Booking, tables: tuple[int, ...]) -> None:
        if tables != booking.tables and self.now >= 0 and booking.tables:
            self.result.table_moves += 1  # hosts see the plan from the opening on
        booking.tables = tables

    # -------------------------------------------------------------- booking

    def candidate_times(self, r: Request) -> list[int]:
        step = self.night.slot_minutes
        offsets = [0]
        for k in range(step, r.flexibility + 1, step):
            offsets += [-k, k]
        times = [r.start + o for o in offsets]
        return [t for t in times if 0 <= t <= self.night.last_seating and t > r.requested_at]

    def on_request(self, r: Request) -> None:
        self.received += 1
        self.programme = None  # solved at most once per request, when first needed
        minutes = self.policy.planned_minutes(self.night, r)
        times = self.candidate_times(r)
        value = r.size
        margin = self.policy.bid_price_margin or 0.0
        priced_out = False
        offers = []
        for t in times:
            offer = self.try_accept(r, t, minutes)
            if offer is None:
                continue
            if value < margin * offer.displaced - 1e-6:
                priced_out = True  # nor is it worth overbooking
                continue
            offers.append(offer)
            if not self.policy.steer_times or self.bids is None:
                break  # the first time that fits and is worth its table
        if offers:
            # Steering: of the times the guest would take, the one whose table
            # time the rest of the night misses least; times within the
            # product's tie margin of it are alike (the LP's answers are
            # floats), and the guest takes the one nearest the time asked.
            least = min(o.displaced for o in offers) + TIE_COVERS
            best = next(o for o in offers if o.displaced <= least)
            for bid, tables in best.moves.items():
                self.set_tables(self.bookings[bid], tables)
            self.take(r, best.start, minutes, best.tables, overbooked=False)
            return
        if (
            self.policy.max_wait_risk is not None
            and times
            and not priced_out
            and (times[0] - r.requested_at <= OVERBOOK_WITHIN)
        ):
            # Overbooking is decided late, when the book is nearly complete,
            # and only at the time asked for.
            for t in times[:1]:
                if self.overbooking_allows(r, t, minutes):
                    self.take(r, t, minutes, (), overbooked=True)
                    return
        self.result.turned_away += 1

    def spread(self, r: Request) -> float:
        """What the policy knows of how much a stay varies (nothing, unless predictive)."""
        return r.predicted_spread if self.policy.predictive else 0.0

    def try_accept(self, r: Request, t: int, minutes: int) -> _Offer | None:
        """Could the party have a table at ``t``, and what would the rest of
        the night lose (bid prices)? Nothing changes until an offer is taken."""
        new = Party(
            r.id,
            r.size,
            t,
            minutes,
            r.show_probability,
            accessible=r.accessible,
            duration_spread=self.spread(r),
        )
        if not self.policy.pooled:
            tables = self.free_locked_option(new)
            if tables is None:
                return None
            return _Offer(t, tables, {}, self.displaced(t, minutes, tables))
        started = time.perf_counter()
        answer = check_acceptance(self.floor, self.parties(), new, settings=self.settings)
        displaced = 0.0
        if answer.accepted and answer.tables is not None:
            displaced = self.displaced(t, minutes, answer.tables)
        near = chained(self.parties(), new, self.night.reset_minutes)
        if answer.accepted and self.policy.max_added_waits is not None:
            # Part of the answer the guest waits for, so timed with it.
            added = added_long_waits(self.floor, near, new, self.settings, seed=r.id)
            if added > self.policy.max_added_waits:
                answer = replace(answer, accepted=False, how="too many waits")
        self.result.solver_ms.append(1000 * (time.perf_counter() - started))
        self.result.timed_out += answer.how == "timed out"
        if not answer.accepted or answer.tables is None:
            return None
        if answer.how != "free table" and any(not p.must_seat for p in near):
            # Bookings already counting on no-shows nearby must keep their odds
            # (a table free in the current plan is taken as lock-at-booking would).
            trial = [*near, replace(new, tables=answer.tables)]
            if wait_risk(self.floor, trial, self.settings, seed=r.id, samples=16) > (
                self.policy.max_wait_risk or 0.0
            ):
                return None
        return _Offer(t, answer.tables, dict(answer.moves), displaced)

    def displaced(self, t: int, minutes: int, tables: tuple[int, ...]) -> float:
        """Bid prices: the covers the requests still to come lose if the party
        holds ``tables`` at ``t`` for ``minutes`` (0 without bid prices)."""
        if self.bids is None:
            return 0.0
        if self.programme is None:
            reset = self.night.reset_minutes
            holds = [
                (p.tables, p.start, p.start + p.duration + reset)
                for p in self.parties()
                if p.tables
            ]
            self.programme = self.bids.programme(self.now, self.received, holds)
        # Charged the stay it is booked for, reset included, by the rule the
        # programme holds the requests still to come with: a request predicted
        # like the typical one of its size is a tie with it, and ties are taken.
        return self.programme.displaced(tables, t, t + minutes + self.night.reset_minutes)

    def free_locked_option(self, new: Party) -> tuple[int, ...] | None:
        reset = self.night.reset_minutes
        held = _Occupancy()
        for p in self.parties():
            held.take(p.tables, p.start, p.start + p.duration + reset)
        for option in self.floor.options:
            if party_fits(new, option) and held.free(
                option.table_ids, new.start, new.start + new.duration + reset
            ):
                return option.table_ids
        return None

    def overbooking_allows(self, r: Request, t: int, minutes: int) -> bool:
        new = Party(
            r.id, r.size, t, minutes, r.show_probability, accessible=r.accessible, must_seat=False
        )
        started = time.perf_counter()
        near = chained(self.parties(), new, self.night.reset_minutes)
        risk = wait_risk(self.floor, [*near, new], self.settings, seed=r.id, samples=16)
        self.result.risk_ms.append(1000 * (time.perf_counter() - started))
        return risk <= (self.policy.max_wait_risk or 0.0)

    def take(
        self, r: Request, t: int, minutes: int, tables: tuple[int, ...], *, overbooked: bool
    ) -> None:
        self.bookings[r.id] = _Booking(r, t, minutes, tables, overbooked=overbooked)
        self.result.accepted += 1
        self.result.overbooked += int(overbooked)
        if r.shows:
            self.push(t + r.late_minutes, _ARRIVE, r.id)
        else:
            self.push(t + NO_SHOW_AFTER, _NO_SHOW, r.id)

    # -------------------------------------------------------------- the floor

    def on_no_show(self, bid: int) -> None:
        b = self.bookings[bid]
        b.state = "no_show"
        self.result.no_shows += 1
        self.seat_waiting()

    def on_arrive(self, bid: int) -> None:
        b = self.bookings[bid]
        b.state = "waiting"
        b.arrived_at = self.now
        self.waiting.append(bid)
        self.push(max(self.now, b.start) + SEAT_ANYWHERE_AFTER, _PATIENCE, bid)
        self.push(max(self.now, b.start) + LEAVES_AFTER, _LEAVE, bid)
        self.seat_waiting()

    def on_free(self, bid: int) -> None:
        b = self.bookings[bid]
        b.state = "done"
        for t in b.tables:
            if self.occupied.get(t) == bid:
                del self.occupied[t]
        self.seat_waiting()

    def on_leave(self, bid: int) -> None:
        b = self.bookings[bid]
        if b.state != "waiting":
            return
        b.state = "left"
        self.waiting.remove(bid)
        self.result.walked_out += 1
        self.result.waited_over_15 += 1

    def free_options(self, b: _Booking) -> list[SeatingOption]:
        party = Party(
            b.request.id, b.request.size, self.now, b.minutes, accessible=b.request.accessible
        )
        return [
            o
            for o in self.floor.options
            if party_fits(party, o) and not any(t in self.occupied for t in o.table_ids)
        ]

    def seat_waiting(self) -> None:
        for bid in list(self.waiting):
            b = self.bookings[bid]
            if self.now < b.start - 30:
                continue  # far too early: they have a drink at the bar first
            options = self.free_options(b)
            if not options:
                continue
            patience_over = self.now - max(b.arrived_at or self.now, b.start) >= (
                SEAT_ANYWHERE_AFTER
            )
            pick = self.choose_table(b, options, force=patience_over)
            if pick is not None:
                self.seat(b, pick)

    def choose_table(
        self, b: _Booking, options: Sequence[SeatingOption], *, force: bool
    ) -> tuple[int, ...] | None:
        mine = [o for o in options if o.table_ids == b.tables]
        ordered = [*mine, *(o for o in options if o.table_ids != b.tables)]
        for o in ordered:
            if o.table_ids == b.tables or self.keeps_locks(b, o.table_ids):
                return o.table_ids
        if self.policy.pooled:
            # No free table is clear of the plan: seat them at the best-fitting
            # one after which every other booking still has a table (late
            # assignment from the floor as it is, the rest re-planned).
            others = [p for p in self.parties(skip=b.request.id) if p.locked or p.must_seat]
            for o in ordered[:3]:
                here = Party(
                    b.request.id,
                    b.request.size,
                    self.now,
                    b.minutes,
                    seated=True,
                    tables=o.table_ids,
                )
                spans = intervals(
                    self.floor,
                    [*others, here],
                    reset_minutes=self.night.reset_minutes,
                    now=self.now,
                    check=False,
                )
                plan = _greedy(self.floor, spans)
                if not all(p.id in plan for p in others):
                    status, plan = seat_everyone(
                        self.floor,
                        spans,
                        settings=self.settings,
                        limit_s=self.settings.time_limit_s,
                    )
                    if status != "found":
                        continue
                for p in others:
                    if not p.locked:
                        self.set_tables(self.bookings[p.id], plan[p.id])
                return o.table_ids
        return ordered[0].table_ids if force else None

    def keeps_locks(self, b: _Booking, tables: tuple[int, ...]) -> bool:
        end = self.now + b.minutes + self.night.reset_minutes
        for other in self.bookings.values():
            if other is b or other.state not in ("booked", "waiting"):
                continue
            o_end = other.start + other.minutes + self.night.reset_minutes
            if set(other.tables) & set(tables) and other.start < end and self.now < o_end:
                return False
        return True

    def seat(self, b: _Booking, tables: tuple[int, ...]) -> None:
        self.waiting.remove(b.request.id)
        if tables != b.tables:
            self.set_tables(b, tables)
            # Whoever was planned on these tables meanwhile loses them: the
            # lock policy finds them any free table on arrival, the pooled
            # ones are re-planned.
            end = self.now + b.minutes + self.night.reset_minutes
            bumped = [
                other
                for other in self.bookings.values()
                if other is not b
                and other.state in ("booked", "waiting")
                and set(other.tables) & set(tables)
                and other.start < end
                and self.now < other.start + other.minutes + self.night.reset_minutes
            ]
            for other in bumped:
                other.tables = ()
            if bumped and self.policy.pooled:
                plan = greedy_plan(self.floor, self.parties(), settings=self.settings, now=self.now)
                for other in bumped:
                    other.tables = plan.assignments.get(other.request.id, ())
        b.state = "seated"
        b.seated_at = self.now
        wait = self.now - max(b.arrived_at or self.now, b.start)
        if wait > LONG_WAIT:
            self.result.waited_over_15 += 1
        r = b.request
        b.leaves_at = self.now + r.actual_minutes + self.night.reset_minutes
        for t in tables:
            self.occupied[t] = r.id
        self.result.parties_seated += 1
        self.result.covers_seated += r.size
        self.result.seat_minutes += r.size * min(
            r.actual_minutes, max(self.night.closes - self.now, 0)
        )
        self.push(b.leaves_at, _FREE, r.id)


def simulate_night(night: Night, policy: SeatingPolicy) -> NightResult:
    return _Service(night, policy).run()


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


__all__ = [
    "BASELINE_SPREAD_MARGIN",
    "LIVE_DEADLINE_S",
    "LOCK_ADMISSION",
    "LOCK_AT_BOOKING",
    "LOCK_PREDICTIVE",
    "POLICIES",
    "POOLED",
    "POOLED_PREDICTIVE",
    "SETTINGS",
    "SPREAD_MARGIN",
    "Night",
    "NightResult",
    "Request",
    "SeatingPolicy",
    "bid_prices_for",
    "percentile",
    "simulate_night",
    "stay_with_margin",
]
