"""The book: a restaurant's or a diner's reservations, listed a page at a time.

A host pulls the night's book (every reservation of a date: state, guest,
party, time, tables, special requests); a diner's app shows their upcoming
bookings. One page costs three queries whatever its length: the page's rows,
the count of every row the filters match, and the tables the page's
reservations hold now (``reservations.held_tables``). Each ``Reservation``
is built as ``get_reservation`` builds it (``reservations.reservation_from_row``),
its cancellation terms and fee included.

Order: service date, then start time, then id (stable across pages).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa

from booking_core.domain import ReservationState
from booking_core.errors import InvalidRequest
from booking_core.ledger import Ledger
from booking_core.reservations import Reservation, held_tables, reservation_from_row
from booking_core.schema import reservations
from booking_core.service_report import MAX_SPAN_DAYS

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Ids and offsets as the ledger's integers hold them.
MAX_OFFSET = 2_147_483_647

_r = reservations.c


def _states(states: Iterable[ReservationState | str] | None) -> list[str] | None:
    if states is None:
        return None
    if isinstance(states, str):  # one state, not its letters
        states = [states]
    wanted: list[str] = []
    for state in states:
        try:
            wanted.append(ReservationState(state).value)
        except ValueError:
            names = ", ".join(s.value for s in ReservationState)
            raise InvalidRequest(f"Unknown state {state!r}; use one of {names}.") from None
    if not wanted:
        raise InvalidRequest("Ask for at least one state, or leave states out for every state.")
    return sorted(set(wanted))


def check_span(first: date | None, last: date | None) -> None:
    """Service dates ``first`` to ``last``, both included: ``last`` not before
    ``first`` and at most ``MAX_SPAN_DAYS`` days. An open end (``None``) is
    not limited: the paging bounds what one call reads."""
    if first is None or last is None:
        return
    if last < first:
        raise InvalidRequest(f"The list runs from {first} to {last}: 'to' is before 'from'.")
    days = (last - first).days + 1
    if days > MAX_SPAN_DAYS:
        raise InvalidRequest(
            f"A list covers at most {MAX_SPAN_DAYS} days of service; {first} to {last} is {days}."
        )


def list_reservations(
    ledger: Ledger,
    *,
    restaurant_id: int | None = None,
    diner_id: int | None = None,
    first: date | None = None,
    last: date | None = None,
    states: Iterable[ReservationState | str] | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> tuple[list[Reservation], int]:
    """A page of the reservations of ``restaurant_id`` and/or ``diner_id``
    (at least one of them) whose service date lies in ``first``..``last``
    (both included; either end may be open) and whose state is one of
    ``states`` (every state when ``None``), by service date, start and id;
    and how many match in all. ``limit`` is 1..``MAX_LIMIT``. A restaurant
    or diner that does not exist simply has no reservations."""
    if restaurant_id is None and diner_id is None:
        raise InvalidRequest("List the reservations of a restaurant or of a diner (or both).")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"A page holds 1 to {MAX_LIMIT} reservations; {limit} asked.")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequest(f"The offset is 0 to {MAX_OFFSET}; {offset} asked.")
    check_span(first, last)
    wanted = _states(states)

    where: list[sa.ColumnElement[bool]] = []
    if restaurant_id is not None:
        where.append(_r.restaurant_id == restaurant_id)
    if diner_id is not None:
        where.append(_r.diner_id == diner_id)
    if first is not None:
        where.append(_r.service_date >= first)
    if last is not None:
        where.append(_r.service_date <= last)
    if wanted is not None:
        where.append(_r.state.in_(wanted))

    page = (
        sa.select(reservations)
        .where(*where)
        .order_by(_r.service_date, _r.start_at, _r.id)
        .limit(limit)
        .offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(reservations).where(*where)
    with ledger.read() as conn:
        if ledger.is_postgres:
            # The page, its count and its tables from one snapshot (a read
            # transaction on SQLite already is one).
            conn.execution_options(isolation_level="REPEATABLE READ")
        rows = [row._mapping for row in conn.execute(page)]
        total = int(conn.execute(count).scalar_one())
        tables = held_tables(conn, [r["id"] for r in rows])
    return [reservation_from_row(r, tables.get(r["id"], ())) for r in rows], total


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_SPAN_DAYS", "check_span", "list_reservations"]
