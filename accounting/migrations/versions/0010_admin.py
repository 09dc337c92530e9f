"""Issue 14 (the admin's day one): a deleted user keeps their history.

``users.deleted_at``: ``printgate users delete`` blanks what identifies or admits the
person (cards, PIN, password, groups, e-mail) and disables them, but keeps the row, their
jobs, ledger and audit, which refer to it.

Revision ID: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deleted_at")
