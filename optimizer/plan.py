"""The service plan: which table (or combination) each party gets.

CP-SAT decides, for each party, a *kind* of table rather than a table:
tables of the same size, area, accessibility and features are interchangeable,
so they form one class with a capacity, which removes the symmetry of
swapping identical tables. Bookings have fixed times, so "no overlap on a
table" is interval scheduling: the parties using a class at any moment never
outnumber its tables, and because every clique of an interval graph contains
some party's start, checking at the starts is exact. Interval graphs are
perfect, so the parties of a class are then dealt to its actual tables in
start order without ever running out (keeping each party at its current or
favourite table when it is free). Tables in a combination, or holding a lock
that starts later than a movable party, are classes of their own.

The greedy plan (best fit in start order, current table first) always
answers: it seeds the solver, and it is the answer when the solver has no
time or finds nothing better.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from booking_core.floor import SeatingOption
from optimizer.service import FloorPlan, Interval, Party, intervals


@dataclass(frozen=True)
class PlanSettings:
    """How a plan is scored and how long the solver may think.

    The objective, maximised: expected covers seated (size x show probability,
    with a large bonus for every accepted booking that gets a table), minus
    empty seats at each table, minus moves from the current plan, plus soft
    preferences met."""

    reset_minutes: int = 10
    time_limit_s: float = 1.0
    workers: int = 1
    # Work units instead of seconds: the same answer on a busy or idle
    # machine (simulations must not depend on what else is running).
    deterministic: bool = False
    cover_weight: int = 100
    booked_weight: int = 100_000
    empty_seat_weight: int = 3
    move_weight: int = 40
    area_weight: int = 12
    favourite_weight: int = 8
    # A hard wall-clock bound on a feasibility check (acceptance), model
    # building included, even when ``deterministic``: a guest is waiting.
    wall_limit_s: float | None = None


@dataclass(frozen=True)
class ServicePlan:
    """Table ids per party; parties left without a table; how it was found."""

    assignments: Mapping[int, tuple[int, ...]]
    unseated: tuple[int, ...]
    status: str  # "optimal", "feasible", "greedy" or "infeasible"
    objective: int
    bound: int
    solve_seconds: float
    moves: int

    @property
    def gap_pct(self) -> float:
        """Distance to the solver's proven bound (0 when optimal; the greedy
        plan proves nothing, so its gap is the bound it could not close)."""
        if self.status == "optimal":
            return 0.0
        return 100.0 * max(self.bound - self.objective, 0) / max(abs(self.objective), 1)

    @property
    def all_seated(self) -> bool:
        return not self.unseated


def plan_service(
    floor: FloorPlan,
    parties: Sequence[Party],
    *,
    settings: PlanSettings | None = None,
    now: int | None = None,
    strict: bool = False,
) -> ServicePlan:
    """The best plan found within ``settings.time_limit_s``.

    ``strict``: every party with ``must_seat`` must get a table, and when the
    solver proves that impossible the status is "infeasible" (acceptance
    uses this). Otherwise a party may be left unseated at a large cost."""
    settings = settings or PlanSettings()
    started = time.perf_counter()
    spans = intervals(floor, parties, reset_minutes=settings.reset_minutes, now=now)
    greedy = _greedy(floor, spans)
    greedy_score = score(floor, spans, greedy, settings)
    free = [s for s in spans if not s.party.locked]
    if not free or settings.time_limit_s <= 0:
        return _finish(
            spans, greedy, "greedy", greedy_score, _upper_bound(spans, settings), started, False
        )
    # Parties whose times never chain together cannot affect each other
    # (lunch and dinner, say): each group is a smaller model of its own.
    assignments: dict[int, tuple[int, ...]] = {}
    statuses, bound, solver_value = [], 0, 0
    groups = [g for g in components(spans) if any(not s.party.locked for s in g)]
    left = sum(1 for s in free)
    for group in groups:
        n = sum(1 for s in group if not s.party.locked)
        if settings.deterministic:
            limit = settings.time_limit_s * n / max(len(free), 1)
        else:
            remaining = settings.time_limit_s - (time.perf_counter() - started)
            limit = max(remaining * n / max(left, 1), 0.0)
        left -= n
        part = {s.party.id: greedy[s.party.id] for s in group if s.party.id in greedy}
        outcome = _solve(floor, group, settings, strict, limit, part)
        if outcome is None:  # proven infeasible with every booking required
            return _finish(spans, greedy, "infeasible", greedy_score, greedy_score, started, True)
        status, chosen, group_bound, group_value = outcome
        statuses.append(status)
        bound += group_bound
        solver_value += group_value
        assignments.update(chosen)
    for s in spans:
        if s.party.locked:
            assignments[s.party.id] = tuple(sorted(s.party.tables))
    value = score(floor, spans, assignments, settings)
    if value < greedy_score:  # the solver stopped on a worse plan than its hint
        return _finish(spans, greedy, "feasible", greedy_score, bound, started, False)
    if all(st == "optimal" for st in statuses) and value == solver_value:
        label = "optimal"
    elif all(st == "greedy" for st in statuses):
        label = "greedy"
    else:
        label = "feasible"
    return _finish(spans, assignments, label, value, max(bound, value), started, False)


def components(spans: Sequence[Interval]) -> list[list[Interval]]:
    """Groups of parties whose table times chain together by overlapping."""
    groups: list[list[Interval]] = []
    reach = None
    for s in sorted(spans, key=lambda s: (s.start, s.party.id)):
        if reach is None or s.start >= reach:
            groups.append([])
            reach = s.end
        groups[-1].append(s)
        reach = max(reach, s.end)
    return groups


def _solve(
    floor: FloorPlan,
    spans: Sequence[Interval],
    settings: PlanSettings,
    strict: bool,
    limit: float,
    greedy: Mapping[int, tuple[int, ...]],
) -> tuple[str, dict[int, tuple[int, ...]], int, int] | None:
    """One group: (status, tables per party, proven bound, solver's value),
    or None when ``strict`` and no plan seats every booking."""
    greedy_value = score(floor, spans, greedy, settings)
    if limit <= 0:
        return "greedy", dict(greedy), _upper_bound(spans, settings), greedy_value
    model = _Model(floor, spans, settings, strict)
    model.hint(greedy)
    solver = cp_model.CpSolver()
    if settings.deterministic:
        solver.parameters.max_deterministic_time = limit
    else:
        solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = settings.workers
    # The linear relaxation of the table-kind counts is what proves quickly
    # that a party cannot be fitted in; it pays for itself here.
    solver.parameters.linearization_level = 2
    status = solver.solve(model.model)
    if status == cp_model.INFEASIBLE:
        if strict:
            return None
        return "greedy", dict(greedy), _upper_bound(spans, settings), greedy_value
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # Out of time before any solution: the greedy plan answers.
        return "greedy", dict(greedy), _upper_bound(spans, settings), greedy_value
    chosen = _deal_tables(floor, spans, model.read(solver), coarse=strict)
    label = "optimal" if status == cp_model.OPTIMAL else "feasible"
    if strict:
        value = score(floor, spans, chosen, settings)
        return label, chosen, value, value
    return label, chosen, round(solver.best_objective_bound), round(solver.objective_value)


def seat_everyone(
    floor: FloorPlan,
    spans: Sequence[Interval],
    *,
    settings: PlanSettings,
    limit_s: float,
    hint: Mapping[int, tuple[int, ...]] | None = None,
    deadline: float | None = None,
) -> tuple[str, dict[int, tuple[int, ...]]]:
    """Give every party in ``spans`` a table, or prove that no plan can.

    Returns ("found", tables per party), ("impossible", {}) or ("timed out",
    {}). ``limit_s`` is wall-clock seconds from the call (model building
    included), or work units when ``settings.deterministic``. ``deadline``
    (a ``time.perf_counter()`` instant) is a hard wall-clock end on top of
    that, whatever the mode: an acceptance check must answer while the guest
    waits.

    Two models, measured on acceptance checks replayed from simulated
    nights: first the relaxation that counts every table in its kind (a
    combination of two two-tops uses two of the two-tops): when *it* has no
    solution, nothing has, and it answers "no" in a few milliseconds where
    the exact model, whose joinable tables are classes of their own, took up
    to half a second. When the counts leave room, its answer is dealt to
    real tables with joinable pairs as units (``_deal_kinds``), which
    decides most checks; only when that fails is the exact model solved.
    Both ask feasibility only; on models this small presolve costs more than
    the search."""
    started = time.perf_counter()
    spans = [replace(s, party=replace(s.party, must_seat=True)) for s in spans]
    used = 0.0

    def wall_left() -> float:
        left = float("inf") if settings.deterministic else limit_s - (time.perf_counter() - started)
        if deadline is not None:
            left = min(left, deadline - time.perf_counter())
        return left

    for relaxed in (True, False):
        if (settings.deterministic and limit_s - used <= 0) or wall_left() <= 0:
            return "timed out", {}
        model = _Model(floor, spans, settings, strict=True, relaxed=relaxed)
        if hint and not relaxed:
            model.hint(hint)
        solver = cp_model.CpSolver()
        if settings.deterministic:
            solver.parameters.max_deterministic_time = limit_s - used
        wall = wall_left()  # what is left after building the model
        if wall <= 0:
            return "timed out", {}
        if wall != float("inf"):
            solver.parameters.max_time_in_seconds = max(wall, 1e-3)
        solver.parameters.num_workers = settings.workers
        solver.parameters.cp_model_presolve = False
        solver.parameters.linearization_level = 2
        status = solver.solve(model.model)
        used += solver.deterministic_time
        if status == cp_model.INFEASIBLE:
            return "impossible", {}
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return "timed out", {}
        if relaxed:
            dealt = _deal_kinds(floor, spans, model.read(solver), deadline=deadline)
            if dealt is not None:
                return "found", dealt
    return "found", _deal_tables(floor, spans, model.read(solver), coarse=True)


def _deal_kinds(
    floor: FloorPlan,
    spans: Sequence[Interval],
    chosen: Mapping[int, tuple[tuple, SeatingOption]],
    *,
    tries: int = 300,
    deadline: float | None = None,
) -> dict[int, tuple[int, ...]] | None:
    """Real tables for the relaxation's kinds, or None when they could not be
    dealt and the exact model has to decide.

    The relaxation only counts tables, so a combination may find no joinable
    pair free although enough two-tops are. Joinable pairs are dealt as
    units: the parties at combinations first (they need those very tables),
    in start order, each at the pair that leaves the least idle time; then
    the single tables in start order, each at the free table of its kind
    that is next wanted soonest after the party leaves (the longest free
    stretches stay open) and that breaks the fewest free pairs. Start order
    alone, as the plan is dealt elsewhere, is tried first: it keeps current
    tables. Then random deals, up to ``tries`` or the deadline."""
    kinds = kind_of_tables(floor, spans)
    combos = [o.table_ids for o in floor.options if len(o.table_ids) > 1]
    movable = sorted(
        (s for s in spans if s.party.id in chosen), key=lambda s: (s.start, s.party.id)
    )

    def fits_for(s: Interval) -> list[tuple[int, ...]]:
        ks, _ = chosen[s.party.id]
        if ks[-1] == ("combo",):
            want = list(ks[:-1])
            return [
                o.table_ids
                for o in s.options
                if len(o.table_ids) > 1 and sorted(kinds[t] for t in o.table_ids) == want
            ]
        return [
            o.table_ids
            for o in s.options
            if len(o.table_ids) == 1 and kinds[o.table_ids[0]] == ks[0]
        ]

    options = {s.party.id: fits_for(s) for s in movable}

    def deal(order: Sequence[Interval], pairs_first: bool) -> dict[int, tuple[int, ...]] | None:
        busy = _Occupancy()
        plan: dict[int, tuple[int, ...]] = {}
        for s in spans:
            if s.party.locked:
                plan[s.party.id] = tuple(sorted(s.party.tables))
                busy.take(s.party.tables, s.start, s.end)
        for s in order:
            fits = [f for f in options[s.party.id] if busy.free(f, s.start, s.end)]
            if not fits:
                return None
            current = tuple(sorted(s.party.tables))

            def spoils(tables: tuple[int, ...], s: Interval = s) -> int:
                return sum(
                    1
                    for c in combos
                    if set(c) & set(tables) and c != tables and busy.free(c, s.start, s.end)
                )

            if not pairs_first:
                pick = min(fits, key=lambda f: (f != current, spoils(f)))
            else:

                def snug(tables: tuple[int, ...], s: Interval = s) -> tuple[int, int, int]:
                    nxt = min(
                        (a for t in tables for a, _ in busy.spans.get(t, ()) if a >= s.end),
                        default=10**9,
                    )
                    last = max(
                        (b for t in tables for _, b in busy.spans.get(t, ()) if b <= s.start),
                        default=-(10**9),
                    )
                    return (spoils(tables), nxt - s.end, s.start - last)

                pick = min(fits, key=snug)
            plan[s.party.id] = pick
            busy.take(pick, s.start, s.end)
        return plan

    plan = deal(movable, pairs_first=False)
    if plan is None and combos:
        joined = [s for s in movable if chosen[s.party.id][0][-1] == ("combo",)]
        rest = [s for s in movable if chosen[s.party.id][0][-1] != ("combo",)]
        plan = deal([*joined, *rest], pairs_first=True)
    if plan is None and combos:
        plan = _deal_at_random(spans, movable, options, tries=tries, deadline=deadline)
    return plan


def _deal_at_random(
    spans: Sequence[Interval],
    movable: Sequence[Interval],
    options: Mapping[int, Sequence[tuple[int, ...]]],
    *,
    tries: int,
    deadline: float | None,
) -> dict[int, tuple[int, ...]] | None:
    """Start order, a random free table of the right kind each time, again
    and again. Measured on the checks the rules above could not deal (on
    replayed high-load nights): every one was dealt within 150 tries, about
    0.1 ms a try since a bad try fails early, where the exact model needed
    40-200 ms. Seeded by the service, so a replay gives the same answer."""
    rng = random.Random(len(spans) * 7919 + sum(s.start for s in movable))
    locked = [s for s in spans if s.party.locked]
    for _ in range(tries):
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        busy = _Occupancy()
        plan: dict[int, tuple[int, ...]] = {}
        for s in locked:
            plan[s.party.id] = tuple(sorted(s.party.tables))
            busy.take(s.party.tables, s.start, s.end)
        order = sorted(movable, key=lambda s: (s.start, rng.random()))
        for s in order:
            fits = [f for f in options[s.party.id] if busy.free(f, s.start, s.end)]
            if not fits:
                break
            pick = rng.choice(fits)
            plan[s.party.id] = pick
            busy.take(pick, s.start, s.end)
        else:
            return plan
    return None


def greedy_plan(
    floor: FloorPlan,
    parties: Sequence[Party],
    *,
    settings: PlanSettings | None = None,
    now: int | None = None,
) -> ServicePlan:
    """The fallback alone: never calls the solver, always answers."""
    settings = settings or PlanSettings()
    started = time.perf_counter()
    spans = intervals(floor, parties, reset_minutes=settings.reset_minutes, now=now)
    greedy = _greedy(floor, spans)
    return _finish(
        spans,
        greedy,
        "greedy",
        score(floor, spans, greedy, settings),
        _upper_bound(spans, settings),
        started,
        False,
    )


# ---------------------------------------------------------------- scoring


def option_value(
    party: Party, option: SeatingOption, settings: PlanSettings, floor: FloorPlan
) -> int:
    value = round(settings.cover_weight * party.size * party.show_probability)
    if party.must_seat:
        value += settings.booked_weight
    value -= settings.empty_seat_weight * max(option.max_covers - party.size, 0)
    if party.tables and tuple(sorted(party.tables)) != option.table_ids:
        value -= settings.move_weight
    if party.area_id is not None and not party.area_required and party.area_id in option.area_ids:
        value += settings.area_weight
    if party.favourite_table is not None and party.favourite_table in option.table_ids:
        value += settings.favourite_weight
    return value


def score(
    floor: FloorPlan,
    spans: Sequence[Interval],
    assignments: Mapping[int, tuple[int, ...]],
    settings: PlanSettings,
) -> int:
    total = 0
    for s in spans:
        tables = assignments.get(s.party.id)
        if tables is not None and not s.party.locked:
            total += option_value(s.party, floor.option_for(tables), settings, floor)
    return total


def _upper_bound(spans: Sequence[Interval], settings: PlanSettings) -> int:
    """Every party at its best option: what no plan can beat."""
    best = 0
    for s in spans:
        p = s.party
        if p.locked or not s.options:
            continue
        best += (
            round(settings.cover_weight * p.size * p.show_probability)
            + (settings.booked_weight if p.must_seat else 0)
            + (settings.area_weight if p.area_id is not None and not p.area_required else 0)
            + (settings.favourite_weight if p.favourite_table is not None else 0)
            - settings.empty_seat_weight * min(max(o.max_covers - p.size, 0) for o in s.options)
        )
    return best


def _unseated(spans: Sequence[Interval], assignments: Mapping[int, tuple[int, ...]]) -> list[int]:
    return [s.party.id for s in spans if s.party.id not in assignments]


def _finish(
    spans: Sequence[Interval],
    assignments: Mapping[int, tuple[int, ...]],
    status: str,
    objective: int,
    bound: int,
    started: float,
    infeasible: bool,
) -> ServicePlan:
    moves = sum(
        1
        for s in spans
        if s.party.tables
        and not s.party.locked
        and s.party.id in assignments
        and tuple(sorted(s.party.tables)) != assignments[s.party.id]
    )
    return ServicePlan(
        assignments=dict(assignments),
        unseated=tuple(_unseated(spans, assignments)),
        status="infeasible" if infeasible else status,
        objective=objective,
        bound=max(bound, objective),
        solve_seconds=time.perf_counter() - started,
        moves=moves,
    )


# ---------------------------------------------------------------- greedy


class _Occupancy:
    """Half-open busy spans per table."""

    def __init__(self) -> None:
        self.spans: dict[int, list[tuple[int, int]]] = defaultdict(list)

    def free(self, tables: Sequence[int], start: int, end: int) -> bool:
        # Locks may overlap each other by a reset buffer; nothing else may.
        for t in tables:
            for s, e in self.spans.get(t, ()):
                if s < end and start < e:
                    return False
        return True

    def take(self, tables: Sequence[int], start: int, end: int) -> None:
        for t in tables:
            self.spans[t].append((start, end))


def _greedy(floor: FloorPlan, spans: Sequence[Interval]) -> dict[int, tuple[int, ...]]:
    """A few quick passes, keeping the one that seats the most bookings and
    covers: current tables kept where possible (fewest moves), pure best fit
    in start order, and the table whose last party left most recently (the
    least idle gap), the latter two also with the largest parties first."""
    best: dict[int, tuple[int, ...]] = {}
    best_key = (-1, -1, 0)
    passes = (
        ("start", "current"),
        ("start", "fit"),
        ("start", "gap"),
        ("size", "gap"),
        ("size", "fit"),
    )
    for rank, (order, choice) in enumerate(passes):
        plan = _greedy_pass(floor, spans, order, choice)
        seated = [s for s in spans if s.party.id in plan and not s.party.locked]
        key = (
            sum(1 for s in seated if s.party.must_seat),
            sum(s.party.size for s in seated),
            -rank,
        )
        if key > best_key:
            best, best_key = plan, key
        if len(seated) == sum(1 for s in spans if not s.party.locked):
            break  # everyone has a table: the earlier passes move fewer parties
    return best


def _greedy_pass(
    floor: FloorPlan, spans: Sequence[Interval], order: str, choice: str
) -> dict[int, tuple[int, ...]]:
    busy = _Occupancy()
    plan: dict[int, tuple[int, ...]] = {}
    for s in spans:
        if s.party.locked:
            tables = tuple(sorted(s.party.tables))
            busy.take(tables, s.start, s.end)
            plan[s.party.id] = tables
    movable = [s for s in spans if not s.party.locked]
    if order == "start":
        movable.sort(key=lambda s: (not s.party.must_seat, s.start, -s.party.size, s.party.id))
    else:
        movable.sort(key=lambda s: (not s.party.must_seat, -s.party.size, s.start, s.party.id))
    for s in movable:
        choices: list[tuple[int, ...]] = []
        if choice == "current" and s.party.tables:
            current = tuple(sorted(s.party.tables))
            if current in s.option_tables:
                choices.append(current)
        choices.extend(o.table_ids for o in s.options)
        if choice != "gap":
            # The first that is free: the current table, else the best fit.
            first = next((t for t in choices if busy.free(t, s.start, s.end)), None)
            if first is not None:
                busy.take(first, s.start, s.end)
                plan[s.party.id] = first
            continue
        fits = [t for t in choices if busy.free(t, s.start, s.end)]
        if not fits:
            continue

        # Least idle time before this party (ties: the best fit, listed first).
        def idle(tables: tuple[int, ...], start: int = s.start) -> int:
            return max(
                (e for t in tables for _, e in busy.spans.get(t, ()) if e <= start),
                default=-(10**9),
            )

        pick = max(fits, key=idle)
        busy.take(pick, s.start, s.end)
        plan[s.party.id] = pick
    return plan


# ---------------------------------------------------------------- CP-SAT


def table_classes(
    floor: FloorPlan, spans: Sequence[Interval], *, coarse: bool = False
) -> dict[int, tuple]:
    """Class key per table: interchangeable tables share one.

    ``coarse`` (feasibility only): tables interchangeable *for these
    parties* share one. A table's area only tells tables apart when some
    party asks for an area, its accessibility only when some party needs it
    (``party_fits`` looks at nothing else), so on most services the tables
    of one size form a single class whatever room they stand in. A plan
    that is scored keeps them apart: the score counts a party kept at its
    current table, which only a class of truly identical tables can promise."""
    joined = {t for o in floor.options if len(o.table_ids) > 1 for t in o.table_ids}
    earliest_free = min((s.start for s in spans if not s.party.locked), default=0)
    late_lock = {
        t for s in spans if s.party.locked and s.start > earliest_free for t in s.party.tables
    }
    kinds = kind_of_tables(floor, spans, coarse=coarse)
    return {t: ("table", t) if t in joined or t in late_lock else kinds[t] for t in floor.tables}


def kind_of_tables(
    floor: FloorPlan, spans: Sequence[Interval], *, coarse: bool = True
) -> dict[int, tuple]:
    """The class key each table would have if no combination nor lock set
    it apart (``coarse``: as far as these parties can tell)."""
    free = [s.party for s in spans if not s.party.locked]
    by_area = not coarse or any(p.area_id is not None for p in free)
    by_access = not coarse or any(p.accessible for p in free)
    return {
        t.id: (
            "kind",
            t.min_covers,
            t.max_covers,
            t.area_id if by_area else None,
            t.accessible if by_access else None,
        )
        for t in floor.tables.values()
    }


class _Model:
    def __init__(
        self,
        floor: FloorPlan,
        spans: Sequence[Interval],
        settings: PlanSettings,
        strict: bool,
        *,
        relaxed: bool = False,
    ) -> None:
        """``relaxed``: every table counted in its kind, combinations too (two
        two-tops joined use two of the two-tops' count): a relaxation, so
        "infeasible" is a proof, but a solution may not deal to real tables."""
        self.model = cp_model.CpModel()
        self.floor = floor
        keys = (
            kind_of_tables(floor, spans) if relaxed else table_classes(floor, spans, coarse=strict)
        )
        self.members: dict[tuple, list[int]] = defaultdict(list)
        for t in sorted(floor.tables):
            self.members[keys[t]].append(t)
        # A choice is a class (for a single table) or a combination.
        self.choices: dict[int, list[tuple[tuple[tuple, ...], SeatingOption, cp_model.IntVar]]] = {}
        usage: dict[tuple, list[tuple[int, int, cp_model.IntVar, int]]] = defaultdict(list)
        pair_usage: dict[tuple, list[tuple[int, int, cp_model.IntVar, int]]] = defaultdict(list)
        objective = []
        m = self.model
        # The class key of every option, worked out once per model (the
        # parties share the floor's options).
        option_key: dict[tuple[int, ...], tuple[tuple, ...]] = {}
        for o in floor.options:
            if len(o.table_ids) == 1:
                option_key[o.table_ids] = (keys[o.table_ids[0]],)
            elif relaxed:
                option_key[o.table_ids] = (*sorted(keys[t] for t in o.table_ids), ("combo",))
            else:
                option_key[o.table_ids] = (
                    *sorted({keys[t] for t in o.table_ids}),
                    ("combo", o.table_ids),
                )
        for s in spans:
            p = s.party
            if p.locked:
                continue
            per_class: dict[tuple[tuple, ...], SeatingOption] = {}
            # Only a scored plan tells the tables of a class apart.
            picky = not strict and (bool(p.tables) or p.favourite_table is not None)
            for o in s.options:
                ks = option_key.get(o.table_ids) or (
                    *sorted({keys[t] for t in o.table_ids}),
                    ("combo", o.table_ids),
                )
                seen = per_class.get(ks)
                if seen is None:
                    per_class[ks] = o
                elif picky and len(o.table_ids) == 1 and _prefers(p, o, seen):
                    # Keep the variant of the class that this party prefers
                    # (its current or favourite table) for scoring.
                    per_class[ks] = o
            row: list[tuple[tuple[tuple, ...], SeatingOption, cp_model.IntVar]] = []
            for ks, o in per_class.items():
                x = m.new_bool_var(f"p{p.id}_{len(row)}")
                row.append((ks, o, x))
                # Acceptance only asks whether a plan exists; the hint (the
                # current plan) keeps the answer close to it.
                if not strict:
                    objective.append(option_value(p, o, settings, floor) * x)
                for k in dict.fromkeys(ks):  # set order varies by process (str hash)
                    if k[0] != "combo":
                        usage[k].append((s.start, s.end, x, ks.count(k)))
                if relaxed and ks[-1] == ("combo",):
                    pair_usage[ks].append((s.start, s.end, x, 1))
            self.choices[p.id] = row
            if strict and p.must_seat:
                m.add_exactly_one(x for _, _, x in row)
            else:
                m.add_at_most_one(x for _, _, x in row)
        locks: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for s in spans:
            if s.party.locked:
                for t in s.party.tables:
                    locks[t].append((s.start, s.end))
        points = sorted({s.start for s in spans})

        def at_most(
            uses: Sequence[tuple[int, int, cp_model.IntVar, int]],
            tables: Sequence[int],
            pairs: Sequence[tuple[int, ...]] = (),
        ) -> None:
            """At every start, the parties using ``tables`` fit in those free of
            locks (``pairs``: the combinations free of locks, at most one use
            each, and no more than half their tables)."""
            last: tuple[list[int], int] = ([], 0)
            held_spans = [locks[t] for t in tables if t in locks]
            pending = sorted(uses, key=lambda u: u[0])
            active: list[tuple[int, int, cp_model.IntVar, int]] = []
            i = 0
            for t0 in points:  # a sweep: uses open at each start, in start order
                while i < len(pending) and pending[i][0] <= t0:
                    active.append(pending[i])
                    i += 1
                active = [u for u in active if u[1] > t0]
                here = [(x, w) for _a, _b, x, w in active]
                if not here:
                    continue
                if pairs:
                    free = [
                        c
                        for c in pairs
                        if not any(a <= t0 < b for t in c for a, b in locks.get(t, ()))
                    ]
                    held = len(pairs) - min(len(free), len({t for c in free for t in c}) // 2)
                else:
                    held = sum(1 for busy in held_spans if any(a <= t0 < b for a, b in busy))
                # The same parties and locks as at the last start: the same
                # constraint. (Variables compare into constraints: use indices.)
                seen = ([x.index for x, _ in here], held)
                if seen == last:
                    continue
                last = seen
                cap = (len(pairs) if pairs else len(tables)) - held
                if sum(w for _, w in here) <= cap:
                    continue
                if cap == 1 and all(w == 1 for _, w in here):
                    m.add_at_most_one(x for x, _ in here)
                else:
                    m.add(sum(w * x for x, w in here) <= max(cap, 0))

        for k, class_uses in usage.items():
            at_most(class_uses, self.members[k])
        if relaxed:
            # Combinations of one kind also count against the pairs of
            # tables that make them (a two-top broken by a single party
            # leaves no pair), which the table count alone does not see.
            for ks, pair_uses in pair_usage.items():
                same = [
                    o.table_ids
                    for o in floor.options
                    if len(o.table_ids) > 1 and option_key.get(o.table_ids) == ks
                ]
                at_most(pair_uses, [], same)
            return
        # Tables in combinations are classes of their own (a combination
        # needs those very tables), which leaves the solver no view of how
        # many two-tops are busy at once: counting per kind of table is
        # redundant but lets it prove "no room" by counting, as for a class.
        kinds = kind_of_tables(floor, spans)
        by_kind: dict[tuple, list[tuple[int, int, cp_model.IntVar, int]]] = defaultdict(list)
        span_of = {s.party.id: s for s in spans}
        for pid, row in self.choices.items():
            span = span_of[pid]
            for _ks, o, x in row:
                counts: dict[tuple, int] = defaultdict(int)
                for t in o.table_ids:
                    if keys[t][0] == "table":
                        counts[kinds[t]] += 1
                for kind, n in counts.items():
                    by_kind[kind].append((span.start, span.end, x, n))
        for kind, uses in by_kind.items():
            tables = [t for t in sorted(floor.tables) if kinds[t] == kind]
            if len(tables) > 1:
                at_most(uses, tables)
        if objective:
            m.maximize(sum(objective))

    def hint(self, plan: Mapping[int, tuple[int, ...]]) -> None:
        for pid, row in self.choices.items():
            tables = plan.get(pid)
            for _ks, o, x in row:
                if tables is None:
                    self.model.add_hint(x, False)
                elif len(o.table_ids) > 1:
                    self.model.add_hint(x, o.table_ids == tables)
                else:
                    same = len(tables) == 1 and self._same_class(o.table_ids[0], tables[0])
                    self.model.add_hint(x, same)

    def _same_class(self, a: int, b: int) -> bool:
        return any(a in ts and b in ts for ts in self.members.values())

    def read(self, solver: cp_model.CpSolver) -> dict[int, tuple[tuple, SeatingOption]]:
        out = {}
        for pid, row in self.choices.items():
            for ks, o, x in row:
                if solver.boolean_value(x):
                    out[pid] = (ks, o)
        return out


def _prefers(p: Party, new: SeatingOption, old: SeatingOption) -> bool:
    def rank(o: SeatingOption) -> tuple[bool, bool]:
        return (tuple(sorted(p.tables)) == o.table_ids, p.favourite_table in o.table_ids)

    return rank(new) > rank(old)


def _deal_tables(
    floor: FloorPlan,
    spans: Sequence[Interval],
    chosen: Mapping[int, tuple[tuple, SeatingOption]],
    *,
    coarse: bool = False,
) -> dict[int, tuple[int, ...]]:
    """Give each party an actual table of its class, in start order."""
    keys = table_classes(floor, spans, coarse=coarse)
    members: dict[tuple, list[int]] = defaultdict(list)
    for t in sorted(floor.tables):
        members[keys[t]].append(t)
    free_at: dict[int, int] = defaultdict(lambda: -(10**9))
    plan: dict[int, tuple[int, ...]] = {}
    for s in spans:
        if s.party.locked:
            tables = tuple(sorted(s.party.tables))
            plan[s.party.id] = tables
            for t in tables:
                free_at[t] = max(free_at[t], s.end)
    order = sorted((s for s in spans if s.party.id in chosen), key=lambda s: (s.start, s.party.id))
    # Who else wants each table (it is their current one): leave it to them.
    claims: dict[int, list[int]] = defaultdict(list)
    for s in order:
        for t in s.party.tables:
            claims[t].append(s.start)
    for s in order:
        ks, option = chosen[s.party.id]
        if len(option.table_ids) > 1 or ks[0][0] == "table":
            # A combination or a table of its own: the solver placed it exactly.
            tables = option.table_ids
        else:
            ready = [t for t in members[ks[0]] if free_at[t] <= s.start]
            wanted = [t for t in (*s.party.tables, s.party.favourite_table) if t in ready]
            if wanted:
                pick = wanted[0]
            elif ready:
                # The table whose next claimant comes latest (or never).
                pick = max(
                    ready, key=lambda t: min((c for c in claims[t] if c >= s.start), default=10**9)
                )
            else:  # cannot happen when the clique constraints hold
                continue
            tables = (pick,)
        plan[s.party.id] = tables
        for t in tables:
            free_at[t] = max(free_at[t], s.end)
    return plan


def violations(
    floor: FloorPlan,
    parties: Sequence[Party],
    plan: ServicePlan,
    *,
    reset_minutes: int = 0,
    now: int | None = None,
) -> list[str]:
    """Everything wrong with a plan, in words (empty when it is feasible):
    a party at tables that do not fit it, two parties on one table at once,
    a seated or pinned party moved."""
    problems = []
    spans = intervals(floor, parties, reset_minutes=reset_minutes, now=now)
    busy: dict[int, list[tuple[int, int, int, bool]]] = defaultdict(list)
    for s in spans:
        p = s.party
        tables = plan.assignments.get(p.id)
        if tables is None:
            if p.locked:
                problems.append(f"locked party {p.id} lost its table")
            continue
        if p.locked:
            if tuple(sorted(p.tables)) != tuple(sorted(tables)):
                problems.append(f"locked party {p.id} moved from {p.tables} to {tables}")
        else:
            if tuple(sorted(tables)) not in s.option_tables:
                problems.append(f"party {p.id} of {p.size} does not fit tables {tables}")
        for t in tables:
            busy[t].append((s.start, s.end, p.id, p.locked))
    for t, items in busy.items():
        items.sort()
        for i, (_a0, a1, pa, la) in enumerate(items):
            for b0, _b1, pb, lb in items[i + 1 :]:
                if b0 >= a1:
                    break
                if not (la and lb):
                    problems.append(f"parties {pa} and {pb} overlap at table {t}")
    return problems


__all__ = [
    "PlanSettings",
    "ServicePlan",
    "greedy_plan",
    "plan_service",
    "seat_everyone",
    "violations",
]
