"""The synthetic world: deterministic, lawful, and carrying the documented signal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from booking_core.audit import audit_ledger
from booking_core.ledger import Ledger
from booking_core.schema import reservations, world_reservation_truth
from booking_core.world.generate import WorldSummary, generate_world
from tests.conftest import drop_database, fresh_database_url

TODAY = date(2026, 6, 1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tiny_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Ledger, WorldSummary]]:
    from tests.conftest import POSTGRES_URL

    if request.param == "postgresql" and not POSTGRES_URL:
        pytest.skip("set SERVICESPHERE_TEST_POSTGRES_URL to run")
    url = fresh_database_url(request.param, tmp_path_factory.mktemp("world"))
    ledger = Ledger.open(url)
    summary = generate_world(ledger, size="tiny", seed=11, today=TODAY)
    yield ledger, summary
    ledger.dispose()
    drop_database(url)


def _fingerprint(ledger: Ledger) -> str:
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(
                reservations.c.id,
                reservations.c.restaurant_id,
                reservations.c.diner_id,
                reservations.c.start_at,
                reservations.c.party_size,
                reservations.c.state,
                reservations.c.channel,
                reservations.c.special_requests,
            ).order_by(reservations.c.id)
        ).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_world_is_lawful(tiny_world: tuple[Ledger, WorldSummary]) -> None:
    ledger, summary = tiny_world
    with ledger.read() as conn:
        report = audit_ledger(conn)
    assert report.ok, report.to_text(20)
    assert summary.reservations > 1000
    assert {"completed", "cancelled", "no_show", "booked"} <= set(summary.states)
    assert summary.walk_ins > 0 and summary.checks > 0 and summary.reviews > 0
    assert 0.04 < summary.no_show_rate < 0.15
    assert 0.08 < summary.cancellation_rate < 0.30


def test_same_seed_same_world(tiny_world: tuple[Ledger, WorldSummary], tmp_path: Path) -> None:
    ledger, _ = tiny_world
    if ledger.is_postgres:
        pytest.skip("determinism is checked once, on SQLite")
    other = Ledger.open(f"sqlite:///{tmp_path / 'again.db'}")
    generate_world(other, size="tiny", seed=11, today=TODAY)
    assert _fingerprint(other) == _fingerprint(ledger)
    third = Ledger.open(f"sqlite:///{tmp_path / 'other.db'}")
    generate_world(third, size="tiny", seed=12, today=TODAY)
    assert _fingerprint(third) != _fingerprint(ledger)


def test_truth_is_kept_for_every_reservation_and_drives_outcomes(
    tiny_world: tuple[Ledger, WorldSummary],
) -> None:
    ledger, _ = tiny_world
    query = sa.select(
        reservations.c.state,
        reservations.c.channel,
        reservations.c.deposit_required,
        reservations.c.booked_at,
        reservations.c.start_at,
        reservations.c.seated_at,
        reservations.c.completed_at,
        world_reservation_truth.c.p_no_show,
        world_reservation_truth.c.expected_duration_min,
    ).select_from(reservations.outerjoin(world_reservation_truth))
    with ledger.read() as conn:
        frame = pl.DataFrame(
            [dict(r._mapping) for r in conn.execute(query)], infer_schema_length=None
        )
    assert frame["p_no_show"].null_count() == 0
    past = frame.filter(pl.col("state").is_in(["completed", "no_show"]))
    # The stored probability is informative: no-shows had higher true risk.
    means = past.group_by("state").agg(pl.col("p_no_show").mean()).to_dict(as_series=False)
    risk = dict(zip(means["state"], means["p_no_show"], strict=True))
    assert risk["no_show"] > 1.5 * risk["completed"]
    # Actual durations scatter around the generator's median.
    done = frame.filter(pl.col("state") == "completed").with_columns(
        ((pl.col("completed_at") - pl.col("seated_at")).dt.total_seconds() / 60).alias("minutes")
    )
    ratio = (done["minutes"] / done["expected_duration_min"]).median()
    assert ratio is not None and 0.9 < float(ratio) < 1.1  # type: ignore[arg-type]
    walk_ins = frame.filter(pl.col("channel") == "walk_in")
    assert walk_ins["p_no_show"].max() == 0.0
