"""The ``release-unpaid-deposits`` flow, run for real (Prefect's ephemeral
API) on a ledger of its own, SQLite and PostgreSQL: the overdue booking is
released, the paid one stays; ``pipeline run`` runs it once and ``pipeline
serve`` serves it every five minutes beside the nightly loop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

from booking_core.deposits import record_payment
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book, get_reservation
from booking_core.restaurants import add_restaurant
from pipelines.deposits import EVERY, FLOW_NAME, release_unpaid_deposits
from serving.cli import app, deployments
from tests.conftest import NOW, bistro_spec

SIX = 6 * 2000
runner = CliRunner()


@pytest.fixture(scope="module")
def prefect() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_the_flow_releases_the_overdue_booking_and_keeps_the_paid(
    prefect: None, ledger: Ledger
) -> None:
    rid = add_restaurant(ledger, bistro_spec())
    day = NOW.date() + timedelta(days=4)
    overdue = book(ledger, BookingRequest(rid, day, "19:00", 6, guest_name="Ada"), now=NOW)
    paid = book(ledger, BookingRequest(rid, day, "21:30", 6, guest_name="Bo"), now=NOW)
    record_payment(ledger, paid.id, amount_minor=SIX, currency="GBP", payment_ref="psp-bo")
    url = ledger.engine.url.render_as_string(hide_password=False)

    early = release_unpaid_deposits(database_url=url, now=NOW + timedelta(minutes=59))
    assert early == []
    released = release_unpaid_deposits(database_url=url, now=NOW + timedelta(hours=1))
    assert released == [overdue.id]
    gone = get_reservation(ledger, overdue.id)
    assert (gone.state, gone.cancelled_by, gone.table_ids) == ("cancelled", "restaurant", ())
    kept = get_reservation(ledger, paid.id)
    assert (kept.state, kept.deposit_status.value) == ("booked", "paid")
    assert release_unpaid_deposits(database_url=url, now=NOW + timedelta(hours=2)) == []

    # Once from the command line, by the real clock: booked two hours ago.
    booked_at = datetime.now(UTC) - timedelta(hours=2)
    late = book(
        ledger, BookingRequest(rid, booked_at.date() + timedelta(days=3), "19:00", 6), now=booked_at
    )
    ran = runner.invoke(app, ["pipeline", "run", FLOW_NAME, "--database-url", url])
    assert ran.exit_code == 0, ran.output
    assert f"Released 1 booking(s) whose deposit was not paid: {late.id}." in ran.output
    assert get_reservation(ledger, late.id).state == "cancelled"


def test_pipeline_serve_serves_both_deployments() -> None:
    nightly, release = deployments("0 4 * * *", EVERY, "sqlite:///x.db", "var")
    assert (nightly.name, release.name) == ("nightly", FLOW_NAME)
    assert release.entrypoint == "pipelines/deposits.py:release_unpaid_deposits"
    [every] = [s.schedule for s in release.schedules or ()]
    assert isinstance(every, IntervalSchedule) and every.interval == timedelta(minutes=5)
    [cron] = [s.schedule for s in nightly.schedules or ()]
    assert isinstance(cron, CronSchedule) and cron.cron == "0 4 * * *"
    assert release.parameters == {"database_url": "sqlite:///x.db"}
    shown = runner.invoke(app, ["pipeline", "serve", "--help"])
    assert shown.exit_code == 0 and "--release-every" in shown.output
