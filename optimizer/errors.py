"""Typed refusals of the seating optimizer. Each is an ``InvalidRequest`` of
the booking core, so the API and the CLI show its sentence as they do for
every other bad request; nothing is planned when one is raised."""

from __future__ import annotations

from booking_core.errors import InvalidRequest


class SeatingInputError(InvalidRequest):
    """The tables, parties or predictions given to the optimizer are inconsistent."""

    code = "seating_input_error"


class PartyTooLargeForFloor(SeatingInputError):
    code = "party_too_large_for_floor"


class InvalidDuration(SeatingInputError):
    code = "invalid_duration"


class InvalidDemandHistory(SeatingInputError):
    """The past requests given to the demand forecast are unusable."""

    code = "invalid_demand_history"


class UnknownTable(SeatingInputError):
    code = "unknown_table"


class OverlappingLocks(SeatingInputError):
    """Two parties that must stay where they are would share a table at the same time."""

    code = "overlapping_locks"


__all__ = [
    "InvalidDemandHistory",
    "InvalidDuration",
    "OverlappingLocks",
    "PartyTooLargeForFloor",
    "SeatingInputError",
    "UnknownTable",
]
