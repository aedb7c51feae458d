"""Stock per store and sku, and the refunded orders whose goods went back on the shelf.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock",
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.BigInteger(), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("store", "sku"),
    )
    op.create_table(
        "stock_returns",
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("kiosk", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("store", "kiosk", "order_no"),
    )


def downgrade() -> None:
    op.drop_table("stock_returns")
    op.drop_table("stock")
