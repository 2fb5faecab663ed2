"""``servicesphere deposits``: release now the bookings whose deposit was not
paid by its deadline (the same as ``POST /restaurants/{id}/deposits/release``
for one restaurant, or every restaurant at once), for the back office and
for a cron job where the ``release-unpaid-deposits`` flow is not served."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
import typer
from rich import box
from rich.table import Table

from booking_core.cli import UrlOption, _progress, console, fail, guard, open_ledger
from booking_core.ledger import Ledger
from booking_core.profile import get_profile
from booking_core.reservations import Reservation
from booking_core.schema import restaurants
from booking_core.unpaid_deposits import release_unpaid

deposits_app = typer.Typer(help="Deposits paid by a deadline.", no_args_is_help=True)


def _open(url: str | None) -> Ledger:
    """The ledger, or one line saying why it cannot be opened."""
    try:
        return open_ledger(url)
    except sa.exc.ArgumentError as exc:
        fail(f"--database-url is not a database URL we can use: {exc}")
        raise
    except sa.exc.OperationalError as exc:
        fail(f"The ledger cannot be opened: {exc.orig}")
        raise


def _names(ledger: Ledger, ids: set[int]) -> dict[int, str]:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(restaurants.c.id, restaurants.c.name).where(restaurants.c.id.in_(ids))
        )
        return {rid: name for rid, name in rows}


def _table(ledger: Ledger, released: list[Reservation]) -> Table:
    names = _names(ledger, {r.restaurant_id for r in released})
    table = Table(title="Released: deposit not paid in time", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True)
    table.add_column("restaurant")  # the one column that wraps on a narrow terminal
    for column in ("start (UTC)", "party", "deposit owed", "due at (UTC)"):
        table.add_column(column, no_wrap=True)
    for r in released:
        table.add_row(
            str(r.id),
            f"{names.get(r.restaurant_id, '?')} ({r.restaurant_id})",
            f"{r.start_at:%Y-%m-%d %H:%M}",
            str(r.party_size),
            f"{r.deposit.outstanding_minor} {r.currency}",
            f"{r.deposit.due_at:%Y-%m-%d %H:%M}" if r.deposit.due_at else "-",
        )
    return table


@deposits_app.command("release")
def release_command(
    restaurant_id: Annotated[
        int | None,
        typer.Option("--restaurant", min=1, help="Only this restaurant (default: every one)"),
    ] = None,
    database_url: UrlOption = None,
) -> None:
    """Cancel, as the restaurant, every booking still owing its deposit past
    its deadline: its tables free at once, no fee is due, any part paid is
    refunded."""
    ledger = _open(database_url)
    if restaurant_id is not None:
        guard(lambda: get_profile(ledger, restaurant_id))  # a restaurant that is not there
    with _progress() as report:
        released = guard(
            lambda: release_unpaid(
                ledger,
                restaurant_id=restaurant_id,
                progress=lambda done, total: report("releasing", done, total),
            )
        )
    if not released:
        console.print("Nothing overdue: every deposit owed is still within its time to pay.")
        return
    console.print(_table(ledger, released))
    console.print(f"{len(released)} booking(s) released.")
