"""Recorded turn-aways count as demand in a pooled restaurant's history: a
restaurant that turned parties of four away every night keeps its table for
four from a party of two at the peak, as one that had booked those fours
does; its twin, with the same bookings and no turn-aways recorded (or only
walk-ins turned away, who never asked ahead), takes the party of two."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

import pytest

from booking_core.availability import get_floor
from booking_core.daybook import load_day_book, table_policy
from booking_core.errors import TablesKeptForLaterParties
from booking_core.ledger import Ledger
from booking_core.past_demand import service_demand, service_history
from booking_core.reservations import BookingRequest, book
from booking_core.schema import turnaways
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import NOW, add_three_tables

DAY = date(2026, 3, 10)  # after NOW (2026-03-01 09:00 UTC); London is on UTC
PAST_NIGHTS = [NOW.date() - timedelta(days=d) for d in range(1, 21)]


@pytest.fixture(autouse=True)
def pooled_plugged_in() -> Iterator[None]:
    before = table_policy.pooled
    table_policy.pooled = PooledAcceptance(time_limit_s=5.0)
    yield
    table_policy.pooled = before


def three_tables(ledger: Ledger, name: str) -> tuple[int, dict[str, int]]:
    """Two tables for two and one for four (B); dinner 17:00-23:00."""
    return add_three_tables(
        ledger,
        name=name,
        table_policy="pooled",
    )


def _seven(night: date) -> datetime:
    return datetime.combine(night, time(19, 0), tzinfo=NOW.tzinfo)


def _past_bookings(ledger: Ledger, rid: int) -> None:
    """Each past night: two parties of two at 19:00, booked a fortnight ahead."""
    for night in PAST_NIGHTS:
        for _ in range(2):
            book(
                ledger,
                BookingRequest(rid, night, "19:00", 2, guest_name="two"),
                now=_seven(night) - timedelta(days=14),
            )


def _turned_away(
    ledger: Ledger, rid: int, nights: list[date], *, channel: str = "web", reason: str = "no_table"
) -> None:
    """A party of four asking an hour ahead for 19:00, turned away, each night."""
    with ledger.write() as conn:
        conn.execute(
            turnaways.insert(),
            [
                {
                    "restaurant_id": rid,
                    "service_date": night,
                    "requested_start_at": _seven(night),
                    "requested_at": _seven(night) - timedelta(hours=1),
                    "party_size": 4,
                    "channel": channel,
                    "reason": reason,
                }
                for night in nights
            ],
        )


def _twos_at_seven_tonight(ledger: Ledger, rid: int) -> None:
    for _ in range(2):
        book(ledger, BookingRequest(rid, DAY, "19:00", 2, guest_name="tonight"))


def test_turned_away_fours_keep_the_big_table_for_the_fours_still_expected(
    ledger: Ledger,
) -> None:
    full, _ = three_tables(ledger, "Often Full")
    _past_bookings(ledger, full)
    _turned_away(ledger, full, PAST_NIGHTS)
    twin, twin_tables = three_tables(ledger, "Same Bookings")
    _past_bookings(ledger, twin)
    # Walk-ins turned away never asked ahead: not demand a booking serves.
    _turned_away(ledger, twin, PAST_NIGHTS, channel="walk_in", reason="walk_in_no_table")
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, full)
        period = floor.periods_on(DAY)[0]
        history = service_history(ledger, conn, floor, period, DAY, NOW)
        twin_floor = get_floor(ledger, conn, twin)
        twin_history = service_history(ledger, conn, twin_floor, period, DAY, NOW)
    assert history is not None and twin_history is not None
    assert sorted(history.sizes) == [2] * 40 + [4] * 20
    assert 60 in history.leads and history.starts.count(120) == 60  # 19:00 is 120 minutes in
    assert sorted(twin_history.sizes) == [2] * 40
    for rid in (full, twin):
        _twos_at_seven_tonight(ledger, rid)
    with pytest.raises(TablesKeptForLaterParties):
        book(ledger, BookingRequest(full, DAY, "19:00", 2, guest_name="third two"))
    third = book(ledger, BookingRequest(twin, DAY, "19:00", 2, guest_name="third two"))
    assert third.table_ids == (twin_tables["B"],)


def test_only_turn_aways_for_lack_of_room_before_tonight_count(ledger: Ledger) -> None:
    rid, _ = three_tables(ledger, "Counted")
    _past_bookings(ledger, rid)
    _turned_away(ledger, rid, PAST_NIGHTS[:5], reason="no_table")
    _turned_away(ledger, rid, PAST_NIGHTS[5:10], reason="pacing")
    _turned_away(ledger, rid, PAST_NIGHTS[10:], reason="closed_for_event")
    _turned_away(ledger, rid, [DAY])  # tonight's: not history ...
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, rid)
        period = floor.periods_on(DAY)[0]
        history = service_history(ledger, conn, floor, period, DAY, NOW)
        assert history is not None
        assert sorted(history.sizes) == [2] * 40 + [4] * 10
        book_tonight = load_day_book(conn, floor, DAY)
        # ... but, asked by now, received as tonight's bookings are.
        before = service_demand(
            ledger, conn, floor, period, DAY, book_tonight, _seven(DAY) - timedelta(hours=2)
        )
        after = service_demand(ledger, conn, floor, period, DAY, book_tonight, _seven(DAY))
    assert before is not None and after is not None
    assert (before.received, after.received) == (0, 1)
