"""Weighing deposit risk thresholds on a restaurant's past bookings, the
application's half: each booking is scored as it was known the moment it was
made (``AttendanceScorer.features_at_booking``), by the attendance champion,
else the documented baseline, once as if no deposit were asked and, for a
champion, once as if one were: the model's own estimate of what a deposit
does to that booking. The booking core lays the scores out threshold by
threshold (``booking_core.risk_thresholds``).

The champion may have been trained on these very bookings (the nightly flow
trains on everything up to the night before), so the seen no-shows over a
threshold flatter it; the expected figures read no outcome. A deposit's
effect estimated by a model is an estimate from history in which deposits
were not given at random: the report's control group
(``booking_core.risk_report``) measures it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from booking_core.ledger import Ledger
from booking_core.risk_thresholds import (
    RiskAtBooking,
    ThresholdPlan,
    past_bookings,
    threshold_plan,
)
from serving.attendance import AttendanceScorer, probabilities
from serving.champions import Loaded
from serving.risk_deposits import risk_label


@dataclass(frozen=True)
class WeighedThresholds:
    plan: ThresholdPlan
    model: str  # the label a booking's risk would carry (``NoShowRisk.model``)
    source: str  # champion, or baseline


def weigh_thresholds(
    ledger: Ledger,
    scorer: AttendanceScorer,
    champion: Loaded | None,
    restaurant_id: int,
    date_from: date,
    date_to: date,
) -> WeighedThresholds:
    """Every threshold's figures over the restaurant's bookings with a
    service date in the span (``InvalidRequest`` for a bad span,
    ``UnknownRestaurant`` for an unknown restaurant)."""
    restaurant, bookings = past_bookings(ledger, restaurant_id, date_from, date_to)
    weighed = [b.reservation_id for b in bookings if not b.asked_by_size]
    rows = scorer.features_at_booking(weighed)
    without = probabilities(rows.with_columns(deposit_required=pl.lit(False)), champion)
    with_deposit: list[float | None] = [None] * len(without)
    if champion is not None:  # the baseline's rule knows nothing of deposits
        with_deposit = list(
            probabilities(rows.with_columns(deposit_required=pl.lit(True)), champion)
        )
    risks = {
        rid: RiskAtBooking(p0, p1)
        for rid, p0, p1 in zip(rows["reservation_id"], without, with_deposit, strict=True)
    }
    plan = threshold_plan(restaurant, bookings, risks, date_from, date_to)
    source = "baseline" if champion is None else "champion"
    return WeighedThresholds(plan, risk_label(champion), source)


__all__ = ["WeighedThresholds", "weigh_thresholds"]
