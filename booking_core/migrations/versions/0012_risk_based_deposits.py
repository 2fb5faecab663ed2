"""risk-based deposits: a restaurant's threshold on predicted no-show risk
and the share of bookings over it left without a deposit as a control group,
and on each booking why its deposit was asked, the risk it was scored at, and
whether it was left in the control group

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_RESERVATION_COLUMNS = (
    ("deposit_reason", "VARCHAR(16)", sa.String(16)),
    ("no_show_risk", "FLOAT", sa.Float),
    ("no_show_risk_model", "VARCHAR(100)", sa.String(100)),
    ("deposit_risk_control", "BOOLEAN DEFAULT '0' NOT NULL", sa.Boolean),
)
_CONTROL_SHARE = "deposit_risk_control_share"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, as 0003 to 0011 (a batch rebuild would cascade).
        op.execute("ALTER TABLE restaurants ADD COLUMN deposit_risk_threshold FLOAT")
        op.execute(
            f"ALTER TABLE restaurants ADD COLUMN {_CONTROL_SHARE} FLOAT DEFAULT '0' NOT NULL"
        )
        for name, ddl, _ in _RESERVATION_COLUMNS:
            op.execute(f"ALTER TABLE reservations ADD COLUMN {name} {ddl}")
    else:
        op.add_column("restaurants", sa.Column("deposit_risk_threshold", sa.Float))
        op.add_column(
            "restaurants",
            sa.Column(_CONTROL_SHARE, sa.Float, server_default="0", nullable=False),
        )
        for name, _, kind in _RESERVATION_COLUMNS:
            default = sa.false() if kind is sa.Boolean else None
            op.add_column(
                "reservations",
                sa.Column(name, kind, server_default=default, nullable=default is None),
            )
    # Every deposit asked until now was asked by party size.
    op.execute(
        "UPDATE reservations SET deposit_reason = 'party_size' WHERE deposit_required = "
        + ("1" if op.get_bind().dialect.name == "sqlite" else "true")
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, _, _ in reversed(_RESERVATION_COLUMNS):
        if sqlite:
            op.execute(f"ALTER TABLE reservations DROP COLUMN {name}")
        else:
            op.drop_column("reservations", name)
    for name in (_CONTROL_SHARE, "deposit_risk_threshold"):
        if sqlite:
            op.execute(f"ALTER TABLE restaurants DROP COLUMN {name}")
        else:
            op.drop_column("restaurants", name)
