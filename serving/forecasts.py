"""Covers forecasts per restaurant and day, with P10-P90 intervals.

The champion ``covers_demand`` carries its ``DemandForecaster``; serving
forecasts from today's origin with the inputs the nightly flow builds
(``pipelines.nightly.demand_features``, so serving and the gate read the
ledger the same way). That costs a read of the ledger, so the forecast is
made once per (model version, origin day, restaurants' state) and kept. The
restaurants' state is one small query per request (``restaurants_state``):
how many restaurants there are, the highest id and the sum of their floor
versions, which every change of hours, special dates, tables or seating
settings bumps. A restaurant opened or a day closed since shows on the next
read; a booking alone does not remake the forecast.

Without a champion, the documented baseline answers:
``models.demand.WeekdayMedianBaseline``, the restaurant's median covers on
that weekday (P10/P90 the same weekday's quantiles) over its history.

A restaurant with fewer than ``models.cold_start.MIN_HISTORY_DAYS`` recorded
days of covers (one just opened) is forecast by
``models.cold_start.ColdStartForecaster``, whether the champion or the
baseline answers for the others: the covers per seat of restaurants like
it on that weekday, times its seats, at least what it has on the books,
nothing on the days it is closed. Its rows say so (``Forecast.source_of``);
every other restaurant's rows are those the champion or the baseline made.

Whichever source made them, the rows of a day the restaurant is closed (its
weekly timetable in force on that date, or a closure on its special dates,
as ``models.features.service_calendar`` reads them) say P10 = P50 = P90 =
the covers still booked on that day: 0, or the bookings taken before the
closure, which the restaurant must honour or call (``_closed_days``). A
restaurant without any timetable has unknown opening days and keeps its
rows. The models themselves, and how they are trained and scored, see
nothing of this.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
import sqlalchemy as sa

from booking_core.ledger import Ledger
from booking_core.schema import restaurants
from models.cold_start import ColdStartForecaster, ColdStartInputs, cold_start_inputs
from models.demand import WeekdayMedianBaseline
from models.extract import LedgerSnapshot
from pipelines.nightly import DEMAND_HORIZON, DemandInputs, demand_features
from serving.champions import DEMAND, Champions

BASELINE_NAME = "weekday median of past covers"
COLD_START = "cold_start"
COLD_START_NAME = (
    "covers per seat of similar restaurants on that weekday times its seats, "
    "at least its booked covers, none on closed days"
)


@dataclass(frozen=True)
class Forecast:
    origin: date
    table: pl.DataFrame  # restaurant_id, date, p10, p50, p90
    model_version: str | None
    source: str  # "champion" or "baseline"
    # Restaurants whose rows the cold start made, with the peers it used.
    cold_start: Mapping[int, str] = field(default_factory=dict)

    def source_of(self, restaurant_id: int) -> str:
        """The source of a restaurant's rows: the cold start's for a newcomer,
        else the table's."""
        return COLD_START if restaurant_id in self.cold_start else self.source

    def version_of(self, restaurant_id: int) -> str | None:
        """The model version behind a restaurant's rows (None: no model)."""
        return None if restaurant_id in self.cold_start else self.model_version


RestaurantsState = tuple[int, int, int]
"""(restaurants, highest id, sum of floor versions): changes when a
restaurant is added or its hours, special dates, tables or settings change."""

_STATE = sa.select(
    sa.func.count(restaurants.c.id),
    sa.func.coalesce(sa.func.max(restaurants.c.id), 0),
    sa.func.coalesce(sa.func.sum(restaurants.c.floor_version), 0),
)


def restaurants_state(ledger: Ledger) -> RestaurantsState:
    """The restaurants' state a forecast was made from, in one small query."""
    with ledger.read() as conn:
        count, highest, floors = conn.execute(_STATE).one()
    return int(count), int(highest), int(floors)


class ForecastBook:
    def __init__(self, ledger: Ledger, champions: Champions) -> None:
        self.ledger = ledger
        self.champions = champions
        self._made: dict[tuple[str | None, date, RestaurantsState], Forecast] = {}
        self._lock = threading.Lock()

    @property
    def horizon(self) -> int:
        return DEMAND_HORIZON

    def forecast(self, today: date | None = None) -> Forecast:
        today = today or self.ledger.clock().date()
        loaded = self.champions.get(DEMAND)
        version = loaded.version if loaded else None
        # Read before the ledger snapshot the forecast is made from, so a
        # forecast is never older than the state it is kept under.
        key = (version, today, restaurants_state(self.ledger))
        with self._lock:
            found = self._made.get(key)
            if found is None:
                found = self._make(today, loaded.estimator if loaded else None, version)
                self._made = {key: found}  # keep only the current one
            return found

    def _make(self, today: date, table_model: object, version: str | None) -> Forecast:
        # demand_features forecasts from DEMAND_HORIZON days before its as_of.
        as_of = datetime.combine(today + timedelta(days=DEMAND_HORIZON), time(), tzinfo=UTC)
        with LedgerSnapshot.from_ledger(self.ledger) as snapshot:
            frames = snapshot.frames()
        inputs = demand_features.fn(frames, as_of)
        forecaster = getattr(table_model, "forecaster", None)
        if forecaster is not None and not inputs.history.is_empty():
            out = forecaster.predict(
                inputs.origin,
                history=inputs.history,
                on_books=inputs.on_books,
                holidays=inputs.holidays,
                restaurants=inputs.restaurants,
            )
            source = "champion"
        elif inputs.history.is_empty():
            # No restaurant has covers yet: no peers for a cold start either.
            return Forecast(today, _EMPTY, None, "baseline")
        else:
            baseline = WeekdayMedianBaseline(horizon=DEMAND_HORIZON).fit(inputs.history)
            out = baseline.predict(inputs.origin, history=inputs.history)
            source, version = "baseline", None
        table = out.select("restaurant_id", "date", "p10", "p50", "p90")
        data = cold_start_inputs(frames, today, horizon=DEMAND_HORIZON)
        table, cold = _with_cold_start(table, data, inputs, today)
        return Forecast(today, _closed_days(table, data), version, source, cold)


def _closed_days(table: pl.DataFrame, data: ColdStartInputs) -> pl.DataFrame:
    """``table`` with P10, P50 and P90 of every day its restaurant is closed
    set to the covers still booked on it (0 when none): the one place every
    source's rows pass through. Days open, or of unknown opening (no
    timetable), keep their rows."""
    keys = ["restaurant_id", "date"]
    days = data.calendar.join(data.books, on=keys, how="left").select(
        *(pl.col(k).cast(table.schema[k]) for k in keys), "open", "booked_covers"
    )
    marked = table.join(days, on=keys, how="left", maintain_order="left")
    closed = pl.col("open").not_().fill_null(False)
    booked = pl.col("booked_covers").fill_null(0).cast(pl.Float64)
    return marked.with_columns(
        pl.when(closed).then(booked).otherwise(pl.col(q)).cast(table.schema[q]).alias(q)
        for q in ("p10", "p50", "p90")
    ).select(table.columns)


def _with_cold_start(
    table: pl.DataFrame, data: ColdStartInputs, inputs: DemandInputs, today: date
) -> tuple[pl.DataFrame, dict[int, str]]:
    """``table`` with the newcomers' rows made (or replaced) by the cold
    start; the rows of restaurants with enough history stay as they are."""
    model = ColdStartForecaster(horizon=DEMAND_HORIZON).fit(
        inputs.history, restaurants=data.restaurants
    )
    newcomers = model.newcomers(data.restaurants["restaurant_id"].to_list())
    if not newcomers:
        return table, {}
    out = model.predict(
        today,
        restaurants=data.restaurants.filter(pl.col("restaurant_id").is_in(newcomers)),
        calendar=data.calendar,
        books=data.books,
    )
    if out.is_empty():
        return table, {}
    made = out.group_by("restaurant_id").agg(pl.col("peers").first(), pl.col("n_peers").first())
    cold = {
        int(row["restaurant_id"]): f"{row['n_peers']} restaurants, {row['peers']}"
        for row in made.iter_rows(named=True)
    }
    kept = table.filter(~pl.col("restaurant_id").is_in(list(cold)))
    rows = out.select(pl.col(c).cast(t) for c, t in table.schema.items())
    return pl.concat([kept, rows]).sort("restaurant_id", "date"), cold


_EMPTY = pl.DataFrame(
    schema={
        "restaurant_id": pl.Int64,
        "date": pl.Date,
        "p10": pl.Float64,
        "p50": pl.Float64,
        "p90": pl.Float64,
    }
)
