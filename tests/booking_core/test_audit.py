"""The ledger audit: clean after real bookings, and each corruption reported by
its own rule, against the right entity, with nothing else reported."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from booking_core import outbox
from booking_core.audit import (
    CLAIMS_MISMATCH,
    DOUBLE_BOOKING,
    OUTBOX,
    PACING,
    STATE_HISTORY,
    AuditReport,
    Violation,
    audit_ledger,
    history_problems,
)
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    Reservation,
    advance,
    book,
    cancel,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import add_restaurant
from booking_core.schema import outbox as outbox_table
from booking_core.schema import reservation_tables, reservations
from tests.conftest import NOW, bistro_spec

# Europe/London is on UTC until 29 March 2026, so local times are UTC times here.
DAY = date(2026, 3, 10)


def utc(day: date, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=UTC)


def reserve(
    ledger: Ledger, restaurant_id: int, hhmm: str, party_size: int = 2, day: date = DAY
) -> Reservation:
    return book(ledger, BookingRequest(restaurant_id, day, hhmm, party_size), now=NOW)


def run_audit(ledger: Ledger, restaurant_ids: list[int] | None = None) -> AuditReport:
    with ledger.read() as conn:
        return audit_ledger(conn, restaurant_ids=restaurant_ids)


def found(report: AuditReport) -> set[tuple[str, int]]:
    return {(v.rule, v.entity_id) for v in report.violations}


def only(report: AuditReport, rule: str, entity_id: int) -> Violation:
    [violation] = [v for v in report.violations if (v.rule, v.entity_id) == (rule, entity_id)]
    return violation


def insert_reservation(
    ledger: Ledger,
    restaurant_id: int,
    start: datetime,
    party_size: int,
    *,
    state: str = "booked",
    channel: str = "web",
    cancelled_by: str | None = None,
    **stamps: datetime,
) -> int:
    """A reservation written straight into the ledger, with the outbox events
    its timestamps call for (but no tables: pacing does not need them)."""
    stamps = {"booked_at": NOW, **stamps}
    with ledger.write() as conn:
        reservation_id = int(
            conn.execute(
                reservations.insert()
                .values(
                    restaurant_id=restaurant_id,
                    service_date=start.date(),
                    start_at=start,
                    end_at=start + timedelta(minutes=90),
                    party_size=party_size,
                    channel=channel,
                    state=state,
                    currency="GBP",
                    cancelled_by=cancelled_by,
                    updated_at=max(stamps.values()),
                    **stamps,
                )
                .returning(reservations.c.id)
            ).scalar_one()
        )
        walk_in = channel == "walk_in"
        created = "reservation.seated_walk_in" if walk_in else "reservation.booked"
        outbox.append(conn, created, "reservation", reservation_id, restaurant_id, {}, NOW)
        for column, at in sorted(stamps.items(), key=lambda item: item[1]):
            if column == "booked_at" or (walk_in and column == "seated_at"):
                continue
            event = f"reservation.{column.removesuffix('_at')}"
            outbox.append(conn, event, "reservation", reservation_id, restaurant_id, {}, at)
    return reservation_id


# ---------------------------------------------------------------- clean ledger


def test_a_ledger_written_through_acceptance_is_clean(ledger: Ledger, bistro: int) -> None:
    # Every write's `now` follows the previous one's, as on a real clock.
    full = reserve(ledger, bistro, "17:30")
    cancelled = reserve(ledger, bistro, "19:00", 4)
    no_show = reserve(ledger, bistro, "20:00", 3)
    arrived_then_left = reserve(ledger, bistro, "20:30")
    moved = reserve(ledger, bistro, "19:30")
    later = reserve(ledger, bistro, "19:00", day=DAY + timedelta(days=1))

    advance(ledger, full.id, "confirmed", now=NOW + timedelta(hours=1))
    # Moved (releasing and re-claiming a table), grown onto a combination, confirmed.
    modify(ledger, moved.id, local_time="19:45", now=NOW + timedelta(hours=2))
    modify(ledger, moved.id, party_size=6, now=NOW + timedelta(hours=3))
    advance(ledger, moved.id, "confirmed", now=NOW + timedelta(hours=4))
    modify(ledger, later.id, local_date=DAY + timedelta(days=2), now=NOW + timedelta(hours=5))
    cancel(ledger, cancelled.id, by="restaurant", now=NOW + timedelta(days=2))

    # On the night: a whole life, finished early; its table then goes to a walk-in
    # while the first party's planned interval is still running (a legal overlap).
    advance(ledger, full.id, "arrived", now=utc(DAY, "17:28"))
    advance(ledger, full.id, "seated", now=utc(DAY, "17:30"))
    advance(ledger, full.id, "completed", now=utc(DAY, "18:15"))
    walk_in = seat_walk_in(ledger, bistro, 2, table_ids=full.table_ids, now=utc(DAY, "18:30"))
    seated_walk_in = seat_walk_in(ledger, bistro, 3, now=utc(DAY, "19:05"))
    advance(ledger, walk_in.id, "completed", now=utc(DAY, "20:00"))
    advance(ledger, arrived_then_left.id, "arrived", now=utc(DAY, "20:25"))
    advance(ledger, no_show.id, "no_show", now=utc(DAY, "20:30"))
    cancel(ledger, arrived_then_left.id, now=utc(DAY, "20:40"))

    report = run_audit(ledger)
    assert report.ok, report.to_text()
    assert report.violations == []
    assert report.checked["reservations"] == 8
    # Moves keep their released rows; the party of six holds two joined tables.
    assert report.checked["reservation_tables"] == 6 + 1 + 1 + 2 + 1 + 1
    assert report.checked["table_claims"] > 0
    assert report.checked["pacing_restaurants"] == 1
    assert report.checked["pacing_restaurants_skipped"] == 0
    created, full_life, later_states, modified = 8, 4, 1 + 1 + 1 + 2 + 1, 3
    assert report.checked["outbox_events"] == created + full_life + later_states + modified
    assert "no violations" in report.to_text()
    assert seated_walk_in.state == "seated"
    with ledger.read() as conn:  # the early release really overlaps the walk-in
        rows = conn.execute(
            sa.select(reservation_tables).where(
                reservation_tables.c.table_id == full.table_ids[0],
                reservation_tables.c.reservation_id.in_([full.id, walk_in.id]),
            )
        ).all()
    assert len(rows) == 2 and rows[0].end_at > rows[1].start_at


def test_restaurants_without_hours_are_skipped_for_pacing(ledger: Ledger, bistro: int) -> None:
    imported = add_restaurant(ledger, bistro_spec(name="Imported", periods=()))
    insert_reservation(ledger, imported, utc(DAY, "19:00"), 2)
    report = run_audit(ledger)
    assert report.ok, report.to_text()
    assert report.checked["pacing_restaurants"] == 1
    assert report.checked["pacing_restaurants_skipped"] == 1
    scoped = run_audit(ledger, restaurant_ids=[imported])
    assert scoped.checked["reservations"] == 1
    assert scoped.checked["pacing_restaurants"] == 0


# ---------------------------------------------------------------- 1. tables


def test_overlapping_unreleased_assignment(ledger: Ledger, bistro: int) -> None:
    first = reserve(ledger, bistro, "19:00")
    intruder = reserve(ledger, bistro, "19:00", day=DAY + timedelta(days=1))
    table_id = first.table_ids[0]
    row = {
        "reservation_id": intruder.id,
        "table_id": table_id,
        "start_at": first.start_at + timedelta(minutes=30),
        "end_at": first.end_at + timedelta(minutes=30),
        "assigned_at": NOW + timedelta(hours=1),
    }
    if ledger.is_postgres:
        # The exclusion constraint refuses what the granule claims were bypassed for.
        with (
            pytest.raises(sa.exc.IntegrityError, match="ex_reservation_tables_no_overlap"),
            ledger.write() as conn,
        ):
            conn.execute(reservation_tables.insert().values(**row))
        assert run_audit(ledger).ok
        return
    with ledger.write() as conn:  # no table_claims: they would collide on the primary key
        conn.execute(reservation_tables.insert().values(**row))
    report = run_audit(ledger)
    assert found(report) == {(DOUBLE_BOOKING, intruder.id), (CLAIMS_MISMATCH, intruder.id)}
    clash = only(report, DOUBLE_BOOKING, intruder.id).message
    assert f"table {table_id}" in clash
    assert f"reservation {first.id}" in clash and f"reservation {intruder.id}" in clash
    assert "not claimed" in only(report, CLAIMS_MISMATCH, intruder.id).message


def test_released_overlap_is_legal_only_if_released_before_the_other_assignment(
    ledger: Ledger, bistro: int
) -> None:
    holder = reserve(ledger, bistro, "19:00")  # assigned at NOW
    neighbour = reserve(ledger, bistro, "19:00")  # at the same time, so on another table
    other = reserve(ledger, bistro, "19:00", day=DAY + timedelta(days=1))
    cancel(ledger, other.id, now=NOW + timedelta(hours=1))

    def insert_released(table_id: int, assigned: timedelta, released: timedelta) -> None:
        with ledger.write() as conn:
            conn.execute(
                reservation_tables.insert().values(
                    reservation_id=other.id,
                    table_id=table_id,
                    start_at=holder.start_at - timedelta(minutes=30),
                    end_at=holder.end_at,
                    assigned_at=NOW + assigned,
                    released_at=NOW + released,
                )
            )

    # Freed before the holder got the table: fine.
    insert_released(holder.table_ids[0], -timedelta(hours=2), -timedelta(hours=1))
    assert run_audit(ledger).ok
    # Given while the holder had it, released later: a clash, found among two
    # earlier rows (three intervals at once) ...
    insert_released(holder.table_ids[0], timedelta(minutes=10), timedelta(minutes=20))
    # ... and next to the neighbour, the only other row on its table.
    insert_released(neighbour.table_ids[0], timedelta(minutes=10), timedelta(minutes=20))
    report = run_audit(ledger)
    assert [(v.rule, v.entity_id) for v in report.violations] == [(DOUBLE_BOOKING, other.id)] * 2
    messages = " ".join(v.message for v in report.violations)
    assert f"reservation {holder.id}" in messages and f"reservation {neighbour.id}" in messages
    assert f"table {holder.table_ids[0]}" in messages
    assert f"table {neighbour.table_ids[0]}" in messages


def test_claims_of_a_cancelled_reservation(ledger: Ledger, bistro: int) -> None:
    gone = reserve(ledger, bistro, "19:00")
    kept = reserve(ledger, bistro, "20:00")
    cancel(ledger, gone.id, now=NOW + timedelta(hours=1))
    with ledger.write() as conn:  # un-release it: tables and claims both left behind
        conn.execute(
            reservation_tables.update()
            .where(reservation_tables.c.reservation_id == gone.id)
            .values(released_at=None)
        )
        conn.execute(
            sa.text(
                "INSERT INTO table_claims (table_id, granule, reservation_id) "
                "SELECT table_id, granule + 1000, :to FROM table_claims WHERE reservation_id = :k"
            ),
            {"to": gone.id, "k": kept.id},
        )
    report = run_audit(ledger)
    assert found(report) == {(CLAIMS_MISMATCH, gone.id)}
    message = report.violations[0].message
    assert "is cancelled" in message and "unreleased" in message


# ---------------------------------------------------------------- 2. pacing


def test_pacing_excess_is_reported(ledger: Ledger, bistro: int) -> None:
    # Dinner takes at most 16 covers and 4 parties per slot.
    for _ in range(4):
        reserve(ledger, bistro, "19:00")
    extra = insert_reservation(ledger, bistro, utc(DAY, "19:00"), 2)
    # Neither a walk-in nor a cancelled party counts.
    insert_reservation(
        ledger, bistro, utc(DAY, "19:30"), 2, state="seated", channel="walk_in", seated_at=NOW
    )
    insert_reservation(
        ledger,
        bistro,
        utc(DAY, "19:30"),
        8,
        state="cancelled",
        cancelled_by="diner",
        cancelled_at=NOW + timedelta(hours=1),
    )
    for _ in range(3):
        insert_reservation(ledger, bistro, utc(DAY, "19:30"), 6)
    assert run_audit(ledger).checked["pacing_slots"] == 2

    report = run_audit(ledger)
    assert [(v.rule, v.entity, v.entity_id) for v in report.violations] == [
        (PACING, "restaurant", bistro),
        (PACING, "restaurant", bistro),
    ]
    parties, covers = (v.message for v in report.violations)
    assert "19:00" in parties and "5 parties (max 4)" in parties and str(extra) in parties
    assert "19:30" in covers and "18 covers (max 16)" in covers and "parties" not in covers


# ---------------------------------------------------------------- 3. history


def test_illegal_histories_are_reported(ledger: Ledger, bistro: int) -> None:
    nobody = reserve(ledger, bistro, "19:00")
    backwards = reserve(ledger, bistro, "19:30")
    cancel(ledger, nobody.id, now=NOW + timedelta(hours=1))
    advance(ledger, backwards.id, "confirmed", now=NOW + timedelta(hours=1))
    with ledger.write() as conn:
        conn.execute(
            reservations.update().where(reservations.c.id == nobody.id).values(cancelled_by=None)
        )
        conn.execute(
            reservations.update()
            .where(reservations.c.id == backwards.id)
            .values(confirmed_at=NOW - timedelta(hours=1))
        )
    # Completed without ever being seated, with events that agree.
    unseated = insert_reservation(
        ledger,
        bistro,
        utc(DAY, "20:00"),
        2,
        state="completed",
        completed_at=utc(DAY, "21:30"),
    )
    report = run_audit(ledger)
    assert found(report) == {
        (STATE_HISTORY, nobody.id),
        (STATE_HISTORY, backwards.id),
        (STATE_HISTORY, unseated),
    }
    assert "cancelled without cancelled_by" in only(report, STATE_HISTORY, nobody.id).message
    assert "confirmed_at" in only(report, STATE_HISTORY, backwards.id).message
    assert "is after" in only(report, STATE_HISTORY, backwards.id).message
    assert "completed requires seated_at" in only(report, STATE_HISTORY, unseated).message

    # Scoped to another restaurant, none of it is seen.
    other = add_restaurant(ledger, bistro_spec(name="Elsewhere"))
    assert run_audit(ledger, restaurant_ids=[other]).ok
    assert found(run_audit(ledger, restaurant_ids=[bistro])) == found(report)


@pytest.mark.parametrize(
    ("state", "channel", "stamps", "cancelled_by", "expected"),
    [
        ("booked", "web", {"booked_at": NOW}, None, []),
        ("seated", "walk_in", {"booked_at": NOW, "seated_at": NOW}, None, []),
        (
            "completed",
            "web",
            {"booked_at": NOW, "arrived_at": NOW, "seated_at": NOW, "completed_at": NOW},
            None,
            [],
        ),
        ("cancelled", "phone", {"booked_at": NOW, "cancelled_at": NOW}, "diner", []),
        ("gone", "web", {"booked_at": NOW}, None, ["not a reservation state"]),
        ("confirmed", "web", {"booked_at": NOW}, None, ["confirmed_at is not set"]),
        ("booked", "web", {"booked_at": NOW}, "diner", ["cancelled_by is 'diner'"]),
        (
            "no_show",
            "web",
            {"booked_at": NOW, "arrived_at": NOW, "no_show_at": NOW},
            None,
            ["arrived cannot lead to no_show"],
        ),
        (
            "seated",
            "web",
            {"booked_at": NOW, "seated_at": NOW, "cancelled_at": NOW},
            None,
            ["cancelled cannot lead to seated"],
        ),
        (
            "seated",
            "walk_in",
            {"booked_at": NOW, "seated_at": NOW + timedelta(minutes=5)},
            None,
            ["walk-in is seated as it is created"],
        ),
    ],
)
def test_history_problems(
    state: str,
    channel: str,
    stamps: dict[str, datetime],
    cancelled_by: str | None,
    expected: list[str],
) -> None:
    problems = history_problems(state, channel, stamps, cancelled_by)
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_the_database_and_python_agree_on_which_histories_are_illegal(
    ledger: Ledger, bistro: int
) -> None:
    later = NOW + timedelta(hours=1)
    histories: list[tuple[str, str, str | None, dict[str, datetime]]] = [
        ("booked", "web", None, {}),
        ("confirmed", "web", None, {"confirmed_at": later}),
        ("confirmed", "web", None, {}),
        ("arrived", "phone", None, {"confirmed_at": later, "arrived_at": NOW}),
        ("seated", "walk_in", None, {"seated_at": NOW}),
        ("seated", "walk_in", None, {"seated_at": later}),
        ("completed", "walk_in", None, {"seated_at": NOW, "completed_at": later}),
        ("completed", "web", None, {"arrived_at": later, "completed_at": later}),
        ("cancelled", "web", "diner", {"arrived_at": later, "cancelled_at": later}),
        ("cancelled", "web", None, {"cancelled_at": later}),
        ("no_show", "web", None, {"arrived_at": later, "no_show_at": later}),
        ("no_show", "widget", None, {"confirmed_at": later, "no_show_at": later}),
        ("booked", "web", "restaurant", {}),
    ]
    ids = {}
    for i, (state, channel, by, stamps) in enumerate(histories):
        start = utc(DAY, "17:00") + timedelta(minutes=15 * i)
        ids[i] = insert_reservation(
            ledger, bistro, start, 2, state=state, channel=channel, cancelled_by=by, **stamps
        )
    illegal = {
        ids[i]
        for i, (state, channel, by, stamps) in enumerate(histories)
        if history_problems(state, channel, {"booked_at": NOW, **stamps}, by)
    }
    assert len(illegal) == 7
    flagged = {v.entity_id for v in run_audit(ledger).violations if v.rule == STATE_HISTORY}
    assert flagged == illegal


# ---------------------------------------------------------------- 4. outbox


def test_missing_and_orphaned_outbox_events(ledger: Ledger, bistro: int) -> None:
    silent = reserve(ledger, bistro, "19:00")
    advance(ledger, silent.id, "confirmed", now=NOW + timedelta(hours=1))
    deleted = reserve(ledger, bistro, "20:00")
    with ledger.write() as conn:
        conn.execute(
            outbox_table.delete().where(
                outbox_table.c.entity_id == silent.id,
                outbox_table.c.event_type == "reservation.confirmed",
            )
        )
        conn.execute(reservations.delete().where(reservations.c.id == deleted.id))
    report = run_audit(ledger)
    assert found(report) == {(OUTBOX, silent.id), (OUTBOX, deleted.id)}
    missing = only(report, OUTBOX, silent.id).message
    assert "no reservation.confirmed event" in missing
    assert "last state event is reservation.booked" in missing
    assert "does not exist" in only(report, OUTBOX, deleted.id).message


def test_duplicate_and_misordered_outbox_events(ledger: Ledger, bistro: int) -> None:
    twice = reserve(ledger, bistro, "19:00")
    advance(ledger, twice.id, "arrived", now=utc(DAY, "18:55"))
    advance(ledger, twice.id, "seated", now=utc(DAY, "19:00"))
    with ledger.write() as conn:  # an arrival replayed after the seating
        outbox.append(
            conn, "reservation.arrived", "reservation", twice.id, bistro, {}, utc(DAY, "19:01")
        )
    report = run_audit(ledger)
    assert found(report) == {(OUTBOX, twice.id)}
    message = report.violations[0].message
    assert "2 reservation.arrived events, expected 1" in message
    assert "last state event is reservation.arrived" in message


def test_report_text_groups_by_rule(ledger: Ledger, bistro: int) -> None:
    ids = [reserve(ledger, bistro, hhmm).id for hhmm in ("18:00", "18:30", "19:00")]
    with ledger.write() as conn:
        conn.execute(outbox_table.delete().where(outbox_table.c.entity_id.in_(ids)))
    report = run_audit(ledger)
    assert not report.ok
    assert [v.entity_id for v in report.by_rule()[OUTBOX]] == ids
    text = report.to_text(per_rule=2)
    assert text.startswith("Ledger audit: 3 violations (outbox 3).")
    assert "[outbox] 3 violations" in text
    assert f"reservation {ids[1]}:" in text and f"reservation {ids[2]}:" not in text
    assert "... and 1 more" in text
