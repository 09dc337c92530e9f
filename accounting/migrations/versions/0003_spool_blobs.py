"""Spool blobs: small held jobs' encrypted bytes kept in the database, beside their row.

Revision ID: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "spool_blobs",
        sa.Column("spool_name", sa.String(64), nullable=False),
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("spool_name", name="pk_spool_blobs"),
    )


def downgrade():
    op.drop_table("spool_blobs")
