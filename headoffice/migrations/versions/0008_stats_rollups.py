"""The statistics' roll-ups (headoffice/rollup.py), and orders by the time head office stored them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.BigInteger(), nullable=False) for n in names]


def upgrade() -> None:
    op.create_index("orders_stored", "orders", ["stored_at"])
    name, day = sa.String(length=64), sa.String(length=10)
    op.create_table(
        "stats_store_hours",
        sa.Column("store", name, nullable=False),
        sa.Column("day", day, nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        *_counts("orders", "sales", "items"),
        sa.PrimaryKeyConstraint("store", "day", "hour"),
    )
    op.create_table(
        "stats_kiosk_days",
        sa.Column("store", name, nullable=False),
        sa.Column("kiosk", name, nullable=False),
        sa.Column("day", day, nullable=False),
        *_counts("orders", "sales"),
        sa.PrimaryKeyConstraint("store", "kiosk", "day"),
    )
    op.create_table(
        "stats_products",
        sa.Column("store", name, nullable=False),
        sa.Column("day", day, nullable=False),
        sa.Column("sku", name, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        *_counts("qty", "sales", "orders"),
        sa.PrimaryKeyConstraint("store", "day", "sku"),
    )
    op.create_index("stats_products_day", "stats_products", ["day"])
    op.create_table(
        "stats_pairs",
        sa.Column("store", name, nullable=False),
        sa.Column("day", day, nullable=False),
        sa.Column("sku_a", name, nullable=False),
        sa.Column("sku_b", name, nullable=False),
        sa.Column("name_a", sa.Text(), nullable=False),
        sa.Column("name_b", sa.Text(), nullable=False),
        *_counts("orders"),
        sa.PrimaryKeyConstraint("store", "day", "sku_a", "sku_b"),
    )


def downgrade() -> None:
    for table in ("stats_pairs", "stats_products", "stats_kiosk_days", "stats_store_hours"):
        op.drop_table(table)
    op.drop_index("orders_stored", "orders")
