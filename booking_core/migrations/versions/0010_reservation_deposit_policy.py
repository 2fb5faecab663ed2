"""reservations keep the deposit policy they were booked under

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 00:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0003 to 0009.
        op.execute("ALTER TABLE reservations ADD COLUMN deposit_min_party SMALLINT")
        op.execute(
            "ALTER TABLE reservations ADD COLUMN deposit_per_cover_minor INTEGER DEFAULT '0' "
            "NOT NULL"
        )
    else:
        op.add_column("reservations", sa.Column("deposit_min_party", sa.SmallInteger))
        op.add_column(
            "reservations",
            sa.Column("deposit_per_cover_minor", sa.Integer, server_default="0", nullable=False),
        )
    # Bookings taken before kept only their deposit: give them their
    # restaurant's policy of today (their deposit amount stays as it was).
    for column in ("deposit_min_party", "deposit_per_cover_minor"):
        op.execute(
            f"UPDATE reservations SET {column} = (SELECT r.{column} FROM restaurants r "
            "WHERE r.id = reservations.restaurant_id)"
        )


def downgrade() -> None:
    for column in ("deposit_per_cover_minor", "deposit_min_party"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE reservations DROP COLUMN {column}")
        else:
            op.drop_column("reservations", column)
