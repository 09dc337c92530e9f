"""Panel and release (issues 14 and 20): login lockouts that double, and the owner's
confirmation of a job a ``hold-confirm`` rule held.

Revision ID: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("login_throttles", sa.Column("lockouts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("jobs", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("confirmed_by", sa.String(255), nullable=True))


def downgrade():
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("confirmed_by")
        batch.drop_column("confirmed_at")
    with op.batch_alter_table("login_throttles") as batch:
        batch.drop_column("lockouts")
