"""``servicesphere``: set up a ledger, seed a world, import real data, audit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from booking_core.errors import BookingError, InvalidRequest
from booking_core.ledger import Ledger, drop_everything
from booking_core.settings import get_settings

app = typer.Typer(help="ServiceSphere: reservations that learn.", no_args_is_help=True)
db_app = typer.Typer(help="The ledger database.", no_args_is_help=True)
import_app = typer.Typer(help="Load real data sets into the ledger.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
console = Console()
T = TypeVar("T")

UrlOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Ledger URL; default SERVICESPHERE_DATABASE_URL or var/."),
]


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)  # one line to grep
    raise typer.Exit(code)


def guard(action: Callable[[], T]) -> T:
    """Show a booking-core refusal as one readable line, never a traceback."""
    try:
        return action()
    except BookingError as exc:
        fail(str(exc))
        raise  # unreachable: _fail raises
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}")
        raise


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not sys.stderr.isatty() and not sys.stdout.isatty(),
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield report


def read_json(path: Path) -> object:
    """A JSON file (``-``: stdin) for a set-up command; a file that is not
    there, not UTF-8 or not JSON is an ``InvalidRequest`` (or ``OSError``)
    that ``guard`` prints as one line."""
    try:
        text = typer.get_text_stream("stdin").read() if str(path) == "-" else path.read_text()
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{path} is not JSON: {exc.msg} (line {exc.lineno}).") from None
    except UnicodeDecodeError:
        raise InvalidRequest(f"{path} is not a UTF-8 text file.") from None


def open_ledger(url: str | None) -> Ledger:
    return guard(lambda: Ledger.open(url))


@db_app.command("upgrade")
def db_upgrade(database_url: UrlOption = None) -> None:
    """Create or migrate the ledger schema to the latest version."""
    ledger = open_ledger(database_url)
    console.print(f"Ledger ready at {ledger.engine.url.render_as_string(hide_password=True)}")


@app.command()
def seed(
    size: Annotated[
        str, typer.Option(help="tiny, small, demo or large (about 1M bookings)")
    ] = "demo",
    seed: Annotated[int, typer.Option(help="Random seed: same seed and today, same world")] = 7,
    today: Annotated[str | None, typer.Option(help="The world's today, YYYY-MM-DD")] = None,
    reset: Annotated[bool, typer.Option(help="Drop everything in the ledger first")] = False,
    database_url: UrlOption = None,
) -> None:
    """Generate a synthetic world into the ledger."""
    from booking_core.world.generate import SIZES, generate_world

    if size not in SIZES:
        fail(f"Unknown size {size!r}; choose one of {', '.join(SIZES)}.")
    day = parse_day(today)
    ledger = _reset(database_url) if reset else open_ledger(database_url)
    with _progress() as report:
        summary = guard(
            lambda: generate_world(ledger, size=size, seed=seed, today=day, progress=report)
        )
    _print_world(summary)


def parse_day(value: str | None, option: str = "--today") -> date | None:
    """A date option, or a readable refusal naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date written as YYYY-MM-DD.")
        raise


def _reset(url: str | None) -> Ledger:
    ledger = guard(lambda: Ledger.open(url, migrate=False))
    drop_everything(ledger.engine)
    ledger.dispose()
    return open_ledger(url)


def _print_world(s: object) -> None:
    from booking_core.world.generate import WorldSummary

    assert isinstance(s, WorldSummary)
    table = Table(title=f"ServiceSphere world '{s.size}' (seed {s.seed}, today {s.today})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("restaurants", f"{s.restaurants:,}"),
        ("tables", f"{s.tables:,}"),
        ("diners", f"{s.diners:,}"),
        ("reservations", f"{s.reservations:,}"),
        ("  of which walk-ins", f"{s.walk_ins:,}"),
        ("  states", ", ".join(f"{k} {v:,}" for k, v in sorted(s.states.items()))),
        ("covers per restaurant per day", f"{s.covers_per_day:.1f}"),
        ("no-show rate (booked, past)", f"{s.no_show_rate:.1%}"),
        ("cancellation rate (booked, past)", f"{s.cancellation_rate:.1%}"),
        ("waitlist entries", f"{s.waitlist:,}"),
        ("requests turned away", f"{s.turnaways:,}"),
        ("POS checks", f"{s.checks:,}"),
        ("reviews", f"{s.reviews:,}"),
        ("time taken", f"{s.seconds:.1f} s"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


@import_app.command("recruit")
def import_recruit_cmd(
    path: Annotated[Path, typer.Argument(help="Folder with the Recruit .csv.gz files")],
    limit_stores: Annotated[int | None, typer.Option(help="Only the first N stores")] = None,
    database_url: UrlOption = None,
) -> None:
    """Load the Recruit restaurant data set (stores, reservations, daily visits)."""
    from booking_core.importers.recruit import import_recruit

    ledger = open_ledger(database_url)
    with _progress() as report:
        summary = guard(
            lambda: import_recruit(ledger, path, progress=report, limit_stores=limit_stores)
        )
    console.print(summary)


@app.command()
def audit(
    database_url: UrlOption = None,
    show: Annotated[int, typer.Option(help="Violations shown per rule")] = 20,
) -> None:
    """Check the whole ledger; exit 1 and name each violation if any rule is broken."""
    from booking_core.audit import audit_ledger

    ledger = open_ledger(database_url)
    with ledger.read() as conn:
        report = guard(lambda: audit_ledger(conn))
    console.print(report.to_text(show))
    if not report.ok:
        raise typer.Exit(1)


def build_demo_world(size: str = "demo", seed: int = 7) -> Ledger:
    """The demo's first half: a fresh world in the default ledger, audited."""
    from booking_core.audit import audit_ledger
    from booking_core.world.generate import generate_world

    settings = get_settings()
    console.print(f"[bold]ServiceSphere demo[/] - ledger {settings.ledger_url}")
    ledger = _reset(None)
    with _progress() as report:
        summary = guard(lambda: generate_world(ledger, size=size, seed=seed, progress=report))
    _print_world(summary)
    with ledger.read() as conn:
        result = audit_ledger(conn)
    console.print(result.to_text(10))
    if not result.ok:
        raise typer.Exit(1)
    return ledger


def main() -> None:
    app()


if __name__ == "__main__":
    main()
