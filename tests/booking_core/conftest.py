"""Fixtures the booking-core tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from booking_core.daybook import table_policy
from optimizer.pooled_policy import PooledAcceptance


@pytest.fixture
def policies_plugged_in() -> Iterator[None]:
    """What the application does at start-up: plug pooled acceptance and
    admission control in (a generous solver limit: no flakes when loaded)."""
    before = (table_policy.pooled, table_policy.admission)
    table_policy.pooled = PooledAcceptance(time_limit_s=5.0)
    table_policy.admission = PooledAcceptance(pool=False, time_limit_s=5.0)
    yield
    table_policy.pooled, table_policy.admission = before
