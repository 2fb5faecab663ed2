"""service_periods.effective_from: a restaurant's hours change from a date

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0003 to 0007 (a nullable column needs no rebuild).
        op.execute("ALTER TABLE service_periods ADD COLUMN effective_from DATE")
        return
    op.add_column("service_periods", sa.Column("effective_from", sa.Date, nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE service_periods DROP COLUMN effective_from")
        return
    op.drop_column("service_periods", "effective_from")
