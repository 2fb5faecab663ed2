"""Pooled acceptance as the booking core's table choice.

``PooledAcceptance`` first does what ``BestFitAtBooking`` does (a free table
that fits: nobody moves, the hot path stays as fast as it was). Only when no
table is free does it ask the optimizer whether moving booked parties of that
service date (not those at the restaurant, nor another day's) makes room; the
booking core then writes the moves with the booking, under the same day lock.
Times are the day book's 15-minute granules and the restaurant's turn times,
which already include the reset of the table, so no buffer is added."""

from __future__ import annotations

from booking_core.daybook import BestFitAtBooking, DayBook, PooledChoice, TableMove
from booking_core.floor import Floor, SeatingOption
from optimizer.acceptance import check_acceptance
from optimizer.plan import PlanSettings
from optimizer.service import FloorPlan, Party

NEW_PARTY = -1


class PooledAcceptance:
    """``TableChoice`` + ``PooledTableChoice`` for the booking core."""

    def __init__(self, *, time_limit_s: float = 0.025) -> None:
        self.time_limit_s = time_limit_s
        self._best_fit = BestFitAtBooking()
        self._floors: dict[tuple[int, int], FloorPlan] = {}

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
    ) -> PooledChoice | None:
        free = self._best_fit.choose(
            floor, book, party_size, g0, g1, area_id=area_id, accessible=accessible
        )
        if free is not None:
            return PooledChoice(free)
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
        new = Party(NEW_PARTY, party_size, g0, g1 - g0, area_id=area_id,
                    area_required=area_id is not None, accessible=accessible)
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
