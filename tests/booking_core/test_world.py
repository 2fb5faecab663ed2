"""The synthetic world: deterministic, lawful, and carrying the documented signal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from booking_core.audit import DEPOSITS, audit_ledger
from booking_core.deposits import due_at
from booking_core.ledger import Ledger
from booking_core.schema import (
    deposit_payments,
    outbox,
    reservations,
    restaurants,
    world_reservation_truth,
)
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
    assert report.checked["deposits"] > 0 and DEPOSITS not in report.by_rule()
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


def test_deposits_are_paid_in_full_as_booked_and_settle(
    tiny_world: tuple[Ledger, WorldSummary],
) -> None:
    ledger, _ = tiny_world
    r, p, ob = reservations.c, deposit_payments.c, outbox.c
    with ledger.read() as conn:
        walk_ins = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(sa.case((r.deposit_required, 1))),
                sa.func.sum(r.deposit_minor + r.deposit_paid_minor),
                sa.func.count(r.deposit_due_at),
            ).where(r.channel == "walk_in")
        ).one()
        owing = conn.execute(
            sa.select(
                r.id,
                r.channel,
                r.deposit_required,
                r.deposit_minor,
                r.deposit_paid_minor,
                r.deposit_refunded_minor,
                r.deposit_due_at,
                r.deposit_paid_at,
                r.booked_at,
                r.start_at,
                r.currency,
                restaurants.c.deposit_pay_within_minutes,
            )
            .join_from(reservations, restaurants, restaurants.c.id == r.restaurant_id)
            .where(sa.or_(r.deposit_required, r.deposit_minor > 0, r.deposit_paid_minor > 0))
        ).all()
        payments = conn.execute(
            sa.select(
                p.reservation_id, p.payment_ref, p.amount_minor, p.currency, p.source, p.paid_at
            )
        ).all()
        ids = [row.id for row in owing]
        events = conn.execute(
            sa.select(ob.entity_id, ob.event_type, ob.payload)
            .where(ob.entity == "reservation", ob.entity_id.in_(ids))
            .order_by(ob.entity_id, ob.event_offset)
        ).all()
    # Walk-ins are here already: no deposit asked, none paid.
    assert walk_ins[0] > 0 and tuple(walk_ins[1:]) == (0, 0, 0)
    assert len(owing) > 20
    by_id = {row.id: row for row in owing}
    paid = {pay.reservation_id: pay for pay in payments}
    assert len(payments) == len(paid) == len(owing)  # one payment per booking asked one
    history: dict[int, list[tuple[str, dict[str, object]]]] = {}
    for entity_id, event_type, payload in events:
        history.setdefault(entity_id, []).append((event_type, payload))
    settled = {"reservation.cancelled": 0, "reservation.no_show": 0, "reservation.completed": 0}
    for row in owing:
        amount = row.deposit_minor
        assert row.channel != "walk_in" and row.deposit_required and amount > 0
        assert (row.deposit_paid_minor, row.deposit_refunded_minor) == (amount, 0)
        assert row.deposit_paid_at == row.booked_at
        assert row.deposit_due_at == due_at(
            row.booked_at, row.start_at, row.deposit_pay_within_minutes
        )
        pay = paid[row.id]
        assert (pay.payment_ref, pay.amount_minor, pay.currency, pay.source, pay.paid_at) == (
            f"world-{row.id}",
            amount,
            row.currency,
            "world",
            row.booked_at,
        )
        (booked, booked_payload), (paid_event, paid_payload), *rest = history[row.id]
        assert booked == "reservation.booked" and paid_event == "reservation.deposit_paid"
        assert booked_payload["deposit_required"] is True
        assert booked_payload["deposit_minor"] == amount
        assert booked_payload["deposit_due_at"] == row.deposit_due_at.isoformat()
        assert paid_payload == {
            "amount_minor": amount,
            "currency": row.currency,
            "payment_ref": f"world-{row.id}",
            "source": "world",
            "held_minor": amount,
            "deposit_minor": amount,
            "paid_in_full": True,
        }
        assert all(kind != "reservation.deposit_paid" for kind, _ in rest)
        for kind, payload in rest:
            if kind not in settled:
                continue
            settled[kind] += 1
            assert payload["currency"] == row.currency
            if kind == "reservation.completed":
                assert payload["deposit_applied_minor"] == amount
            else:  # all of what is held is kept against the fee, or given back
                kept = payload.get("deposit_kept_minor", 0)
                assert kept + payload.get("deposit_refund_minor", 0) == amount  # type: ignore[operator]
    # Few parties that paid fail to come (the tiny world may have none).
    assert settled["reservation.cancelled"] and settled["reservation.completed"], settled
    # A booking that asked none settles nothing when it completes.
    with ledger.read() as conn:
        plain = conn.execute(
            sa.select(ob.payload)
            .join_from(outbox, reservations, r.id == ob.entity_id)
            .where(
                ob.entity == "reservation",
                ob.event_type == "reservation.completed",
                r.deposit_minor == 0,
            )
            .limit(200)
        ).scalars()
        assert all(set(payload) == {"from", "to"} for payload in plain)
    assert set(by_id) == set(paid)
