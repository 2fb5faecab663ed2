"""``servicesphere deposits release`` on a real ledger file: the bookings
left unpaid past their deadline (by the real clock, as the command runs)
are released and listed, a paid one stays; a second run finds nothing;
bad input is one line, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from booking_core.deposits import record_payment
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book, get_reservation
from booking_core.restaurants import add_restaurant
from serving.cli import app
from tests.conftest import bistro_spec

runner = CliRunner()
SIX = 6 * 2000


def test_the_back_office_releases_unpaid_bookings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deposits.db'}"
    ledger = Ledger.open(url)
    rid = add_restaurant(ledger, bistro_spec())
    other = add_restaurant(ledger, bistro_spec(name="Brasserie Test"))
    # Booked two hours ago with an hour to pay: overdue now, whatever today is.
    booked_at = datetime.now(UTC) - timedelta(hours=2)
    day = booked_at.date() + timedelta(days=5)
    unpaid = book(ledger, BookingRequest(rid, day, "19:00", 6, guest_name="Ada"), now=booked_at)
    paid = book(
        ledger,
        BookingRequest(rid, day + timedelta(days=1), "19:00", 6, guest_name="Bo"),
        now=booked_at,
    )
    record_payment(ledger, paid.id, amount_minor=SIX, currency="GBP", payment_ref="psp-1")
    elsewhere = book(ledger, BookingRequest(other, day, "19:00", 6), now=booked_at)
    ledger.dispose()
    at = ["--database-url", url]

    one = runner.invoke(app, ["deposits", "release", "--restaurant", str(rid), *at])
    assert one.exit_code == 0, one.output
    text = " ".join(one.output.split())
    assert f" {unpaid.id} " in text and f"{SIX} GBP" in text
    assert f"{unpaid.start_at:%Y-%m-%d %H:%M}" in text
    assert "1 booking(s) released." in text
    assert f" {elsewhere.id} " not in text  # another restaurant: not asked
    ledger = Ledger.open(url, migrate=False)
    try:
        gone = get_reservation(ledger, unpaid.id)
        assert (gone.state, gone.cancelled_by, gone.table_ids) == ("cancelled", "restaurant", ())
        assert get_reservation(ledger, paid.id).state == "booked"
        assert get_reservation(ledger, elsewhere.id).state == "booked"
    finally:
        ledger.dispose()

    every = runner.invoke(app, ["deposits", "release", *at])
    assert every.exit_code == 0, every.output
    assert "1 booking(s) released." in every.output and "Brasserie" in every.output
    again = runner.invoke(app, ["deposits", "release", *at])
    assert again.exit_code == 0, again.output
    assert again.output.strip().startswith("Nothing overdue")

    for args, words in (
        (["--restaurant", "99", *at], "no restaurant with id 99"),
        (["--restaurant", "0", *at], "--restaurant"),
        (["--database-url", "nonsense://nowhere"], "--database-url"),
    ):
        refused = runner.invoke(app, ["deposits", "release", *args])
        assert refused.exit_code == 2, (args, refused.output)
        assert words in refused.output and "Traceback" not in refused.output


def test_the_restaurant_shows_its_time_to_pay(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shown.db'}"
    ledger = Ledger.open(url)
    rid = add_restaurant(ledger, bistro_spec(deposit_pay_within_minutes=45))
    ledger.dispose()
    shown = runner.invoke(app, ["restaurants", "show", str(rid), "--database-url", url])
    assert shown.exit_code == 0, shown.output
    assert "paid within 45 min of booking" in " ".join(shown.output.split())
