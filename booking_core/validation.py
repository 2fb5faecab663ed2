"""Parsing of what callers send, with messages a person can act on."""

from __future__ import annotations

from datetime import date, datetime, time

from booking_core.domain import MAX_PARTY, MIN_PARTY, Channel
from booking_core.errors import InvalidRequest


def parse_date(value: date | str, what: str = "date") -> date:
    if isinstance(value, datetime):
        raise InvalidRequest(f"The {what} must be a calendar date, not a date and time.")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidRequest(f"The {what} {value!r} is not a date written as YYYY-MM-DD.") from None


def parse_time(value: time | str, what: str = "time") -> time:
    if isinstance(value, time):
        return value
    try:
        parsed = time.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidRequest(f"The {what} {value!r} is not a time written as HH:MM.") from None
    if parsed.tzinfo is not None:
        raise InvalidRequest(f"The {what} is the restaurant's local time: leave out the offset.")
    return parsed


def check_party_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"The party size must be a whole number, not {value!r}.")
    if not MIN_PARTY <= value <= MAX_PARTY:
        raise InvalidRequest(
            f"A party of {value} cannot be booked: party sizes run from {MIN_PARTY} to {MAX_PARTY}."
        )
    return value


def check_channel(value: Channel | str) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        raise InvalidRequest(f"Unknown channel {value!r}; use one of {names}.") from None


def check_span(date_from: date, date_to: date, *, max_days: int, what: str) -> None:
    """``InvalidRequest`` for a span of dates (both included) that runs
    backwards or over ``max_days``; ``what`` names it ("A report")."""
    if date_from > date_to:
        raise InvalidRequest(f"{what} runs from {date_from} to {date_to}: from is after to.")
    days = (date_to - date_from).days + 1
    if days > max_days:
        raise InvalidRequest(
            f"{what} covers at most {max_days} days; {date_from} to {date_to} is {days}."
        )


def check_aware(value: datetime, what: str = "time") -> datetime:
    if value.tzinfo is None:
        raise InvalidRequest(f"The {what} {value.isoformat()} has no time zone.")
    return value
