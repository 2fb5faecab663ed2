"""Releasing bookings whose deposit was not paid by its deadline, as a
Prefect flow: ``servicesphere pipeline serve`` runs it every few minutes
beside the nightly loop, ``servicesphere pipeline run
release-unpaid-deposits`` once.

The work is the booking core's (``booking_core.unpaid_deposits``): each
booking is released in its own transaction and re-checked under its lock,
so a run that fails half-way and is retried releases the rest and never a
booking paid meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow, get_run_logger, task

from booking_core.ledger import Ledger
from booking_core.settings import get_settings
from booking_core.unpaid_deposits import release_unpaid

FLOW_NAME = "release-unpaid-deposits"
# A diner has at least five minutes to pay: checked as often, a table held
# for a deposit nobody paid is back on sale within minutes of its deadline.
EVERY = timedelta(minutes=5)


@task(retries=2, retry_delay_seconds=5)
def release_overdue(url: str, now: datetime | None, restaurant_id: int | None) -> list[int]:
    """Release the overdue bookings (of one restaurant, or all); their ids."""
    logger = get_run_logger()
    overdue = 0

    def seen(done: int, total: int) -> None:
        nonlocal overdue
        overdue = total

    ledger = Ledger.open(url)
    try:
        released = release_unpaid(ledger, now=now, restaurant_id=restaurant_id, progress=seen)
    finally:
        ledger.dispose()
    logger.info(
        "%d booking(s) overdue, %d released%s",
        overdue,
        len(released),
        f", {overdue - len(released)} paid or changed meanwhile" if overdue > len(released) else "",
    )
    return [r.id for r in released]


@flow(name=FLOW_NAME)
def release_unpaid_deposits(
    database_url: str | None = None,
    now: datetime | None = None,
    restaurant_id: int | None = None,
) -> list[int]:
    """Cancel, as the restaurant, every booking still owing its deposit at
    its deadline as of ``now`` (default: the ledger's clock); returns the
    ids released."""
    url = database_url or get_settings().ledger_url
    released = release_overdue(url, now, restaurant_id)
    get_run_logger().info("released %d booking(s) whose deposit was not paid", len(released))
    return released


__all__ = ["EVERY", "FLOW_NAME", "release_overdue", "release_unpaid_deposits"]
