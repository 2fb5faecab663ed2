"""The seating optimizer at the host stand: the ledger's service turned into
plain data (``optimizer.service.FloorPlan`` and ``Party``), with predicted
turn times (``serving.turn_times``) and show probabilities (1 - attendance
risk, ``serving.attendance``), handed to ``optimizer.plan_service`` /
``replan``, ``suggest_tables`` and ``quote_wait``.

Minutes count from local midnight of the service date. Parties already at
a table are locked to it with their predicted time left (an overstaying
party is given at least ``OVERSTAY_GRACE_MIN`` more); a booked party that is
late is planned from now, since it still needs its table when it comes.

When the optimizer refuses the inputs (two parties the ledger shows at the
same table at once, say), the booking core's best-fit baseline answers and
the answer says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request

from booking_core import waitlist
from booking_core.availability import get_floor
from booking_core.domain import HOLDING_STATES, ReservationState
from booking_core.floor import Floor
from booking_core.ledger import Ledger
from booking_core.schema import (
    dining_areas,
    dining_tables,
    reservation_tables,
    reservations,
    restaurants,
    waitlist_entries,
)
from booking_core.seating_log import BASELINE, walk_in_suggestions
from booking_core.slots import current_service, service_date_of
from booking_core.validation import check_party_size
from optimizer.errors import SeatingInputError
from optimizer.plan import PlanSettings, plan_service
from optimizer.service import FloorPlan, Party
from optimizer.walkins import quote_wait, replan, suggest_tables
from serving.attendance import AttendanceScorer
from serving.champions import ATTENDANCE, DURATION, Champions
from serving.turn_times import TurnQuery, TurnTimes

OPTIMIZER = "seating optimizer (CP-SAT)"
BASELINE_QUOTE = "next free table (booking core)"
OVERSTAY_GRACE_MIN = 10
PLAN_SECONDS = 0.5  # the host waits for a plan; a greedy plan is always there first
MAX_AHEAD_QUOTED = 4  # parties ahead placed one by one before a new party's quote
log = logging.getLogger("servicesphere.seating")


@dataclass(frozen=True)
class Booked:
    """A party of the service as the ledger has it now."""

    id: int
    party_size: int
    state: str
    channel: str
    start_at: datetime
    seated_at: datetime | None
    accessible: bool
    table_ids: tuple[int, ...]
    area: str | None


@dataclass(frozen=True)
class PartyAdvice:
    reservation_id: int
    planned_table_ids: tuple[int, ...]
    predicted_turn_min: int
    show_probability: float


@dataclass(frozen=True)
class PlanAdvice:
    planner: str
    status: str
    moves: int
    unseated: tuple[int, ...]
    parties: dict[int, PartyAdvice]
    turn_time_model: str
    attendance_model: str


@dataclass(frozen=True)
class Offer:
    table_ids: tuple[int, ...]
    table_names: tuple[str, ...]
    seats: int
    free_for_min: int | None  # None: nobody needs it for the rest of the service
    moves: int = 0  # booked parties that would have to change tables


@dataclass(frozen=True)
class WalkInAdvice:
    suggested_by: str
    turn_time_min: int
    turn_time_model: str
    offers: list[Offer] = field(default_factory=list)


@dataclass(frozen=True)
class WaitQuote:
    wait_min: int | None
    quoted_by: str


@dataclass(frozen=True)
class _Service:
    floor: Floor
    plan_floor: FloorPlan
    day: date
    origin: datetime  # minute 0: local midnight of the service date
    price_tier: int
    booked: list[Booked]

    def minute(self, moment: datetime) -> int:
        return int((moment - self.origin) // timedelta(minutes=1))


def _load(ledger: Ledger, restaurant_id: int, day: date) -> _Service:
    r, rt = reservations, reservation_tables
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, restaurant_id)
        tier = conn.execute(
            sa.select(restaurants.c.price_tier).where(restaurants.c.id == restaurant_id)
        ).scalar_one()
        rows = conn.execute(
            sa.select(
                r.c.id,
                r.c.party_size,
                r.c.state,
                r.c.channel,
                r.c.start_at,
                r.c.seated_at,
                r.c.accessible_required,
                rt.c.table_id,
                dining_areas.c.name.label("area"),
            )
            .select_from(
                r.outerjoin(rt, sa.and_(rt.c.reservation_id == r.c.id, rt.c.released_at.is_(None)))
                .outerjoin(dining_tables, dining_tables.c.id == rt.c.table_id)
                .outerjoin(dining_areas, dining_areas.c.id == dining_tables.c.area_id)
            )
            .where(
                r.c.restaurant_id == restaurant_id,
                r.c.service_date == day,
                r.c.state.in_([s.value for s in HOLDING_STATES]),
            )
            .order_by(r.c.start_at, r.c.id, rt.c.table_id)
        ).all()
    by_id: dict[int, Booked] = {}
    for row in rows:
        held = by_id.get(row.id)
        tables = (*held.table_ids, row.table_id) if held else (row.table_id,)
        by_id[row.id] = Booked(
            row.id,
            row.party_size,
            row.state,
            row.channel,
            row.start_at,
            row.seated_at,
            bool(row.accessible_required),
            tuple(t for t in tables if t is not None and t in floor.tables),
            held.area if held and held.area else row.area,
        )
    origin = datetime.combine(day, time(0), tzinfo=floor.zone)
    return _Service(floor, FloorPlan.from_floor(floor), day, origin, tier, list(by_id.values()))


class SeatingSource:
    """The optimizer behind the seating and waitlist routes (one per request)."""

    planner = OPTIMIZER

    def __init__(
        self,
        ledger: Ledger,
        champions: Champions,
        scorer: AttendanceScorer,
        *,
        plan_seconds: float = PLAN_SECONDS,
    ) -> None:
        self.ledger = ledger
        self.champions = champions
        self.scorer = scorer
        self.turn_times = TurnTimes(champions.get(DURATION))
        self.plan_seconds = plan_seconds

    # ------------------------------------------------------------ the parties

    def _parties(
        self, service: _Service, now: datetime | None, *, show: dict[int, float] | None = None
    ) -> tuple[list[Party], dict[int, int]]:
        """The service's parties for the optimizer and each one's predicted turn."""
        queries = [
            TurnQuery(b.id, b.party_size, b.channel, b.seated_at or b.start_at, b.area)
            for b in service.booked
        ]
        turns = dict(
            zip(
                (b.id for b in service.booked),
                self.turn_times.minutes(service.floor, service.price_tier, queries),
                strict=True,
            )
        )
        now_min = service.minute(now) if now is not None else None
        parties = []
        for b in service.booked:
            seated = b.state == ReservationState.SEATED.value and bool(b.table_ids)
            start = service.minute((b.seated_at or b.start_at) if seated else b.start_at)
            duration = turns[b.id]
            if seated and now_min is not None:
                duration = max(duration, now_min - start + OVERSTAY_GRACE_MIN)
            elif now_min is not None:
                start = max(start, now_min)  # late: still needs its table when it comes
            parties.append(
                Party(
                    b.id,
                    b.party_size,
                    start,
                    max(duration, 1),
                    show_probability=(show or {}).get(b.id, 1.0),
                    seated=seated,
                    tables=b.table_ids,
                    accessible=b.accessible,
                )
            )
        return parties, turns

    def _show_probabilities(self, service: _Service, now: datetime) -> dict[int, float]:
        """1 - attendance risk for parties not yet here (the champion, else the
        baseline on the restaurant's and the diner's historical no-show rates)."""
        waiting = [
            b.id
            for b in service.booked
            if b.channel != "walk_in" and b.state in ("booked", "confirmed")
        ]
        # One read and one model call for the service (was one of each per party).
        return self.scorer.show_probabilities(waiting, self.champions.get(ATTENDANCE), now)

    @property
    def _attendance_label(self) -> str:
        champion = self.champions.get(ATTENDANCE)
        return champion.label if champion is not None else "baseline: historical no-show rates"

    # ------------------------------------------------------------ the answers

    def plan(self, restaurant_id: int, day: date, now: datetime) -> PlanAdvice:
        """The optimizer's plan for the service: on the service date itself,
        a re-plan from now (seated parties stay); otherwise the whole service."""
        service = _load(self.ledger, restaurant_id, day)
        today = service_date_of(service.floor, now)
        live = today is not None and today[0] == day
        show = self._show_probabilities(service, now)
        parties, turns = self._parties(service, now if live else None, show=show)
        settings = PlanSettings(time_limit_s=self.plan_seconds)
        try:
            if live:
                made = replan(
                    service.plan_floor, parties, now=service.minute(now), settings=settings
                )
            else:
                made = plan_service(service.plan_floor, parties, settings=settings)
        except SeatingInputError as exc:
            log.warning("optimizer refused the service", extra={"detail": str(exc)})
            return PlanAdvice(
                f"{BASELINE} (optimizer refused: {exc})"[:300],
                "ledger",
                0,
                (),
                {
                    p.id: PartyAdvice(p.id, p.tables, turns[p.id], p.show_probability)
                    for p in parties
                },
                self.turn_times.label,
                self._attendance_label,
            )
        return PlanAdvice(
            OPTIMIZER,
            made.status,
            made.moves,
            tuple(made.unseated),
            {
                p.id: PartyAdvice(
                    p.id,
                    tuple(made.assignments.get(p.id, ())),
                    turns[p.id],
                    p.show_probability,
                )
                for p in parties
            },
            self.turn_times.label,
            self._attendance_label,
        )

    def _walk_in_turn(self, service: _Service, party_size: int, now: datetime) -> int:
        query = TurnQuery(0, party_size, "walk_in", now)
        return self.turn_times.minutes(service.floor, service.price_tier, [query])[0]

    def _now_service(self, restaurant_id: int, party_size: int, now: datetime) -> _Service:
        party_size = check_party_size(party_size)
        with self.ledger.read() as conn:
            floor = get_floor(self.ledger, conn, restaurant_id)
        floor.check_party_fits(party_size)
        return _load(self.ledger, restaurant_id, current_service(floor, now)[0])

    def suggest(self, restaurant_id: int, party_size: int, now: datetime) -> WalkInAdvice:
        """Tables for a walk-in now, best first: free for the party's predicted
        turn without moving anyone first, then those that need the fewest moves."""
        service = self._now_service(restaurant_id, party_size, now)
        turn = self._walk_in_turn(service, party_size, now)
        parties, _ = self._parties(service, now)
        try:
            found = suggest_tables(
                service.plan_floor,
                parties,
                party_size,
                now=service.minute(now),
                duration=turn,
            )
        except SeatingInputError as exc:
            log.warning("optimizer refused the service", extra={"detail": str(exc)})
            return self._baseline_suggestions(restaurant_id, party_size, now, turn)
        tables = service.floor.tables
        return WalkInAdvice(
            OPTIMIZER,
            turn,
            self.turn_times.label,
            [
                Offer(
                    s.table_ids,
                    tuple(tables[t].name for t in s.table_ids),
                    party_size + s.empty_seats,
                    s.free_for,
                    s.moves,
                )
                for s in found
            ],
        )

    def _baseline_suggestions(
        self, restaurant_id: int, party_size: int, now: datetime, turn: int
    ) -> WalkInAdvice:
        found = walk_in_suggestions(self.ledger, restaurant_id, party_size, now=now)
        return WalkInAdvice(
            BASELINE,
            turn,
            self.turn_times.label,
            [Offer(s.table_ids, s.table_names, s.seats, s.free_for_min) for s in found],
        )

    def quote(
        self, restaurant_id: int, party_size: int, now: datetime, ahead: Sequence[int] = ()
    ) -> WaitQuote:
        """Minutes until a table can be promised without costing a booking its
        table (``optimizer.quote_wait``), after the parties ``ahead`` (sizes,
        in queue order) have each been given theirs. The booking core's quote
        answers when the optimizer refuses the service or the queue is long."""
        service = self._now_service(restaurant_id, party_size, now)
        return self._quote(service, restaurant_id, party_size, now, ahead)

    def _quote(
        self,
        service: _Service,
        restaurant_id: int,
        party_size: int,
        now: datetime,
        ahead: Sequence[int],
    ) -> WaitQuote:
        if len(ahead) > MAX_AHEAD_QUOTED:
            return self._baseline_quote(restaurant_id, party_size, now)
        parties, _ = self._parties(service, now)
        now_min = service.minute(now)
        try:
            for i, size in enumerate(ahead):
                turn = self._walk_in_turn(service, size, now)
                wait = quote_wait(service.plan_floor, parties, size, now=now_min, duration=turn)
                if wait is not None:  # they will hold a table from then on
                    parties.append(Party(-100 - i, size, now_min + wait, turn))
            turn = self._walk_in_turn(service, party_size, now)
            wait = quote_wait(service.plan_floor, parties, party_size, now=now_min, duration=turn)
        except SeatingInputError as exc:
            log.warning("optimizer refused the service", extra={"detail": str(exc)})
            return self._baseline_quote(restaurant_id, party_size, now)
        return WaitQuote(wait, OPTIMIZER)

    def quote_for_join(
        self, restaurant_id: int, party_size: int, now: datetime
    ) -> WaitQuote | None:
        """The optimizer's quote for a party joining the waitlist, after the
        parties still waiting that compete for the same tables (within two
        covers, as the booking core counts them); None where the optimizer
        does not answer (the booking core then quotes as it joins)."""
        service = self._now_service(restaurant_id, party_size, now)
        w = waitlist_entries
        competing = waitlist.waiting_for_the_same_tables(restaurant_id, service.day, party_size)
        with self.ledger.read() as conn:
            ahead = list(
                conn.execute(
                    sa.select(w.c.party_size).where(competing).order_by(w.c.joined_at, w.c.id)
                ).scalars()
            )
        found = self._quote(service, restaurant_id, party_size, now, ahead)
        return found if found.quoted_by == OPTIMIZER else None

    def _baseline_quote(self, restaurant_id: int, party_size: int, now: datetime) -> WaitQuote:
        return WaitQuote(
            waitlist.quote(self.ledger, restaurant_id, party_size, now=now), BASELINE_QUOTE
        )


def get_seating_source(request: Request) -> SeatingSource:
    state: Any = request.app.state
    return SeatingSource(state.ledger, state.champions, state.attendance)


SeatingSourceDep = Annotated[SeatingSource, Depends(get_seating_source)]


__all__ = [
    "OPTIMIZER",
    "Offer",
    "PartyAdvice",
    "PlanAdvice",
    "SeatingSource",
    "SeatingSourceDep",
    "WaitQuote",
    "WalkInAdvice",
]
