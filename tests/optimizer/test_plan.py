"""The service plan: always feasible, locks kept, the fallback always answers."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.plan import PlanSettings, greedy_plan, plan_service, violations
from optimizer.service import FloorPlan, Party
from tests.optimizer.conftest import small_floor

FLOOR = small_floor()


@st.composite
def services(draw: st.DrawFn) -> list[Party]:
    """Random bookings plus a few seated and pinned parties whose locks never clash."""
    parties: list[Party] = []
    locked_until = {t: -1 for t in FLOOR.tables}
    n_locked = draw(st.integers(0, 3))
    for i in range(n_locked):
        table = draw(st.sampled_from(sorted(FLOOR.tables)))
        start = draw(st.integers(0, 120)) if i else 0
        if start <= locked_until[table]:
            continue
        duration = draw(st.integers(15, 120))
        seated = draw(st.booleans())
        parties.append(
            Party(
                100 + i,
                draw(st.integers(1, 8)),
                start,
                duration,
                seated=seated,
                pinned=not seated,
                tables=(table,),
            )
        )
        locked_until[table] = start + duration + 10
    for i in range(draw(st.integers(0, 14))):
        current = draw(st.sampled_from([(), (1,), (3,), (1, 2), (5,)]))
        parties.append(
            Party(
                i,
                draw(st.integers(1, 6)),
                draw(st.integers(0, 240)),
                draw(st.integers(15, 150)),
                show_probability=draw(st.floats(0.0, 1.0)),
                tables=current,
                accessible=draw(st.booleans()) and draw(st.booleans()),
                area_id=draw(st.sampled_from([None, 1, 2])),
                area_required=draw(st.booleans()),
                favourite_table=draw(st.sampled_from([None, 2, 4])),
                must_seat=draw(st.booleans()),
            )
        )
    return parties


def _feasible(floor: FloorPlan, parties: list[Party], plan_settings: PlanSettings) -> None:
    plan = plan_service(floor, parties, settings=plan_settings, now=0)
    assert violations(floor, parties, plan, reset_minutes=plan_settings.reset_minutes, now=0) == []
    for p in parties:
        if p.locked:
            assert plan.assignments[p.id] == tuple(sorted(p.tables))
    assert set(plan.assignments) | set(plan.unseated) == {p.id for p in parties}
    assert plan.bound >= plan.objective


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services())
def test_every_plan_is_feasible(parties: list[Party]) -> None:
    _feasible(FLOOR, parties, PlanSettings(reset_minutes=10, time_limit_s=0.2))


@settings(max_examples=40, deadline=None)
@given(services())
def test_fallback_answers_with_no_solver_time(parties: list[Party]) -> None:
    plan = plan_service(FLOOR, parties, settings=PlanSettings(time_limit_s=0.0), now=0)
    assert plan.status == "greedy"
    _feasible(FLOOR, parties, PlanSettings(time_limit_s=0.0))


def test_objective_prefers_fewer_moves_and_empty_seats(floor: FloorPlan) -> None:
    parties = [Party(1, 2, 0, 90, tables=(2,)), Party(2, 4, 0, 90, tables=(4,))]
    plan = plan_service(floor, parties, settings=PlanSettings(time_limit_s=1.0))
    assert plan.assignments == {1: (2,), 2: (4,)}
    assert plan.moves == 0
    assert plan.status == "optimal"


def test_soft_preferences_are_met_when_free(floor: FloorPlan) -> None:
    regular = Party(1, 2, 0, 90, favourite_table=2)
    terrace = Party(2, 4, 0, 90, area_id=2)
    plan = plan_service(floor, [regular, terrace], settings=PlanSettings(time_limit_s=1.0))
    assert plan.assignments[1] == (2,)
    assert plan.assignments[2] == (4,)


def test_overbooked_service_leaves_the_least_valuable_party_waiting(floor: FloorPlan) -> None:
    # Six parties of four want the same hour and only four options seat four.
    parties = [Party(i, 4, 0, 60, show_probability=0.5 + i / 20, must_seat=False) for i in range(6)]
    plan = plan_service(floor, parties, settings=PlanSettings(time_limit_s=1.0))
    assert len(plan.unseated) == 2
    assert set(plan.unseated) == {0, 1}  # the likeliest no-shows wait
    assert greedy_plan(floor, parties).unseated  # the fallback also answers
