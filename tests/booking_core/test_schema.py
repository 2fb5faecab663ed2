"""The migrations and the query-side table definitions describe one schema."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from booking_core.ledger import Ledger, alembic_config, upgrade
from booking_core.schema import metadata


def test_migrations_match_the_table_definitions(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_is_idempotent(ledger: Ledger) -> None:
    upgrade(ledger.engine)
    upgrade(ledger.engine)
    with ledger.read() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert version == head


def test_sqlite_runs_in_wal_mode_with_foreign_keys(ledger: Ledger) -> None:
    if ledger.is_postgres:
        pytest.skip("SQLite pragmas")
    with ledger.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_naive_datetimes_are_refused(ledger: Ledger, bistro: int) -> None:
    from datetime import datetime

    from booking_core.schema import holidays, outbox

    with pytest.raises(sa.exc.StatementError, match="naive datetime"), ledger.write() as conn:
        conn.execute(
            outbox.insert().values(
                event_type="x",
                entity="x",
                entity_id=1,
                payload={},
                occurred_at=datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
            )
        )
    with ledger.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(holidays)).scalar_one() == 0
