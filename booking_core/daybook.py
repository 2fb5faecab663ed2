"""What a service day already holds: claimed granules per table and the
covers and parties starting in each slot (for pacing). Pure data, built from
the ledger by ``load_day_book`` or in memory by the world generator."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import sqlalchemy as sa

from booking_core.domain import HOLDING_STATES, PACING_STATES, Channel, ReservationState
from booking_core.floor import Floor, SeatingOption
from booking_core.schema import reservation_tables, reservations
from booking_core.slots import Slot, granule_of, granule_span

if TYPE_CHECKING:
    from booking_core.past_demand import ServiceDemand

log = logging.getLogger("servicesphere.booking_core")


def _mask(g0: int, g1: int) -> int:
    return ((1 << (g1 - g0)) - 1) << g0


@dataclass(frozen=True, slots=True)
class Holding:
    """Who holds which tables when: what a pooled table choice may re-plan.
    ``movable``: booked or confirmed on the service date being booked (a
    party at the restaurant, or another day's, stays where it is)."""

    reservation_id: int
    table_ids: tuple[int, ...]
    g0: int
    g1: int
    party_size: int
    movable: bool
    area_id: int | None = None
    accessible: bool = False


@dataclass
class DayBook:
    """Bitmasks are relative to ``base`` (a granule shortly before the day)
    so that they stay a few hundred bits long."""

    base: int
    busy: dict[int, int] = field(default_factory=dict)  # table id -> bitmask of granules
    starts: dict[int, list[int]] = field(default_factory=dict)  # start granule -> [covers, parties]
    holdings: dict[int, Holding] = field(default_factory=dict)  # reservation id -> holding
    # Taken by predictive overbooking and not yet seated: no table, no busy
    # granules (``table_ids`` is empty), but counted in ``starts``.
    overbooked: dict[int, Holding] = field(default_factory=dict)

    @classmethod
    def for_date(cls, floor: Floor, service_date: date) -> DayBook:
        eve = datetime.combine(service_date - timedelta(days=1), time(), tzinfo=floor.zone)
        return cls(base=granule_of(eve))

    def copy(self) -> DayBook:
        return DayBook(
            self.base,
            dict(self.busy),
            {g: list(c) for g, c in self.starts.items()},
            dict(self.holdings),
            dict(self.overbooked),
        )

    def add_holding(self, holding: Holding) -> None:
        self.holdings[holding.reservation_id] = holding
        self.hold(holding.table_ids, holding.g0, holding.g1)

    def move(self, reservation_id: int, table_ids: tuple[int, ...]) -> None:
        """A held reservation now holds other tables over the same granules."""
        self.move_many({reservation_id: table_ids})

    def move_many(self, moves: Mapping[int, tuple[int, ...]]) -> None:
        """Held reservations now hold other tables over the same granules.
        Every one leaves its tables before any takes its new ones: in a
        swap or a chain, one party takes the tables another leaves."""
        old = {rid: self.holdings[rid] for rid in moves}
        for h in old.values():
            self.release(h.table_ids, h.g0, h.g1)
        for rid, table_ids in moves.items():
            h = old[rid]
            self.add_holding(
                Holding(
                    rid,
                    tuple(sorted(table_ids)),
                    h.g0,
                    h.g1,
                    h.party_size,
                    h.movable,
                    h.area_id,
                    h.accessible,
                )
            )

    def _need(self, g0: int, g1: int) -> int:
        return _mask(max(g0 - self.base, 0), max(g1 - self.base, 0))

    def is_free(self, table_ids: Iterable[int], g0: int, g1: int) -> bool:
        need = self._need(g0, g1)
        busy = self.busy
        return all(not (busy.get(t, 0) & need) for t in table_ids)

    def hold(self, table_ids: Iterable[int], g0: int, g1: int) -> None:
        need = self._need(g0, g1)
        for t in table_ids:
            self.busy[t] = self.busy.get(t, 0) | need

    def release(self, table_ids: Iterable[int], g0: int, g1: int) -> None:
        keep = ~self._need(g0, g1)
        for t in table_ids:
            self.busy[t] = self.busy.get(t, 0) & keep

    def add_start(self, granule: int, party_size: int, sign: int = 1) -> None:
        counts = self.starts.setdefault(granule, [0, 0])
        counts[0] += sign * party_size
        counts[1] += sign

    def parties_starting(self, g0: int, g1: int) -> int:
        """Booked parties (not walk-ins) starting in granules [g0, g1)."""
        return sum(counts[1] for g, counts in self.starts.items() if g0 <= g < g1)

    def pacing_allows(self, slot: Slot, party_size: int) -> bool:
        covers, parties = self.starts.get(slot.start_granule, (0, 0))
        period = slot.period
        if (
            period.max_covers_per_slot is not None
            and covers + party_size > period.max_covers_per_slot
        ):
            return False
        return not (
            period.max_parties_per_slot is not None and parties + 1 > period.max_parties_per_slot
        )

    def free_until(self, table_id: int, g0: int, horizon: int) -> int:
        """The first granule at or after g0 (up to g0 + horizon) at which the table is taken."""
        busy = self.busy.get(table_id, 0) >> (g0 - self.base)
        if not busy:
            return g0 + horizon
        return g0 + min((busy & -busy).bit_length() - 1, horizon)


class TableChoice(Protocol):
    """How a table is chosen for a party. ``BestFitAtBooking`` locks the
    best-fitting free table at booking time; a pooled policy (see
    ``PooledTableChoice``) may also move parties not yet at the restaurant."""

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
    ) -> SeatingOption | None: ...


class BestFitAtBooking:
    """Smallest free table (then combination) that fits: fewest wasted seats."""

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
        for option in floor.options:
            if not option.fits(party_size):
                continue
            if area_id is not None and area_id not in option.area_ids:
                continue
            if accessible and not option.accessible:
                continue
            if book.is_free(option.table_ids, g0, g1):
                return option
        return None


@dataclass(frozen=True, slots=True)
class TableMove:
    """A booked party moved to other tables (same times) to make room."""

    reservation_id: int
    from_tables: tuple[int, ...]
    to: SeatingOption


@dataclass(frozen=True, slots=True)
class PooledChoice:
    """Tables for the party (and the moves that make room), or, when
    ``overbooked``, none: the booking is taken beyond the tables and the
    host seats it when one frees (``option`` is then ``NO_TABLES``)."""

    option: SeatingOption
    moves: tuple[TableMove, ...] = ()
    overbooked: bool = False


NO_TABLES = SeatingOption((), 0, 0, frozenset(), False)


@runtime_checkable
class PooledTableChoice(TableChoice, Protocol):
    """A table choice that may re-assign booked parties of the service date
    (``DayBook.holdings``) to make room. ``quick``: a search of times, where
    an answer within a millisecond or two matters more than the last fit.
    ``demand``: the service's past and present demand, when the booking core
    has enough history; a policy may then refuse a booking that fits by
    raising ``TablesKeptForLaterParties`` (admission control)."""

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
    ) -> PooledChoice | None: ...


@runtime_checkable
class OverbookingChoice(Protocol):
    """A pooled choice that can also decide predictive overbooking: whether
    a party for whom no table can be made free may still be taken, with
    the restaurant's ``max_wait_risk`` bound on the chance that a guest who
    comes waits over 15 minutes, among the parties starting within
    ``service`` (granules [opening, closing) of the booking's service).
    False when it cannot tell (no show probabilities to go on):
    overbooking is then off."""

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
    ) -> bool: ...


def choose_tables(
    policy: TableChoice,
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
    """Ask ``policy`` for tables, with moves when it pools; ``None``: no room
    (a pooled policy may also raise ``TablesKeptForLaterParties``)."""
    if isinstance(policy, PooledTableChoice):
        return policy.choose_pooled(
            floor,
            book,
            party_size,
            g0,
            g1,
            area_id=area_id,
            accessible=accessible,
            quick=quick,
            demand=demand,
        )
    option = policy.choose(floor, book, party_size, g0, g1, area_id=area_id, accessible=accessible)
    return PooledChoice(option) if option is not None else None


class TablePolicy(StrEnum):
    """A restaurant's seating setting (``restaurants.table_policy``)."""

    LOCK_AT_BOOKING = "lock_at_booking"
    POOLED = "pooled"  # pooled acceptance with admission control


@dataclass
class TablePolicyHolder:
    """Where the booking core looks up how tables are chosen (pluggable).

    ``policy`` serves the restaurants set to lock at booking (every one by
    default; a caller may set another choice for them all). ``pooled``
    serves those set to pooled: the optimizer builds on the booking core,
    not the other way round, so the application plugs it in at start-up
    (``serving.app`` does); until then such a restaurant locks at booking.
    ``admission`` serves lock-at-booking restaurants that turned admission
    control on: it takes the best free table as ``BestFitAtBooking`` does
    (nobody moves) and may refuse it by bid price; plugged in the same way,
    and until then they lock at booking without it."""

    policy: TableChoice = field(default_factory=BestFitAtBooking)
    pooled: PooledTableChoice | None = None
    admission: PooledTableChoice | None = None
    _warned: bool = field(default=False, repr=False)

    def for_floor(self, floor: Floor) -> TableChoice:
        if floor.table_policy != TablePolicy.POOLED:
            if floor.admission_control and self.admission is not None:
                return self.admission
            return self.policy
        if self.pooled is None:
            if not self._warned:
                self._warned = True
                log.warning(
                    "restaurant set to pooled seating, but no pooled policy is plugged in: "
                    "locking at booking",
                    extra={"restaurant_id": floor.restaurant_id},
                )
            return self.policy
        return self.pooled


table_policy = TablePolicyHolder()


def load_day_book(
    conn: sa.Connection, floor: Floor, service_date: date, *, exclude_reservation: int | None = None
) -> DayBook:
    """Holdings of the service date and its neighbours (a late service can run
    past midnight into the next one), and pacing counts of the date itself."""
    r, rt = reservations, reservation_tables
    reach = timedelta(days=1 if floor.days_interact else 0)
    query = (
        sa.select(
            r.c.id,
            r.c.service_date,
            r.c.start_at,
            r.c.party_size,
            r.c.channel,
            r.c.state,
            r.c.area_id,
            r.c.accessible_required,
            r.c.end_at,
            r.c.overbooked,
            rt.c.table_id,
            rt.c.start_at.label("t_start"),
            rt.c.end_at.label("t_end"),
        )
        .select_from(
            r.outerjoin(rt, sa.and_(rt.c.reservation_id == r.c.id, rt.c.released_at.is_(None)))
        )
        .where(
            r.c.restaurant_id == floor.restaurant_id,
            r.c.service_date.between(service_date - reach, service_date + reach),
            r.c.state.in_([s.value for s in PACING_STATES]),
        )
    )
    if exclude_reservation is not None:
        query = query.where(r.c.id != exclude_reservation)
    book = DayBook.for_date(floor, service_date)
    counted: set[int] = set()
    holding = {s.value for s in HOLDING_STATES}
    movable = {ReservationState.BOOKED.value, ReservationState.CONFIRMED.value}
    for row in conn.execute(query):
        if row.table_id is not None and row.state in holding:
            g0, g1 = granule_span(row.t_start, row.t_end)
            book.hold((row.table_id,), g0, g1)
            seen = book.holdings.get(row.id)
            book.holdings[row.id] = Holding(
                row.id,
                tuple(sorted((*seen.table_ids, row.table_id))) if seen else (row.table_id,),
                g0,
                g1,
                row.party_size,
                row.state in movable and row.service_date == service_date,
                row.area_id,
                bool(row.accessible_required),
            )
        elif (
            row.table_id is None
            and row.overbooked
            and row.state in holding
            and row.service_date == service_date
        ):
            g0, g1 = granule_span(row.start_at, row.end_at)
            book.overbooked[row.id] = Holding(
                row.id,
                (),
                g0,
                g1,
                row.party_size,
                row.state in movable,
                row.area_id,
                bool(row.accessible_required),
            )
        if (
            row.service_date == service_date
            and row.channel != Channel.WALK_IN
            and row.id not in counted
        ):
            counted.add(row.id)
            book.add_start(granule_of(row.start_at), row.party_size)
    return book
