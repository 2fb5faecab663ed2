""""Can this booking be taken?" with every party not yet at the restaurant
free to change tables (pooled acceptance).

Cheapest first: a table already free for the new party (no one moves); the
greedy re-pack of the parties whose times chain with the new one's; CP-SAT
with every booking required, within a short time limit. Parties outside that
chain cannot be affected, so they are never looked at."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from optimizer.plan import PlanSettings, greedy_plan, plan_service
from optimizer.service import FloorPlan, Party, check_service, party_fits

ACCEPT_SETTINGS = PlanSettings(time_limit_s=0.04)


@dataclass(frozen=True)
class Acceptance:
    """The answer: the new party's tables, and any other party's new tables."""

    accepted: bool
    tables: tuple[int, ...] | None
    moves: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    how: str = "refused"  # "free table", "re-packed", "solver", "refused" or "timed out"
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
    check_service(floor, [*parties, new], reset_minutes=settings.reset_minutes)
    reset = settings.reset_minutes
    end = new.start + new.duration + reset
    near = chained(parties, new, reset)

    def clash(tables: tuple[int, ...]) -> bool:
        for p in near:
            if set(p.tables) & set(tables) and p.start < end and new.start < (
                p.start + p.duration + reset
            ):
                return True
        return False

    placed = all(p.locked or p.tables for p in near)
    for option in floor.options if placed else ():
        if party_fits(new, option) and not clash(option.table_ids):
            return Acceptance(True, option.table_ids, {}, "free table",
                              time.perf_counter() - started)
    if not any(party_fits(new, o) for o in floor.options):
        return Acceptance(False, None, {}, "refused", time.perf_counter() - started)
    candidate = [*near, replace(new, tables=(), must_seat=True)]
    plan = greedy_plan(floor, candidate, settings=settings, now=now)
    how = "re-packed"
    if not plan.all_seated:
        plan = plan_service(floor, candidate, settings=settings, now=now, strict=True)
        how = "solver"
    if plan.status == "infeasible" or not plan.all_seated:
        # Out of time without an answer counts as a refusal: never promise
        # a table the solver could not find.
        how = "refused" if plan.status == "infeasible" else "timed out"
        return Acceptance(False, None, {}, how, time.perf_counter() - started)
    moves = {
        p.id: plan.assignments[p.id]
        for p in near
        if not p.locked and tuple(sorted(p.tables)) != plan.assignments[p.id]
    }
    return Acceptance(True, plan.assignments[new.id], moves, how, time.perf_counter() - started)


__all__ = ["ACCEPT_SETTINGS", "Acceptance", "chained", "check_acceptance"]
