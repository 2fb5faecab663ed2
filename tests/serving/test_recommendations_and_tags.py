"""Recommendations through the API from a real ``Recommender`` fitted on
this module's ledger (the MiniLM embeddings load once, ~10 s), keeping the
hard constraint that the party can be booked then; the popularity baseline
when no champion is loaded; guest profiles showing machine tags next to a
host's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from booking_core.accounts import Role, create_user, register_diner
from booking_core.domain import Channel, TagSource
from booking_core.guests import DinerSpec, set_machine_tags, set_tag
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book
from booking_core.restaurants import add_restaurant
from models.extract import LedgerSnapshot
from models.recommend import Recommender
from models.recommend_data import booking_interactions, restaurant_items
from serving.app import create_app
from serving.champions import RECOMMENDER, Champions, Loaded
from serving.recommending import BASELINE
from serving.security import hash_password
from tests.conftest import NOW, bistro_spec
from tests.serving.conftest import PASSWORD, Clock, api_settings, sign_in

pytestmark = pytest.mark.slow
API = "/api/v1"
ASKED = date(2026, 3, 20)

PLACES = {
    "Trattoria Uno": ("italian", "Fresh pasta, wood-fired pizza and tiramisu."),
    "Osteria Due": ("italian", "Handmade ravioli, risotto and a long Italian wine list."),
    "Pizzeria Tre": ("italian", "Neapolitan pizza from a wood-fired oven, gelato."),
    "Sushi Ichi": ("japanese", "Omakase sushi counter, sashimi and miso soup."),
    "Ramen Ni": ("japanese", "Tonkotsu ramen, gyoza and Japanese beer."),
}


@dataclass
class Town:
    ledger: Ledger
    clock: Clock
    places: dict[str, int]
    ana: int
    ana_headers: dict[str, str]
    host_headers: dict[str, str]
    recommender: Loaded


def _book(
    ledger: Ledger,
    restaurant: int,
    day: date,
    hhmm: str,
    size: int,
    diner: int | None,
    now: datetime,
) -> int:
    request = BookingRequest(
        restaurant_id=restaurant,
        local_date=day,
        local_time=time.fromisoformat(hhmm),
        party_size=size,
        diner_id=diner,
        guest_name="guest",
        channel=Channel.WEB,
    )
    return book(ledger, request, now=now).id


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    path: Path = tmp_path_factory.mktemp("town") / "ledger.db"
    url = f"sqlite:///{path}"
    ledger = Ledger.open(url)
    clock = Clock()
    ledger.clock = clock
    places = {
        name: add_restaurant(
            ledger, bistro_spec(name=name, cuisines=(cuisine,), description=text, rating=4.2)
        )
        for name, (cuisine, text) in PLACES.items()
    }
    hashed = hash_password(PASSWORD)
    ana = register_diner(ledger, DinerSpec("Ana", email="ana@town.example"), hashed).diner_id
    ben = register_diner(ledger, DinerSpec("Ben", email="ben@town.example"), hashed).diner_id
    assert ana is not None and ben is not None
    create_user(
        ledger, "host@town.example", hashed, Role.HOST, restaurant_ids=(places["Osteria Due"],)
    )
    # Ana loves Italian food; Ben goes for ramen and sushi.
    earlier = NOW - timedelta(days=60)
    for i, name in enumerate(("Trattoria Uno", "Pizzeria Tre", "Trattoria Uno")):
        day = (earlier + timedelta(days=3 + 7 * i)).date()
        _book(ledger, places[name], day, "19:00", 2, ana, earlier)
    _book(ledger, places["Osteria Due"], NOW.date() + timedelta(days=2), "20:00", 2, ana, NOW)
    for i, name in enumerate(("Ramen Ni", "Sushi Ichi", "Ramen Ni")):
        day = (earlier + timedelta(days=4 + 7 * i)).date()
        _book(ledger, places[name], day, "19:00", 2, ben, earlier)
    with LedgerSnapshot.from_url(url) as snapshot:
        frames = snapshot.frames()
    model = Recommender(method="embedding", diversity_by=None).fit(
        booking_interactions(frames["reservations"]), restaurant_items(frames["restaurants"])
    )
    loaded = Loaded(RECOMMENDER, "3", None, model, datetime.now(UTC))
    app = create_app(api_settings(), ledger=ledger, champions=Champions(None))
    clock.now = NOW
    with TestClient(app) as client:
        yield Town(
            ledger,
            clock,
            places,
            ana,
            sign_in(client, "ana@town.example"),
            sign_in(client, "host@town.example"),
            loaded,
        )
    ledger.dispose()


def _app(town: Town, *, with_model: bool) -> TestClient:
    champions = Champions(None)
    if with_model:
        champions._loaded[RECOMMENDER] = town.recommender
    return TestClient(create_app(api_settings(), ledger=town.ledger, champions=champions))


def test_the_champion_recommends_to_taste_and_only_what_can_be_booked(town: Town) -> None:
    # Trattoria Uno's only table for eight (W1+W2) is taken at 19:00 that evening.
    _book(town.ledger, town.places["Trattoria Uno"], ASKED, "19:00", 8, None, NOW)
    params = {"date": ASKED.isoformat(), "time": "19:00", "party_size": 8, "k": 5}
    with _app(town, with_model=True) as client:
        got = client.get(
            f"{API}/diners/{town.ana}/recommendations", params=params, headers=town.ana_headers
        )
        assert got.status_code == 200, got.text
        body = got.json()
        served_by = (body["model"], body["model_version"], body["source"])
        assert served_by == (RECOMMENDER, "3", "champion")
        names = [i["name"] for i in body["items"]]
        assert "Trattoria Uno" not in names  # her favourite, but it cannot seat eight then
        assert names[0] in ("Osteria Due", "Pizzeria Tre")  # Italian first
        for item in body["items"]:
            assert item["reason"] and item["time"] is not None
            start = time.fromisoformat(item["time"])
            assert abs(start.hour * 60 + start.minute - 19 * 60) <= 30
        # Without a date there is no availability to check and her favourite is back.
        anytime = client.get(
            f"{API}/diners/{town.ana}/recommendations", params={"k": 5}, headers=town.ana_headers
        ).json()
        assert "Trattoria Uno" in [i["name"] for i in anytime["items"]]
        assert all(i["time"] is None for i in anytime["items"])


def test_without_a_champion_the_baseline_answers_and_says_so(town: Town) -> None:
    params = {"date": ASKED.isoformat(), "time": "19:00", "party_size": 2}
    with _app(town, with_model=False) as client:
        body = client.get(
            f"{API}/diners/{town.ana}/recommendations", params=params, headers=town.ana_headers
        ).json()
    assert body["source"] == "baseline" and body["baseline"] == BASELINE
    assert body["model_version"] is None
    visited = {"Trattoria Uno", "Pizzeria Tre", "Osteria Due"}
    assert body["items"] and not visited & {i["name"] for i in body["items"]}
    assert all(i["time"] is not None for i in body["items"])


def test_the_profile_shows_machine_tags_with_confidence_beside_the_hosts(town: Town) -> None:
    set_tag(town.ledger, town.ana, "vip", source=TagSource.HOST, set_by="host:1")
    set_machine_tags(
        town.ledger, {town.ana: {"wine lover": 0.83, "vip": 0.4}}, set_by="guest_tags@v2"
    )
    with _app(town, with_model=False) as client:
        profile = client.get(f"{API}/diners/{town.ana}", headers=town.host_headers)
    assert profile.status_code == 200, profile.text
    tags = {t["tag"]: t for t in profile.json()["tags"]}
    assert tags["wine lover"]["source"] == "machine"
    assert tags["wine lover"]["confidence"] == pytest.approx(0.83)
    assert tags["wine lover"]["set_by"] == "guest_tags@v2"
    assert tags["vip"]["source"] == "host"  # a host's tag is never overwritten


def test_the_served_name_is_the_one_the_nightly_flow_registers() -> None:
    from pipelines.nightly import RECOMMEND

    assert RECOMMENDER == RECOMMEND


def test_an_erased_diner_is_refused_at_once_though_accounts_are_remembered(town: Town) -> None:
    with _app(town, with_model=False) as client:
        ben = sign_in(client, "ben@town.example")
        me = client.get(f"{API}/auth/me", headers=ben)
        assert me.status_code == 200  # and this worker now remembers Ben is active
        diner = me.json()["diner_id"]
        assert client.delete(f"{API}/diners/{diner}", headers=ben).status_code == 204
        refused = client.get(f"{API}/auth/me", headers=ben)
        assert refused.status_code == 401
        assert refused.json()["detail"] == "This account is disabled."
