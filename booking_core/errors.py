"""Typed errors of the booking core, each with a message a host understands.

Every error is a ``BookingError``; callers (the API, the CLI) map the class to a
status code and show ``str(error)`` as it is.
"""

from __future__ import annotations


class BookingError(Exception):
    """Base class: a request the booking core refuses. Nothing was written."""

    code = "booking_error"


class InvalidRequest(BookingError, ValueError):
    """The request itself is malformed (a bad date, a party of 0, ...)."""

    code = "invalid_request"


class NotFound(BookingError, LookupError):
    code = "not_found"


class UnknownRestaurant(NotFound):
    code = "unknown_restaurant"


class UnknownReservation(NotFound):
    code = "unknown_reservation"


class UnknownDiner(NotFound):
    code = "unknown_diner"


class UnknownTable(NotFound):
    code = "unknown_table"


class UnknownSpecialDate(NotFound):
    code = "unknown_special_date"


class Unavailable(BookingError):
    """The request is well formed, but the restaurant cannot take it."""

    code = "unavailable"


class RestaurantClosed(Unavailable):
    code = "restaurant_closed"


class OutsideServiceHours(Unavailable):
    code = "outside_service_hours"


class PartyTooLarge(Unavailable):
    code = "party_too_large"


class NoTableFree(Unavailable):
    """Seating this party would double-book a table."""

    code = "no_table_free"


class TablesKeptForLaterParties(NoTableFree):
    """A table would fit, but a pooled restaurant's admission control keeps
    its time for the larger parties still expected (bid prices)."""

    code = "tables_kept_for_later_parties"


class PacingLimitReached(Unavailable):
    code = "pacing_limit_reached"


class DinerAlreadyBooked(Unavailable):
    code = "diner_already_booked"


class IllegalTransition(BookingError):
    code = "illegal_transition"


class IdempotencyConflict(BookingError):
    """The idempotency key was already used for a different request."""

    code = "idempotency_conflict"


class AlreadyExists(BookingError):
    """A name that must be unique (a table, a combination, an imported
    restaurant's reference) is taken."""

    code = "already_exists"


class Conflict(BookingError):
    """The database refused a write that raced another one; retry the request."""

    code = "conflict"
