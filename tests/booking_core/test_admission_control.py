"""Admission control for a restaurant that locks at booking: a booking takes
the best free table (nobody moves) and is then priced by the same bid-price
rule as a pooled one, so with history saying fours still come at 19:00 a
party of two is refused there and taken at 17:00; without the setting, or
without the policy plugged in, the restaurant locks at booking as before."""

from __future__ import annotations

import pytest

from booking_core.availability import find_times
from booking_core.daybook import BestFitAtBooking, TablePolicy, table_policy
from booking_core.errors import InvalidRequest, NoTableFree, TablesKeptForLaterParties
from booking_core.ledger import Ledger
from booking_core.reservations import book, get_reservation
from booking_core.restaurants import (
    SeatingSettings,
    get_seating_settings,
    set_seating_settings,
    set_table_policy,
)
from tests.booking_core.test_table_policy import DAY, book_past_nights, request_at, three_tables
from tests.conftest import outbox_payloads

pytestmark = pytest.mark.usefixtures("policies_plugged_in")


def locking(ledger: Ledger, *, admission_control: bool = True) -> tuple[int, dict[str, int]]:
    """The three-table bistro, locking at booking (admission control on unless said)."""
    return three_tables(ledger, "lock_at_booking", admission_control=admission_control)


def test_the_setting_is_stored_as_given_and_kept_by_a_policy_change(
    ledger: Ledger, bistro: int
) -> None:
    assert get_seating_settings(ledger, bistro).admission_control is False
    on = set_seating_settings(ledger, bistro, "lock_at_booking", admission_control=True)
    assert on == SeatingSettings(TablePolicy.LOCK_AT_BOOKING, None, True)
    assert get_seating_settings(ledger, bistro) == on
    # Implied by pooled, but stored as given, and kept across a policy change.
    set_table_policy(ledger, bistro, "pooled")
    assert get_seating_settings(ledger, bistro) == SeatingSettings(TablePolicy.POOLED, None, True)
    off = set_seating_settings(ledger, bistro, "pooled")
    assert off.admission_control is False
    assert outbox_payloads(ledger, "restaurant.admission_control_set") == [
        {"admission_control": True},
        {"admission_control": False},
    ]
    with pytest.raises(InvalidRequest, match="true or false"):
        set_seating_settings(ledger, bistro, "lock_at_booking", admission_control=1)  # type: ignore[arg-type]


def test_a_locking_restaurant_with_admission_control_keeps_the_four_top(ledger: Ledger) -> None:
    rid, table = locking(ledger)
    book_past_nights(ledger, rid)
    tonight = [book(ledger, request_at(rid, DAY, "19:00", 2)) for _ in range(2)]
    assert sorted(r.table_ids for r in tonight) == [(table["A"],), (table["C"],)]
    # B is free at 19:00, but a party of two there would displace the four
    # still expected: refused, as a pooled restaurant would.
    with pytest.raises(TablesKeptForLaterParties, match="19:00"):
        book(ledger, request_at(rid, DAY, "19:00", 2))
    # At 17:00 B is free long before any four wants it.
    early = [book(ledger, request_at(rid, DAY, "17:00", 2)) for _ in range(3)]
    assert early[2].table_ids == (table["B"],)
    # Searches follow the same rule.
    assert "19:00" not in {t.local_time for t in find_times(ledger, rid, DAY, 2)}
    assert "19:00" in {t.local_time for t in find_times(ledger, rid, DAY, 4)}
    assert book(ledger, request_at(rid, DAY, "19:00", 4)).table_ids == (table["B"],)
    # Nobody was moved to make any of it happen.
    for r in (*tonight, *early):
        assert get_reservation(ledger, r.id).table_ids == r.table_ids
    # The same restaurant without admission control takes the two at 19:00.
    rid2, table2 = locking(ledger)
    book_past_nights(ledger, rid2)
    set_seating_settings(ledger, rid2, "lock_at_booking", admission_control=False)
    for _ in range(2):
        book(ledger, request_at(rid2, DAY, "19:00", 2))
    assert book(ledger, request_at(rid2, DAY, "19:00", 2)).table_ids == (table2["B"],)


def test_without_the_policy_plugged_in_it_locks_at_booking(ledger: Ledger) -> None:
    rid, table = locking(ledger)
    book_past_nights(ledger, rid)
    table_policy.admission = None
    for _ in range(2):
        book(ledger, request_at(rid, DAY, "19:00", 2))
    assert book(ledger, request_at(rid, DAY, "19:00", 2)).table_ids == (table["B"],)


def test_admission_control_never_moves_a_booked_party(ledger: Ledger) -> None:
    rid, table = locking(ledger)  # no history: admission has nothing to price
    lock = BestFitAtBooking()
    early = book(ledger, request_at(rid, DAY, "18:00", 2), policy=lock)  # A 18:00-19:30
    late = book(ledger, request_at(rid, DAY, "19:30", 3), policy=lock)  # B 19:30-21:00
    middle = book(ledger, request_at(rid, DAY, "18:15", 2), policy=lock)  # C 18:15-19:45
    # Pooled would move the early party to B; this restaurant refuses instead.
    with pytest.raises(NoTableFree):
        book(ledger, request_at(rid, DAY, "18:30", 2))
    assert "18:30" not in {t.local_time for t in find_times(ledger, rid, DAY, 2)}
    for r in (early, late, middle):
        assert get_reservation(ledger, r.id).table_ids == r.table_ids
    # Without history a fit is taken, as at any lock-at-booking restaurant.
    assert book(ledger, request_at(rid, DAY, "21:00", 2)).table_ids == (table["A"],)
