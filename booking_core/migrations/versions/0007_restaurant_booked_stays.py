"""restaurants.booked_stays: book the turn time or the predicted stay

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0003 to 0005: a batch rebuild of ``restaurants``
        # would cascade into every table referring to it.
        op.execute(
            "ALTER TABLE restaurants ADD COLUMN booked_stays VARCHAR(20) "
            "DEFAULT 'turn_times' NOT NULL"
        )
        return
    op.add_column(
        "restaurants",
        sa.Column("booked_stays", sa.String(20), server_default="turn_times", nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column named in no constraint in place.
        op.execute("ALTER TABLE restaurants DROP COLUMN booked_stays")
        return
    op.drop_column("restaurants", "booked_stays")
