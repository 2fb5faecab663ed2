"""Covers forecasts per restaurant and day, with P10-P90 intervals.

The champion ``covers_demand`` carries its ``DemandForecaster``; serving
forecasts from today's origin with the inputs the nightly flow builds
(``pipelines.nightly.demand_features``, so serving and the gate read the
ledger the same way). That costs a read of the ledger, so the forecast is
made once per (model version, origin day) and kept.

Without a champion, the documented baseline answers:
``models.demand.WeekdayMedianBaseline``, the restaurant's median covers on
that weekday (P10/P90 the same weekday's quantiles) over its history.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from booking_core.ledger import Ledger
from models.demand import WeekdayMedianBaseline
from models.extract import LedgerSnapshot
from pipelines.nightly import DEMAND_HORIZON, demand_features
from serving.champions import DEMAND, Champions

BASELINE_NAME = "weekday median of past covers"


@dataclass(frozen=True)
class Forecast:
    origin: date
    table: pl.DataFrame  # restaurant_id, date, p10, p50, p90
    model_version: str | None
    source: str  # "champion" or "baseline"


class ForecastBook:
    def __init__(self, ledger: Ledger, champions: Champions) -> None:
        self.ledger = ledger
        self.champions = champions
        self._made: dict[tuple[str | None, date], Forecast] = {}
        self._lock = threading.Lock()

    @property
    def horizon(self) -> int:
        return DEMAND_HORIZON

    def forecast(self, today: date | None = None) -> Forecast:
        today = today or self.ledger.clock().date()
        loaded = self.champions.get(DEMAND)
        version = loaded.version if loaded else None
        key = (version, today)
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
            return Forecast(today, _EMPTY, None, "baseline")
        else:
            baseline = WeekdayMedianBaseline(horizon=DEMAND_HORIZON).fit(inputs.history)
            out = baseline.predict(inputs.origin, history=inputs.history)
            source, version = "baseline", None
        table = out.select("restaurant_id", "date", "p10", "p50", "p90")
        return Forecast(today, table, version, source)


_EMPTY = pl.DataFrame(
    schema={
        "restaurant_id": pl.Int64,
        "date": pl.Date,
        "p10": pl.Float64,
        "p50": pl.Float64,
        "p90": pl.Float64,
    }
)
