"""A service as plain data: the floor's tables and combinations, and the
parties with their predicted turn times. Times are whole minutes on any
clock the caller likes (minutes since the service opened, granules x 15, ...);
the optimizer never reads the ledger."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from booking_core.floor import Floor, SeatingOption, Table, build_options
from optimizer.errors import (
    InvalidDuration,
    OverlappingLocks,
    PartyTooLargeForFloor,
    SeatingInputError,
    UnknownTable,
)


@dataclass(frozen=True)
class FloorPlan:
    """Tables and the options a party can be given (one table, or a
    combination of tables joined), best fit first as in the booking core."""

    tables: Mapping[int, Table]
    options: tuple[SeatingOption, ...]

    @classmethod
    def from_floor(cls, floor: Floor) -> FloorPlan:
        return cls(dict(floor.tables), tuple(floor.options))

    @classmethod
    def build(
        cls,
        tables: Iterable[Table],
        combinations: Iterable[tuple[tuple[int, ...], int, int]] = (),
    ) -> FloorPlan:
        """Tables plus combinations given as (member table ids, min covers, max covers)."""
        by_id = {t.id: t for t in tables}
        combos = []
        for i, (members, lo, hi) in enumerate(combinations, start=1):
            unknown = [m for m in members if m not in by_id]
            if unknown:
                raise UnknownTable(
                    f"Combination {members} names table {unknown[0]}, which is not on the floor."
                )
            combos.append((i, tuple(sorted(members)), lo, hi))
        return cls(by_id, build_options(by_id, combos))

    @cached_property
    def largest_party(self) -> int:
        return max((o.max_covers for o in self.options), default=0)

    @cached_property
    def seats(self) -> int:
        return sum(t.max_covers for t in self.tables.values())

    @cached_property
    def option_by_tables(self) -> dict[tuple[int, ...], SeatingOption]:
        return {o.table_ids: o for o in self.options}

    def option_for(self, table_ids: Sequence[int]) -> SeatingOption:
        """The option a party sitting at these tables uses (an ad-hoc one if
        a host pushed tables together that are not a known combination)."""
        key = tuple(sorted(table_ids))
        known = self.option_by_tables.get(key)
        if known is not None:
            return known
        tables = [self.tables[t] for t in key]
        return SeatingOption(
            key,
            1,
            sum(t.max_covers for t in tables),
            frozenset(t.area_id for t in tables),
            all(t.accessible for t in tables),
        )


@dataclass(frozen=True, slots=True)
class Party:
    """A reservation (or a seated walk-in) in a service plan.

    ``duration`` is the predicted time at the table in minutes; the plan adds
    the reset buffer. ``show_probability`` is 1 - the attendance risk.
    Seated and host-pinned parties keep ``tables``; for the others ``tables``
    is the current plan, which the optimizer changes only when it must."""

    id: int
    size: int
    start: int
    duration: int
    show_probability: float = 1.0
    seated: bool = False
    pinned: bool = False
    tables: tuple[int, ...] = ()
    area_id: int | None = None
    area_required: bool = False
    accessible: bool = False
    favourite_table: int | None = None
    must_seat: bool = True
    # Log-normal sigma of the stay around ``duration`` (its median), when
    # predicted: wait-aware acceptance samples stays from it.
    duration_spread: float = 0.0

    @property
    def locked(self) -> bool:
        return self.seated or self.pinned


@dataclass(frozen=True)
class Interval:
    """When a party holds its table: from its (effective) start to the end of
    its predicted turn plus the reset buffer, half-open."""

    party: Party
    start: int
    end: int
    options: tuple[SeatingOption, ...] = field(default=())

    @cached_property
    def option_tables(self) -> frozenset[tuple[int, ...]]:
        return frozenset(o.table_ids for o in self.options)


def party_fits(party: Party, option: SeatingOption) -> bool:
    if not option.fits(party.size):
        return False
    if party.accessible and not option.accessible:
        return False
    return not (party.area_required and party.area_id not in option.area_ids)


def intervals(
    floor: FloorPlan,
    parties: Sequence[Party],
    *,
    reset_minutes: int = 0,
    now: int | None = None,
    check: bool = True,
) -> list[Interval]:
    """Check the inputs and turn every party into the interval it would hold.
    A party not yet at its table cannot start before ``now``. ``check=False``
    is for callers that have just checked the same parties."""
    if check:
        check_service(floor, parties, reset_minutes=reset_minutes)
    out = []
    for p in parties:
        start = p.start
        if not p.locked and now is not None and start < now:
            start = now
        end = start + p.duration + reset_minutes
        if p.locked:
            out.append(Interval(p, start, end, (floor.option_for(p.tables),)))
        else:
            out.append(Interval(p, start, end, tuple(o for o in floor.options if party_fits(p, o))))
    return out


def check_service(floor: FloorPlan, parties: Sequence[Party], *, reset_minutes: int = 0) -> None:
    """Raise a typed error naming the first thing wrong with the inputs."""
    if reset_minutes < 0:
        raise InvalidDuration(
            f"The reset buffer is {reset_minutes} minutes; it cannot be negative."
        )
    seen: set[int] = set()
    for p in parties:
        if p.id in seen:
            raise SeatingInputError(f"Party {p.id} is listed twice.")
        seen.add(p.id)
        if p.size < 1:
            raise SeatingInputError(f"Party {p.id} has {p.size} guests; a party has at least one.")
        if p.duration <= 0:
            raise InvalidDuration(
                f"Party {p.id} has a predicted turn time of {p.duration} minutes; "
                "it must be positive."
            )
        if not 0.0 <= p.show_probability <= 1.0:
            raise SeatingInputError(
                f"Party {p.id} has a show probability of {p.show_probability}; "
                "it must lie between 0 and 1."
            )
        for t in (*p.tables, *((p.favourite_table,) if p.favourite_table is not None else ())):
            if t not in floor.tables:
                raise UnknownTable(f"Party {p.id} names table {t}, which is not on this floor.")
        if p.locked and not p.tables:
            what = "seated" if p.seated else "pinned"
            raise SeatingInputError(f"Party {p.id} is {what} but names no table.")
        if not p.locked and p.size > floor.largest_party:
            raise PartyTooLargeForFloor(
                f"Party {p.id} has {p.size} guests; the largest table or combination on this "
                f"floor seats {floor.largest_party}."
            )
    _check_locks(floor, parties, reset_minutes)


def _check_locks(floor: FloorPlan, parties: Sequence[Party], reset_minutes: int) -> None:
    by_table: dict[int, list[tuple[int, int, int]]] = {}
    for p in parties:
        if p.locked:
            for t in p.tables:
                by_table.setdefault(t, []).append((p.start, p.start + p.duration, p.id))
    for t, spans in by_table.items():
        spans.sort()
        for (s0, e0, a), (s1, _e1, b) in itertools.pairwise(spans):
            # The reset buffer is a wish between turns, not a physical limit,
            # so two locks only clash when the guests themselves overlap.
            if s1 < e0:
                name = floor.tables[t].name
                raise OverlappingLocks(
                    f"Parties {a} and {b} are both held at table {name} around minute {s1} "
                    f"({s0}-{e0} and from {s1}); unpin one of them."
                )


__all__ = ["FloorPlan", "Interval", "Party", "check_service", "intervals", "party_fits"]
