"""Diners with latent tastes and habits, and the truths that drive their bookings.

Drivers of attendance (the generator's true model, kept per reservation in
``world_reservation_truth``; models are judged against it, never fed it):

- no-show, on the logit scale: -3.1, + 0.30 per log(1 + lead days),
  + 0.15 per guest above two, - 1.1 with a deposit, + weekday effect
  (Monday +0.25 ... Saturday -0.2), + channel effect (affiliate +0.6,
  widget +0.2, web +0.1, phone -0.4), - 0.5 with a special request,
  + 0.55 x the diner's latent flakiness (standard normal; it shows in their
  history of no-shows), + noise N(0, 0.15);
- cancellation (before the reservation): -2.3, + 0.35 per log(1 + lead days),
  - 0.6 with a deposit, + 0.4 x flakiness, + channel effect, + noise; its
  time is a Beta(2, 1) fraction of the lead time, so late cancellations
  (inside 24 hours) are common for short-lead bookings;
- dining duration (minutes, log-normal around a median): 55 + 14 x party^0.8,
  x (0.8 + 0.12 x price tier), x 0.75 at lunch, x 1.08 on Friday and
  Saturday, x 0.92 for seatings after 21:00, x area (bar 0.8, terrace 1.05,
  private room 1.15), x a restaurant's own pace; spread sigma 0.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WEEKDAY_NO_SHOW = (0.25, 0.1, 0.0, 0.0, -0.1, -0.2, 0.05)
CHANNEL_NO_SHOW = {"web": 0.1, "widget": 0.2, "affiliate": 0.6, "phone": -0.4}
CHANNEL_CANCEL = {"web": 0.1, "widget": 0.0, "affiliate": 0.4, "phone": -0.3}
AREA_PACE = {"Bar": 0.8, "Terrace": 1.05, "Private room": 1.15}
DEPOSIT_NO_SHOW_LOGIT = -1.1  # a deposit's effect on the no-show logit


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class Diner:
    id: int
    city: str
    locale: str
    first_name: str
    activity: float
    flakiness: float
    cuisine_affinity: dict[str, float]
    price_preference: float
    ambience_affinity: dict[str, float]
    lead_days_mean: float
    party_habit: int
    channel_p: tuple[float, float, float, float]  # web, widget, affiliate, phone
    dietary: tuple[str, ...]
    allergies: tuple[str, ...]
    seating: tuple[str, ...]
    needs_access: bool
    birthday: tuple[int, int]
    anniversary: tuple[int, int] | None

    @property
    def reliability(self) -> float:
        return _sigmoid(-self.flakiness)


def attendance_truth(
    *,
    lead_hours: float,
    party_size: int,
    deposit: bool,
    weekday: int,
    channel: str,
    has_request: bool,
    flakiness: float,
    noise_ns: float,
    noise_c: float,
) -> tuple[float, float, float]:
    """(P(cancel), P(no-show | not cancelled), P(late cancel)) for one booking."""
    lead_days = max(lead_hours, 0.0) / 24.0
    z_ns = (
        -3.1
        + 0.30 * math.log1p(lead_days)
        + 0.15 * (party_size - 2)
        + DEPOSIT_NO_SHOW_LOGIT * deposit
        + WEEKDAY_NO_SHOW[weekday]
        + CHANNEL_NO_SHOW.get(channel, 0.0)
        - 0.5 * has_request
        + 0.55 * flakiness
        + noise_ns
    )
    z_c = (
        -2.3
        + 0.35 * math.log1p(lead_days)
        - 0.6 * deposit
        + 0.4 * flakiness
        + CHANNEL_CANCEL.get(channel, 0.0)
        + noise_c
    )
    p_cancel, p_ns = _sigmoid(z_c), _sigmoid(z_ns)
    # Cancel time is booked + F x lead with F ~ Beta(2, 1): P(F > 1 - 24h/lead).
    late_share = 1.0 if lead_hours <= 24 else 1.0 - (1.0 - 24.0 / lead_hours) ** 2
    return p_cancel, p_ns, p_cancel * late_share


def median_duration(
    *,
    party_size: int,
    price_tier: int,
    lunch: bool,
    weekday: int,
    local_minute: int,
    area: str,
    restaurant_pace: float,
) -> float:
    minutes = 55.0 + 14.0 * party_size**0.8
    minutes *= 0.8 + 0.12 * price_tier
    minutes *= 0.75 if lunch else 1.0
    minutes *= 1.08 if weekday in (4, 5) else 1.0
    minutes *= 0.92 if local_minute % 1440 >= 21 * 60 else 1.0
    minutes *= AREA_PACE.get(area, 1.0)
    return minutes * restaurant_pace


def affinity(diner: Diner, cuisine: str, price_tier: int, ambience: str) -> float:
    """How much a diner likes a restaurant, on a log scale (decides bookings and ratings)."""
    return (
        0.6 * math.log(diner.cuisine_affinity.get(cuisine, 0.0) + 0.02)
        - 0.5 * (diner.price_preference - price_tier) ** 2
        + 0.8 * diner.ambience_affinity.get(ambience, 0.0)
    )


def draw_party(rng: np.random.Generator, habit: int) -> int:
    if rng.random() < 0.65:
        return habit
    return int(np.clip(habit + rng.choice((-1, 1, 2, -2, 4)), 1, 12))
