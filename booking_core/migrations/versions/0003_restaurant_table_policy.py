"""restaurants.table_policy: lock at booking (the default) or pooled acceptance

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CHECK = "table_policy IN ('lock_at_booking', 'pooled')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: rebuilding ``restaurants`` drops the old table, and
        # with foreign keys on that cascades into every table that refers to
        # it. SQLite adds a column with its own check in place.
        op.execute(
            "ALTER TABLE restaurants ADD COLUMN table_policy VARCHAR(20) "
            "DEFAULT 'lock_at_booking' NOT NULL "
            f"CONSTRAINT ck_restaurants_table_policy CHECK ({CHECK})"
        )
        return
    op.add_column(
        "restaurants",
        sa.Column(
            "table_policy", sa.String(length=20), server_default="lock_at_booking", nullable=False
        ),
    )
    op.create_check_constraint(op.f("ck_restaurants_table_policy"), "restaurants", CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # DROP COLUMN refuses a column named in a CHECK constraint, and a table
        # rebuild would cascade (see upgrade): the column stays, unused.
        return
    op.drop_constraint(op.f("ck_restaurants_table_policy"), "restaurants", type_="check")
    op.drop_column("restaurants", "table_policy")
