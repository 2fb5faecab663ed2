"""Bad input gets a typed error that says what is wrong, and no plan."""

from __future__ import annotations

import pytest

from booking_core.errors import InvalidRequest
from optimizer.acceptance import check_acceptance
from optimizer.errors import (
    InvalidDuration,
    OverlappingLocks,
    PartyTooLargeForFloor,
    SeatingInputError,
    UnknownTable,
)
from optimizer.plan import plan_service
from optimizer.service import FloorPlan, Party


def test_party_larger_than_any_table_or_combination(floor: FloorPlan) -> None:
    with pytest.raises(PartyTooLargeForFloor, match=r"Party 7 has 9 guests.*seats 6"):
        plan_service(floor, [Party(7, 9, 0, 90)])


def test_negative_duration(floor: FloorPlan) -> None:
    with pytest.raises(InvalidDuration, match="Party 3 has a predicted turn time of -5"):
        plan_service(floor, [Party(3, 2, 0, -5)])


def test_unknown_table(floor: FloorPlan) -> None:
    with pytest.raises(UnknownTable, match="table 42"):
        plan_service(floor, [Party(1, 2, 0, 60, seated=True, tables=(42,))])
    with pytest.raises(UnknownTable, match="table 9"):
        FloorPlan.build(list(floor.tables.values()), [((1, 9), 3, 4)])


def test_overlapping_locks(floor: FloorPlan) -> None:
    seated = Party(1, 2, 0, 90, seated=True, tables=(1,))
    pinned = Party(2, 2, 60, 90, pinned=True, tables=(1,))
    with pytest.raises(OverlappingLocks, match="Parties 1 and 2 are both held at table A1"):
        plan_service(floor, [seated, pinned])


def test_other_nonsense_is_refused(floor: FloorPlan) -> None:
    with pytest.raises(SeatingInputError, match="listed twice"):
        plan_service(floor, [Party(1, 2, 0, 60), Party(1, 2, 90, 60)])
    with pytest.raises(SeatingInputError, match="show probability"):
        plan_service(floor, [Party(1, 2, 0, 60, show_probability=1.5)])
    with pytest.raises(SeatingInputError, match="seated but names no table"):
        plan_service(floor, [Party(1, 2, 0, 60, seated=True)])
    with pytest.raises(InvalidRequest, match=r"no table or combination|seats 6"):
        check_acceptance(floor, [], Party(1, 12, 0, 60))
