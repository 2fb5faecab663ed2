"""``servicesphere fees``: the fees bookings' cancellation terms made due,
for the back office: list a span's fees (as a table, or CSV for the
payments team) and waive one (the same as ``GET /restaurants/{id}/fees``
and ``POST /reservations/{id}/fee-waiver``)."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from booking_core.cli import UrlOption, console, fail, guard, open_ledger, parse_day
from booking_core.fees import FeeLine, list_fees, waive_fee

fees_app = typer.Typer(help="Fees for late cancellations and no-shows.", no_args_is_help=True)

CSV_COLUMNS = (
    "reservation_id",
    "service_date",
    "start_at",
    "guest_name",
    "diner_id",
    "party_size",
    "amount_minor",
    "currency",
    "reason",
    "at",
    "waived_at",
)


def _csv(lines: list[FeeLine]) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for line in lines:
        values = (getattr(line, c) for c in CSV_COLUMNS)
        # Dates and instants in ISO form, a missing value as an empty cell.
        out.writerow(
            "" if v is None else v.isoformat() if hasattr(v, "isoformat") else v for v in values
        )


def _table(restaurant_id: int, lines: list[FeeLine]) -> Table:
    table = Table(title=f"Restaurant {restaurant_id}: fees", box=box.SIMPLE_HEAD)
    for column in ("reservation", "date", "guest", "party", "reason", "amount", "state"):
        table.add_column(column, no_wrap=True)
    for x in lines:
        state = f"waived {x.waived_at:%Y-%m-%d %H:%M}" if x.waived_at else "due"
        table.add_row(
            str(x.reservation_id),
            f"{x.service_date} {x.start_at:%H:%M} UTC",
            x.guest_name or (f"diner {x.diner_id}" if x.diner_id else "-"),
            str(x.party_size),
            x.reason.value.replace("_", " "),
            f"{x.amount_minor} {x.currency}",
            state,
        )
    return table


@fees_app.command("list")
def list_command(
    restaurant_id: Annotated[int, typer.Argument(help="The restaurant's id")],
    date_from: Annotated[str, typer.Option("--from", help="First service date, YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="Last service date, YYYY-MM-DD")],
    due_only: Annotated[bool, typer.Option("--due-only", help="Leave waived fees out")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout, for payments")] = False,
    database_url: UrlOption = None,
) -> None:
    """The late cancellations and no-shows with a fee, by service date."""
    first, last = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    if first is None or last is None:  # typer requires both; kept for the type checker
        fail("--from and --to are required.")
        return
    ledger = open_ledger(database_url)
    lines = guard(
        lambda: list_fees(ledger, restaurant_id, first, last, include_waived=not due_only)
    )
    if as_csv:
        _csv(lines)
        return
    console.print(_table(restaurant_id, lines))
    due = sum(x.amount_minor for x in lines if x.due)
    waived = sum(x.amount_minor for x in lines if not x.due)
    currency = lines[0].currency if lines else ""
    console.print(f"{len(lines)} fee(s): {due} {currency} due, {waived} {currency} waived.")


@fees_app.command("waive")
def waive_command(
    reservation_id: Annotated[int, typer.Argument(help="The reservation's id")],
    note: Annotated[str, typer.Option(help="Why (kept with the waiver)")] = "",
    by: Annotated[str, typer.Option(help="Who waives it (kept with the waiver)")] = "back office",
    database_url: UrlOption = None,
) -> None:
    """Waive the fee due on a reservation (once)."""
    ledger = open_ledger(database_url)
    at = guard(lambda: waive_fee(ledger, reservation_id, by=by, note=note))
    console.print(f"Fee on reservation {reservation_id} waived at {at:%Y-%m-%d %H:%M} UTC.")
