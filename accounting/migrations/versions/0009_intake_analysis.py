"""Issue 20 / 14 intake: a job whose page analysis waits until it is stored
(``jobs.analysis_pending``: not releasable until its facts are known).

Refused jobs are rows too (state ``refused``), in the columns jobs already have.

Revision ID: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("analysis_pending", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("analysis_pending")
