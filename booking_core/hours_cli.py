"""``servicesphere hours``: read a restaurant's weekly hours and change them
from a date, from the command line (the same change as ``PUT
/restaurants/{id}/hours``, for set-up scripts and the back office)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from booking_core.cli import UrlOption, console, fail, guard, open_ledger, parse_day, read_json
from booking_core.errors import InvalidRequest
from booking_core.floor import Floor, ServicePeriod, load_floor
from booking_core.restaurants import (
    OutsideHours,
    PeriodSpec,
    period_from_data,
    remove_special_date,
    set_hours,
    set_special_date,
)
from booking_core.slots import hhmm

hours_app = typer.Typer(help="A restaurant's weekly hours.", no_args_is_help=True)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OUTSIDE_SHOWN = 50  # the soonest bookings printed; the count says how many in all
SPECIAL_SHOWN = 20  # coming closures and special hours printed by ``show``


def _days(weekdays: list[int]) -> str:
    """Weekdays as runs: [1, 2, 3, 4, 5, 6] is "Tue-Sun", [0, 2] "Mon, Wed"."""
    runs: list[list[int]] = []
    for d in sorted(set(weekdays)):
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(
        WEEKDAYS[r[0]] if len(r) == 1 else f"{WEEKDAYS[r[0]]}-{WEEKDAYS[r[-1]]}" for r in runs
    )


def _timetable(floor: Floor, on: date) -> Table:
    """The timetable in force on ``on``, one row per period with its weekdays."""
    grouped: dict[tuple[Any, ...], list[int]] = {}
    for p in floor.timetable_on(on):
        key = (
            p.name,
            p.opens_min,
            p.closes_min,
            p.last_seating_min,
            p.slot_interval_min,
            p.turn_times,
            p.max_covers_per_slot,
            p.max_parties_per_slot,
        )
        grouped.setdefault(key, []).append(p.weekday)
    table = Table(
        title=f"Restaurant {floor.restaurant_id}: weekly hours in force on {on}",
        box=box.SIMPLE_HEAD,
    )
    for column in ("period", "days", "hours", "last seating", "slots", "pacing"):
        table.add_column(column, no_wrap=True)
    table.add_column("turn times")
    for (name, opens, closes, last, slot, turns, covers, parties), days in grouped.items():
        pacing = ", ".join(
            f"{n} {what}" for n, what in ((covers, "covers"), (parties, "parties")) if n
        )
        table.add_row(
            name,
            _days(days),
            f"{hhmm(opens)}-{hhmm(closes)}",
            hhmm(last),
            f"{slot}'",
            pacing or "-",
            ", ".join(f"{size}: {minutes}'" for size, minutes in turns),
        )
    return table


def _show(floor: Floor, on: date) -> None:
    periods: tuple[ServicePeriod, ...] = floor.timetable_on(on)
    if periods:
        console.print(_timetable(floor, on))
        since = periods[0].effective_from
        console.print(f"In force since {since or 'the restaurant opened'}.")
    else:
        console.print(f"Restaurant {floor.restaurant_id} has no weekly hours on {on}.")
    later = sorted(
        {p.effective_from for p in floor.periods if p.effective_from and p.effective_from > on}
    )
    if later:
        console.print("New hours start on " + ", ".join(map(str, later)) + ".")
    coming = [floor.special_dates[d] for d in sorted(floor.special_dates) if d >= on]
    for d in coming[:SPECIAL_SHOWN]:
        what = (
            "closed"
            if d.closed
            else f"open {hhmm(d.opens_min or 0)}-{hhmm(d.closes_min or 0)}, "
            f"last seating {hhmm(d.last_seating_min or 0)}"
        )
        console.print(
            f"{d.local_date} ({d.local_date:%a}): {what}" + (f" - {d.note}" if d.note else "")
        )


@hours_app.command("show")
def show(
    restaurant_id: Annotated[int, typer.Argument(help="The restaurant's id")],
    on: Annotated[str | None, typer.Option(help="Local date, YYYY-MM-DD (default: today)")] = None,
    database_url: UrlOption = None,
) -> None:
    """Print the weekly hours in force on a date and when later hours start."""
    day = parse_day(on, "--on")
    ledger = open_ledger(database_url)
    with ledger.read() as conn:
        floor = guard(lambda: load_floor(conn, restaurant_id))
    _show(floor, day or ledger.clock().astimezone(floor.zone).date())


def _read_periods(path: Path) -> tuple[list[PeriodSpec], date | None]:
    """Periods from a JSON file: a list of periods, or the API's body
    (``{"effective_from": ..., "periods": [...]}``); ``-`` reads stdin."""
    data = read_json(path)
    start = None
    if isinstance(data, dict):
        unknown = set(data) - {"effective_from", "periods"}
        if unknown or "periods" not in data:
            raise InvalidRequest(
                f"{path}: expected a list of periods or {{'effective_from', 'periods'}}."
            )
        if data.get("effective_from") is not None:
            try:
                start = date.fromisoformat(str(data["effective_from"]))
            except ValueError:
                raise InvalidRequest(f"{path}: effective_from is not YYYY-MM-DD.") from None
        data = data["periods"]
    if not isinstance(data, list):
        raise InvalidRequest(f"{path}: expected a list of periods.")
    return [period_from_data(p, f"periods[{i}]") for i, p in enumerate(data)], start


@hours_app.command("set")
def set_(
    restaurant_id: Annotated[int, typer.Argument(help="The restaurant's id")],
    path: Annotated[
        Path,
        typer.Argument(
            help="JSON file of service periods (fields as the API's PUT .../hours), - for stdin"
        ),
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="First local date of the new hours, today or later (or in the file)"
        ),
    ] = None,
    database_url: UrlOption = None,
) -> None:
    """Replace the weekly hours from a date. Bookings already taken stay
    booked; those the new hours no longer serve are listed to honour or call."""
    start = parse_day(from_, "--from")
    periods, in_file = guard(lambda: _read_periods(path))
    start = start or in_file
    if start is None:
        fail("Say from when: --from YYYY-MM-DD (or effective_from in the file).")
    assert start is not None
    ledger = open_ledger(database_url)
    outside: list[OutsideHours] = guard(lambda: set_hours(ledger, restaurant_id, periods, start))
    with ledger.read() as conn:
        floor = load_floor(conn, restaurant_id)
    _show(floor, start)
    _print_outside(outside, floor)


def _print_outside(outside: list[OutsideHours], floor: Floor) -> None:
    if not outside:
        console.print("No booking falls outside the new hours.")
        return
    table = Table(title=f"{len(outside)} booking(s) outside the new hours: honour or call")
    for column in ("reservation", "date", "time"):
        table.add_column(column)
    for o in outside[:OUTSIDE_SHOWN]:
        local = o.start_at.astimezone(floor.zone)
        table.add_row(str(o.reservation_id), str(o.service_date), local.strftime("%H:%M"))
    console.print(table)
    if len(outside) > OUTSIDE_SHOWN:
        console.print(f"... and {len(outside) - OUTSIDE_SHOWN} more.")


DateArg = Annotated[str, typer.Argument(help="The local date, YYYY-MM-DD (today or later)")]
NoteOption = Annotated[str, typer.Option(help="Shown to diners who ask for the date")]


def _special(restaurant_id: int, day: date, database_url: str | None, **values: Any) -> None:
    ledger = open_ledger(database_url)
    outside = guard(lambda: set_special_date(ledger, restaurant_id, day, **values))
    with ledger.read() as conn:
        floor = load_floor(conn, restaurant_id)
    _show(floor, day)
    _print_outside(outside, floor)


@hours_app.command("close")
def close(
    restaurant_id: Annotated[int, typer.Argument(help="The restaurant's id")],
    on: DateArg,
    note: NoteOption = "",
    database_url: UrlOption = None,
) -> None:
    """Close a date (bookings already taken stay booked and are listed)."""
    day = parse_day(on, "date")
    assert day is not None
    _special(restaurant_id, day, database_url, closed=True, note=note)


@hours_app.command("special")
def special(
    restaurant_id: Annotated[int, typer.Argument(help="The restaurant's id")],
    on: DateArg,
    opens: Annotated[str, typer.Option(help="HH:MM")],
    closes: Annotated[str, typer.Option(help="HH:MM (before opens: after midnight)")],
    last_seating: Annotated[str, typer.Option(help="HH:MM")],
    note: NoteOption = "",
    database_url: UrlOption = None,
) -> None:
    """Give a date its own hours, in place of the week's."""
    day = parse_day(on, "date")
    assert day is not None
    _special(
        restaurant_id,
        day,
        database_url,
        closed=False,
        note=note,
        opens=opens,
        closes=closes,
        last_seating=last_seating,
    )


@hours_app.command("clear")
def clear(
    restaurant_id: Annotated[int, typer.Argument(help="The restaurant's id")],
    on: DateArg,
    database_url: UrlOption = None,
) -> None:
    """Remove a date's closure or special hours: the week's hours apply again."""
    day = parse_day(on, "date")
    assert day is not None
    ledger = open_ledger(database_url)
    guard(lambda: remove_special_date(ledger, restaurant_id, day))
    console.print(f"{day}: the week's hours apply again.")
