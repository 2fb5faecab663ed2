"""POS webhooks (signed, never replayed) and the whole loop: a booking made
through the API, seated by the host, closed by the POS, is training data
for the next nightly run."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from pipelines.nightly import attendance_features, duration_features, extract, ledger_offset
from serving.security import sign_webhook
from tests.serving.conftest import World, fresh_date

API = "/api/v1"


def _deliver(
    world: World,
    event: dict[str, object],
    *,
    secret: str | None = None,
    at: int | None = None,
    key: str | None = None,
) -> object:
    body = json.dumps(event).encode()
    signature = sign_webhook(secret or world.pos_secret, at or int(time.time()), body)
    return world.client.post(
        f"{API}/pos/webhook",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-API-Key": key or world.pos_key,
            "X-ServiceSphere-Signature": signature,
        },
    )


def _seated_booking(world: World) -> dict[str, object]:
    c = world.client
    day = fresh_date()
    booked = c.post(
        f"{API}/reservations",
        json={"restaurant_id": world.bistro, "date": day, "time": "19:00", "party_size": 2},
        headers={**world.headers["ana"], "Idempotency-Key": f"loop-{day}"},
    )
    assert booked.status_code == 201, booked.text
    reservation = booked.json()
    start = datetime.fromisoformat(str(reservation["start_at"]))
    world.clock.now = max(world.clock.now, start + timedelta(minutes=2))
    for state in ("arrived", "seated"):
        moved = c.post(
            f"{API}/reservations/{reservation['id']}/state",
            json={"state": state},
            headers=world.headers["host"],
        )
        assert moved.status_code == 200, moved.text
    return reservation


def test_bad_signatures_and_replays_are_refused(world: World) -> None:
    reservation = _seated_booking(world)
    table = reservation["table_ids"][0]  # type: ignore[index]
    opened_at = world.clock.now.isoformat()
    event = {
        "delivery_id": f"d-{reservation['id']}",
        "type": "check.opened",
        "check_id": f"c-{reservation['id']}",
        "table_id": table,
        "covers": 2,
        "occurred_at": opened_at,
    }
    forged = _deliver(world, event, secret="not-the-secret")
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"
    stale = _deliver(world, event, at=int(time.time()) - 3600)
    assert stale.status_code == 401
    tampered_body = json.dumps({**event, "covers": 9}).encode()
    signature = sign_webhook(world.pos_secret, int(time.time()), json.dumps(event).encode())
    tampered = world.client.post(
        f"{API}/pos/webhook",
        content=tampered_body,
        headers={
            "Content-Type": "application/json",
            "X-API-Key": world.pos_key,
            "X-ServiceSphere-Signature": signature,
        },
    )
    assert tampered.status_code == 401
    not_pos = _deliver(world, event, key=world.affiliate_key)
    assert not_pos.status_code == 401
    first = _deliver(world, event)
    assert first.status_code == 200, first.text
    assert first.json()["reservation_id"] == reservation["id"]
    replay = _deliver(world, event)
    assert replay.status_code == 409 and replay.json()["code"] == "replayed_delivery"


def test_a_failed_delivery_can_be_retried(world: World) -> None:
    event = {
        "delivery_id": "retry-me",
        "type": "check.closed",
        "check_id": "never-opened",
        "subtotal_minor": 100,
    }
    assert _deliver(world, event).status_code == 404  # nothing to close yet
    assert _deliver(world, event).status_code == 404  # not refused as a replay


def test_booking_seated_and_paid_through_the_api_is_training_data(world: World) -> None:
    reservation = _seated_booking(world)
    rid = int(reservation["id"])  # type: ignore[call-overload]
    table = reservation["table_ids"][0]  # type: ignore[index]
    opened = world.clock.now + timedelta(minutes=3)
    closed = opened + timedelta(minutes=80)
    base = {"check_id": f"loop-{rid}", "table_id": table, "covers": 2}
    assert (
        _deliver(
            world,
            {
                **base,
                "delivery_id": f"o-{rid}",
                "type": "check.opened",
                "occurred_at": opened.isoformat(),
            },
        ).status_code
        == 200
    )
    paid = _deliver(
        world,
        {
            **base,
            "delivery_id": f"p-{rid}",
            "type": "check.paid",
            "subtotal_minor": 8400,
            "occurred_at": closed.isoformat(),
        },
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["reservation_id"] == rid and paid.json()["subtotal_minor"] == 8400
    world.clock.now = max(world.clock.now, closed)
    done = world.client.get(f"{API}/reservations/{rid}", headers=world.headers["ana"]).json()
    assert done["state"] == "completed"

    # The next nightly run's own extract and feature tasks, on this ledger.
    url = str(world.ledger.engine.url)
    as_of = closed + timedelta(hours=6)
    frames = extract.fn(url, ledger_offset.fn(url))
    durations = duration_features.fn(frames, as_of)
    row = durations.filter(durations["reservation_id"] == rid)
    assert row.height == 1
    assert abs(float(row["duration_min"][0]) - 83.0) < 1.0  # seated at start+2, paid 83 min later
    assert row["channel"][0] == "web"
    attendance = attendance_features.fn(frames, as_of)
    labelled = attendance.filter(attendance["reservation_id"] == rid)
    assert labelled.height == 1 and labelled["no_show"][0] is False
