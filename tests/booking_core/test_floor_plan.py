"""The floor plan and the profile a manager keeps up to date: a table or a
combination added is bookable at once and counted in the service report
only from when it was added; a new deposit policy applies to bookings made
after it; every refusal names its reason and writes nothing; the ledger
stays clean."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking_core.audit import audit_ledger
from booking_core.availability import find_times
from booking_core.errors import (
    AlreadyExists,
    InvalidRequest,
    PartyTooLarge,
    UnknownRestaurant,
    UnknownTable,
)
from booking_core.floor import floor_version
from booking_core.floor_plan import add_combination, add_table, edit_table, floor_plan
from booking_core.ledger import Ledger
from booking_core.profile import EDITABLE, get_profile, update_profile
from booking_core.reservations import BookingRequest, book
from booking_core.restaurants import CombinationSpec, TableSpec, add_restaurant
from booking_core.schema import outbox
from booking_core.service_report import service_report
from tests.conftest import NOW, add_three_tables, local_time, three_tables_spec

DAY = date(2026, 3, 10)
LATER = date(2026, 3, 20)


def _at(hhmm: str, day: date) -> datetime:
    return local_time(day, hhmm)


def _events(ledger: Ledger, rid: int, kind: str) -> list[dict[str, object]]:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(outbox.c.payload)
            .where(outbox.c.restaurant_id == rid, outbox.c.event_type == kind)
            .order_by(outbox.c.event_offset)
        )
        return [dict(p) for (p,) in rows]


def _audit_clean(ledger: Ledger) -> None:
    with ledger.read() as conn:
        assert audit_ledger(conn).violations == []


def _version(ledger: Ledger, rid: int) -> int:
    with ledger.read() as conn:
        return floor_version(conn, rid)


def test_a_new_table_seats_larger_parties_at_once_and_counts_from_when_it_came(
    ledger: Ledger,
) -> None:
    rid, ids = add_three_tables(ledger, name="Grows A Terrace")
    with pytest.raises(PartyTooLarge):
        find_times(ledger, rid, LATER, 6, now=NOW)
    ledger.clock = lambda: _at("10:00", DAY + timedelta(days=1))
    table = add_table(ledger, rid, TableSpec("T6", "Terrace", 4, 6, features=("outdoor",)))
    assert table.in_service and table.area == "Terrace" and table.id not in ids.values()
    assert find_times(ledger, rid, LATER, 6, now=NOW)[0].local_time == "17:00"
    party = book(ledger, BookingRequest(rid, LATER, "19:00", 6))
    assert party.table_ids == (table.id,)

    plan = floor_plan(ledger, rid)
    assert [(t.name, t.area, t.max_covers) for t in plan.tables] == [
        ("A", "Main", 2),
        ("C", "Main", 2),
        ("B", "Main", 4),
        ("T6", "Terrace", 6),
    ]
    assert get_profile(ledger, rid).areas == ("Main", "Terrace")
    assert get_profile(ledger, rid).largest_party == 6
    # The night before the table came is measured against the 8 seats it had.
    report = service_report(ledger, rid, DAY, DAY + timedelta(days=2), now=_at("12:00", LATER))
    assert [r.seats for r in report.rows] == [8, 14, 14]
    assert _events(ledger, rid, "restaurant.table_added")[0]["area"] == "Terrace"
    _audit_clean(ledger)


def test_a_combination_joins_tables_by_name(ledger: Ledger) -> None:
    rid, ids = add_three_tables(ledger, name="Pushes Tables Together")
    combo = add_combination(ledger, rid, CombinationSpec("A+B", ("A", "B"), 4, 6))
    assert combo.table_ids == tuple(sorted((ids["A"], ids["B"])))
    party = book(ledger, BookingRequest(rid, LATER, "19:00", 5))
    assert set(party.table_ids) == {ids["A"], ids["B"]}
    assert [c.name for c in floor_plan(ledger, rid).combinations] == ["A+B"]
    _audit_clean(ledger)


def test_floor_changes_refused_write_nothing(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Stays As It Is")
    version = _version(ledger, rid)
    refusals = [
        (lambda: add_table(ledger, rid, TableSpec("A", "Bar", 1, 2)), AlreadyExists, "'A'"),
        (lambda: add_table(ledger, rid, TableSpec("D", "Bar", 4, 2)), InvalidRequest, "min"),
        (lambda: add_table(ledger, rid, TableSpec(" ", "Bar", 1, 2)), InvalidRequest, "empty"),
        (
            lambda: add_table(ledger, 10**6, TableSpec("D", "Bar", 1, 2)),
            UnknownRestaurant,
            "no restaurant",
        ),
        (
            lambda: add_combination(ledger, rid, CombinationSpec("A+Z", ("A", "Z"), 3, 4)),
            InvalidRequest,
            "unknown table(s) Z",
        ),
        (
            lambda: add_combination(ledger, rid, CombinationSpec("A+A", ("A", "A"), 3, 4)),
            InvalidRequest,
            "two different",
        ),
    ]
    for action, error, words in refusals:
        with pytest.raises(error, match=re.escape(words)):
            action()
    add_combination(ledger, rid, CombinationSpec("A+C", ("A", "C"), 3, 4))
    with pytest.raises(InvalidRequest, match="already combined"):
        add_combination(ledger, rid, CombinationSpec("C+A", ("C", "A"), 3, 4))
    with pytest.raises(AlreadyExists):
        add_combination(ledger, rid, CombinationSpec("A+C", ("A", "B"), 3, 4))
    assert _version(ledger, rid) == version + 1  # the one combination added
    assert len(floor_plan(ledger, rid).tables) == 3


def test_a_new_deposit_policy_applies_to_bookings_made_after_it(ledger: Ledger) -> None:
    rid, _ = add_three_tables(ledger, name="Takes Deposits Now")
    before = book(ledger, BookingRequest(rid, LATER, "18:00", 4))
    assert not before.deposit_required
    profile = update_profile(
        ledger,
        rid,
        {"deposit_min_party": 3, "deposit_per_cover_minor": 1500, "name": "  Deposits Bistro "},
    )
    assert (profile.deposit_min_party, profile.deposit_per_cover_minor) == (3, 1500)
    assert profile.name == "Deposits Bistro"
    after = book(ledger, BookingRequest(rid, LATER, "20:30", 4))
    assert (after.deposit_required, after.deposit_minor) == (True, 6000)
    assert ledger.cache("floors")[rid].name == "Deposits Bistro"
    from_ledger = book(ledger, BookingRequest(rid, LATER + timedelta(days=1), "19:00", 2))
    assert not from_ledger.deposit_required  # a party of two is under the threshold
    [event] = _events(ledger, rid, "restaurant.profile_changed")
    assert event == {
        "deposit_min_party": {"from": None, "to": 3},
        "deposit_per_cover_minor": {"from": 2000, "to": 1500},
        "name": {"from": "Takes Deposits Now", "to": "Deposits Bistro"},
    }
    # The same values again: nothing to write, no event, the floor kept.
    version = _version(ledger, rid)
    update_profile(ledger, rid, {"deposit_min_party": 3, "cuisines": ["french"]})
    assert _version(ledger, rid) == version
    assert len(_events(ledger, rid, "restaurant.profile_changed")) == 1
    _audit_clean(ledger)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"timezone": "Asia/Tokyo"}, "timezone cannot be changed"),
        ({"currency": "EUR"}, "currency cannot be changed"),
        ({"rating": 5.0}, "reviews"),
        ({"owner": "me"}, "Unknown field"),
        ({"name": None}, "name must be text"),
        ({"name": ""}, "name cannot be empty"),
        ({"price_tier": 5}, "price_tier runs from 1 to 4"),
        ({"price_tier": True}, "whole number"),
        ({"latitude": 91.0}, "latitude lies between"),
        ({"longitude": float("nan")}, "longitude lies between"),
        ({"cuisines": ["thai", "Thai"]}, "twice"),
        ({"cuisines": "thai"}, "list of text"),
        ({"deposit_per_cover_minor": -1}, "runs from 0"),
        ({"deposit_min_party": 0}, "runs from 1"),
        ({"description": "bell\x07"}, "control characters"),
    ],
)
def test_profile_changes_refused_name_the_field_and_write_nothing(
    ledger: Ledger, changes: dict[str, object], words: str
) -> None:
    rid, _ = add_three_tables(ledger, name="Refuses Nonsense")
    before = get_profile(ledger, rid)
    with pytest.raises(InvalidRequest, match=words):
        update_profile(ledger, rid, {"city": "Leeds", **changes})
    assert get_profile(ledger, rid) == before
    assert _events(ledger, rid, "restaurant.profile_changed") == []


def test_creation_refuses_a_bad_floor_or_profile_and_writes_nothing(ledger: Ledger) -> None:
    def count() -> int:
        with ledger.read() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM restaurants")).scalar_one())

    add_restaurant(ledger, three_tables_spec(external_ref="group-7"))
    n = count()
    bad = [
        ({"external_ref": "group-7"}, AlreadyExists, "group-7"),
        ({"country": "gb"}, InvalidRequest, "country"),
        ({"locale": "English"}, InvalidRequest, "language tag"),
        ({"tables": (TableSpec("A", "Main", 1, 60),)}, InvalidRequest, "max <= 40"),
        ({"combinations": (CombinationSpec("X", ("A", "B"), 6, 5),)}, InvalidRequest, "min"),
        ({"rating": 7.0}, InvalidRequest, "rating"),
    ]
    for overrides, error, words in bad:
        with pytest.raises(error, match=words):
            add_restaurant(ledger, three_tables_spec(**overrides))
    assert count() == n


_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2_000),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.lists(_TEXT, max_size=14),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(EDITABLE), _VALUES, max_size=4))
def test_any_profile_change_is_stored_whole_or_not_at_all(
    tmp_path_factory: pytest.TempPathFactory, changes: dict[str, object]
) -> None:
    """Whatever a client sends, either every field sent reads back as sent
    (names trimmed) or the change is refused with InvalidRequest and the
    profile is exactly as before: never half-written, never a driver error."""
    ledger = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('profile') / 'l.db'}")
    try:
        ledger.clock = lambda: NOW
        rid = add_restaurant(ledger, three_tables_spec())
        before = get_profile(ledger, rid)
        try:
            after = update_profile(ledger, rid, changes)
        except InvalidRequest:
            assert get_profile(ledger, rid) == before
            return
        for name, value in changes.items():
            stored = getattr(after, name)
            expected = value.strip() if name == "name" and isinstance(value, str) else value
            assert (list(stored) if isinstance(stored, tuple) else stored) == expected
        assert get_profile(ledger, rid) == after
    finally:
        ledger.dispose()


def test_a_table_is_renamed_and_described_anew_and_keeps_its_bookings(ledger: Ledger) -> None:
    rid, ids = add_three_tables(ledger)
    held = book(ledger, BookingRequest(rid, DAY, "19:00", 4), now=NOW)
    assert held.table_ids == (ids["B"],)
    before = _version(ledger, rid)
    edited = edit_table(ledger, rid, ids["B"], name=" Booth 3 ", features=("booth", "window"))
    assert (edited.name, edited.features, edited.max_covers) == ("Booth 3", ("booth", "window"), 4)
    assert _version(ledger, rid) == before + 1
    plan = {t.id: t for t in floor_plan(ledger, rid).tables}
    assert (plan[ids["B"]].name, plan[ids["B"]].features) == ("Booth 3", ("booth", "window"))
    # Only what is sent changes; the same values again write nothing.
    renamed = edit_table(ledger, rid, ids["B"], name="Booth 4")
    assert renamed.features == ("booth", "window")
    assert edit_table(ledger, rid, ids["B"], name="Booth 4") == renamed
    events = _events(ledger, rid, "restaurant.table_edited")
    assert events == [
        {
            "name": {"from": "B", "to": "Booth 3"},
            "features": {"from": [], "to": ["booth", "window"]},
        },
        {"name": {"from": "Booth 3", "to": "Booth 4"}},
    ]
    assert book(ledger, BookingRequest(rid, DAY, "21:30", 4), now=NOW).table_ids == (ids["B"],)
    with ledger.read() as conn:
        assert audit_ledger(conn).ok


def test_a_table_edit_refused_writes_nothing(ledger: Ledger) -> None:
    rid, ids = add_three_tables(ledger)
    other, other_ids = add_three_tables(ledger, name="Another")
    with pytest.raises(AlreadyExists, match="already has a table named 'C'"):
        edit_table(ledger, rid, ids["A"], name="C")
    with pytest.raises(UnknownTable):
        edit_table(ledger, rid, other_ids["A"], name="Mine now")
    with pytest.raises(UnknownRestaurant):
        edit_table(ledger, 999, ids["A"], name="X")
    with pytest.raises(InvalidRequest):
        edit_table(ledger, rid, ids["A"], name="   ")
    with pytest.raises(InvalidRequest):
        edit_table(ledger, rid, ids["A"], features=tuple(f"f{i}" for i in range(13)))
    assert [t.name for t in floor_plan(ledger, rid).tables] == ["A", "C", "B"]
    assert _events(ledger, rid, "restaurant.table_edited") == []
    assert _events(ledger, other, "restaurant.table_edited") == []
