"""Schemathesis against the app's own OpenAPI schema: whatever a client
sends, no 5xx and no response that breaks the documented schema."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from booking_core.accounts import Role, create_user
from booking_core.ledger import Ledger
from booking_core.restaurants import add_restaurant
from serving.app import create_app
from serving.champions import Champions
from serving.security import hash_password
from tests.conftest import NOW, bistro_spec
from tests.serving.conftest import PASSWORD, api_settings, sign_in

pytestmark = pytest.mark.slow


# The fuzzer erases diners and books at random: it gets a ledger of its own,
# made when the module is collected (schemathesis reads the schema then).
_DIR = Path(tempfile.mkdtemp(prefix="ss-fuzz-"))
atexit.register(shutil.rmtree, _DIR, True)
LEDGER = Ledger.open(f"sqlite:///{_DIR / 'ledger.db'}")
LEDGER.clock = lambda: NOW
RESTAURANT = add_restaurant(LEDGER, bistro_spec())
create_user(LEDGER, "admin@fuzz.example", hash_password(PASSWORD), Role.ADMIN)
create_user(
    LEDGER, "host@fuzz.example", hash_password(PASSWORD), Role.HOST, restaurant_ids=(RESTAURANT,)
)
# With a payments secret: without one the webhook's 503 (not configured) is
# the one 5xx the API answers on purpose.
APP = create_app(
    api_settings(payments_webhook_secret="fuzz-payments-" + "x" * 32),
    ledger=LEDGER,
    champions=Champions(None),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def admin() -> Iterator[dict[str, str]]:
    with TestClient(APP) as client:  # runs the app's start-up for the whole module
        yield sign_in(client, "admin@fuzz.example")
    LEDGER.dispose()


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_responses_match_the_schema(
    case: schemathesis.Case, admin: dict[str, str]
) -> None:
    headers = dict(case.headers or {})
    if "X-API-Key" not in headers:
        headers.update(admin)  # signed in as the admin: the deepest paths
    case.call_and_validate(
        headers=headers,
        checks=[
            not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
            status_code_conformance,
        ],
    )
