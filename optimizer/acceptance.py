""" "Can this booking be taken?" with every party not yet at the restaurant
free to change tables (pooled acceptance).

Pooling can only widen what lock-at-booking takes, so the checks run from
the cheapest, each exact when it says yes:

1. the current plan plus a table that is free for the new party (nobody
   moves: exactly what lock-at-booking would answer); failing that, a count
   of the parties present at each moment against the tables that could
   seat them, which proves most refusals in a millisecond;
2. the fewest moves: the new party at a table whose booked parties, at
   most three in all, can each move to a table that is free for them
   (or free once they in turn move someone), searched by how many move,
   so a host sees as few changes as the book allows;
3. a greedy re-pack of the parties whose times chain with the new one's
   (best fit in start order, a few orders);
4. CP-SAT asked only whether every booking can have a table (tables of one
   kind counted as a class, then dealt), within what is left of the time
   limit: the limit covers building the model too.

A "no" from 4 is a proof; running out of time is reported as "timed out" and
counts as a refusal (a table the solver did not find is never promised).
Steps 1 to 3 always run (they take a few ms and are exact when they say
yes); the deadline (``PlanSettings.wall_limit_s``, or ``time_limit_s`` in
wall-clock mode) only cuts step 4 short.
Parties outside the chain cannot be affected, so they are never looked at.
Overbooked parties (``must_seat=False``) hold no promise: they keep their
table when it stays free and are otherwise left for the host to seat."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from optimizer.plan import PlanSettings, _greedy, _Occupancy, seat_everyone
from optimizer.service import FloorPlan, Interval, Party, check_service, intervals, party_fits

ACCEPT_SETTINGS = PlanSettings(time_limit_s=0.04, wall_limit_s=0.04)


@dataclass(frozen=True)
class Acceptance:
    """The answer: the new party's tables, and any other party's new tables
    (``()`` for an overbooked party that no longer has one)."""

    accepted: bool
    tables: tuple[int, ...] | None
    moves: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    # "free table", "few moves", "re-packed", "solver", "refused" or "timed out"
    how: str = "refused"
    seconds: float = 0.0


def chained(parties: Sequence[Party], new: Party, reset_minutes: int) -> list[Party]:
    """The parties whose table times overlap the new one's, directly or
    through a chain of overlapping parties."""
    spans = sorted(
        ((p.start, p.start + p.duration + reset_minutes, p) for p in parties),
        key=lambda s: (s[0], s[2].id),
    )
    lo, hi = new.start, new.start + new.duration + reset_minutes
    # Grow the window until no party outside it overlaps it.
    changed = True
    while changed:
        changed = False
        for a, b, _ in spans:
            if a < hi and lo < b and (a < lo or b > hi):
                lo, hi = min(lo, a), max(hi, b)
                changed = True
    return [p for a, b, p in spans if a < hi and lo < b]


def check_acceptance(
    floor: FloorPlan,
    parties: Sequence[Party],
    new: Party,
    *,
    settings: PlanSettings = ACCEPT_SETTINGS,
    now: int | None = None,
) -> Acceptance:
    started = time.perf_counter()
    reset = settings.reset_minutes
    check_service(floor, [*parties, new], reset_minutes=reset)

    def answer(
        accepted: bool,
        how: str,
        tables: tuple[int, ...] | None = None,
        moves: Mapping[int, tuple[int, ...]] | None = None,
    ) -> Acceptance:
        return Acceptance(accepted, tables, dict(moves or {}), how, time.perf_counter() - started)

    if not any(party_fits(new, o) for o in floor.options):
        return answer(False, "refused")
    new = replace(new, tables=(), must_seat=True)
    near = chained(parties, new, reset)
    spans = intervals(floor, [*near, new], reset_minutes=reset, now=now, check=False)
    new_span = spans[-1]
    required = [s for s in spans if s.party.locked or s.party.must_seat]
    optional = [s for s in spans if not (s.party.locked or s.party.must_seat)]

    # 1. The current plan plus a free table.
    if all(s.party.tables for s in required[:-1]):
        busy = _Occupancy()
        for s in spans[:-1]:
            if s.party.tables:
                busy.take(s.party.tables, s.start, s.end)
        for option in new_span.options:
            if busy.free(option.table_ids, new_span.start, new_span.end):
                return answer(True, "free table", option.table_ids)
        # Overbooked parties hold tables without a promise: the new booking
        # may take one of theirs.
        keep = _Occupancy()
        for s in required[:-1]:
            keep.take(s.party.tables, s.start, s.end)
        for option in new_span.options:
            if keep.free(option.table_ids, new_span.start, new_span.end):
                plan = {s.party.id: tuple(sorted(s.party.tables)) for s in required[:-1]}
                plan[new.id] = option.table_ids
                return answer(True, "free table", option.table_ids, _moves(plan, spans, optional))

    # 1b. A count that proves "no" in a few ms for most refusals.
    if full_at_some_moment(floor, required, new_span):
        return answer(False, "refused")

    # 2. Move as few booked parties as the book allows.
    if all(s.party.tables for s in required[:-1]):
        few = fewest_moves(required)
        if few is not None:
            return answer(True, "few moves", few[new.id], _moves(few, spans, optional))

    # 3. A greedy re-pack of the chain.
    greedy = _greedy(floor, required)
    if all(s.party.id in greedy for s in required):
        return answer(True, "re-packed", greedy[new.id], _moves(greedy, spans, optional))

    # 4. CP-SAT: is there any plan that seats every booking? It stops at the
    # deadline, counted from the start of the check.
    if settings.deterministic:
        limit = settings.time_limit_s
    else:
        limit = settings.time_limit_s - (time.perf_counter() - started)
    deadline = None if settings.wall_limit_s is None else started + settings.wall_limit_s
    status, plan = seat_everyone(
        floor, required, settings=settings, limit_s=limit, hint=greedy, deadline=deadline
    )
    if status == "found":
        return answer(True, "solver", plan[new.id], _moves(plan, spans, optional))
    return answer(False, "refused" if status == "impossible" else "timed out")


MOST_MOVES = 3  # parties moved for one booking before a re-pack is tried
MOVE_SEARCH_BUDGET = 400  # tables tried, so a crowded night stays fast


def fewest_moves(
    spans: Sequence[Interval],
    *,
    most: int = MOST_MOVES,
    budget: int = MOVE_SEARCH_BUDGET,
) -> dict[int, tuple[int, ...]] | None:
    """Tables for every party of ``spans`` (the last one new, the others at
    their current tables), moving as few booked parties as possible: none
    that is seated or pinned, at most ``most``. Each party placed takes a
    table free of the others, or one whose holders then move in turn
    (a chain of moves); the search tries one move before two, two before
    three, and gives up after ``budget`` tables tried (None: no such plan
    found, which proves nothing: a re-pack may still find one)."""
    by_id = {s.party.id: s for s in spans}
    plan = {s.party.id: tuple(sorted(s.party.tables)) for s in spans[:-1]}
    # Who holds each table, and when: kept up to date as parties move.
    holders: dict[int, dict[int, Interval]] = {}
    for s in spans[:-1]:
        for t in plan[s.party.id]:
            holders.setdefault(t, {})[s.party.id] = s
    tried = 0

    def blockers(tables: tuple[int, ...], s: Interval) -> set[int] | None:
        out: set[int] = set()
        for t in tables:
            for pid, other in holders.get(t, {}).items():
                if other.start < s.end and s.start < other.end:
                    if other.party.locked:
                        return None
                    out.add(pid)
        return out

    def hold(pid: int, tables: tuple[int, ...]) -> None:
        plan[pid] = tables
        for t in tables:
            holders.setdefault(t, {})[pid] = by_id[pid]

    def release(pid: int) -> tuple[int, ...]:
        tables = plan.pop(pid)
        for t in tables:
            del holders[t][pid]
        return tables

    def place(queue: list[int], moves_left: int) -> bool:
        nonlocal tried
        if not queue:
            return True
        pid, rest = queue[0], queue[1:]
        s = by_id[pid]
        # Free tables first, then the ones whose holders could move.
        found: list[tuple[int, tuple[int, ...], set[int]]] = []
        for o in s.options:
            tried += 1
            if tried > budget:
                return False
            moved = blockers(o.table_ids, s)
            if moved is None or len(moved) > moves_left:
                continue
            if not moved:
                hold(pid, o.table_ids)
                if place(rest, moves_left):
                    return True
                release(pid)
            else:
                found.append((len(moved), o.table_ids, moved))
        for n, tables, moved in sorted(found, key=lambda f: f[0]):
            before = {m: release(m) for m in sorted(moved)}
            hold(pid, tables)
            if place([*rest, *sorted(moved)], moves_left - n):
                return True
            release(pid)
            for m, old in before.items():
                hold(m, old)
        return False

    new = spans[-1].party.id
    for allowed in range(1, most + 1):
        if place([new], allowed):
            return dict(plan)
        if tried > budget:
            break
    return None


def full_at_some_moment(floor: FloorPlan, spans: Sequence[Interval], new: Interval) -> bool:
    """True when, at some moment of the new party's stay, more parties need
    a place seating over k guests than the free tables can give, for some k:
    then no plan seats them all (a proof, so the solver is not asked).

    The parties at the table at one moment need disjoint places. A place
    seating over k is a table seating over k, or a combination of tables
    that each seat k or fewer (a combination holding a larger table is no
    better than that table alone), and a combination takes two tables at
    least; tables held by seated or pinned parties are out. Measured on
    replayed high-load nights, this settles about three refusals in four,
    in about a millisecond, before any model is built."""
    held_by = [(s.start, s.end, s.party.tables) for s in spans if s.party.locked]
    combos = [(o.table_ids, o.max_covers) for o in floor.options if len(o.table_ids) > 1]
    # "Seats over k" for each k just below a party size.
    thresholds = sorted({s.party.size - 1 for s in spans if not s.party.locked})
    # Every moment the parties present change is some party's start.
    moments = {new.start} | {s.start for s in spans if new.start < s.start < new.end}
    for t0 in sorted(moments):
        held = {t for a, b, tables in held_by if a <= t0 < b for t in tables}
        present = [s.party.size for s in spans if not s.party.locked and s.start <= t0 < s.end]
        for k in thresholds:
            need = sum(1 for size in present if size > k)
            if not need:
                break
            big = {t for t, tb in floor.tables.items() if tb.max_covers > k and t not in held}
            joinable = [
                c for c, most in combos if most > k and not (set(c) & held) and not (set(c) & big)
            ]
            pairs = min(len(joinable), len({t for c in joinable for t in c}) // 2)
            if need > len(big) + pairs:
                return True
    return False


def _moves(
    plan: Mapping[int, tuple[int, ...]],
    spans: Sequence[Interval],
    optional: Sequence[Interval],
) -> dict[int, tuple[int, ...]]:
    """What ``plan`` (every booking seated) changes: booked parties at other
    tables, and overbooked parties losing a table that is no longer free
    (``()``; they keep it when it stays free)."""
    busy = _Occupancy()
    by_id = {s.party.id: s for s in spans}
    for pid, tables in plan.items():
        busy.take(tables, by_id[pid].start, by_id[pid].end)
    moves: dict[int, tuple[int, ...]] = {}
    for s in optional:
        if s.party.tables:
            if busy.free(s.party.tables, s.start, s.end):
                busy.take(s.party.tables, s.start, s.end)
            else:
                moves[s.party.id] = ()
    for s in spans[:-1]:
        p = s.party
        if p.id in plan and not p.locked and tuple(sorted(p.tables)) != plan[p.id]:
            moves[p.id] = plan[p.id]
    return moves


__all__ = [
    "ACCEPT_SETTINGS",
    "Acceptance",
    "chained",
    "check_acceptance",
    "fewest_moves",
    "full_at_some_moment",
]
