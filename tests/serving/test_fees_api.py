"""Cancellation terms over HTTP: a booking shows the terms it was made under
and the deadline for a free cancellation; a diner cancelling late sees the
fee on the answer; the restaurant's managers list the fees and waive one
(once: a second waiver is a 409); hosts, other restaurants' managers and
diners cannot; the service report sums what is due and what was waived."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import local_time
from tests.serving.conftest import World, fresh_date

API = "/api/v1"
FEE = 2500
runner = CliRunner()


@pytest.fixture
def brasserie_with_a_fee(world: World) -> Iterator[int]:
    """The brasserie (its manager's) charges FEE inside 48 h while the test runs."""
    admin = world.headers["admin"]
    url = f"{API}/restaurants/{world.brasserie}"
    before = world.client.get(url).json()
    terms = {"cancellation_fee_minor": FEE, "cancellation_window_hours": 48}
    assert world.client.patch(url, json=terms, headers=admin).status_code == 200
    clock = world.clock.now
    try:
        yield world.brasserie
    finally:
        world.clock.now = clock
        old = {k: before[k] for k in terms}
        assert world.client.patch(url, json=old, headers=admin).status_code == 200


def _book(world: World, rid: int, who: str, day: str, at: str = "19:00") -> dict[str, Any]:
    response = world.client.post(
        f"{API}/reservations",
        json={"restaurant_id": rid, "date": day, "time": at, "party_size": 2},
        headers=world.headers[who],
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_late_cancellation_shows_the_fee_and_the_manager_waives_it(
    world: World, brasserie_with_a_fee: int
) -> None:
    rid, day = brasserie_with_a_fee, fresh_date()
    late = _book(world, rid, "ana", day)
    gone = _book(world, rid, "manager", day, "20:00")
    terms = late["cancellation_terms"]
    start = local_time(date.fromisoformat(day), "19:00")
    assert terms["fee_minor"] == terms["amount_due_minor"] == FEE
    assert terms["window_hours"] == 48
    assert (terms["deposit_from_party"], terms["deposit_per_cover_minor"]) == (6, 2000)
    free_until = datetime.fromisoformat(terms["free_until"].replace("Z", "+00:00"))
    # 48 hours of instants, whatever the zones: from the UTC instant, as an
    # aware London time minus 48 hours is 48 hours of its wall clock, an hour
    # off when ``day`` (a ``fresh_date``, which one depends on the tests run
    # before) falls just after the clocks go forward on 29 March.
    assert free_until == start.astimezone(UTC) - timedelta(hours=48)
    assert late["fee"] is None

    world.clock.now = start - timedelta(hours=3)
    response = world.client.post(
        f"{API}/reservations/{late['id']}/cancel", json={}, headers=world.headers["ana"]
    )
    assert response.status_code == 200, response.text
    fee = response.json()["fee"]
    assert fee == {
        "amount_minor": FEE,
        "reason": "late_cancellation",
        "due": True,
        "waived_at": None,
    }

    world.clock.now = start + timedelta(hours=1, minutes=30)
    marked = world.client.post(
        f"{API}/reservations/{gone['id']}/state",
        json={"state": "no_show"},
        headers=world.headers["admin"],
    )
    assert marked.json()["fee"]["reason"] == "no_show"

    waive = f"{API}/reservations/{gone['id']}/fee-waiver"
    # A diner, another restaurant's host: the booking is not theirs to see.
    for who in ("ana", "host"):
        assert world.client.post(waive, json={}, headers=world.headers[who]).status_code == 404
    note = {"note": "train cancelled"}
    done = world.client.post(waive, json=note, headers=world.headers["manager"])
    assert done.status_code == 200, done.text
    assert done.json()["fee"]["due"] is False
    again = world.client.post(waive, json={}, headers=world.headers["manager"])
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")
    assert "was waived" in again.json()["detail"]

    listed = world.client.get(
        f"{API}/restaurants/{rid}/fees",
        params={"from": day, "to": day},
        headers=world.headers["manager"],
    )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [(f["reservation_id"], f["reason"], f["due"]) for f in body["fees"]] == [
        (late["id"], "late_cancellation", True),
        (gone["id"], "no_show", False),
    ]
    assert (body["due_minor"], body["waived_minor"]) == (FEE, FEE)
    due_only = world.client.get(
        f"{API}/restaurants/{rid}/fees",
        params={"from": day, "to": day, "due_only": "true"},
        headers=world.headers["manager"],
    ).json()
    assert [f["reservation_id"] for f in due_only["fees"]] == [late["id"]]

    report = world.client.get(
        f"{API}/restaurants/{rid}/service-report",
        params={"from": day, "to": day},
        headers=world.headers["manager"],
    ).json()
    assert (report["totals"]["fees_due_minor"], report["totals"]["fees_waived_minor"]) == (
        FEE,
        FEE,
    )


def test_an_early_cancellation_is_free(world: World, brasserie_with_a_fee: int) -> None:
    day = fresh_date()
    booked = _book(world, brasserie_with_a_fee, "ben", day)
    response = world.client.post(
        f"{API}/reservations/{booked['id']}/cancel", json={}, headers=world.headers["ben"]
    )
    assert response.status_code == 200
    assert response.json()["fee"] is None
    waive = world.client.post(
        f"{API}/reservations/{booked['id']}/fee-waiver", json={}, headers=world.headers["admin"]
    )
    assert waive.status_code == 409 and "no fee to waive" in waive.json()["detail"]


def test_the_fee_list_is_for_the_restaurants_managers(world: World) -> None:
    day = fresh_date()
    span = {"from": day, "to": day}
    url = f"{API}/restaurants/{world.bistro}/fees"
    assert world.client.get(url, params=span, headers=world.headers["host"]).status_code == 403
    assert world.client.get(url, params=span, headers=world.headers["manager"]).status_code == 403
    assert world.client.get(url, params=span).status_code == 401
    ok = world.client.get(url, params=span, headers=world.headers["admin"])
    assert ok.status_code == 200 and ok.json()["fees"] == []
    unknown = world.client.get(
        f"{API}/restaurants/999999/fees", params=span, headers=world.headers["admin"]
    )
    assert unknown.status_code == 404
    backwards = world.client.get(
        url,
        params={"from": day, "to": (date.fromisoformat(day) - timedelta(days=1)).isoformat()},
        headers=world.headers["admin"],
    )
    assert backwards.status_code == 422 and "ends" in backwards.json()["detail"]
    too_long = world.client.get(
        url,
        params={"from": day, "to": (date.fromisoformat(day) + timedelta(days=92)).isoformat()},
        headers=world.headers["admin"],
    )
    assert too_long.status_code == 422
    long_note = world.client.post(
        f"{API}/reservations/1/fee-waiver", json={"note": "x" * 501}, headers=world.headers["admin"]
    )
    assert long_note.status_code == 422


def test_the_back_office_lists_and_waives_fees_on_the_command_line(tmp_path: Path) -> None:
    from booking_core.ledger import Ledger
    from booking_core.reservations import BookingRequest, advance, book
    from booking_core.restaurants import add_restaurant
    from serving.cli import app
    from tests.conftest import NOW, bistro_spec

    url = f"sqlite:///{tmp_path / 'fees.db'}"
    ledger = Ledger.open(url)
    rid = add_restaurant(ledger, bistro_spec(cancellation_fee_minor=FEE))
    day = NOW.date() + timedelta(days=9)
    gone = book(ledger, BookingRequest(rid, day, "19:00", 2, guest_name="Ada"), now=NOW)
    advance(ledger, gone.id, "no_show", now=gone.start_at + timedelta(minutes=45))
    ledger.dispose()
    span = ["--from", day.isoformat(), "--to", day.isoformat(), "--database-url", url]

    listed = runner.invoke(app, ["fees", "list", str(rid), "--csv", *span])
    assert listed.exit_code == 0, listed.output
    rows = list(csv.DictReader(io.StringIO(listed.output)))
    assert [
        (r["reservation_id"], r["reason"], r["amount_minor"], r["waived_at"]) for r in rows
    ] == [(str(gone.id), "no_show", str(FEE), "")]
    waived = runner.invoke(
        app, ["fees", "waive", str(gone.id), "--note", "flood", "--database-url", url]
    )
    assert waived.exit_code == 0, waived.output
    again = runner.invoke(app, ["fees", "waive", str(gone.id), "--database-url", url])
    assert again.exit_code == 2 and "was waived at" in again.output
    assert "Traceback" not in again.output
    due = runner.invoke(app, ["fees", "list", str(rid), "--due-only", *span])
    assert due.exit_code == 0 and "0 fee(s)" in due.output
    table = runner.invoke(app, ["fees", "list", str(rid), *span])
    assert "1 fee(s): 0 GBP due, 2500 GBP waived." in " ".join(table.output.split())
    bad = runner.invoke(app, ["fees", "list", str(rid), "--from", "2026-02-30", "--to", "x"])
    assert bad.exit_code == 2 and "--from" in bad.output
