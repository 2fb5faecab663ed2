"""``servicesphere restaurants``: open a restaurant from a JSON file (the
body of ``POST /restaurants``, checked by the same model) and show one's
profile and floor plan: for onboarding scripts and the back office."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich import box
from rich.table import Table

from booking_core.cli import UrlOption, console, fail, guard, open_ledger, read_json
from booking_core.floor_plan import floor_plan
from booking_core.ledger import Ledger
from booking_core.profile import get_profile
from booking_core.restaurants import add_restaurant

restaurants_app = typer.Typer(help="Open restaurants and read their set-up.", no_args_is_help=True)


def _problems(error: ValidationError) -> str:
    """Pydantic's errors as ``field.path: message`` joined on one line."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in error.errors()
    )


def _show(ledger: Ledger, restaurant_id: int) -> None:
    p = guard(lambda: get_profile(ledger, restaurant_id))
    plan = guard(lambda: floor_plan(ledger, restaurant_id))
    deposit = (
        f"{p.deposit_per_cover_minor} {p.currency} minor units per cover from "
        f"{p.deposit_min_party}, paid within {p.deposit_pay_within_minutes} min of booking"
        if p.deposit_min_party
        else f"no deposit (paid within {p.deposit_pay_within_minutes} min of booking when asked)"
    )
    if p.deposit_risk_threshold is not None:
        deposit += (
            f"; also {p.deposit_per_cover_minor} per cover of any booking at "
            f"{p.deposit_risk_threshold:.0%} no-show risk or more"
        )
    console.print(
        f"[bold]{p.name}[/] (id {p.id}) · {', '.join(p.cuisines)} · tier {p.price_tier} · "
        f"{p.city or p.country} · {p.timezone}\n"
        f"{deposit}; cancellation fee {p.cancellation_fee_minor} inside "
        f"{p.cancellation_window_hours} h; largest party {p.largest_party}",
        soft_wrap=True,
    )
    tables = Table("id", "table", "area", "covers", "in service", "notes", box=box.SIMPLE)
    for t in plan.tables:
        notes = ", ".join([*(["accessible"] if t.accessible else []), *t.features])
        covers = f"{t.min_covers}-{t.max_covers}"
        tables.add_row(str(t.id), t.name, t.area, covers, "yes" if t.in_service else "no", notes)
    console.print(tables)
    names = {t.id: t.name for t in plan.tables}
    for c in plan.combinations:
        joined = " + ".join(names[i] for i in c.table_ids)
        console.print(f"combination {c.name}: {joined} for {c.min_covers}-{c.max_covers}")


@restaurants_app.command("add")
def add(
    path: Annotated[
        Path, typer.Argument(help="JSON file: the body of POST /restaurants; - for stdin")
    ],
    database_url: UrlOption = None,
) -> None:
    """Open a restaurant: profile, booking policy, tables, combinations and
    weekly hours, all checked before anything is written."""
    # Imported here, not at the top: the API's routes bring in the models
    # (MLflow, torch...), seconds that every ``servicesphere`` command would
    # pay, and every ``serve`` worker before it can answer its supervisor
    # (see ``serving.cli.serve``).
    from serving.routes.onboarding import RestaurantCreate

    data = guard(lambda: read_json(path))
    try:
        body = RestaurantCreate.model_validate(data)
    except ValidationError as exc:
        fail(f"{path}: {_problems(exc)}")
        raise
    ledger = open_ledger(database_url)
    restaurant_id = guard(lambda: add_restaurant(ledger, body.spec()))
    console.print(f"Opened restaurant {restaurant_id}.")
    _show(ledger, restaurant_id)


@restaurants_app.command("show")
def show(restaurant_id: int, database_url: UrlOption = None) -> None:
    """A restaurant's profile, booking policy and floor plan."""
    _show(open_ledger(database_url), restaurant_id)
