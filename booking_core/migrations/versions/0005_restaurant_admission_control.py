"""restaurants.admission_control: bid-price admission for lock-at-booking

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0003 and 0004: a batch rebuild of ``restaurants``
        # would cascade into every table referring to it.
        op.execute(
            "ALTER TABLE restaurants ADD COLUMN admission_control BOOLEAN DEFAULT 0 NOT NULL"
        )
        return
    op.add_column(
        "restaurants",
        sa.Column("admission_control", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column named in no constraint in place.
        op.execute("ALTER TABLE restaurants DROP COLUMN admission_control")
        return
    op.drop_column("restaurants", "admission_control")
