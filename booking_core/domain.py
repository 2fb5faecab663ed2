"""Words of the restaurant, as enums and small value types shared by every package."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class ReservationState(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    ARRIVED = "arrived"
    SEATED = "seated"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


# States in which a reservation still holds its table and counts against pacing.
HOLDING_STATES = frozenset(
    {
        ReservationState.BOOKED,
        ReservationState.CONFIRMED,
        ReservationState.ARRIVED,
        ReservationState.SEATED,
    }
)
TERMINAL_STATES = frozenset(
    {ReservationState.COMPLETED, ReservationState.CANCELLED, ReservationState.NO_SHOW}
)
# Completed parties did take their cover: they still count against pacing.
PACING_STATES = HOLDING_STATES | {ReservationState.COMPLETED}
# Booked parties a host has still to seat: they hold tables not yet sat at.
NOT_YET_SEATED = HOLDING_STATES - {ReservationState.SEATED}

TRANSITIONS: dict[ReservationState, frozenset[ReservationState]] = {
    ReservationState.BOOKED: frozenset(
        {
            ReservationState.CONFIRMED,
            ReservationState.ARRIVED,
            ReservationState.SEATED,
            ReservationState.CANCELLED,
            ReservationState.NO_SHOW,
        }
    ),
    ReservationState.CONFIRMED: frozenset(
        {
            ReservationState.ARRIVED,
            ReservationState.SEATED,
            ReservationState.CANCELLED,
            ReservationState.NO_SHOW,
        }
    ),
    ReservationState.ARRIVED: frozenset({ReservationState.SEATED, ReservationState.CANCELLED}),
    ReservationState.SEATED: frozenset({ReservationState.COMPLETED}),
    ReservationState.COMPLETED: frozenset(),
    ReservationState.CANCELLED: frozenset(),
    ReservationState.NO_SHOW: frozenset(),
}

# The reservation column that records when each state was entered.
STATE_TIMESTAMP = {
    ReservationState.BOOKED: "booked_at",
    ReservationState.CONFIRMED: "confirmed_at",
    ReservationState.ARRIVED: "arrived_at",
    ReservationState.SEATED: "seated_at",
    ReservationState.COMPLETED: "completed_at",
    ReservationState.CANCELLED: "cancelled_at",
    ReservationState.NO_SHOW: "no_show_at",
}


class Channel(StrEnum):
    WEB = "web"
    WIDGET = "widget"
    AFFILIATE = "affiliate"
    PHONE = "phone"
    WALK_IN = "walk_in"


class CancelledBy(StrEnum):
    DINER = "diner"
    RESTAURANT = "restaurant"


class TagSource(StrEnum):
    HOST = "host"
    MACHINE = "machine"


class WaitlistState(StrEnum):
    WAITING = "waiting"
    NOTIFIED = "notified"
    SEATED = "seated"
    LEFT = "left"


class ModerationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


MIN_PARTY = 1
MAX_PARTY = 40
# Occupancy is claimed in granules of this many minutes; a discrete form the
# database can enforce with a plain unique constraint on every engine.
GRANULE_MINUTES = 15
# A diner may not hold two bookings whose start times are closer than this.
DINER_SPACING_MINUTES = 120
# A predicted stay is booked for no less than this, nor for more than the
# service's longest turn time plus ``MAX_STAY_OVER_TURN_MINUTES`` (see
# ``booking_core.stays``: a bad model must not block or free a table absurdly).
MIN_BOOKED_STAY_MINUTES = 15
MAX_STAY_OVER_TURN_MINUTES = 60

# A cancellation less than this before the start (or after it) is a late
# one, the usual cancellation window: the service report counts them, and
# the attendance model's ``late_cancel`` outcome is defined by it.
LATE_CANCEL_WINDOW = timedelta(hours=24)
# Displaced covers (the bid-price LP's floats) this close are a tie: the
# booking core's time steering and the seating simulator's share it.
TIE_COVERS = 1e-6
