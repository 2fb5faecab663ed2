"""Predictive overbooking, opt-in per pooled restaurant: with the tables for
two taken from 18:00 to 19:30, a party of two asking for 18:30 finds no
table. If the 18:00 parties will likely not come (a no-show's table frees
at 18:20, after the grace period), the booking is taken without a table;
if they are sure to come it is refused, and so it is when the bound is
stricter than the risk. The host seats the overbooked party when a table
frees."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from booking_core.audit import audit_ledger
from booking_core.availability import get_floor
from booking_core.daybook import BestFitAtBooking, load_day_book, table_policy
from booking_core.domain import ReservationState
from booking_core.errors import InvalidRequest, NoTableFree
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    book,
    book_many,
    get_reservation,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import (
    PeriodSpec,
    TableSpec,
    add_restaurant,
    get_seating_settings,
    set_seating_settings,
    set_table_policy,
    table_ids_by_name,
)
from booking_core.schema import outbox, table_claims
from booking_core.slots import granule_of
from optimizer.pooled_policy import PooledAcceptance
from tests.conftest import bistro_spec, local_time, outbox_payloads

DAY = date(2026, 3, 10)


class Shows:
    """A stand-in for the attendance model: one show probability for every
    booked party asked about (and a record of what was asked)."""

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.asked: list[list[int]] = []

    def __call__(self, ids: Sequence[int], now: datetime | None) -> Mapping[int, float]:
        self.asked.append(list(ids))
        return dict.fromkeys(ids, self.probability)


@pytest.fixture
def shows() -> Iterator[Shows]:
    """Pooled acceptance plugged in as the application does, with show
    probabilities handed over (unlikely to come unless a test says otherwise)."""
    before = table_policy.pooled
    provider = Shows(0.3)
    # Enough sampled nights that the estimates sit near the exact risks the
    # tests reason with (0.056 and 0.128 per guest who comes), not on noise.
    table_policy.pooled = PooledAcceptance(
        time_limit_s=5.0, show_probabilities=provider, overbooking_samples=400
    )
    yield provider
    table_policy.pooled = before


def two_tables(
    ledger: Ledger, *, bound: float | None = 0.1, setting: str = "pooled"
) -> tuple[int, dict[str, int]]:
    """Two tables for two; dinner 17:00-23:00, 90 minutes for two."""
    spec = bistro_spec(
        tables=(TableSpec("A", "Main", 1, 2), TableSpec("C", "Main", 1, 2)),
        combinations=(),
        periods=(PeriodSpec("dinner", tuple(range(7)), "17:00", "23:00", "21:30", {2: 90}),),
        deposit_min_party=None,
        table_policy=setting,
        overbooking_max_wait_risk=bound,
    )
    rid = add_restaurant(ledger, spec)
    with ledger.read() as conn:
        return rid, table_ids_by_name(conn, rid)


def _request(rid: int, at: str, size: int = 2) -> BookingRequest:
    return BookingRequest(rid, DAY, at, size, guest_name=f"{size} at {at}")


def _full_at_six(ledger: Ledger, rid: int) -> list[Reservation]:
    """Both tables taken 18:00-19:30."""
    return [book(ledger, _request(rid, "18:00")) for _ in range(2)]


def _at(hhmm: str) -> datetime:
    return local_time(DAY, hhmm)


def test_overbooking_is_off_by_default(ledger: Ledger, shows: Shows) -> None:
    rid, _ = two_tables(ledger, bound=None)
    assert get_seating_settings(ledger, rid).overbooking_max_wait_risk is None
    _full_at_six(ledger, rid)
    with pytest.raises(NoTableFree):
        book(ledger, _request(rid, "18:30"))
    assert shows.asked == []  # nobody was even scored


def test_a_likely_no_show_makes_room_for_a_booking_without_tables(
    ledger: Ledger, shows: Shows
) -> None:
    rid, table = two_tables(ledger)
    early = _full_at_six(ledger, rid)
    taken = book(ledger, _request(rid, "18:30"))
    assert taken.overbooked and taken.table_ids == ()
    assert shows.asked == [[r.id for r in early]]  # the service's booked parties
    again = get_reservation(ledger, taken.id)
    assert again.overbooked and again.table_ids == ()
    with ledger.read() as conn:
        claims = conn.execute(
            sa.select(sa.func.count()).where(table_claims.c.reservation_id == taken.id)
        ).scalar_one()
        event = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.payload).where(
                outbox.c.entity == "reservation", outbox.c.entity_id == taken.id
            )
        ).one()
        floor = get_floor(ledger, conn, rid)
        day_book = load_day_book(conn, floor, DAY)
        report = audit_ledger(conn)
    assert claims == 0  # it holds no table ...
    assert event.event_type == "reservation.booked"
    assert event.payload["overbooked"] is True and "overbooking" in event.payload["reason"]
    assert event.payload["table_ids"] == []
    # ... but the kitchen's pacing counts it, and the day book knows it waits.
    assert day_book.starts[granule_of(_at("18:30"))] == [2, 1]
    assert set(day_book.overbooked) == {taken.id}
    assert all(taken.id not in h for h in (day_book.holdings,))
    assert report.violations == []
    # The tables are untouched: both 18:00 parties keep theirs.
    assert {r.id: get_reservation(ledger, r.id).table_ids for r in early} == {
        early[0].id: (table["A"],),
        early[1].id: (table["C"],),
    }
    # A second one is refused: the first overbooked party is counted too
    # (about 0.24 guests waiting per 1.9 who come: 0.13, over the bound).
    with pytest.raises(NoTableFree):
        book(ledger, _request(rid, "18:30"))
    # Through the group commit (the API's booking writer) likewise.
    [refused] = book_many(ledger, [_request(rid, "18:45")])
    assert isinstance(refused, NoTableFree)


def test_parties_sure_to_come_leave_no_room(ledger: Ledger, shows: Shows) -> None:
    shows.probability = 1.0
    rid, _ = two_tables(ledger, bound=0.2)  # even the loosest bound
    _full_at_six(ledger, rid)
    with pytest.raises(NoTableFree, match="No table for 2"):
        book(ledger, _request(rid, "18:30"))


def test_a_stricter_bound_refuses_what_a_looser_one_takes(ledger: Ledger, shows: Shows) -> None:
    # Both 18:00 parties come with probability 0.09: the 18:30 party then
    # waits an hour. Per guest who comes that is about 0.09 / 1.6 = 0.056.
    rid, _ = two_tables(ledger, bound=0.02)
    _full_at_six(ledger, rid)
    with pytest.raises(NoTableFree):
        book(ledger, _request(rid, "18:30"))
    set_seating_settings(ledger, rid, "pooled", 0.1)
    assert book(ledger, _request(rid, "18:30")).overbooked


def test_without_show_probabilities_there_is_no_overbooking(ledger: Ledger) -> None:
    before = table_policy.pooled
    table_policy.pooled = PooledAcceptance(time_limit_s=5.0)  # the booking core alone
    try:
        rid, _ = two_tables(ledger)
        _full_at_six(ledger, rid)
        with pytest.raises(NoTableFree):
            book(ledger, _request(rid, "18:30"))
    finally:
        table_policy.pooled = before


def test_a_failing_source_of_show_probabilities_refuses_rather_than_overbooks(
    ledger: Ledger,
) -> None:
    def broken(ids: Sequence[int], now: datetime | None) -> Mapping[int, float]:
        raise RuntimeError("model store unreachable")

    before = table_policy.pooled
    table_policy.pooled = PooledAcceptance(time_limit_s=5.0, show_probabilities=broken)
    try:
        rid, _ = two_tables(ledger)
        _full_at_six(ledger, rid)
        with pytest.raises(NoTableFree):
            book(ledger, _request(rid, "18:30"))
    finally:
        table_policy.pooled = before


def test_walk_ins_and_explicit_policies_never_overbook(ledger: Ledger, shows: Shows) -> None:
    rid, _ = two_tables(ledger)
    _full_at_six(ledger, rid)
    with pytest.raises(NoTableFree):
        seat_walk_in(ledger, rid, 2, now=_at("18:30"))
    with pytest.raises(NoTableFree):  # a caller's own table choice
        book(ledger, _request(rid, "18:30"), policy=BestFitAtBooking())


def test_the_setting_is_pooled_only_and_bounded(ledger: Ledger) -> None:
    rid, _ = two_tables(ledger, bound=None, setting="lock_at_booking")
    with pytest.raises(InvalidRequest, match="pooled restaurants only"):
        set_seating_settings(ledger, rid, "lock_at_booking", 0.05)
    with pytest.raises(InvalidRequest, match="pooled restaurants only"):
        add_restaurant(
            ledger,
            bistro_spec(
                name="Locked", table_policy="lock_at_booking", overbooking_max_wait_risk=0.1
            ),
        )
    for bad in (0.0, -0.1, 0.21, 1.0):
        with pytest.raises(InvalidRequest, match=r"at most 0\.2"):
            set_seating_settings(ledger, rid, "pooled", bad)
    settings = set_seating_settings(ledger, rid, "pooled", 0.2)
    assert get_seating_settings(ledger, rid) == settings
    assert settings.overbooking_max_wait_risk == 0.2
    # Locking at booking while overbooking is on would strand overbooked
    # parties: refused, and the setting stands.
    with pytest.raises(InvalidRequest, match="pooled restaurants only"):
        set_table_policy(ledger, rid, "lock_at_booking")
    assert get_seating_settings(ledger, rid).overbooking_max_wait_risk == 0.2
    # Setting both at once turns it off.
    off = set_seating_settings(ledger, rid, "lock_at_booking")
    assert off.overbooking_max_wait_risk is None
    assert outbox_payloads(ledger, "restaurant.overbooking_set") == [
        {"overbooking_max_wait_risk": 0.2},
        {"overbooking_max_wait_risk": None},
    ]


def test_the_host_seats_an_overbooked_party_when_a_table_frees(
    ledger: Ledger, shows: Shows
) -> None:
    rid, table = two_tables(ledger)
    first, second = _full_at_six(ledger, rid)
    taken = book(ledger, _request(rid, "18:30"))
    assert taken.overbooked
    # 18:30: both 18:00 parties are at their tables; no table for it yet.
    for r in (first, second):
        advance(ledger, r.id, ReservationState.SEATED, now=_at("18:05"))
    advance(ledger, taken.id, ReservationState.ARRIVED, now=_at("18:30"))
    with pytest.raises(NoTableFree, match="seat the party when one frees"):
        advance(ledger, taken.id, ReservationState.SEATED, now=_at("18:30"))
    assert get_reservation(ledger, taken.id).state == ReservationState.ARRIVED
    # 18:40: the first party leaves early; its table is the overbooked one's.
    advance(ledger, first.id, ReservationState.COMPLETED, now=_at("18:40"))
    seated = advance(ledger, taken.id, ReservationState.SEATED, now=_at("18:40"))
    assert seated.table_ids == (table["A"],) and seated.overbooked
    assert seated.end_at == _at("20:10")  # its 90 minutes from when it sat
    with ledger.read() as conn:
        payload = conn.execute(
            sa.select(outbox.c.payload).where(
                outbox.c.event_type == "reservation.seated", outbox.c.entity_id == taken.id
            )
        ).scalar_one()
        report = audit_ledger(conn)
    assert payload["table_ids"] == [table["A"]]
    assert report.violations == []
    # The table is now held: a walk-in cannot take it.
    with pytest.raises(NoTableFree):
        seat_walk_in(ledger, rid, 2, table_ids=(table["A"],), now=_at("18:45"))


def test_a_change_to_an_overbooked_booking_is_taken_only_with_a_table(
    ledger: Ledger, shows: Shows
) -> None:
    rid, table = two_tables(ledger)
    _full_at_six(ledger, rid)
    taken = book(ledger, _request(rid, "18:30"))
    with pytest.raises(NoTableFree):  # still no table at 18:45: it stays as it was
        modify(ledger, taken.id, local_time="18:45")
    assert get_reservation(ledger, taken.id).overbooked
    moved = modify(ledger, taken.id, local_time="20:00")
    assert not moved.overbooked and moved.table_ids in ((table["A"],), (table["C"],))
