"""Bid-price admission control: take a booking only when its covers are worth
the table time it uses, valued by the requests still expected to come.

At high load, which requests a restaurant accepts matters more than how it
seats them (Bertsimas & Shioda, Operations Research 2003): a party of two on
a four-top at 20:00 holds two seats that a party of four asking later would
have filled. Table time is valued with a linear programme over the rest of
the night (the "deterministic LP" of revenue management):

    maximise    sum_j covers_j * x_j
    subject to  sum_j uses_j(class, granule) * x_j <= tables free(class, granule)
                sum_kinds x_(size, slot, kind) <= expected requests(size, slot)

where j runs over (party size, seating slot, kind of table that fits: one
table of a class, or a combination of tables) and a granule is 15 minutes.
What a booking displaces is the LP's value as it stands minus its value with
the booking's tables taken out for its granules (one re-solve with tighter
bounds; exact for the LP, where summed shadow prices are not: a degenerate
LP may put a whole party's price on any one of its granules). A booking is
taken when its covers are at least ``margin`` times what it displaces. When
the tables left outnumber what is still to come, nothing is displaced and
everything is accepted, so at low load the policy answers as pooling does.

The expected requests come from the restaurant's own past bookings (their
party sizes, seating times and lead times), never from the night being
decided, scaled by a pickup forecast: the requests received so far over the
share of requests that, in the past, had arrived by this lead time. While
less than ``min_share`` of the requests have historically arrived, the share
is held at ``min_share`` (the forecast then under-states the demand, so the
policy accepts more, never less; 0.25 was set by hand, not tuned, and 0.1
did no better on calibration nights). The LP is small (a few hundred
variables, about a hundred capacity rows): building and solving it takes a
median 7-10 ms on the shared 2-core machine, a re-solve about 1 ms; it is
built once per request, and re-solved once per time tried.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from ortools.linear_solver import pywraplp

from optimizer.errors import InvalidDemandHistory
from optimizer.service import FloorPlan

GRANULE = 15


@dataclass(frozen=True)
class DemandHistory:
    """Past requests of one service, each as (party size, seating minute from
    the opening, lead time in minutes). Each past request stands for requests
    at its slot and the neighbouring ones (``spread_slots`` either side,
    equally likely), which smooths the slot counts of a short history."""

    sizes: tuple[int, ...]
    starts: tuple[int, ...]
    leads: tuple[int, ...]
    last_seating: int
    spread_slots: int = 1

    def __post_init__(self) -> None:
        n = len(self.sizes)
        if not n or len(self.starts) != n or len(self.leads) != n:
            raise InvalidDemandHistory(
                "A demand history needs at least one past request, with a start and a lead "
                "time for each."
            )
        if min(self.sizes) < 1 or min(self.leads) < 0:
            raise InvalidDemandHistory("Party sizes must be positive and lead times not negative.")

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sizes, slots and request minutes, one row per (request, spread)."""
        sizes = np.asarray(self.sizes, dtype=np.int64)
        starts = np.asarray(self.starts, dtype=np.int64)
        leads = np.maximum(np.asarray(self.leads, dtype=np.int64), GRANULE)
        rows_s, rows_t, rows_r = [], [], []
        for k in range(-self.spread_slots, self.spread_slots + 1):
            t = np.clip(starts + GRANULE * k, 0, self.last_seating)
            t = t - t % GRANULE
            rows_s.append(sizes)
            rows_t.append(t // GRANULE)
            rows_r.append(t - leads)
        return np.concatenate(rows_s), np.concatenate(rows_t), np.concatenate(rows_r)

    @cached_property
    def _requested_sorted(self) -> np.ndarray:
        return np.sort(self._arrays[2])

    def share_received_by(self, now: int) -> float:
        """Share of a night's requests that had arrived by ``now``."""
        r = self._requested_sorted
        return float(np.searchsorted(r, now, side="right")) / len(r)

    def still_to_come(self, now: int) -> dict[tuple[int, int], float]:
        """Share of a night's requests that arrive after ``now``, per (party size, slot)."""
        sizes, slots, requested = self._arrays
        later = requested > now
        out: dict[tuple[int, int], float] = {}
        weight = 1.0 / len(sizes)
        for s, t in zip(sizes[later].tolist(), slots[later].tolist(), strict=True):
            out[s, t] = out.get((s, t), 0.0) + weight
        return out


@dataclass(frozen=True)
class _Kind:
    """A kind of seating: how many tables of each class it takes, who fits."""

    uses: tuple[tuple[int, int], ...]  # (class index, tables)
    min_covers: int
    max_covers: int


@dataclass
class BidPrices:
    """Shadow prices of table time for one service.

    ``duration`` gives the minutes a party of a size holds its table, reset
    included: the stay the policy would book it for (the request being
    priced is charged its own booked stay, by the same rule). Tables are
    grouped in classes by the party sizes they seat (areas and
    accessibility are left out: the prices are an estimate)."""

    floor: FloorPlan
    history: DemandHistory
    duration: Callable[[int], int]
    closes: int
    min_share: float = 0.25
    _classes: dict[tuple[int, int], int] = field(init=False)
    _class_of: dict[int, int] = field(init=False)
    _counts: np.ndarray = field(init=False)
    _kinds: list[_Kind] = field(init=False)

    def __post_init__(self) -> None:
        self._classes = {}
        self._class_of = {}
        for tid, table in sorted(self.floor.tables.items()):
            key = (table.min_covers, table.max_covers)
            self._class_of[tid] = self._classes.setdefault(key, len(self._classes))
        self._counts = np.zeros(len(self._classes))
        for c in self._class_of.values():
            self._counts[c] += 1
        kinds: dict[tuple, _Kind] = {}
        for option in self.floor.options:
            uses: dict[int, int] = {}
            for t in option.table_ids:
                uses[self._class_of[t]] = uses.get(self._class_of[t], 0) + 1
            kind = _Kind(tuple(sorted(uses.items())), option.min_covers, option.max_covers)
            kinds[kind.uses, kind.min_covers, kind.max_covers] = kind
        self._kinds = list(kinds.values())

    @property
    def granules(self) -> int:
        return math.ceil(self.closes / GRANULE)

    def free(self, holds: Iterable[tuple[Sequence[int], int, int]]) -> np.ndarray:
        """Tables free per (class, granule), given who holds which tables when."""
        free = np.repeat(self._counts[:, None], self.granules, axis=1)
        for tables, start, end in holds:
            g0 = max(start // GRANULE, 0)
            g1 = min(-(-end // GRANULE), self.granules)
            for t in tables:
                c = self._class_of.get(t)
                if c is not None and g1 > g0:
                    free[c, g0:g1] -= 1
        return np.maximum(free, 0.0)

    def expected(self, now: int, received: int) -> dict[tuple[int, int], float]:
        """Requests expected after ``now`` per (party size, slot), from the
        pickup forecast of the night's total."""
        share = max(self.history.share_received_by(now), self.min_share)
        total = received / share
        return {key: total * w for key, w in self.history.still_to_come(now).items()}

    def programme(
        self, now: int, received: int, holds: Iterable[tuple[Sequence[int], int, int]]
    ) -> Programme:
        """The LP over the rest of the night, solved: ``holds`` are the
        tables already promised (tables, start, end); a request still to
        come is worth its party size in covers."""
        free = self.free(holds)
        demand = self.expected(now, received)
        solver = pywraplp.Solver.CreateSolver("GLOP")
        rows: dict[tuple[int, int], pywraplp.Constraint] = {}
        granules = self.granules
        for (size, slot), count in sorted(demand.items()):
            fits = [k for k in self._kinds if k.min_covers <= size <= k.max_covers]
            if not fits:
                continue
            g0 = slot
            g1 = min(slot + -(-self.duration(size) // GRANULE), granules)
            cap = solver.Constraint(0.0, count)
            for kind in fits:
                x = solver.NumVar(0.0, solver.infinity(), "")
                cap.SetCoefficient(x, 1.0)
                solver.Objective().SetCoefficient(x, float(size))
                for c, n in kind.uses:
                    for g in range(g0, g1):
                        row = rows.get((c, g))
                        if row is None:
                            row = rows[c, g] = solver.Constraint(0.0, float(free[c, g]))
                        row.SetCoefficient(x, float(n))
        solver.Objective().SetMaximization()
        programme = Programme(self, solver, rows, free)
        programme.value = programme.solve()
        return programme

    def prices(
        self, now: int, received: int, holds: Iterable[tuple[Sequence[int], int, int]]
    ) -> np.ndarray:
        """Shadow price (covers) of one table of each class for each granule."""
        programme = self.programme(now, received, holds)
        prices = np.zeros_like(programme.free)
        for (c, g), row in programme.rows.items():
            prices[c, g] = max(row.dual_value(), 0.0)
        return prices

    def price_of(self, prices: np.ndarray, tables: Sequence[int], start: int, end: int) -> float:
        """What holding ``tables`` from ``start`` to ``end`` costs at ``prices``."""
        g0, g1 = self.span(start, end)
        return float(sum(prices[self._class_of[t], g0:g1].sum() for t in tables))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The granules [g0, g1) that ``start`` to ``end`` touches."""
        return max(start // GRANULE, 0), min(-(-end // GRANULE), self.granules)

    def uses(self, tables: Sequence[int]) -> dict[int, int]:
        """Tables per class."""
        out: dict[int, int] = {}
        for t in tables:
            out[self._class_of[t]] = out.get(self._class_of[t], 0) + 1
        return out


@dataclass
class Programme:
    """The night's LP, solved once per request and re-solved with less
    capacity to price what a booking displaces."""

    bids: BidPrices
    solver: pywraplp.Solver
    rows: dict[tuple[int, int], pywraplp.Constraint]
    free: np.ndarray
    value: float = 0.0

    def solve(self) -> float:
        if not self.rows:
            return 0.0
        if self.solver.Solve() != pywraplp.Solver.OPTIMAL:  # pragma: no cover - always feasible
            return 0.0
        return float(self.solver.Objective().Value())

    def displaced(self, tables: Sequence[int], start: int, end: int) -> float:
        """Covers the requests still to come lose if ``tables`` are held from
        ``start`` to ``end``: the LP's value with that capacity taken away,
        against its value as it stands (exact for the LP, unlike summed
        shadow prices, which a degenerate LP can put on any one granule)."""
        g0, g1 = self.bids.span(start, end)
        touched = []
        for c, n in self.bids.uses(tables).items():
            for g in range(g0, g1):
                row = self.rows.get((c, g))
                if row is not None:
                    touched.append((row, row.ub()))
                    row.SetUb(max(row.ub() - n, 0.0))
        if not touched:
            return 0.0
        value = self.solve()
        for row, ub in touched:
            row.SetUb(ub)
        return max(self.value - value, 0.0)


__all__ = ["GRANULE", "BidPrices", "DemandHistory", "Programme"]
