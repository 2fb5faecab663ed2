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
median 3 ms on the shared 2-core machine, a re-solve (warm, from the last
optimum) under half a millisecond; it is built once per request, and
re-solved once per time tried. A programme kept for later (a search's) is
brought up to date rather than built again (``Programme.update``): the
holds and the forecast only set the rows' bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp

from optimizer.errors import InvalidDemandHistory
from optimizer.service import FloorPlan

GRANULE = 15

# Solves without presolve: GLOP then keeps its basis between solves, so a
# re-solve after bounds change starts from the last optimum (presolving
# changes the problem solved, and every solve starts afresh).
_NO_PRESOLVE = pywraplp.MPSolverParameters()
_NO_PRESOLVE.SetIntegerParam(_NO_PRESOLVE.PRESOLVE, _NO_PRESOLVE.PRESOLVE_OFF)
# A first solve is primal simplex's job; after bounds change the last basis
# is still dual feasible, and dual simplex needs a few iterations from it.
_COLD = "use_dual_simplex: false"
_WARM = "use_dual_simplex: true"


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
        width = int(slots.max()) + 1
        # np.bincount adds the weights one by one in the requests' order:
        # the same sums, to the last bit, as counting them in a loop.
        weights = np.full(int(later.sum()), 1.0 / len(sizes))
        shares = np.bincount(sizes[later] * width + slots[later], weights=weights)
        return {(k // width, k % width): float(shares[k]) for k in np.flatnonzero(shares).tolist()}


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
        # Written as a model and loaded at once: setting its few thousand
        # coefficients one by one through the solver's wrapper costs more
        # than solving it. Rows are numbered in the order they are made.
        model = linear_solver_pb2.MPModelProto(maximize=True)
        # Per row, in the order made: its bound, variables and coefficients.
        made: list[tuple[float, list[int], list[float]]] = []
        rows: dict[tuple[int, int], int] = {}
        asked: dict[tuple[int, int], int] = {}
        granules = self.granules
        for (size, slot), count in sorted(demand.items()):
            fits = self.fitting(size)
            if not fits:
                continue
            g0 = slot
            g1 = min(slot + -(-self.duration(size) // GRANULE), granules)
            asked[size, slot] = len(made)
            cap: tuple[float, list[int], list[float]] = (count, [], [])
            made.append(cap)
            for kind in fits:
                x = len(model.variable)
                model.variable.add(lower_bound=0.0, objective_coefficient=float(size))
                cap[1].append(x)
                cap[2].append(1.0)
                for c, n in kind.uses:
                    for g in range(g0, g1):
                        r = rows.get((c, g))
                        if r is None:
                            r = rows[c, g] = len(made)
                            made.append((float(free[c, g]), [], []))
                        made[r][1].append(x)
                        made[r][2].append(float(n))
        for ub, xs, coefficients in made:
            model.constraint.add(
                lower_bound=0.0, upper_bound=ub, var_index=xs, coefficient=coefficients
            )
        solver = pywraplp.Solver.CreateSolver("GLOP")
        error = solver.LoadModelFromProto(model)
        if error:  # pragma: no cover - the model is made here, and valid
            raise ValueError(f"The bid-price LP could not be loaded: {error}")
        constraints = solver.constraints()
        programme = Programme(
            self,
            solver,
            {cg: constraints[r] for cg, r in rows.items()},
            free,
            {key: constraints[r] for key, r in asked.items()},
        )
        programme.value = programme.solve(warm=False)
        return programme

    def fitting(self, size: int) -> list[_Kind]:
        """The kinds of seating a party of ``size`` fits."""
        return [k for k in self._kinds if k.min_covers <= size <= k.max_covers]

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
    capacity to price what a booking displaces. ``rows`` are the capacity
    rows, per (table class, granule); ``asked`` the rows of the requests
    expected, per (party size, slot)."""

    bids: BidPrices
    solver: pywraplp.Solver
    rows: dict[tuple[int, int], pywraplp.Constraint]
    free: np.ndarray
    asked: dict[tuple[int, int], pywraplp.Constraint] = field(default_factory=dict)
    value: float = 0.0

    def solve(self, *, warm: bool = True) -> float:
        """The LP's value; ``warm``: from the last solve's basis."""
        if not self.rows:
            return 0.0
        self.solver.SetSolverSpecificParametersAsString(_WARM if warm else _COLD)
        status = self.solver.Solve(_NO_PRESOLVE)
        if status != pywraplp.Solver.OPTIMAL:  # pragma: no cover - never seen
            # Always feasible (nothing taken) and bounded: should a start
            # from the last basis ever stall, solve afresh (presolved).
            self.solver.SetSolverSpecificParametersAsString(_COLD)
            status = self.solver.Solve()
        if status != pywraplp.Solver.OPTIMAL:  # pragma: no cover
            return 0.0
        return float(self.solver.Objective().Value())

    def update(
        self, now: int, received: int, holds: Iterable[tuple[Sequence[int], int, int]]
    ) -> bool:
        """Bring the programme to ``holds`` and the forecast at ``now``, and
        solve it again from its last basis: the LP ``BidPrices.programme``
        would build differs only in its rows' bounds (the tables free, the
        requests expected). A request no longer expected keeps its
        variables, held at nothing by its row, which changes no answer.
        False, and nothing changed, when requests are expected that it has
        no variables for (a forecast at an earlier ``now``), or when fewer
        than half of its requests are still expected (one built afresh is
        then much smaller, so quicker to re-solve)."""
        demand = self.bids.expected(now, received)
        if any(k not in self.asked and self.bids.fitting(k[0]) for k in demand):
            return False
        if 2 * sum(k in demand for k in self.asked) < len(self.asked):
            return False
        for key, row in self.asked.items():
            row.SetUb(demand.get(key, 0.0))
        free = self.bids.free(holds)
        for c, g in zip(*np.nonzero(free != self.free), strict=True):
            row = self.rows.get((int(c), int(g)))
            if row is not None:
                row.SetUb(float(free[c, g]))
        self.free = free
        self.value = self.solve()
        return True

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
