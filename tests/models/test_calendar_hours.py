"""Demand features read each date's own timetable: a weekday the restaurant
stopped serving from a date is closed from then on, not before, and a
special date still decides its own day."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from models.features import _calendar

MONDAY = date(2026, 3, 2)
CHANGE = date(2026, 3, 16)


def test_open_follows_the_timetable_in_force_on_each_date() -> None:
    days = [MONDAY + timedelta(d) for d in range(28)]
    frame = pl.DataFrame({"restaurant_id": [1] * len(days), "service_date": days})
    frames = {
        "restaurants": pl.DataFrame({"id": [1], "country": ["GB"]}),
        # Every day at first; from the 16th, Tuesday to Saturday only.
        "service_periods": pl.DataFrame(
            {
                "restaurant_id": [1] * 12,
                "weekday": [*range(7), *range(1, 6)],
                "effective_from": [None] * 7 + [CHANGE] * 5,
            },
            schema_overrides={"effective_from": pl.Date},
        ),
        "special_dates": pl.DataFrame(
            {"restaurant_id": [1], "local_date": [CHANGE + timedelta(6)], "closed": [False]}
        ),
    }
    out = _calendar(frame, frames)
    assert out["service_date"].to_list() == days  # order kept
    closed = set(out.filter(~pl.col("open"))["service_date"].to_list())
    # Mondays from the 16th; Sundays from the 16th except the 22nd, opened specially.
    assert closed == {CHANGE, CHANGE + timedelta(7), CHANGE + timedelta(13)}
