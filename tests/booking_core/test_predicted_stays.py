"""Predicted booked stays and time steering in the booking core.

A restaurant set to ``booked_stays = "predicted"`` holds each booking's
table for the stay a plugged-in ``StayForecast`` predicts (bounded, and the
turn time where there is no forecast or no answer); one set to turn times
ignores any forecast. With admission control, a search says what each time
displaces from the parties still expected and recommends the least."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from booking_core.availability import BookableTime, find_times, recommend
from booking_core.daybook import table_policy
from booking_core.errors import InvalidRequest, NoTableFree
from booking_core.floor import Floor
from booking_core.ledger import Ledger
from booking_core.reservations import book, modify, seat_walk_in
from booking_core.restaurants import (
    PeriodSpec,
    TableSpec,
    add_restaurant,
    get_seating_settings,
    set_seating_settings,
    set_table_policy,
)
from booking_core.stays import BookedStays, stay_forecast
from optimizer.pooled_policy import PooledAcceptance
from tests.booking_core.test_table_policy import DAY, book_past_nights, request_at, three_tables
from tests.conftest import bistro_spec, outbox_payloads


@dataclass
class FixedStays:
    """A stay forecast that answers ``minutes`` for every start (None: no
    answer) and remembers what it was asked."""

    answer: int | None
    asked: list[tuple[int, int, str]] = field(default_factory=list)

    def minutes(
        self,
        ledger: Ledger,
        floor: Floor,
        party_size: int,
        starts: Sequence[datetime],
        *,
        channel: str,
    ) -> list[int | None]:
        self.asked.append((party_size, len(starts), str(channel)))
        return [self.answer] * len(starts)


class BrokenStays:
    def minutes(
        self,
        ledger: Ledger,
        floor: Floor,
        party_size: int,
        starts: Sequence[datetime],
        *,
        channel: str,
    ) -> list[int | None]:
        raise RuntimeError("the model is gone")


@pytest.fixture(autouse=True)
def no_forecast_plugged_in() -> Iterator[None]:
    before = stay_forecast.forecast
    stay_forecast.forecast = None
    yield
    stay_forecast.forecast = before


def one_table(ledger: Ledger, booked_stays: str = "predicted") -> int:
    """One table for two; dinner 17:00-23:00 (London is on UTC in March),
    90 minutes for two, 120 for four."""
    spec = bistro_spec(
        name=f"One Table {booked_stays}",
        tables=(TableSpec("A", "Main", 1, 2),),
        combinations=(),
        periods=(
            PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {2: 90, 4: 120}),
        ),
        deposit_min_party=None,
        booked_stays=booked_stays,
    )
    return add_restaurant(ledger, spec)


def test_the_setting_round_trips_and_refuses_unknown_values(ledger: Ledger, bistro: int) -> None:
    assert get_seating_settings(ledger, bistro).booked_stays is BookedStays.TURN_TIMES
    on = set_seating_settings(ledger, bistro, "lock_at_booking", booked_stays="predicted")
    assert on.booked_stays is BookedStays.PREDICTED
    assert get_seating_settings(ledger, bistro) == on
    set_table_policy(ledger, bistro, "pooled")  # a policy change keeps it
    assert get_seating_settings(ledger, bistro).booked_stays is BookedStays.PREDICTED
    with pytest.raises(InvalidRequest, match="'turn_times' or 'predicted'"):
        set_seating_settings(ledger, bistro, "pooled", booked_stays="median")
    assert set_seating_settings(ledger, bistro, "pooled").booked_stays is BookedStays.TURN_TIMES
    assert outbox_payloads(ledger, "restaurant.booked_stays_set") == [
        {"booked_stays": "predicted"},
        {"booked_stays": "turn_times"},
    ]


def test_a_predicted_stay_is_booked_and_the_turn_time_without_one(ledger: Ledger) -> None:
    rid = one_table(ledger)
    # No forecast plugged in: the turn time.
    plain = book(ledger, request_at(rid, DAY, "17:00", 2))
    assert plain.end_at - plain.start_at == timedelta(minutes=90)
    forecast = stay_forecast.forecast = FixedStays(45)
    taken = book(ledger, request_at(rid, DAY, "19:00", 2))
    assert taken.end_at - taken.start_at == timedelta(minutes=45)
    assert forecast.asked == [(2, 1, "web")]  # one question per booking
    # No answer for this party: the turn time again.
    forecast.answer = None
    late = book(ledger, request_at(rid, DAY, "21:00", 2))
    assert late.end_at - late.start_at == timedelta(minutes=90)
    # A stay between granules holds the table to the next one, as turn times do.
    forecast.answer = 50
    moved = modify(ledger, taken.id, local_time="19:15")
    assert moved.end_at - moved.start_at == timedelta(minutes=60)
    # A restaurant booking turn times never asks.
    asked = len(forecast.asked)
    other = book(ledger, request_at(one_table(ledger, "turn_times"), DAY, "19:00", 2))
    assert other.end_at - other.start_at == timedelta(minutes=90)
    assert len(forecast.asked) == asked


def test_a_short_predicted_stay_frees_the_table_for_a_second_party(ledger: Ledger) -> None:
    stay_forecast.forecast = FixedStays(60)
    predicted, turns = one_table(ledger), one_table(ledger, "turn_times")
    for rid in (predicted, turns):
        book(ledger, request_at(rid, DAY, "18:00", 2))
    # Booked for its turn time, the first party holds the table until 19:30.
    assert "19:00" not in {t.local_time for t in find_times(ledger, turns, DAY, 2)}
    with pytest.raises(NoTableFree):
        book(ledger, request_at(turns, DAY, "19:00", 2))
    # Booked for its predicted hour, it is free again at 19:00.
    offered = {t.local_time: t for t in find_times(ledger, predicted, DAY, 2)}
    assert "19:00" in offered and "18:45" not in offered
    assert offered["19:00"].end_at - offered["19:00"].start_at == timedelta(minutes=60)
    second = book(ledger, request_at(predicted, DAY, "19:00", 2))
    assert second.end_at - second.start_at == timedelta(minutes=60)


@pytest.mark.parametrize(
    ("answer", "held"),
    [(5, 15), (0, 15), (-30, 15), (1000, 120 + 60), (180, 180)],
)
def test_a_predicted_stay_is_bounded(ledger: Ledger, answer: int, held: int) -> None:
    """Never under 15 minutes, never over the longest turn time plus an hour."""
    rid = one_table(ledger)
    stay_forecast.forecast = FixedStays(answer)
    taken = book(ledger, request_at(rid, DAY, "19:00", 2))
    assert taken.end_at - taken.start_at == timedelta(minutes=held)


def test_a_failing_forecast_books_the_turn_time(ledger: Ledger) -> None:
    rid = one_table(ledger)
    stay_forecast.forecast = BrokenStays()
    taken = book(ledger, request_at(rid, DAY, "19:00", 2))
    assert taken.end_at - taken.start_at == timedelta(minutes=90)
    assert {t.local_time for t in find_times(ledger, rid, DAY, 2)} >= {"17:00", "21:30"}


def test_a_walk_in_is_seated_for_its_predicted_stay(ledger: Ledger) -> None:
    rid = one_table(ledger)
    forecast = stay_forecast.forecast = FixedStays(40)
    now = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=18)
    seated = seat_walk_in(ledger, rid, 2, now=now)
    assert seated.end_at - seated.start_at == timedelta(minutes=40)
    assert forecast.asked == [(2, 1, "walk_in")]


def test_a_search_asks_the_forecast_once(ledger: Ledger) -> None:
    rid = one_table(ledger)
    forecast = stay_forecast.forecast = FixedStays(60)
    times = find_times(ledger, rid, DAY, 2)
    assert len(times) == 19  # 17:00 to 21:30 every 15 minutes
    assert forecast.asked == [(2, 19, "web")]


# ---------------------------------------------------------------- steering


@pytest.fixture
def admission_plugged_in() -> Iterator[None]:
    before = table_policy.admission
    table_policy.admission = PooledAcceptance(pool=False, time_limit_s=5.0)
    yield
    table_policy.admission = before


def test_steering_recommends_the_time_that_displaces_least(
    ledger: Ledger, admission_plugged_in: None
) -> None:
    rid, _ = three_tables(ledger, "lock_at_booking", admission_control=True)
    book_past_nights(ledger, rid)
    book(ledger, request_at(rid, DAY, "19:00", 2))
    # A four at 17:00 holds B until 19:00, into the fours expected at 19:00
    # less than one at 17:30 does; at 21:15 it is clear of them.
    early = find_times(ledger, rid, DAY, 4, earliest="17:00", latest="18:00")
    priced = {t.local_time: t.displaced_covers for t in early}
    assert all(d is not None for d in priced.values())
    assert priced["17:00"] < priced["17:15"] < priced["17:30"]  # type: ignore[operator]
    assert [t.local_time for t in early if t.recommended] == ["17:00"]
    late = find_times(ledger, rid, DAY, 4, earliest="20:30", latest="21:30")
    assert [t.local_time for t in late if t.recommended] == ["21:15", "21:30"]
    assert {t.displaced_covers for t in late if t.recommended} == {0.0}
    # Without admission control nothing is priced nor recommended.
    set_seating_settings(ledger, rid, "lock_at_booking", admission_control=False)
    plain = find_times(ledger, rid, DAY, 4, earliest="17:00", latest="18:00")
    assert plain and all(t.displaced_covers is None and not t.recommended for t in plain)


def test_steering_with_predicted_stays_prices_the_predicted_stay(
    ledger: Ledger, admission_plugged_in: None
) -> None:
    rid, _ = three_tables(ledger, "lock_at_booking", admission_control=True)
    book_past_nights(ledger, rid)
    book(ledger, request_at(rid, DAY, "19:00", 2))
    before = {t.local_time: t.displaced_covers for t in find_times(ledger, rid, DAY, 4)}
    set_seating_settings(
        ledger, rid, "lock_at_booking", admission_control=True, booked_stays="predicted"
    )
    stay_forecast.forecast = FixedStays(60)
    after = {t.local_time: t for t in find_times(ledger, rid, DAY, 4)}
    # A four booked for an hour at 17:30 is gone before the 19:00 fours come.
    assert before["17:30"] and before["17:30"] > 0
    assert after["17:30"].displaced_covers == 0.0 and after["17:30"].recommended


def _time(local: str, displaced: float | None) -> BookableTime:
    at = datetime(2026, 3, 10, 19, tzinfo=UTC)
    return BookableTime(local, at, at, "dinner", (1,), displaced)


def test_recommend_marks_every_least_displacing_time_and_nothing_unpriced() -> None:
    marked = recommend([_time("18:00", 2.0), _time("18:15", 0.5), _time("18:30", 0.5)])
    assert [t.recommended for t in marked] == [False, True, True]
    assert not any(t.recommended for t in recommend([_time("18:00", None)]))
    assert recommend([]) == []
