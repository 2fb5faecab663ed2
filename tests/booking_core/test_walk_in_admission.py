"""Admission control for walk-ins: at 18:00, with the tables for two booked
from 19:00 and history saying a four still books for 19:00 half an hour
ahead, a walk-in two could only sit at the four-top until 19:30. A restaurant with admission
control (locking at booking with it on, or pooled) refuses it by bid price
and says the host may choose the tables; the host naming them seats the
party (an override is not priced); without admission control it is seated
there. At 17:30 it fits a table for two before 19:00 and is seated there."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from booking_core.errors import TablesKeptForLaterParties
from booking_core.ledger import Ledger
from booking_core.reservations import book, seat_walk_in
from booking_core.waitlist import join, seat
from tests.booking_core.test_table_policy import DAY, PAST_NIGHTS, request_at, three_tables
from tests.booking_core.test_turnaways import rows
from tests.conftest import NOW, local_time

pytestmark = pytest.mark.usefixtures("policies_plugged_in")


def _at(hhmm: str) -> datetime:
    return local_time(DAY, hhmm)


def tonight(ledger: Ledger, setting: str, *, admission_control: bool) -> tuple[int, dict[str, int]]:
    """Twenty past nights, each: two parties of two at 19:00 booked a
    fortnight ahead and a four at 19:00 booked half an hour ahead (so that
    at 18:00 the four is still to come). Tonight the twos are booked."""
    rid, table = three_tables(ledger, setting, admission_control=admission_control)
    for night in PAST_NIGHTS:
        seating = datetime.combine(night, time(19, 0), tzinfo=NOW.tzinfo)
        for size, lead in (
            (2, timedelta(days=14)),
            (2, timedelta(days=14)),
            (4, timedelta(minutes=30)),
        ):
            book(ledger, request_at(rid, night, size=size, at="19:00"), now=seating - lead)
    for _ in range(2):  # A and C from 19:00
        book(ledger, request_at(rid, DAY, "19:00", 2))
    return rid, table


@pytest.mark.parametrize(
    ("setting", "admission_control"), [("lock_at_booking", True), ("pooled", False)]
)
def test_a_walk_in_that_displaces_more_than_it_brings_is_refused(
    ledger: Ledger, setting: str, admission_control: bool
) -> None:
    rid, table = tonight(ledger, setting, admission_control=admission_control)
    with pytest.raises(TablesKeptForLaterParties) as refused:
        seat_walk_in(ledger, rid, 2, guest_name="two", now=_at("18:00"))
    message = str(refused.value)
    assert message.startswith("B is kept for the parties still expected this service")
    assert "choose the tables yourself" in message
    assert rows(ledger) == []  # the host may still seat them: not a turn-away
    # The host overrides by naming the table: seated, not priced.
    seated = seat_walk_in(ledger, rid, 2, table_ids=(table["B"],), now=_at("18:01"))
    assert (seated.state, seated.table_ids) == ("seated", (table["B"],))


def test_waitlist_seating_is_priced_unless_the_host_names_the_tables(ledger: Ledger) -> None:
    rid, table = tonight(ledger, "lock_at_booking", admission_control=True)
    entry = join(ledger, rid, 2, guest_name="waiting two", now=_at("17:50"))
    with pytest.raises(TablesKeptForLaterParties):
        seat(ledger, entry.id, now=_at("18:00"))
    done, reservation = seat(ledger, entry.id, table_ids=(table["B"],), now=_at("18:01"))
    assert done.state == "seated" and reservation.table_ids == (table["B"],)


def test_without_admission_control_the_walk_in_takes_the_four_top(ledger: Ledger) -> None:
    rid, table = tonight(ledger, "lock_at_booking", admission_control=False)
    seated = seat_walk_in(ledger, rid, 2, now=_at("18:00"))
    assert seated.table_ids == (table["B"],)


def test_a_walk_in_that_displaces_nothing_is_seated(ledger: Ledger) -> None:
    rid, table = tonight(ledger, "lock_at_booking", admission_control=True)
    # 17:30-19:00 on A, before the two booked there: B stays free for the four.
    assert seat_walk_in(ledger, rid, 2, now=_at("17:30")).table_ids == (table["A"],)
    # A four brings what it displaces (a tie is taken).
    assert seat_walk_in(ledger, rid, 4, now=_at("18:00")).table_ids == (table["B"],)
