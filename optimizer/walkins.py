"""The floor as it is now: where to seat a walk-in, how long to quote a
party on the waitlist, and a new plan when a party overstays or leaves early.

Seated parties are given with their predicted time left (``Party.duration``
from when they sat down); an overstaying or early-leaving party is simply
given its new prediction and the service is re-planned, keeping everyone
else where they are unless they must move."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optimizer.acceptance import check_acceptance
from optimizer.plan import PlanSettings, ServicePlan, plan_service
from optimizer.service import FloorPlan, Party, check_service, party_fits

WALK_IN = -2


@dataclass(frozen=True)
class TableSuggestion:
    """A table (or combination) free now; ``free_for``: minutes until the next
    planned party needs it (None: free for the rest of the service);
    ``moves``: booked parties that would have to change tables."""

    table_ids: tuple[int, ...]
    free_for: int | None
    moves: int
    empty_seats: int


def _held_now(parties: Sequence[Party], now: int, reset: int) -> set[int]:
    return {
        t
        for p in parties
        if p.seated and p.start <= now < p.start + p.duration + reset
        for t in p.tables
    }


def suggest_tables(
    floor: FloorPlan,
    parties: Sequence[Party],
    party_size: int,
    *,
    now: int,
    duration: int,
    settings: PlanSettings | None = None,
    limit: int = 5,
) -> list[TableSuggestion]:
    """The best tables for a walk-in of ``party_size`` staying about
    ``duration`` minutes: those nobody needs for that long first, then those
    that need the fewest bookings moved, fewest empty seats first."""
    settings = settings or PlanSettings(time_limit_s=0.05)
    reset = settings.reset_minutes
    walk_in = Party(WALK_IN, party_size, now, duration)
    check_service(floor, [*parties, walk_in], reset_minutes=reset)
    busy = _held_now(parties, now, reset)
    out = []
    for option in floor.options:
        if not party_fits(walk_in, option) or busy & set(option.table_ids):
            continue
        later = [
            p.start
            for p in parties
            if not p.seated and set(p.tables) & set(option.table_ids) and p.start >= now
        ]
        free_for = min(later) - now if later else None
        moves = 0
        if free_for is not None and free_for < duration + reset:
            trial = [
                *parties,
                Party(WALK_IN, party_size, now, duration, seated=True, tables=option.table_ids),
            ]
            plan = plan_service(floor, trial, settings=settings, now=now)
            if not all(p.id in plan.assignments for p in parties if p.must_seat):
                continue  # seating them here would cost a booking its table
            moves = plan.moves
        out.append(
            TableSuggestion(option.table_ids, free_for, moves, option.max_covers - party_size)
        )
    out.sort(key=lambda s: (s.moves > 0, s.moves, -(s.free_for or 10**6), s.empty_seats))
    return out[:limit]


def quote_wait(
    floor: FloorPlan,
    parties: Sequence[Party],
    party_size: int,
    *,
    now: int,
    duration: int,
    settings: PlanSettings | None = None,
    step: int = 5,
    horizon: int = 180,
) -> int | None:
    """Minutes until a table can be promised to a party on the waitlist
    without costing a booking its table, from the seated parties' predicted
    times left; None when nothing opens within ``horizon`` minutes."""
    settings = settings or PlanSettings(time_limit_s=0.02)
    for wait in range(0, horizon + 1, step):
        new = Party(WALK_IN, party_size, now + wait, duration)
        if check_acceptance(floor, parties, new, settings=settings, now=now).accepted:
            return wait
    return None


def replan(
    floor: FloorPlan,
    parties: Sequence[Party],
    *,
    now: int,
    settings: PlanSettings | None = None,
) -> ServicePlan:
    """A new plan after the floor changed (an overstay, an early departure, a
    late party): seated parties stay, everyone else keeps their tables unless
    moving seats more guests."""
    return plan_service(
        floor, parties, settings=settings or PlanSettings(time_limit_s=0.5), now=now
    )


__all__ = ["TableSuggestion", "quote_wait", "replan", "suggest_tables"]
