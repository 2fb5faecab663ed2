"""Predicted stays for restaurants that book them (``booked_stays =
"predicted"``): the booking core's ``StayForecast``, plugged in by the app.

A party is booked for P50 + k x (P90 - P50) of its predicted stay, rounded
up to 5 minutes, plus the reset of the table (the rule the seating
simulator found to seat more covers without more long waits:
``optimizer.simulation.SeatingPolicy.stay_minutes``). P50 and P90 come from
the ``dining_duration`` champion (k = ``SPREAD_MARGIN``), or, without one,
from the restaurant's own past stays of that party size (the per-size
baseline, k = ``BASELINE_SPREAD_MARGIN``); with ``MARGIN_BY_SCARCITY`` k
shrinks with the share of the floor's tables that seat the party (a party
many tables can seat rarely waits when the one before overstays). A size
with too few past stays gets no answer, and the booking core then books its
turn time.

Booking and search are the hot path: answers are kept (in the ledger's
caches) per restaurant, floor version, model version, party size, channel
and seating time, and a request asks the model at most once (for every
seating time it needs); the past stays are read once a day.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa

from booking_core.domain import ReservationState
from booking_core.floor import Floor
from booking_core.ledger import Ledger
from booking_core.past_demand import LOOKBACK_DAYS
from booking_core.schema import reservations
from optimizer.plan import PlanSettings
from optimizer.simulation import (
    BASELINE_SPREAD_MARGIN,
    MARGIN_BY_SCARCITY,
    SPREAD_MARGIN,
    scarcity_margin,
    stay_with_margin,
)
from serving.champions import DURATION, Champions
from serving.turn_times import TurnQuery, TurnTimes

# The table's reset, added to the stay as the seating plan adds it.
RESET_MINUTES = PlanSettings().reset_minutes
# Fewer past stays of a party size than this: no baseline for that size.
MIN_PAST_STAYS = 20
# Answers kept per process (a bound, not an eviction policy).
CACHE_BOUND = 50_000

Quantiles = tuple[float, float]


def booked_stay(p50: float, p90: float, k: float) -> int:
    """Minutes booked for a stay predicted at ``p50`` / ``p90``, reset included."""
    return stay_with_margin(p50, p90, k) + RESET_MINUTES


def margin(k: float, floor: Floor, party_size: int) -> float:
    """The margin k for a party of ``party_size`` on the floor as it is
    (tables out of service left out), as the simulator replays it."""
    return scarcity_margin(k, floor.tables.values(), party_size) if MARGIN_BY_SCARCITY else k


class PredictedStays:
    """``booking_core.stays.StayForecast`` from the duration champion (or
    the restaurant's past stays per size)."""

    def __init__(self, champions: Champions) -> None:
        self.champions = champions
        self._lock = threading.Lock()
        self.model_calls = 0  # how often the model was asked (the cache's misses)

    def minutes(
        self,
        ledger: Ledger,
        floor: Floor,
        party_size: int,
        starts: Sequence[datetime],
        *,
        channel: str,
    ) -> list[int | None]:
        champion = self.champions.get(DURATION)
        version = champion.version if champion is not None else None
        base = (floor.restaurant_id, floor.floor_version, version, party_size, str(channel))
        keys = [(*base, start) for start in starts]
        cache = ledger.cache("predicted_stays")
        with self._lock:
            found = {k: cache[k] for k in keys if k in cache}
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            answers = self._predict(
                ledger, floor, party_size, [k[-1] for k in missing], str(channel)
            )
            fresh = dict(zip(missing, answers, strict=True))
            with self._lock:
                if len(cache) + len(fresh) > CACHE_BOUND:
                    cache.clear()
                cache.update(fresh)
            found.update(fresh)
        return [found[k] for k in keys]

    def _predict(
        self, ledger: Ledger, floor: Floor, party_size: int, starts: list[datetime], channel: str
    ) -> list[int | None]:
        turn_times = TurnTimes(self.champions.get(DURATION))
        queries = [TurnQuery(0, party_size, channel, start) for start in starts]
        if turn_times.champion is not None:
            self.model_calls += 1
            pairs = turn_times.quantiles(floor, floor.price_tier, queries)
            if pairs is not None:
                k = margin(SPREAD_MARGIN, floor, party_size)
                return [None if q is None else booked_stay(*q, k) for q in pairs]
        past = self._past_stays(ledger, floor).get(party_size)
        if past is None:
            return [None] * len(starts)
        k = margin(BASELINE_SPREAD_MARGIN, floor, party_size)
        return [booked_stay(past[0], past[1], k)] * len(starts)

    def _past_stays(self, ledger: Ledger, floor: Floor) -> dict[int, Quantiles]:
        """P50 and P90 of the restaurant's past stays (seated to completed) per
        party size over the last ``LOOKBACK_DAYS``, read once a day."""
        today = ledger.clock().astimezone(floor.zone).date()
        key = (floor.restaurant_id, today)
        cache = ledger.cache("past_stays")
        with self._lock:
            known = cache.get(key)
        if known is not None:
            return known
        since = datetime.combine(today, datetime.min.time(), tzinfo=floor.zone) - timedelta(
            days=LOOKBACK_DAYS
        )
        stays: dict[int, list[float]] = {}
        with ledger.read() as conn:
            for size, seated, done in conn.execute(
                sa.select(
                    reservations.c.party_size,
                    reservations.c.seated_at,
                    reservations.c.completed_at,
                ).where(
                    reservations.c.restaurant_id == floor.restaurant_id,
                    reservations.c.state == ReservationState.COMPLETED.value,
                    reservations.c.seated_at >= since,
                    reservations.c.completed_at.is_not(None),
                )
            ):
                minutes = (done - seated).total_seconds() / 60
                if minutes > 0:
                    stays.setdefault(int(size), []).append(minutes)
        found = {
            size: (float(np.quantile(v, 0.5)), float(np.quantile(v, 0.9)))
            for size, v in stays.items()
            if len(v) >= MIN_PAST_STAYS
        }
        with self._lock:
            if len(cache) > 4096:
                cache.clear()
            cache[key] = found
        return found


__all__ = ["PredictedStays", "booked_stay"]
