"""How long a booking holds its table.

A restaurant books each party for the turn time of its size
(``booked_stays = "turn_times"``, the default) or for the party's predicted
stay (``"predicted"``). The booking core stays model-free: the prediction
comes from a ``StayForecast`` the application plugs in
(``stay_forecast.forecast``; ``serving.stays`` does). Without one, or
where it cannot tell, a predicted-stays restaurant books the turn time.

A predicted stay, like a turn time, includes the reset of the table and
is held in whole granules (rounded up).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from booking_core.domain import GRANULE_MINUTES, MAX_STAY_OVER_TURN_MINUTES, MIN_BOOKED_STAY_MINUTES
from booking_core.errors import InvalidRequest
from booking_core.floor import Floor, ServicePeriod
from booking_core.slots import Slot, granule_start

if TYPE_CHECKING:
    from booking_core.ledger import Ledger

log = logging.getLogger("servicesphere.booking_core")


class BookedStays(StrEnum):
    """A restaurant's ``booked_stays`` setting."""

    TURN_TIMES = "turn_times"
    PREDICTED = "predicted"


class StayForecast(Protocol):
    """Minutes to book a party of ``party_size`` for, seated at each of
    ``starts`` (UTC), reset of the table included; None where it cannot
    tell. One call per booking or search: a forecast that asks a model
    should ask it once for all ``starts``. ``ledger``: the restaurant's
    (what a forecast may read or cache on, outside the caller's transaction)."""

    def minutes(
        self,
        ledger: Ledger,
        floor: Floor,
        party_size: int,
        starts: Sequence[datetime],
        *,
        channel: str,
    ) -> Sequence[int | None]: ...


@dataclass
class StayForecastHolder:
    """Where the booking core looks up predicted stays (pluggable, as
    ``TablePolicyHolder``): None until the application plugs one in."""

    forecast: StayForecast | None = None


stay_forecast = StayForecastHolder()


def stay_bounds(period: ServicePeriod) -> tuple[int, int]:
    """The shortest and longest stay a prediction may book in ``period``.
    A model gone wrong must not book a table for five minutes (the next
    party would be seated on top of the first) nor for the whole night (a
    table lost to every later booking): no shorter than 15 minutes, no
    longer than the longest turn time plus an hour, which already holds
    the longest meals a restaurant plans for."""
    return MIN_BOOKED_STAY_MINUTES, period.turn_times[-1][1] + MAX_STAY_OVER_TURN_MINUTES


def predicts_stays(floor: Floor, forecast: StayForecast | None = None) -> bool:
    return floor.booked_stays == BookedStays.PREDICTED and (
        (forecast or stay_forecast.forecast) is not None
    )


def stay_minutes(
    ledger: Ledger,
    floor: Floor,
    party_size: int,
    starts: Sequence[tuple[ServicePeriod, datetime]],
    *,
    channel: str,
    forecast: StayForecast | None = None,
) -> list[int]:
    """Minutes each start's booking holds its table: the bounded predicted
    stay for a predicted-stays restaurant with a forecast plugged in, the
    period's turn time otherwise (and wherever the forecast cannot tell)."""
    turns = [period.turn_time(party_size) for period, _ in starts]
    forecast = forecast or stay_forecast.forecast
    if floor.booked_stays != BookedStays.PREDICTED or forecast is None or not starts:
        return turns
    try:
        predicted = list(
            forecast.minutes(ledger, floor, party_size, [at for _, at in starts], channel=channel)
        )
    except Exception:  # a booking never fails for want of a prediction
        log.warning(
            "stay forecast failed: booking turn times",
            extra={"restaurant_id": floor.restaurant_id},
            exc_info=True,
        )
        return turns
    if len(predicted) != len(starts):
        log.warning("stay forecast gave %d answers for %d starts", len(predicted), len(starts))
        return turns
    out = []
    for (period, _), turn, minutes in zip(starts, turns, predicted, strict=True):
        if minutes is None:
            out.append(turn)
            continue
        lo, hi = stay_bounds(period)
        out.append(min(max(int(minutes), lo), hi))
    return out


def booked_slots(
    ledger: Ledger,
    floor: Floor,
    slots: Sequence[Slot],
    party_size: int,
    *,
    channel: str,
    forecast: StayForecast | None = None,
) -> list[Slot]:
    """``slots`` held for the stays the restaurant books (unchanged for one
    that books turn times)."""
    if not predicts_stays(floor, forecast):
        return list(slots)
    minutes = stay_minutes(
        ledger,
        floor,
        party_size,
        [(s.period, s.start_at) for s in slots],
        channel=channel,
        forecast=forecast,
    )
    out = []
    for slot, held in zip(slots, minutes, strict=True):
        g1 = slot.start_granule + -(-held // GRANULE_MINUTES)
        out.append(
            slot
            if g1 == slot.end_granule
            else replace(slot, end_at=granule_start(g1), end_granule=g1)
        )
    return out


def booked_slot(
    ledger: Ledger,
    floor: Floor,
    slot: Slot,
    party_size: int,
    *,
    channel: str,
    forecast: StayForecast | None = None,
) -> Slot:
    return booked_slots(ledger, floor, [slot], party_size, channel=channel, forecast=forecast)[0]


def check_booked_stays(value: str) -> BookedStays:
    try:
        return BookedStays(value)
    except ValueError:
        names = " or ".join(repr(s.value) for s in BookedStays)
        raise InvalidRequest(f"booked_stays is {names}, not {value!r}.") from None


__all__ = [
    "BookedStays",
    "StayForecast",
    "StayForecastHolder",
    "booked_slot",
    "booked_slots",
    "check_booked_stays",
    "stay_bounds",
    "stay_forecast",
    "stay_minutes",
]
