"""reservations keep their cancellation window and carry the fee it makes due

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 23:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("cancellation_window_hours", "SMALLINT DEFAULT '24' NOT NULL"),
    ("free_cancellation_until", "DATETIME"),
    ("fee_minor", "INTEGER DEFAULT '0' NOT NULL"),
    ("fee_reason", "VARCHAR(20)"),
    ("fee_waived_at", "DATETIME"),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # In place, as 0003 to 0008: a batch rebuild of ``reservations``
        # would cascade into every table referring to it.
        for name, ddl in _COLUMNS:
            op.execute(f"ALTER TABLE reservations ADD COLUMN {name} {ddl}")
    else:
        op.add_column(
            "reservations",
            sa.Column(
                "cancellation_window_hours", sa.SmallInteger, server_default="24", nullable=False
            ),
        )
        op.add_column(
            "reservations",
            sa.Column("free_cancellation_until", sa.DateTime(timezone=True), nullable=True),
        )
        op.add_column(
            "reservations", sa.Column("fee_minor", sa.Integer, server_default="0", nullable=False)
        )
        op.add_column("reservations", sa.Column("fee_reason", sa.String(20), nullable=True))
        op.add_column(
            "reservations", sa.Column("fee_waived_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Bookings taken before this kept no window: give them their restaurant's
    # window of today, and the deadline it makes (their fee was kept already).
    op.execute(
        "UPDATE reservations SET cancellation_window_hours = (SELECT r.cancellation_window_hours "
        "FROM restaurants r WHERE r.id = reservations.restaurant_id)"
    )
    if sqlite:
        op.execute(
            "UPDATE reservations SET free_cancellation_until = "
            # The ledger's text form keeps microseconds; datetime() drops them.
            "datetime(start_at, '-' || cancellation_window_hours || ' hours') "
            "|| substr(start_at, 20)"
        )
    else:
        op.execute(
            "UPDATE reservations SET free_cancellation_until = "
            "start_at - make_interval(hours => cancellation_window_hours)"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, _ in reversed(_COLUMNS):
        if sqlite:
            op.execute(f"ALTER TABLE reservations DROP COLUMN {name}")
        else:
            op.drop_column("reservations", name)
