"""A restaurant joins through the API: an admin creates it whole (profile,
policy, floor, hours) and gives it a manager; diners find it, read its page
and book at once; the manager edits the profile and deposit policy and adds
a table and a combination for larger parties. Every refusal is a 4xx with a
message and leaves nothing behind."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from booking_core.outbox import last_offset
from booking_core.schema import restaurants
from serving.cli import app
from tests.serving.conftest import PASSWORD, World, fresh_date, sign_in

API = "/api/v1"
runner = CliRunner()
_COMBO = {"name": "3+W", "tables": ["3", "W"], "min_covers": 5, "max_covers": 8}


def _body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Fjord Kitchen",
        "description": "Smoked fish, rye and a wood-fired grill by the canal.",
        "cuisines": ["nordic", "seafood"],
        "menu_highlights": ["cured trout", "rye porridge"],
        "ambience": "lively",
        "price_tier": 3,
        "latitude": 51.54,
        "longitude": -0.08,
        "address": "12 Canal Row",
        "city": "London",
        "country": "GB",
        "timezone": "Europe/London",
        "currency": "GBP",
        "locale": "en-GB",
        "tables": [
            {"name": "1", "area": "Dining room", "min_covers": 1, "max_covers": 2},
            {"name": "2", "area": "Dining room", "min_covers": 1, "max_covers": 2},
            {"name": "3", "area": "Dining room", "min_covers": 2, "max_covers": 4},
            {
                "name": "W",
                "area": "Window",
                "min_covers": 2,
                "max_covers": 4,
                "features": ["window"],
                "accessible": True,
            },
        ],
        "periods": [
            {
                "name": "dinner",
                "weekdays": [0, 1, 2, 3, 4, 5, 6],
                "opens": "18:00",
                "closes": "23:00",
                "last_seating": "21:30",
                "turn_times": {"2": 90, "4": 120},
            }
        ],
        "cancellation_fee_minor": 2500,
        "cancellation_window_hours": 48,
    }
    base.update(overrides)
    return base


def _day(offset: int) -> date:
    return date.fromisoformat(fresh_date()) + timedelta(days=700 + offset)


def _count(world: World) -> int:
    with world.ledger.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(restaurants)).scalar_one())


def test_an_admin_opens_a_restaurant_its_manager_runs_it_and_diners_book(world: World) -> None:
    c, admin = world.client, world.headers["admin"]
    with world.ledger.read() as conn:
        start = last_offset(conn)  # the events feed's end before the restaurant opens
    day = _day(0)
    search = {"cuisine": "nordic", "date": day.isoformat(), "party_size": 2, "limit": 100}
    # The Nordic restaurants other tests opened, in whatever order they ran.
    others = {i["id"] for i in c.get(f"{API}/restaurants", params=search).json()["items"]}
    created = c.post(f"{API}/restaurants", json=_body(external_ref="fjord-1"), headers=admin)
    assert created.status_code == 201, created.text
    page = created.json()
    rid = page["id"]
    assert created.headers["location"] == f"{API}/restaurants/{rid}"
    assert (page["name"], page["areas"], page["largest_party"]) == (
        "Fjord Kitchen",
        ["Dining room", "Window"],
        4,
    )
    assert (page["cancellation_fee_minor"], page["cancellation_window_hours"]) == (2500, 48)
    assert page["deposit_min_party"] is None and page["rating"] is None

    # Diners find it (among the Nordic restaurants only), read its page and book at once.
    found = c.get(f"{API}/restaurants", params=search).json()["items"]
    assert rid not in others and {i["id"] for i in found} == others | {rid}
    assert all("nordic" in i["cuisines"] for i in found)
    assert [i["times"][0] for i in found if i["id"] == rid] == ["18:00"]
    assert c.get(f"{API}/restaurants/{rid}").json() == page
    booked = c.post(
        f"{API}/reservations",
        json={"restaurant_id": rid, "date": day.isoformat(), "time": "19:00", "party_size": 4},
        headers={**world.headers["ana"], "Idempotency-Key": f"fjord-{rid}-a"},
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["deposit_required"] is False

    # The admin gives it a manager, who takes deposits from parties of four.
    email = f"manager{rid}@fjord.example"
    made = c.post(
        f"{API}/auth/users",
        json={"email": email, "password": PASSWORD, "role": "manager", "restaurant_ids": [rid]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    manager = sign_in(c, email)
    changed = c.patch(
        f"{API}/restaurants/{rid}",
        json={"deposit_min_party": 4, "deposit_per_cover_minor": 1000, "ambience": "cosy"},
        headers=manager,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["deposit_min_party"], changed.json()["ambience"]) == (4, "cosy")
    again = c.post(
        f"{API}/reservations",
        json={"restaurant_id": rid, "date": day.isoformat(), "time": "20:00", "party_size": 4},
        headers={**world.headers["ben"], "Idempotency-Key": f"fjord-{rid}-b"},
    )
    assert again.status_code == 201, again.text
    assert (again.json()["deposit_required"], again.json()["deposit_minor"]) == (True, 4000)
    first = c.get(f"{API}/reservations/{booked.json()['id']}", headers=world.headers["ana"])
    assert first.json()["deposit_required"] is False  # booked under the old terms

    # A party of six needs a bigger table: the manager adds one on a new terrace,
    # then joins two tables for eight.
    six = {"date": day.isoformat(), "party_size": 6}
    assert c.get(f"{API}/restaurants/{rid}/availability", params=six).status_code == 409
    table = c.post(
        f"{API}/restaurants/{rid}/tables",
        json={"name": "T1", "area": "Terrace", "min_covers": 4, "max_covers": 6},
        headers=manager,
    )
    assert table.status_code == 201, table.text
    assert table.json()["in_service"] is True
    times = c.get(f"{API}/restaurants/{rid}/availability", params=six).json()["times"]
    assert times and times[0]["local_time"] == "18:00"
    combo = c.post(
        f"{API}/restaurants/{rid}/combinations",
        json={"name": "3+W", "tables": ["3", "W"], "min_covers": 6, "max_covers": 8},
        headers=manager,
    )
    assert combo.status_code == 201, combo.text
    assert c.get(f"{API}/restaurants/{rid}").json()["largest_party"] == 8
    plan = c.get(f"{API}/restaurants/{rid}/floor-plan", headers=manager).json()
    assert [t["name"] for t in plan["tables"]] == ["1", "2", "3", "W", "T1"]
    by_name = {t["name"]: t["id"] for t in plan["tables"]}
    assert plan["combinations"] == [
        {
            "id": combo.json()["id"],
            "name": "3+W",
            "table_ids": sorted([by_name["3"], by_name["W"]]),
            "min_covers": 6,
            "max_covers": 8,
        }
    ]

    # The events feed tells integrations what changed: read on from where
    # it stood before the restaurant opened, page after page (how many
    # events came before depends on the tests run before this one).
    kinds: list[str] = []
    after = start
    while True:
        feed = c.get(f"{API}/events", params={"after": after, "limit": 500}, headers=manager)
        assert feed.status_code == 200, feed.text
        kinds += [e["event_type"] for e in feed.json()["events"] if e["restaurant_id"] == rid]
        if feed.json()["next_after"] == after:
            break
        after = feed.json()["next_after"]
    for kind in (
        "restaurant.created",
        "restaurant.profile_changed",
        "restaurant.table_added",
        "restaurant.combination_added",
    ):
        assert kind in kinds


def test_who_may_open_and_edit_a_restaurant(world: World) -> None:
    c, h = world.client, world.headers
    n = _count(world)
    for who in ("manager", "host", "ana"):
        refused = c.post(f"{API}/restaurants", json=_body(), headers=h[who])
        assert refused.status_code == 403, (who, refused.text)
    assert c.post(f"{API}/restaurants", json=_body()).status_code == 401
    assert _count(world) == n
    # The brasserie's manager edits the brasserie, not the bistro; its host neither.
    name = {"name": "Brasserie Renamed"}
    assert (
        c.patch(f"{API}/restaurants/{world.bistro}", json=name, headers=h["manager"]).status_code
        == 403
    )
    assert (
        c.patch(f"{API}/restaurants/{world.bistro}", json=name, headers=h["host"]).status_code
        == 403
    )
    assert (
        c.get(f"{API}/restaurants/{world.bistro}/floor-plan", headers=h["ana"]).status_code == 403
    )
    host_plan = c.get(f"{API}/restaurants/{world.bistro}/floor-plan", headers=h["host"])
    assert host_plan.status_code == 200 and len(host_plan.json()["tables"]) == 6
    new_table = {"name": "X9", "area": "Bar", "min_covers": 1, "max_covers": 2}
    assert (
        c.post(f"{API}/restaurants/{world.bistro}/tables", json=new_table, headers=h["host"])
    ).status_code == 403
    assert c.get(f"{API}/restaurants/999999").status_code == 404
    assert c.patch(f"{API}/restaurants/999999", json=name, headers=h["admin"]).status_code == 404


def test_bad_restaurants_are_refused_with_a_message_and_nothing_written(world: World) -> None:
    c, admin = world.client, world.headers["admin"]
    n = _count(world)
    table = {"name": "1", "area": "Dining room", "min_covers": 1, "max_covers": 2}
    late = {
        "name": "late",
        "weekdays": [4],
        "opens": "22:00",
        "closes": "03:00",
        "last_seating": "01:00",
        "turn_times": {"2": 90},
    }
    early = {
        **late,
        "name": "early",
        "weekdays": [5],
        "opens": "01:30",
        "closes": "06:00",
        "last_seating": "04:00",
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"timezone": "Mars/Olympus"}, "IANA time zone"),
        ({"tables": [table, table]}, "unique"),
        (
            {
                "combinations": [
                    {"name": "x", "tables": ["1", "9"], "min_covers": 3, "max_covers": 4}
                ]
            },
            "unknown table(s) 9",
        ),
        ({"periods": [late, early]}, "runs past midnight into early"),
        ({"locale": "English please"}, "language tag"),
        ({"cuisines": ["thai", "THAI"]}, "twice"),
    ]
    for overrides, words in cases:
        refused = c.post(f"{API}/restaurants", json=_body(**overrides), headers=admin)
        assert refused.status_code == 422, (overrides, refused.text)
        assert words in refused.json()["detail"], refused.json()
    for overrides in ({"price_tier": 9}, {"tables": []}, {"owner": "me"}, {"country": "gb"}):
        assert (
            c.post(f"{API}/restaurants", json=_body(**overrides), headers=admin).status_code == 422
        )
    assert _count(world) == n

    made = c.post(f"{API}/restaurants", json=_body(external_ref="fjord-dup"), headers=admin)
    assert made.status_code == 201
    twice = c.post(f"{API}/restaurants", json=_body(external_ref="fjord-dup"), headers=admin)
    assert twice.status_code == 409 and str(made.json()["id"]) in twice.json()["detail"]
    rid = made.json()["id"]
    for change, words in (
        ({"timezone": "Asia/Tokyo"}, ""),
        ({"name": None}, "name must be text"),
        ({"cuisines": []}, ""),
    ):
        refused = c.patch(f"{API}/restaurants/{rid}", json=change, headers=admin)
        assert refused.status_code == 422, refused.text
        assert words in refused.json()["detail"]
    dup = c.post(f"{API}/restaurants/{rid}/tables", json=table, headers=admin)
    assert dup.status_code == 409 and "already has a table named '1'" in dup.json()["detail"]
    assert c.get(f"{API}/restaurants/{rid}").json()["name"] == "Fjord Kitchen"


def test_a_restaurant_opens_from_a_json_file_on_the_command_line(tmp_path: Path) -> None:
    """The same body as POST /restaurants, from a file: opened and shown; a
    bad file is one line naming the field, and nothing is written."""
    url = f"sqlite:///{tmp_path / 'open.db'}"
    good = tmp_path / "fjord.json"
    good.write_text(json.dumps(_body(combinations=[_COMBO])))
    opened = runner.invoke(app, ["restaurants", "add", str(good), "--database-url", url])
    assert opened.exit_code == 0, opened.output
    assert "Opened restaurant 1." in opened.output
    assert "Fjord Kitchen" in opened.output and "largest party 8" in opened.output
    assert "combination 3+W: 3 + W for 5-8" in opened.output
    shown = runner.invoke(app, ["restaurants", "show", "1", "--database-url", url])
    assert shown.exit_code == 0 and "Window" in shown.output and "accessible" in shown.output

    bad = tmp_path / "bad.json"
    for content, words in (
        (json.dumps(_body(price_tier=7)), "price_tier: Input should be less than or equal to 4"),
        (json.dumps(_body(timezone="Mars/Olympus")), "'Mars/Olympus' is not an IANA time zone"),
        ("{not json", "is not JSON"),
    ):
        bad.write_text(content)
        refused = runner.invoke(app, ["restaurants", "add", str(bad), "--database-url", url])
        assert refused.exit_code == 2, refused.output
        assert words in refused.output and "Traceback" not in refused.output
    missing = runner.invoke(app, ["restaurants", "show", "99", "--database-url", url])
    assert missing.exit_code == 2 and "no restaurant with id 99" in missing.output
    listed = runner.invoke(app, ["restaurants", "show", "2", "--database-url", url])
    assert listed.exit_code == 2  # the refused files wrote nothing


def test_a_manager_renames_a_table_and_changes_its_features(world: World) -> None:
    c, h = world.client, world.headers
    url = f"{API}/restaurants/{world.brasserie}/floor-plan"
    tables = c.get(url, headers=h["manager"]).json()["tables"]
    first, second = tables[0], tables[1]
    edit = f"{API}/restaurants/{world.brasserie}/tables/{first['id']}"
    body = {"name": f"Booth {first['id']}", "features": ["booth"]}
    assert c.patch(edit, json=body, headers=h["host"]).status_code == 403  # the bistro's host
    assert c.patch(edit, json=body, headers=h["ana"]).status_code == 403
    done = c.patch(edit, json=body, headers=h["manager"])
    assert done.status_code == 200, done.text
    assert (done.json()["name"], done.json()["features"]) == (body["name"], ["booth"])
    assert done.json()["max_covers"] == first["max_covers"]
    after = {t["id"]: t for t in c.get(url, headers=h["manager"]).json()["tables"]}
    assert after[first["id"]]["name"] == body["name"]
    taken = c.patch(edit, json={"name": second["name"]}, headers=h["manager"])
    assert (taken.status_code, taken.json()["code"]) == (409, "already_exists")
    bistro_table = c.get(f"{API}/restaurants/{world.bistro}/floor-plan", headers=h["admin"]).json()[
        "tables"
    ][0]["id"]
    elsewhere = f"{API}/restaurants/{world.brasserie}/tables/{bistro_table}"
    assert c.patch(elsewhere, json={"name": "Mine"}, headers=h["manager"]).status_code == 404
    covers = c.patch(edit, json={"max_covers": 12}, headers=h["manager"])
    assert covers.status_code == 422 and "max_covers" in covers.text
    blank = c.patch(edit, json={"name": ""}, headers=h["manager"])
    assert blank.status_code == 422
