"""Orders made elsewhere: the API's clients and their orders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("api_clients_token", "api_clients", ["token_hash"], unique=True)
    op.create_table(
        "online_orders",
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=True),
        sa.Column("gateway", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("paid_at", sa.Float(), nullable=True),
        sa.Column("collected_at", sa.Float(), nullable=True),
        sa.Column("collected_by", sa.String(length=130), nullable=True),
        sa.PrimaryKeyConstraint("order_no"),
    )
    op.create_index("online_orders_reference", "online_orders", ["client", "reference"], unique=True)


def downgrade() -> None:
    op.drop_index("online_orders_reference", table_name="online_orders")
    op.drop_table("online_orders")
    op.drop_index("api_clients_token", table_name="api_clients")
    op.drop_table("api_clients")
