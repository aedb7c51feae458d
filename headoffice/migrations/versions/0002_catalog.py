"""The chain's catalog: products, their barcodes, the stores' own prices; published versions and their bundles.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_products",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("tax_class", sa.String(length=32), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("age_restricted", sa.Boolean(), nullable=False),
        sa.Column("image", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "catalog_barcodes",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("barcode", sa.String(length=14), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("gtin"),
    )
    op.create_index("catalog_barcodes_sku", "catalog_barcodes", ["sku"], unique=False)
    op.create_table(
        "catalog_store_prices",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sku", "store"),
    )
    op.create_index("commands_name", "commands", ["name", "store", "kiosk"], unique=False)
    op.create_table(
        "catalog_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "catalog_bundles",
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("bundle", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("store", "version"),
    )


def downgrade() -> None:
    op.drop_table("catalog_bundles")
    op.drop_table("catalog_versions")
    op.drop_index("commands_name", table_name="commands")
    op.drop_table("catalog_store_prices")
    op.drop_index("catalog_barcodes_sku", table_name="catalog_barcodes")
    op.drop_table("catalog_barcodes")
    op.drop_table("catalog_products")
