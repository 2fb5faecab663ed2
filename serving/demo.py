"""The demo's last step: one account per role in the demo world, a POS key,
and the lines that show how to use them. Development only: the password is
printed on the console and the same for everyone."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console

from booking_core.accounts import KeyKind, Role, create_user, issue_api_key
from booking_core.errors import InvalidRequest
from booking_core.ledger import Ledger
from booking_core.schema import diners, reservations, restaurants
from serving.config import ServingSettings
from serving.security import hash_password, webhook_secret

DEMO_PASSWORD = "servicesphere-demo"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    scope: str


def ensure_demo_accounts(ledger: Ledger) -> tuple[list[DemoAccount], str, str]:
    """Accounts for admin, host, manager and diner (re-running keeps them);
    returns them with a POS key and its webhook secret for the first restaurant."""
    with ledger.read() as conn:
        first, second = conn.execute(
            sa.select(restaurants.c.id, restaurants.c.name).order_by(restaurants.c.id).limit(2)
        ).all()
        diner = conn.execute(
            sa.select(diners.c.id, diners.c.name)
            .join(reservations, reservations.c.diner_id == diners.c.id)
            .where(reservations.c.restaurant_id == first.id)
            .order_by(diners.c.id)
            .limit(1)
        ).first()
    hashed = hash_password(DEMO_PASSWORD)
    wanted = [
        (Role.ADMIN, "admin@demo.servicesphere", (), None, "everything"),
        (Role.HOST, "host@demo.servicesphere", (first.id,), None, f"{first.name} (#{first.id})"),
        (
            Role.MANAGER,
            "manager@demo.servicesphere",
            (second.id,),
            None,
            f"{second.name} (#{second.id})",
        ),
        (
            Role.DINER,
            "diner@demo.servicesphere",
            (),
            diner.id if diner else None,
            f"{diner.name} (diner #{diner.id})" if diner else "a new diner",
        ),
    ]
    out = []
    for role, email, rids, diner_id, scope in wanted:
        with contextlib.suppress(InvalidRequest):  # already there from an earlier run
            create_user(ledger, email, hashed, role, diner_id=diner_id, restaurant_ids=rids)
        out.append(DemoAccount(role.value, email, scope))
    issued = issue_api_key(ledger, KeyKind.POS, "demo till", restaurant_id=first.id)
    secret = ServingSettings().secret_key.get_secret_value()
    return out, issued.token, webhook_secret(secret, issued.key.key_id)


def print_how_to(
    console: Console, base: str, accounts: list[DemoAccount], pos_key: str, pos_secret: str
) -> None:
    console.rule("The API is starting")
    console.print(f"API docs (Swagger UI): [bold]{base}/docs[/]   ReDoc: {base}/redoc")
    console.print(f"OpenAPI schema: {base}/openapi.json   health: {base}/healthz, {base}/readyz")
    console.print(f"Prometheus metrics: {base}/metrics")
    console.print(f"Password for every demo account: [bold]{DEMO_PASSWORD}[/]")
    for a in accounts:
        console.print(f"  {a.role:<8} {a.email:<28} {a.scope}")
    console.print("Get a token for a role (then send it as 'Authorization: Bearer <token>'):")
    console.print(
        f"  curl -s -X POST {base}/api/v1/auth/token "
        f"-d username=host@demo.servicesphere -d password={DEMO_PASSWORD}"
    )
    console.print("  (or press 'Authorize' in the docs page with the same email and password)")
    console.print(f"POS key for the first restaurant: X-API-Key: {pos_key}")
    console.print(f"  its webhook signing secret: {pos_secret}")


def prepare_stores(settings: ServingSettings) -> None:
    """Migrate the ledger and create the MLflow store once, before the
    workers start: several workers opening a new store at the same moment
    race on its migrations (measured: one worker died on "duplicate column
    name" and the server ran on the other alone)."""
    Ledger.open(settings.ledger_url).dispose()
    if settings.load_models:
        from models.tracking import TrackingConfig

        client = TrackingConfig.default(settings.var_dir).activate()
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)


def prepare_metrics_dir(var_dir: Path, workers: int) -> None:
    """Several workers share their metrics through files; start each run clean."""
    if workers <= 1:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return
    folder = var_dir / "prometheus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder.resolve())
