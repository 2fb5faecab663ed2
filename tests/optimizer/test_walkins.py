"""Walk-ins and the waitlist on the floor as it is now."""

from __future__ import annotations

from optimizer.plan import PlanSettings
from optimizer.service import FloorPlan, Party
from optimizer.walkins import quote_wait, replan, suggest_tables

NOW = 100
SETTINGS = PlanSettings(reset_minutes=10, time_limit_s=1.0)


def test_suggestions_say_how_long_each_table_stays_free(floor: FloorPlan) -> None:
    parties = [
        Party(1, 2, 60, 90, seated=True, tables=(1,)),  # A1 busy now
        Party(2, 2, 130, 90, tables=(2,)),  # A2 booked in 30 minutes
        Party(3, 4, 220, 90, tables=(3,)),  # B1 booked in two hours
    ]
    found = suggest_tables(floor, parties, 2, now=NOW, duration=60, settings=SETTINGS)
    by_tables = {s.table_ids: s for s in found}
    assert (1,) not in by_tables  # someone is sitting there
    assert by_tables[(3,)].free_for == 120 and by_tables[(3,)].moves == 0
    assert by_tables[(4,)].free_for is None  # nobody needs B2 tonight
    # A2 is free for 30 minutes only: seating them there moves the booking.
    assert by_tables[(2,)].free_for == 30 and by_tables[(2,)].moves == 1
    assert found[0].moves == 0 and found[-1].table_ids == (2,)


def test_quote_comes_from_predicted_turn_times(floor: FloorPlan) -> None:
    everyone_seated = [
        Party(i, 4, 40, 60 + 10 * i, seated=True, tables=(t,))
        for i, t in enumerate((1, 2, 3, 4, 5), start=1)
    ]
    assert quote_wait(floor, everyone_seated, 2, now=NOW, duration=60, settings=SETTINGS) == 20
    assert quote_wait(floor, [], 2, now=NOW, duration=60, settings=SETTINGS) == 0


def test_replan_after_an_overstay_moves_the_next_party_only(floor: FloorPlan) -> None:
    parties = [
        Party(1, 4, 0, 150, seated=True, tables=(3,)),  # overstays: was due out at 90
        Party(2, 4, 130, 90, tables=(3,)),  # planned on B1 after them
        Party(3, 4, 140, 90, tables=(4,)),
    ]
    plan = replan(floor, parties, now=NOW, settings=SETTINGS)
    assert plan.assignments[1] == (3,)
    assert plan.assignments[2] != (3,) and plan.assignments[3] == (4,)
    assert plan.moves == 1 and not plan.unseated
