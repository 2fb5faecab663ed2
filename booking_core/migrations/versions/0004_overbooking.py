"""restaurants.overbooking_max_wait_risk (NULL: off) and reservations.overbooked

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 09:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CHECK = (
    "overbooking_max_wait_risk IS NULL OR "
    "(overbooking_max_wait_risk > 0 AND overbooking_max_wait_risk <= 0.2)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0003: a batch rebuild of ``restaurants`` or
        # ``reservations`` would cascade into every table referring to them.
        op.execute(
            "ALTER TABLE restaurants ADD COLUMN overbooking_max_wait_risk FLOAT "
            f"CONSTRAINT ck_restaurants_overbooking_max_wait_risk CHECK ({CHECK})"
        )
        op.execute("ALTER TABLE reservations ADD COLUMN overbooked BOOLEAN DEFAULT 0 NOT NULL")
        return
    op.add_column("restaurants", sa.Column("overbooking_max_wait_risk", sa.Float(), nullable=True))
    op.create_check_constraint(
        op.f("ck_restaurants_overbooking_max_wait_risk"), "restaurants", CHECK
    )
    op.add_column(
        "reservations",
        sa.Column("overbooked", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # DROP COLUMN refuses a column named in a CHECK constraint, and a
        # rebuild would cascade (see upgrade): the columns stay, unused.
        return
    op.drop_column("reservations", "overbooked")
    op.drop_constraint(
        op.f("ck_restaurants_overbooking_max_wait_risk"), "restaurants", type_="check"
    )
    op.drop_column("restaurants", "overbooking_max_wait_risk")
