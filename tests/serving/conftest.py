"""One API over one SQLite ledger for the whole session: two restaurants,
an admin, a host of the bistro, a manager of the brasserie, two diners and
a POS key. The ledger's clock is a ``Clock`` tests move forward, put back
after every test (``clock_put_back``); each test books its own dates so
tests do not see each other's bookings.

What one test leaves in the ledger stays for the session's others, in
whatever order they run: a test that needs something nobody else has
touched makes its own (``new_diner``, a restaurant of its own, a date of
its own) rather than count on Ana, Ben, the bistro or the brasserie being
as the session began."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from booking_core.accounts import KeyKind, Role, create_user, issue_api_key, register_diner
from booking_core.guests import DinerSpec
from booking_core.ledger import Ledger
from booking_core.restaurants import add_restaurant
from serving.app import create_app
from serving.champions import Champions
from serving.config import ServingSettings
from serving.security import hash_password, webhook_secret
from tests.conftest import NOW, bistro_spec

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    client: TestClient
    ledger: Ledger
    clock: Clock
    settings: ServingSettings
    bistro: int
    brasserie: int
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    diner_ids: dict[str, int] = field(default_factory=dict)
    pos_key: str = ""
    pos_secret: str = ""
    affiliate_key: str = ""


def api_settings(**overrides: object) -> ServingSettings:
    base: dict[str, object] = {
        "environment": "test",
        "secret_key": SECRET,
        "load_models": False,
        "rate_limit": "100000/minute",
    }
    base.update(overrides)
    return ServingSettings(**base)  # type: ignore[arg-type]


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path: Path = tmp_path_factory.mktemp("api") / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path}")
    clock = Clock()
    ledger.clock = clock
    bistro = add_restaurant(ledger, bistro_spec())
    brasserie = add_restaurant(
        ledger, bistro_spec(name="Brasserie Test", cuisines=("belgian",), price_tier=3, rating=4.5)
    )
    hashed = hash_password(PASSWORD)
    create_user(ledger, "admin@example.com", hashed, Role.ADMIN)
    create_user(ledger, "host@bistro.example", hashed, Role.HOST, restaurant_ids=(bistro,))
    create_user(
        ledger, "manager@brasserie.example", hashed, Role.MANAGER, restaurant_ids=(brasserie,)
    )
    ana = register_diner(ledger, DinerSpec("Ana", email="ana@example.com"), hashed)
    ben = register_diner(ledger, DinerSpec("Ben", email="ben@example.com"), hashed)
    pos_key = issue_api_key(ledger, KeyKind.POS, "bistro till", restaurant_id=bistro)
    affiliate = issue_api_key(ledger, KeyKind.AFFILIATE, "city guide")
    settings = api_settings()
    app = create_app(settings, ledger=ledger, champions=Champions(None))
    with TestClient(app) as client:
        w = World(client, ledger, clock, settings, bistro, brasserie)
        w.diner_ids = {"ana": ana.diner_id or 0, "ben": ben.diner_id or 0}
        for who, email in (
            ("admin", "admin@example.com"),
            ("host", "host@bistro.example"),
            ("manager", "manager@brasserie.example"),
            ("ana", "ana@example.com"),
            ("ben", "ben@example.com"),
        ):
            w.headers[who] = sign_in(client, email)
        w.pos_key = pos_key.token
        w.pos_secret = webhook_secret(SECRET, pos_key.key.key_id)
        w.affiliate_key = affiliate.token
        yield w
    ledger.dispose()


@pytest.fixture(autouse=True)
def clock_put_back(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that moves the session's clock leaves it where it found it, so
    the next test starts at ``NOW`` whichever ran before it."""
    if "world" not in request.fixturenames:
        yield
        return
    clock: Clock = request.getfixturevalue("world").clock
    before = clock.now
    try:
        yield
    finally:
        clock.now = before


_diner = iter(range(1, 10_000))


def new_diner(world: World, name: str) -> tuple[int, dict[str, str]]:
    """A diner signed up just now, with no booking anywhere yet: their id
    and their sign-in headers. For tests about who may see a diner, which
    Ana and Ben cannot serve once other tests have booked them."""
    email = f"{name.lower()}.{next(_diner)}@new-diner.example"
    user = register_diner(world.ledger, DinerSpec(name, email=email), hash_password(PASSWORD))
    assert user.diner_id is not None
    return user.diner_id, sign_in(world.client, email)


_day = iter(range(1, 10_000))


def fresh_date() -> str:
    """A date nobody else in the session books (the bistro opens every day).
    Which date depends on how many were handed out before, so in whatever
    order the tests run: a test must not count on how far ahead it is (a
    test that needs a date some days ahead takes ``NOW`` plus those days,
    at a restaurant of its own). The dates run on past 29 March, when
    London's clocks go forward: build times on them with
    ``tests.conftest.local_time``."""
    return (NOW + timedelta(days=2 + next(_day))).date().isoformat()


@dataclass
class GeneratedApi:
    """An API over a generated "tiny" world (three restaurants with three
    weeks of covers), signed in as its admin."""

    client: TestClient
    ledger: Ledger
    champions: Champions
    admin: dict[str, str]
    peers: list[int]  # the generated restaurants' ids


@contextmanager
def generated_api(tmp_path: Path, seed: int = 11) -> Iterator[GeneratedApi]:
    from booking_core.schema import restaurants
    from booking_core.world.generate import generate_world

    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.clock = lambda: NOW
    generate_world(ledger, size="tiny", seed=seed, today=NOW.date())
    with ledger.read() as conn:
        peers = sorted(conn.execute(sa.select(restaurants.c.id)).scalars())
    create_user(ledger, "admin@generated.example", hash_password(PASSWORD), Role.ADMIN)
    champions = Champions(None)
    app = create_app(api_settings(), ledger=ledger, champions=champions)
    try:
        with TestClient(app) as client:
            admin = sign_in(client, "admin@generated.example")
            yield GeneratedApi(client, ledger, champions, admin, peers)
    finally:
        ledger.dispose()


def covers_forecast(
    client: TestClient, headers: dict[str, str], restaurant_id: int, days: int = 28
) -> dict[str, Any]:
    """``GET /predictions/covers/{restaurant_id}``: the body of a 200."""
    answer = client.get(
        f"/api/v1/predictions/covers/{restaurant_id}", params={"days": days}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def closed_mondays_body(name: str, tables: int) -> dict[str, Any]:
    """The body of ``POST /restaurants`` for a London French restaurant of
    ``tables`` tables for four, dinner every day but Monday."""
    return {
        "name": name,
        "cuisines": ["french"],
        "price_tier": 2,
        "latitude": 51.52,
        "longitude": -0.1,
        "country": "GB",
        "timezone": "Europe/London",
        "currency": "GBP",
        "locale": "en-GB",
        "tables": [
            {"name": f"T{k}", "area": "Dining room", "min_covers": 1, "max_covers": 4}
            for k in range(1, tables + 1)
        ],
        "periods": [
            {
                "name": "dinner",
                "weekdays": [1, 2, 3, 4, 5, 6],
                "opens": "17:00",
                "closes": "23:00",
                "last_seating": "21:30",
                "turn_times": {"2": 90, "4": 120},
            }
        ],
    }
