"""Nights to replay: request streams shaped from a restaurant's past bookings
(the synthetic world's ledger, or the Recruit reservations), scaled to a load.

What happens each night (who comes, how late, how long they stay) is drawn
here, once, from the world's own laws (``booking_core.world.people``): every
policy then replays the same night. Predictions come in two kinds:

- ``model``: what the learning loop's models give, i.e. the truth seen
  through noise (log-normal 0.1 on durations, normal 0.5 on the no-show
  logit; the trained models are at least this close on the demo world, see
  ``benchmarks/models.py``);
- ``baseline``: no trained model: per party size, the median and spread of
  how long the restaurant's past parties stayed (``past_durations_by_size``),
  and the historical no-show rate. (Lock-at-booking, as hosts do today,
  books the restaurant's turn time per size whatever the predictions.)

Either way the night carries the per-size past stays (``Night.past_stays``):
what bid-price admission expects a request still to come to be booked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from booking_core.floor import Table
from booking_core.world.people import attendance_truth, median_duration
from optimizer.bid_price import DemandHistory
from optimizer.service import FloorPlan
from optimizer.simulation import Night, Request

DURATION_SPREAD = 0.2  # the world's log-normal sigma around the median


def world_turn_times(price_tier: int = 2) -> tuple[tuple[int, int], ...]:
    """The turn times the synthetic world's restaurants book dinner with."""
    base = ((2, 90), (4, 120), (6, 135), (8, 150), (40, 180))
    factor = 0.9 + 0.08 * price_tier
    return tuple((size, max(60, round(m * factor / 15.0) * 15)) for size, m in base)


DINNER_TURN_TIMES = world_turn_times(2)


@dataclass(frozen=True, slots=True)
class PastBooking:
    """One past booking, as the night generator needs it."""

    size: int
    start_minute: int  # minutes after the service opened
    lead_minutes: int  # how long before its time it was booked
    no_show_risk: float | None = None  # the truth when known (synthetic world)
    median_minutes: float | None = None  # the truth when known
    accessible: bool = False


def standard_floor(n_tables: int, seed: int = 0) -> FloorPlan:
    """A floor of two-, four-, six- and eight-tops in two rooms, neighbouring
    tables of the same size joinable, as the synthetic world lays them out."""
    rng = np.random.default_rng(seed)
    shares = np.array([0.42, 0.38, 0.13, 0.07])
    counts = np.maximum(np.round(shares * n_tables).astype(int), [2, 2, 1, 0])
    tables: list[Table] = []
    for seats, count in zip((2, 4, 6, 8), counts, strict=True):
        for _ in range(int(count)):
            i = len(tables) + 1
            area = 1 if rng.random() < 0.75 else 2
            tables.append(
                Table(
                    i,
                    f"T{i}",
                    area,
                    1 if seats == 2 else seats // 2,
                    seats,
                    accessible=bool(rng.random() < 0.3),
                )
            )
    combos = []
    for seats in (2, 4):
        group = [t for t in tables if t.max_covers == seats]
        for a, b in zip(group[::2], group[1::2], strict=False):
            combos.append(((a.id, b.id), seats + 1, 2 * seats))
    return FloorPlan.build(tables, combos)


def generated_history(
    n: int, *, seed: int = 0, price_tier: int = 2, weekday: int = 5
) -> list[PastBooking]:
    """Past bookings drawn straight from the world's laws, for a restaurant
    whose ledger is not at hand (tests, the what-if notebook's defaults)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        size = int(
            rng.choice([1, 2, 3, 4, 5, 6, 7, 8], p=[0.05, 0.45, 0.12, 0.2, 0.06, 0.07, 0.02, 0.03])
        )
        minute = int(np.clip(rng.normal(150, 75), 0, 300)) // 15 * 15
        lead = int(rng.exponential(4 * 1440)) + 30
        channel = str(rng.choice(["web", "widget", "affiliate", "phone"], p=[0.5, 0.2, 0.1, 0.2]))
        _, p_ns, _ = attendance_truth(
            lead_hours=lead / 60,
            party_size=size,
            deposit=False,
            weekday=weekday,
            channel=channel,
            has_request=bool(rng.random() < 0.2),
            flakiness=float(rng.normal()),
            noise_ns=float(rng.normal(0, 0.15)),
            noise_c=0.0,
        )
        median = median_duration(
            party_size=size,
            price_tier=price_tier,
            lunch=False,
            weekday=weekday,
            local_minute=18 * 60 + minute,
            area="Main room",
            restaurant_pace=1.0,
        )
        out.append(PastBooking(size, minute, lead, p_ns, median, bool(rng.random() < 0.03)))
    return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def make_night(
    name: str,
    floor: FloorPlan,
    history: Sequence[PastBooking],
    *,
    load: float,
    seed: int,
    turn_times: tuple[tuple[int, int], ...] = DINNER_TURN_TIMES,
    last_seating: int = 270,
    closes: int = 360,
    predictions: str = "model",
    reset_minutes: int = 10,
) -> Night:
    """A night whose requests ask for ``load`` times the table-minutes the
    floor has (1.0: every table busy from opening to last seating plus a turn,
    if the requests could be packed perfectly)."""
    if predictions not in ("model", "baseline"):
        raise ValueError(f"predictions is 'model' or 'baseline', not {predictions!r}")
    usable = [h for h in history if h.size <= floor.largest_party]
    if not usable:
        raise ValueError(f"{name}: no past booking fits this floor")
    rng = np.random.default_rng(seed)
    night = Night(name, floor, turn_times, last_seating, closes, (), reset_minutes)
    mean_turn = float(np.mean([night.turn_time(h.size) for h in usable]))
    table_minutes = len(floor.tables) * (last_seating + mean_turn)
    n = max(1, round(load * table_minutes / mean_turn))
    known = [h.no_show_risk for h in usable if h.no_show_risk is not None]
    base_rate = float(np.mean(known)) if known else 0.08
    picks = rng.integers(0, len(usable), size=n)
    by_size = past_durations_by_size(usable, seed=seed + 7919)
    raw = []
    for k in picks:
        h = usable[int(k)]
        start = int(np.clip(h.start_minute + 15 * rng.integers(-1, 2), 0, last_seating))
        start -= start % 15
        risk = h.no_show_risk if h.no_show_risk is not None else base_rate
        median = _median_of(h, start)
        shows = bool(rng.random() >= risk)
        late = int(np.clip(round(rng.normal(3, 7)), -10, NO_LATER))
        actual = max(15, round(median * math.exp(rng.normal(0, DURATION_SPREAD))))
        if predictions == "model":
            p_show = 1 - 1 / (1 + math.exp(-(_logit(risk) + rng.normal(0, 0.5))))
            predicted = median * math.exp(rng.normal(0, 0.1))
            spread = math.hypot(DURATION_SPREAD, 0.1)
        else:
            p_show = 1 - base_rate
            predicted, spread = by_size[h.size]
        flexibility = int(rng.choice([0, 15, 30], p=[0.4, 0.3, 0.3]))
        lead = max(h.lead_minutes, 15)
        raw.append(
            (
                start - lead,
                start,
                h.size,
                flexibility,
                p_show,
                predicted,
                spread,
                shows,
                late,
                actual,
                h.accessible,
            )
        )
    raw.sort(key=lambda r: (r[0], r[1]))
    requests = tuple(Request(i, *r) for i, r in enumerate(raw))
    demand = DemandHistory(
        tuple(h.size for h in usable),
        tuple(min(h.start_minute, last_seating) for h in usable),
        tuple(h.lead_minutes for h in usable),
        last_seating,
    )
    return Night(
        name,
        floor,
        turn_times,
        last_seating,
        closes,
        requests,
        reset_minutes,
        demand=demand,
        learned_predictions=predictions == "model",
        past_stays=tuple((size, m, v) for size, (m, v) in sorted(by_size.items())),
    )


NO_LATER = 19  # a party later than the no-show cut-off is a no-show


def _median_of(h: PastBooking, minute: int) -> float:
    return h.median_minutes or median_duration(
        party_size=h.size,
        price_tier=2,
        lunch=False,
        weekday=5,
        local_minute=18 * 60 + minute,
        area="Main room",
        restaurant_pace=1.0,
    )


def past_durations_by_size(
    history: Sequence[PastBooking], *, seed: int
) -> dict[int, tuple[float, float]]:
    """The baseline duration prediction without a trained model: per party
    size, the median of how long the restaurant's past parties stayed and
    the spread (log-scale standard deviation) around it. Past stays are
    drawn from the world's laws, as every night's are, from a stream of
    their own (the nights replayed are not the past)."""
    rng = np.random.default_rng(seed)
    stays: dict[int, list[float]] = {}
    for h in history:
        stays.setdefault(h.size, []).append(
            _median_of(h, h.start_minute) * math.exp(rng.normal(0, DURATION_SPREAD))
        )
    return {
        size: (float(np.median(v)), float(np.std(np.log(v))) if len(v) > 2 else DURATION_SPREAD)
        for size, v in stays.items()
    }


__all__ = [
    "DINNER_TURN_TIMES",
    "PastBooking",
    "generated_history",
    "make_night",
    "standard_floor",
    "world_turn_times",
]
