"""The host stand through the API, planned by the seating optimizer: the
service's plan with predicted turn times and show probabilities, walk-in
suggestions, waitlist quotes counting the parties ahead, and the
``dining_duration`` champion's turn times where one is loaded.

One bistro (six tables, turn times 2: 90, 4: 120, 8: 150 minutes) on a
ledger of this module's own, so the clock can stand in any service."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from booking_core.accounts import Role, create_user
from booking_core.domain import Channel
from booking_core.floor import load_floor
from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, book, seat_walk_in
from booking_core.restaurants import add_restaurant
from models.duration import DiningDuration
from serving.app import create_app
from serving.champions import DURATION, Champions, Loaded
from serving.seating_source import OPTIMIZER
from serving.security import hash_password
from tests.conftest import NOW, bistro_spec, local_time
from tests.serving.conftest import PASSWORD, Clock, api_settings, sign_in

API = "/api/v1"
RESET_MIN = 10  # the optimizer's reset buffer between parties


@dataclass
class Stand:
    ledger: Ledger
    clock: Clock
    client: TestClient
    host: dict[str, str]
    bistro: int
    tables: dict[str, int]


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    path: Path = tmp_path_factory.mktemp("stand") / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path}")
    clock = Clock()
    ledger.clock = clock
    bistro = add_restaurant(ledger, bistro_spec())
    create_user(
        ledger, "host@stand.example", hash_password(PASSWORD), Role.HOST, restaurant_ids=(bistro,)
    )
    with ledger.read() as conn:
        tables = {t.name: t.id for t in load_floor(conn, bistro).tables.values()}
    app = create_app(api_settings(), ledger=ledger, champions=Champions(None))
    with TestClient(app) as client:
        yield Stand(ledger, clock, client, sign_in(client, "host@stand.example"), bistro, tables)
    ledger.dispose()


def _at(day: date, hhmm: str) -> datetime:
    return local_time(day, hhmm)


def _book(s: Stand, day: date, hhmm: str, size: int) -> int:
    request = BookingRequest(
        restaurant_id=s.bistro,
        local_date=day,
        local_time=time.fromisoformat(hhmm),
        party_size=size,
        guest_name=f"party of {size}",
        channel=Channel.PHONE,
    )
    return book(s.ledger, request, now=NOW).id


def _seat(s: Stand, size: int, table: str) -> int:
    return seat_walk_in(s.ledger, s.bistro, size, table_ids=(s.tables[table],), now=s.clock()).id


def test_the_plan_seats_everyone_without_overlaps_with_predictions(stand: Stand) -> None:
    day = date(2026, 3, 3)
    for hhmm, size in (("18:00", 2), ("18:00", 4), ("19:00", 6), ("19:30", 2), ("20:00", 3)):
        _book(stand, day, hhmm, size)
    stand.clock.now = NOW
    got = stand.client.get(
        f"{API}/restaurants/{stand.bistro}/seating/plan",
        params={"date": day.isoformat()},
        headers=stand.host,
    )
    assert got.status_code == 200, got.text
    plan = got.json()
    assert plan["planner"] == OPTIMIZER and plan["status"] in ("optimal", "feasible", "greedy")
    assert plan["unseated"] == [] and plan["turn_time_model"].startswith("baseline")
    turn = {2: 90, 3: 120, 4: 120, 6: 150}  # the bistro's turn times by party size
    held: dict[int, list[tuple[datetime, datetime]]] = {}
    for party in plan["parties"]:
        assert party["predicted_turn_min"] == turn[party["party_size"]]
        assert 0.0 <= party["show_probability"] <= 1.0
        assert party["planned_table_ids"], party
        start = datetime.fromisoformat(party["start_at"])
        end = start + timedelta(minutes=party["predicted_turn_min"] + RESET_MIN)
        for table in party["planned_table_ids"]:
            held.setdefault(table, []).append((start, end))
    for spans in held.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans


def test_walk_in_suggestions_skip_held_tables_and_seat_on_acceptance(stand: Stand) -> None:
    day = date(2026, 3, 4)
    _book(stand, day, "19:00", 2)
    stand.clock.now = _at(day, "18:00")
    _seat(stand, 4, "T3")
    got = stand.client.get(
        f"{API}/restaurants/{stand.bistro}/seating/walk-in",
        params={"party_size": 2},
        headers=stand.host,
    )
    assert got.status_code == 200, got.text
    advice = got.json()
    assert advice["suggested_by"] == OPTIMIZER and advice["turn_time_min"] == 90
    offers = advice["suggestions"]
    assert offers and all(stand.tables["T3"] not in o["table_ids"] for o in offers)
    # Free for the whole turn first; a table a booking needs sooner costs a move.
    assert offers[0]["moves"] == 0
    for offer in offers:
        if offer["free_for_min"] is not None and offer["free_for_min"] < 90 + RESET_MIN:
            assert offer["moves"] > 0
    first = offers[0]["table_ids"]
    decided = stand.client.post(
        f"{API}/restaurants/{stand.bistro}/seating/decisions",
        json={"party_size": 2, "suggested_table_ids": first, "chosen_table_ids": first},
        headers=stand.host,
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()["decision"] == "accepted"
    assert decided.json()["reservation"]["table_ids"] == first


def test_waitlist_quotes_come_from_the_optimizer_and_count_parties_ahead(stand: Stand) -> None:
    day = date(2026, 3, 5)
    stand.clock.now = _at(day, "18:00")
    for table, size in (("T1", 2), ("T2", 2), ("T3", 4), ("T4", 4), ("W1", 4), ("W2", 4)):
        _seat(stand, size, table)
    waitlist = f"{API}/restaurants/{stand.bistro}/waitlist"
    quote = stand.client.get(f"{waitlist}/quote", params={"party_size": 2}).json()
    # The two-tops free up after a 90-minute turn and the reset buffer.
    assert quote == {
        "restaurant_id": stand.bistro,
        "party_size": 2,
        "wait_min": 90 + RESET_MIN,
        "quoted_by": OPTIMIZER,
    }
    quoted = []
    for name in ("Ada", "Bo", "Cy"):
        joined = stand.client.post(
            waitlist, json={"party_size": 2, "guest_name": name}, headers=stand.host
        )
        assert joined.status_code == 201, joined.text
        quoted.append(joined.json()["quoted_wait_min"])
    # Two parties take the two two-tops at 100 minutes; the third waits for a
    # four-top (120-minute turn + reset).
    assert quoted == [100, 100, 120 + RESET_MIN]


def _duration_champion(restaurant_id: int) -> Loaded:
    """A real ``DiningDuration`` fitted on meals that last 40 + 5 x party size minutes."""
    rng = np.random.default_rng(0)
    n = 800
    sizes = rng.integers(1, 9, n)
    frame = pl.DataFrame(
        {
            "restaurant_id": [restaurant_id] * n,
            "channel": rng.choice(["phone", "web", "walk_in"], n).tolist(),
            "area": rng.choice(["Main", "Window"], n).tolist(),
            "party_size": sizes,
            "local_hour": rng.integers(17, 23, n),
            "weekday": rng.integers(0, 7, n),
            "price_tier": [2] * n,
            "duration_min": 40.0 + 5.0 * sizes,
        }
    )
    model = DiningDuration(n_estimators=60, min_child_samples=20).fit(frame)
    return Loaded(DURATION, "7", None, model, datetime.now(UTC))


def test_a_dining_duration_champion_sets_the_turn_times(stand: Stand) -> None:
    day = date(2026, 3, 6)
    reservation = _book(stand, day, "19:00", 2)
    champions = Champions(None)
    champions._loaded[DURATION] = _duration_champion(stand.bistro)
    app = create_app(api_settings(), ledger=stand.ledger, champions=champions)
    stand.clock.now = NOW
    with TestClient(app) as client:
        got = client.get(f"{API}/predictions/turn-time/{reservation}", headers=stand.host)
        assert got.status_code == 200, got.text
        assert got.json()["source"] == "champion" and got.json()["model_version"] == "7"
        assert abs(got.json()["turn_time_min"] - 50) <= 2
        plan = client.get(
            f"{API}/restaurants/{stand.bistro}/seating/plan",
            params={"date": day.isoformat()},
            headers=stand.host,
        ).json()
        assert plan["turn_time_model"] == "dining_duration@v7"
        assert [abs(p["predicted_turn_min"] - 50) <= 2 for p in plan["parties"]] == [True]
    baseline = stand.client.get(f"{API}/predictions/turn-time/{reservation}", headers=stand.host)
    assert baseline.json()["source"] == "baseline" and baseline.json()["turn_time_min"] == 90
