"""Who may do what: diners see only their own data, staff only their
restaurants', and bad credentials of every kind are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from serving.config import ServingSettings
from serving.security import ALGORITHM, AUDIENCE, ISSUER
from tests.serving.conftest import SECRET, World, fresh_date, new_diner

API = "/api/v1"


def _book(world: World, who: str, restaurant: int | None = None, **extra: object) -> int:
    body = {
        "restaurant_id": restaurant or world.bistro,
        "date": fresh_date(),
        "time": "19:00",
        "party_size": 2,
        **extra,
    }
    response = world.client.post(f"{API}/reservations", json=body, headers=world.headers[who])
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_a_diner_cannot_read_or_change_another_diners_booking(world: World) -> None:
    rid = _book(world, "ana")
    c, ben = world.client, world.headers["ben"]
    assert c.get(f"{API}/reservations/{rid}", headers=world.headers["ana"]).status_code == 200
    refused = c.get(f"{API}/reservations/{rid}", headers=ben)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert c.post(f"{API}/reservations/{rid}/cancel", json={}, headers=ben).status_code == 404
    assert (
        c.patch(f"{API}/reservations/{rid}", json={"party_size": 3}, headers=ben).status_code == 404
    )
    assert (
        c.get(f"{API}/reservations/{rid}", headers=world.headers["ana"]).json()["state"] == "booked"
    )


def test_a_diner_cannot_book_as_someone_else(world: World) -> None:
    other = world.diner_ids["ben"]
    response = world.client.post(
        f"{API}/reservations",
        json={
            "restaurant_id": world.bistro,
            "date": fresh_date(),
            "time": "19:00",
            "party_size": 2,
            "diner_id": other,
        },
        headers=world.headers["ana"],
    )
    assert response.status_code == 403


def test_diner_data_is_private(world: World) -> None:
    # Diners of this test's own: the session's Ana and Ben may have booked
    # the brasserie in other tests, which lets its manager see them.
    c, manager = world.client, world.headers["manager"]
    (ana, as_ana), (ben, as_ben) = new_diner(world, "Ana"), new_diner(world, "Ben")
    assert c.get(f"{API}/diners/{ana}", headers=as_ana).status_code == 200
    assert c.get(f"{API}/diners/{ana}", headers=as_ben).status_code == 404
    assert c.get(f"{API}/diners/{ana}/export", headers=as_ben).status_code == 403
    assert c.delete(f"{API}/diners/{ana}", headers=as_ben).status_code == 403
    assert c.get(f"{API}/diners/{ben}/recommendations", headers=as_ana).status_code == 403
    # A manager whose restaurant never served Ana cannot see her either...
    assert c.get(f"{API}/diners/{ana}", headers=manager).status_code == 404
    # ...until she books there.
    booked = c.post(
        f"{API}/reservations",
        json={
            "restaurant_id": world.brasserie,
            "date": fresh_date(),
            "time": "19:00",
            "party_size": 2,
        },
        headers=as_ana,
    )
    assert booked.status_code == 201, booked.text
    assert c.get(f"{API}/diners/{ana}", headers=manager).status_code == 200
    assert c.get(f"{API}/diners/{ben}", headers=manager).status_code == 404


def test_a_host_of_one_restaurant_cannot_touch_another(world: World) -> None:
    c, host = world.client, world.headers["host"]
    theirs = _book(world, "manager", restaurant=world.brasserie, guest_name="Phone guest")
    assert c.get(f"{API}/reservations/{theirs}", headers=host).status_code == 404
    assert (
        c.post(
            f"{API}/reservations/{theirs}/state", json={"state": "confirmed"}, headers=host
        ).status_code
        == 404
    )
    assert c.post(f"{API}/reservations/{theirs}/cancel", json={}, headers=host).status_code == 404
    assert c.get(f"{API}/predictions/attendance/{theirs}", headers=host).status_code == 404
    other = world.brasserie
    for path in (
        f"/restaurants/{other}/seating/plan",
        f"/restaurants/{other}/waitlist",
        f"/predictions/covers/{other}",
    ):
        assert c.get(f"{API}{path}", headers=host).status_code == 403, path
    booked_for_them = c.post(
        f"{API}/reservations",
        json={"restaurant_id": other, "date": fresh_date(), "time": "19:00", "party_size": 2},
        headers=host,
    )
    assert booked_for_them.status_code == 403
    # ...while their own restaurant is theirs to run.
    own = _book(world, "host", guest_name="Walk-up")
    confirmed = c.post(f"{API}/reservations/{own}/state", json={"state": "confirmed"}, headers=host)
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "confirmed"


def _token(**claims: object) -> str:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "sub": "1",
        "role": "admin",
        "rids": [],
        "did": None,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    base.update(claims)
    return jwt.encode(base, str(base.pop("_key", SECRET)), algorithm=ALGORITHM)


@pytest.mark.parametrize(
    "token",
    [
        _token(exp=datetime.now(UTC) - timedelta(seconds=1)),  # expired
        _token(_key="another-secret-" + "y" * 40),  # signed by someone else
        _token(aud="somebody-else"),
        "not.a.jwt",
    ],
    ids=["expired", "forged", "wrong-audience", "garbage"],
)
def test_bad_tokens_are_refused(world: World, token: str) -> None:
    response = world.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "not_authenticated"


def test_a_tampered_token_is_refused(world: World) -> None:
    good = world.headers["ana"]["Authorization"].removeprefix("Bearer ")
    header, payload, signature = good.split(".")
    # Claim to be the admin with Ana's signature.
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"diner"', b'"admin"')
    ).decode()
    assert forged_payload != payload
    forged = f"{header}.{forged_payload}.{signature}"
    response = world.client.get(f"{API}/events", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert world.client.get(f"{API}/auth/me", headers=world.headers["ana"]).status_code == 200


def test_no_credentials_and_bad_keys(world: World) -> None:
    c = world.client
    assert c.get(f"{API}/auth/me").status_code == 401
    assert c.get(f"{API}/events", headers={"X-API-Key": "ssk_nope_nope"}).status_code == 401
    wrong_secret = world.affiliate_key.rsplit("_", 1)[0] + "_wrong"
    assert c.get(f"{API}/events", headers={"X-API-Key": wrong_secret}).status_code == 401
    # A good affiliate key books as an affiliate but cannot read the feed.
    assert c.get(f"{API}/events", headers={"X-API-Key": world.affiliate_key}).status_code == 403
    booked = c.post(
        f"{API}/reservations",
        json={
            "restaurant_id": world.bistro,
            "date": fresh_date(),
            "time": "18:00",
            "party_size": 2,
            "guest_name": "Guide reader",
        },
        headers={"X-API-Key": world.affiliate_key},
    )
    assert booked.status_code == 201 and booked.json()["channel"] == "affiliate"


def test_wrong_password_is_refused_alike_for_unknown_accounts(world: World) -> None:
    c = world.client
    for email in ("ana@example.com", "nobody@example.com"):
        response = c.post(f"{API}/auth/token", data={"username": email, "password": "wrong-one!"})
        assert response.status_code == 401
        assert response.json()["detail"] == "Wrong email or password."


def test_only_admins_create_staff_and_keys(world: World) -> None:
    body = {
        "email": "h2@example.com",
        "password": "long enough pw",
        "role": "host",
        "restaurant_ids": [world.bistro],
    }
    c = world.client
    assert c.post(f"{API}/auth/users", json=body, headers=world.headers["host"]).status_code == 403
    assert c.post(f"{API}/auth/users", json=body, headers=world.headers["admin"]).status_code == 201
    key = {"kind": "pos", "name": "till 2", "restaurant_id": world.bistro}
    assert c.post(f"{API}/auth/api-keys", json=key, headers=world.headers["ana"]).status_code == 403
    issued = c.post(f"{API}/auth/api-keys", json=key, headers=world.headers["admin"])
    assert issued.status_code == 201 and issued.json()["webhook_secret"]


def test_default_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="SERVICESPHERE_SECRET_KEY must be set"):
        ServingSettings(environment="production")
    with pytest.raises(ValueError, match="SERVICESPHERE_SECRET_KEY must be set"):
        ServingSettings(environment="test")
    assert ServingSettings(environment="development").environment == "development"


def test_rate_limit_per_client_answers_429_with_retry_after(world: World) -> None:
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.champions import Champions
    from tests.serving.conftest import api_settings

    app = create_app(
        api_settings(rate_limit="3/minute"), ledger=world.ledger, champions=Champions(None)
    )
    with TestClient(app) as client:
        codes = [client.get(f"{API}/restaurants").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.get(f"{API}/restaurants")
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["code"] == "rate_limited"
        assert client.get("/healthz").status_code == 200  # operations are exempt


def _redis_url() -> str | None:
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


def test_rate_limit_in_redis_is_shared_by_workers(world: World) -> None:
    """Two apps stand for two worker processes: with Redis storage they
    spend one budget (with memory storage each worker would have its own)."""
    import uuid

    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.champions import Champions
    from tests.serving.conftest import api_settings

    url = _redis_url()
    if url is None:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    rate = f"{3 + uuid.uuid4().int % 1000}/hour"
    budget = int(rate.split("/")[0])
    # A client address nobody else uses, so counts left in Redis by an
    # earlier run do not count: the counts are kept per rate and address,
    # and an earlier run within the hour (this one's or anybody's) may have
    # drawn the same rate for TestClient's usual address.
    address = (f"ratelimit-{uuid.uuid4().hex}", 50000)
    settings = api_settings(rate_limit=rate, rate_limit_storage=url)
    one = create_app(settings, ledger=world.ledger, champions=Champions(None))
    two = create_app(settings, ledger=world.ledger, champions=Champions(None))
    with TestClient(one, client=address) as first, TestClient(two, client=address) as second:
        codes = [
            (first if i % 2 else second).get(f"{API}/restaurants").status_code
            for i in range(budget + 1)
        ]
    assert codes[:budget] == [200] * budget
    assert codes[budget] == 429
