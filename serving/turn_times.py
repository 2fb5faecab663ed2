"""How long a party will hold its table: the ``dining_duration`` champion's
median (P50) when one is loaded, else the restaurant's own turn time for
the party size in that service (the documented baseline). The seating
optimizer receives these as plain minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
import sqlalchemy as sa

from booking_core.floor import Floor
from booking_core.schema import dining_areas
from booking_core.slots import service_date_of
from models.tracking import to_pandas_input
from serving.champions import Loaded

BASELINE_NAME = "the restaurant's turn time for the party size"
DEFAULT_TURN_MIN = 90  # a party outside any service period (should not happen)
log = logging.getLogger("servicesphere.seating")


@dataclass(frozen=True)
class TurnQuery:
    """One party whose turn time is wanted; ``area`` is the dining area's
    name when the party has a table (the model treats None as unknown)."""

    reservation_id: int
    party_size: int
    channel: str
    start_at: datetime
    area: str | None = None


class TurnTimes:
    def __init__(self, champion: Loaded | None) -> None:
        self.champion = champion

    @property
    def source(self) -> str:
        return "champion" if self.champion is not None else "baseline"

    @property
    def label(self) -> str:
        return self.champion.label if self.champion is not None else f"baseline: {BASELINE_NAME}"

    @property
    def version(self) -> str | None:
        return self.champion.version if self.champion is not None else None

    def baseline(self, floor: Floor, query: TurnQuery) -> int:
        found = service_date_of(floor, query.start_at)
        return found[1].turn_time(query.party_size) if found else DEFAULT_TURN_MIN

    def minutes(self, floor: Floor, price_tier: int, queries: Sequence[TurnQuery]) -> list[int]:
        """Predicted minutes at the table, one per query (at least one minute)."""
        if not queries:
            return []
        if self.champion is not None:
            try:
                return self._predict(self.champion, floor, price_tier, queries)
            except Exception:  # a model that cannot score this frame: the baseline answers
                log.exception("turn-time model failed", extra={"model": self.champion.label})
        return [self.baseline(floor, q) for q in queries]

    def _predict(
        self, champion: Loaded, floor: Floor, price_tier: int, queries: Sequence[TurnQuery]
    ) -> list[int]:
        (p50,) = _quantiles(champion, floor, price_tier, queries, ("p50",))
        return [
            max(1, round(float(m))) if np.isfinite(m) else self.baseline(floor, q)
            for m, q in zip(p50, queries, strict=True)
        ]

    def quantiles(
        self, floor: Floor, price_tier: int, queries: Sequence[TurnQuery]
    ) -> list[tuple[float, float] | None] | None:
        """The champion's predicted P50 and P90 minutes at the table, one pair
        per query (None where it gave no finite pair); None without a
        champion, or when it cannot score this frame (no P90, say)."""
        if self.champion is None or not queries:
            return None
        try:
            p50, p90 = _quantiles(self.champion, floor, price_tier, queries, ("p50", "p90"))
            pairs = list(zip(p50, p90, strict=True))
        except Exception:
            log.exception("turn-time model failed", extra={"model": self.champion.label})
            return None
        return [
            (float(a), float(b)) if np.isfinite(a) and np.isfinite(b) and a > 0 else None
            for a, b in pairs
        ]


def _quantiles(
    champion: Loaded,
    floor: Floor,
    price_tier: int,
    queries: Sequence[TurnQuery],
    names: Sequence[str],
) -> list[np.ndarray]:
    """The champion's quantile columns ``names`` (``p50``, ``p90``) for the queries."""
    local = [q.start_at.astimezone(floor.zone) for q in queries]
    frame = pl.DataFrame(
        {
            "reservation_id": [q.reservation_id for q in queries],
            "restaurant_id": [floor.restaurant_id] * len(queries),
            "channel": [q.channel for q in queries],
            "area": [q.area for q in queries],
            "party_size": [q.party_size for q in queries],
            "local_hour": [t.hour for t in local],
            "weekday": [t.weekday() for t in local],
            "price_tier": [price_tier] * len(queries),
        },
        schema={
            "reservation_id": pl.Int64,
            "restaurant_id": pl.Int64,
            "channel": pl.String,
            "area": pl.String,
            "party_size": pl.Int64,
            "local_hour": pl.Int8,
            "weekday": pl.Int8,
            "price_tier": pl.Int64,
        },
    )
    if champion.estimator is not None and hasattr(champion.estimator, "predict"):
        out = champion.estimator.predict(frame)
        return [out.get_column(name).to_numpy() for name in names]
    out = champion.pyfunc.predict(to_pandas_input(frame))
    return [np.asarray(out[name]) for name in names]


def floor_area_name(conn: sa.Connection, area_id: int) -> str | None:
    """The dining area's name, as the duration model knows areas."""
    name = conn.execute(sa.select(dining_areas.c.name).where(dining_areas.c.id == area_id)).scalar()
    return str(name) if name is not None else None


__all__ = ["BASELINE_NAME", "TurnQuery", "TurnTimes", "floor_area_name"]
