"""A restaurant's floor and hours as plain, immutable data: tables, table
combinations, service periods and special dates. Loaded once per
``floor_version`` and shared by availability, acceptance and the world
generator, so the live path and the bulk path apply the same rules."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from booking_core.domain import MAX_STAY_OVER_TURN_MINUTES
from booking_core.errors import PartyTooLarge, UnknownRestaurant
from booking_core.schema import (
    dining_tables,
    restaurants,
    service_periods,
    special_dates,
    table_combination_members,
    table_combinations,
)


@dataclass(frozen=True, slots=True)
class Table:
    id: int
    name: str
    area_id: int
    min_covers: int
    max_covers: int
    accessible: bool = False
    features: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SeatingOption:
    """One table, or a combination of tables joined for a larger party."""

    table_ids: tuple[int, ...]
    min_covers: int
    max_covers: int
    area_ids: frozenset[int]
    accessible: bool
    combination_id: int | None = None

    def fits(self, party_size: int) -> bool:
        return self.min_covers <= party_size <= self.max_covers


@dataclass(frozen=True, slots=True)
class ServicePeriod:
    id: int
    name: str
    weekday: int
    opens_min: int
    closes_min: int
    last_seating_min: int
    slot_interval_min: int
    turn_times: tuple[tuple[int, int], ...]  # (party size, minutes), ascending sizes
    max_covers_per_slot: int | None = None
    max_parties_per_slot: int | None = None
    # First local date of the timetable this period belongs to (None: since
    # the restaurant opened); see ``Floor.timetable_on``.
    effective_from: date | None = None

    def turn_time(self, party_size: int) -> int:
        sizes = [size for size, _ in self.turn_times]
        i = bisect.bisect_left(sizes, party_size)
        return self.turn_times[min(i, len(self.turn_times) - 1)][1]

    def slot_minutes(self) -> range:
        return range(self.opens_min, self.last_seating_min + 1, self.slot_interval_min)


@dataclass(frozen=True, slots=True)
class SpecialDate:
    local_date: date
    closed: bool
    note: str = ""
    opens_min: int | None = None
    closes_min: int | None = None
    last_seating_min: int | None = None


@dataclass(frozen=True)
class Floor:
    restaurant_id: int
    name: str
    timezone: str
    currency: str
    country: str
    tables: Mapping[int, Table]
    options: tuple[SeatingOption, ...]
    periods: tuple[ServicePeriod, ...]
    special_dates: Mapping[date, SpecialDate] = field(default_factory=dict)
    deposit_min_party: int | None = None
    deposit_per_cover_minor: int = 0
    card_hold_minor: int = 0
    cancellation_fee_minor: int = 0
    cancellation_window_hours: int = 24
    deposit_pay_within_minutes: int = 60
    # Risk-based deposits (``deposits.reason_to_ask``); None: by party size only.
    deposit_risk_threshold: float | None = None
    deposit_risk_control_share: float = 0.0
    floor_version: int = 0
    table_policy: str = "lock_at_booking"  # the restaurant's seating setting
    # Predictive overbooking's bound on the risk of a long wait (None: off).
    overbooking_max_wait_risk: float | None = None
    # Bid-price admission for a lock-at-booking restaurant (pooled: always).
    admission_control: bool = False
    # How long a booking holds its table: "turn_times" or "predicted"
    # (``booking_core.stays``); the price tier is what a stay model needs.
    booked_stays: str = "turn_times"
    price_tier: int = 2

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def largest_party(self) -> int:
        return max((o.max_covers for o in self.options), default=0)

    def check_party_fits(self, party_size: int) -> None:
        """Refuse a party that no table or combination could ever seat."""
        if party_size > self.largest_party:
            raise PartyTooLarge(
                f"{self.name} seats at most {self.largest_party} at one table or combination; "
                f"a party of {party_size} needs a private-event enquiry."
            )

    @cached_property
    def days_interact(self) -> bool:
        """Whether one service date's parties can still hold a table when the
        next date's first service opens (a late service plus its longest turn
        running into the next day's opening). Most restaurants: no, and then
        each service date can be checked on its own."""
        if not self.periods:
            return False
        # A predicted stay may run up to an hour past the longest turn time.
        longer = MAX_STAY_OVER_TURN_MINUTES if self.booked_stays == "predicted" else 0
        latest_end = max(p.last_seating_min + p.turn_times[-1][1] + longer for p in self.periods)
        earliest_open = min(p.opens_min for p in self.periods)
        return latest_end > 1440 + earliest_open

    def timetable_on(self, local_date: date) -> tuple[ServicePeriod, ...]:
        """The weekly timetable in force on a local date: the periods of the
        latest timetable that started on or before it (hours changed from a
        date leave earlier dates with the hours they had)."""
        starts = {p.effective_from for p in self.periods}
        if starts == {None}:  # hours never changed: the common case
            return self.periods
        started = [s for s in starts if s is None or s <= local_date]
        if not started:
            return ()
        current = max(started, key=lambda s: s or date.min)
        return tuple(p for p in self.periods if p.effective_from == current)

    def periods_on(self, local_date: date) -> tuple[ServicePeriod, ...]:
        """The service periods of a local date, after closures and special hours."""
        special = self.special_dates.get(local_date)
        if special is not None and special.closed:
            return ()
        periods = tuple(
            p for p in self.timetable_on(local_date) if p.weekday == local_date.weekday()
        )
        # A date's own hours take the slots, turn times and pacing of the
        # period whose opening is nearest: that day's, or, on a weekday the
        # restaurant is normally closed, the week's.
        bases = periods or self.timetable_on(local_date)
        if special is not None and special.opens_min is not None and bases:
            opens = special.opens_min
            base = min(bases, key=lambda p: (abs(p.opens_min - opens), p.weekday))
            return (
                ServicePeriod(
                    id=base.id,
                    name=special.note or base.name,
                    weekday=local_date.weekday(),
                    opens_min=special.opens_min,
                    closes_min=special.closes_min or base.closes_min,
                    last_seating_min=special.last_seating_min or base.last_seating_min,
                    slot_interval_min=base.slot_interval_min,
                    turn_times=base.turn_times,
                    max_covers_per_slot=base.max_covers_per_slot,
                    max_parties_per_slot=base.max_parties_per_slot,
                ),
            )
        return periods


def build_options(
    tables: Mapping[int, Table], combinations: list[tuple[int, tuple[int, ...], int, int]]
) -> tuple[SeatingOption, ...]:
    """Single tables and combinations, best fit first: the smallest seat count
    that fits wastes the fewest seats, and a single table beats joining two."""
    options = [
        SeatingOption((t.id,), t.min_covers, t.max_covers, frozenset({t.area_id}), t.accessible)
        for t in tables.values()
    ]
    for combo_id, members, lo, hi in combinations:
        if not members or any(m not in tables for m in members):
            continue  # a combination with an inactive table cannot be formed
        options.append(
            SeatingOption(
                members,
                lo,
                hi,
                frozenset(tables[m].area_id for m in members),
                all(tables[m].accessible for m in members),
                combo_id,
            )
        )
    options.sort(key=lambda o: (o.max_covers, len(o.table_ids), o.min_covers, o.table_ids))
    return tuple(options)


def combination_members(conn: sa.Connection, restaurant_id: int) -> dict[int, list[int]]:
    """Table ids per combination id, in service or not."""
    members: dict[int, list[int]] = {}
    for combo_id, table_id in conn.execute(
        sa.select(table_combination_members.c.combination_id, table_combination_members.c.table_id)
        .join(table_combinations)
        .where(table_combinations.c.restaurant_id == restaurant_id)
    ):
        members.setdefault(int(combo_id), []).append(int(table_id))
    return members


def load_floor(conn: sa.Connection, restaurant_id: int) -> Floor:
    row = conn.execute(sa.select(restaurants).where(restaurants.c.id == restaurant_id)).first()
    if row is None:
        raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
    r = row._mapping
    tables = {
        t.id: Table(
            t.id,
            t.name,
            t.area_id,
            t.min_covers,
            t.max_covers,
            bool(t.accessible),
            tuple(t.features or ()),
        )
        for t in conn.execute(
            sa.select(dining_tables).where(
                dining_tables.c.restaurant_id == restaurant_id, dining_tables.c.active.is_(True)
            )
        )
    }
    members = combination_members(conn, restaurant_id)
    combos = [
        (c.id, tuple(sorted(members.get(c.id, ()))), c.min_covers, c.max_covers)
        for c in conn.execute(
            sa.select(table_combinations).where(table_combinations.c.restaurant_id == restaurant_id)
        )
    ]
    periods = tuple(
        ServicePeriod(
            id=p.id,
            name=p.name,
            weekday=p.weekday,
            opens_min=p.opens_min,
            closes_min=p.closes_min,
            last_seating_min=p.last_seating_min,
            slot_interval_min=p.slot_interval_min,
            turn_times=tuple(sorted((int(k), int(v)) for k, v in p.turn_times.items())),
            max_covers_per_slot=p.max_covers_per_slot,
            max_parties_per_slot=p.max_parties_per_slot,
            effective_from=p.effective_from,
        )
        for p in conn.execute(
            sa.select(service_periods)
            .where(service_periods.c.restaurant_id == restaurant_id)
            .order_by(service_periods.c.weekday, service_periods.c.opens_min)
        )
    )
    specials = {
        s.local_date: SpecialDate(
            s.local_date, bool(s.closed), s.note, s.opens_min, s.closes_min, s.last_seating_min
        )
        for s in conn.execute(
            sa.select(special_dates).where(special_dates.c.restaurant_id == restaurant_id)
        )
    }
    return Floor(
        restaurant_id=restaurant_id,
        name=r["name"],
        timezone=r["timezone"],
        currency=r["currency"],
        country=r["country"],
        tables=tables,
        options=build_options(tables, combos),
        periods=periods,
        special_dates=specials,
        deposit_min_party=r["deposit_min_party"],
        deposit_per_cover_minor=r["deposit_per_cover_minor"],
        card_hold_minor=r["card_hold_minor"],
        cancellation_fee_minor=r["cancellation_fee_minor"],
        cancellation_window_hours=r["cancellation_window_hours"],
        deposit_pay_within_minutes=r["deposit_pay_within_minutes"],
        deposit_risk_threshold=r["deposit_risk_threshold"],
        deposit_risk_control_share=r["deposit_risk_control_share"],
        floor_version=r["floor_version"],
        table_policy=r["table_policy"],
        overbooking_max_wait_risk=r["overbooking_max_wait_risk"],
        admission_control=bool(r["admission_control"]),
        booked_stays=r["booked_stays"],
        price_tier=r["price_tier"],
    )


_FLOOR_VERSION = sa.select(restaurants.c.floor_version).where(
    restaurants.c.id == sa.bindparam("restaurant_id")
)


def floor_version(conn: sa.Connection, restaurant_id: int) -> int:
    version = conn.execute(_FLOOR_VERSION, {"restaurant_id": restaurant_id}).scalar()
    if version is None:
        raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
    return int(version)
