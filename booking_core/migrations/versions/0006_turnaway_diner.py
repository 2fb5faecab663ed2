"""turnaways.diner_id: who was refused, so a retry is recorded once

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A batch rebuild on SQLite (it cannot add a named foreign key in place):
    # nothing refers to ``turnaways``, so unlike 0003-0005 nothing cascades.
    with op.batch_alter_table("turnaways") as batch:
        batch.add_column(sa.Column("diner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_turnaways_diner_id_diners"),
            "diners",
            ["diner_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("turnaways") as batch:
        batch.drop_constraint(batch.f("fk_turnaways_diner_id_diners"), type_="foreignkey")
        batch.drop_column("diner_id")
