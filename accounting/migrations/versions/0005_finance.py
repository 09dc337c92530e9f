"""Finance (issue 15): chargeback facts on ledger rows, a cost center on shared accounts,
closed periods (with a trigger that keeps the ledger inside them as it was), and
calendar schedules with their runs.

Revision ID: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0009"
branch_labels = None
depends_on = None

NOW = sa.DateTime(timezone=True)

LEDGER_COLUMNS = (
    ("cost_center", sa.String(64)), ("username", sa.String(255)), ("group_name", sa.String(255)),
    ("device", sa.String(127)), ("queue", sa.String(127)), ("price_list", sa.String(127)),
    ("pages", sa.Integer), ("copies", sa.Integer), ("impressions", sa.Integer), ("sheets", sa.Integer),
    ("color_impressions", sa.Integer), ("mono_impressions", sa.Integer), ("duplex", sa.Boolean),
    ("corrects_entry_id", sa.Integer),
)

#: Any write that would put a ledger row inside a closed period, or change or remove one
#: there, fails in the database itself, whoever attempts it.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER ledger_closed_period_insert BEFORE INSERT ON ledger_entries
       WHEN EXISTS (SELECT 1 FROM closed_periods WHERE NEW.created_at >= starts_at AND NEW.created_at < ends_at)
       BEGIN SELECT RAISE(ABORT, 'ledger period closed'); END""",
    """CREATE TRIGGER ledger_closed_period_update BEFORE UPDATE ON ledger_entries
       WHEN EXISTS (SELECT 1 FROM closed_periods WHERE (OLD.created_at >= starts_at AND OLD.created_at < ends_at)
                                                   OR (NEW.created_at >= starts_at AND NEW.created_at < ends_at))
       BEGIN SELECT RAISE(ABORT, 'ledger period closed'); END""",
    """CREATE TRIGGER ledger_closed_period_delete BEFORE DELETE ON ledger_entries
       WHEN EXISTS (SELECT 1 FROM closed_periods WHERE OLD.created_at >= starts_at AND OLD.created_at < ends_at)
       BEGIN SELECT RAISE(ABORT, 'ledger period closed'); END""",
    """CREATE TRIGGER closed_periods_stay_closed_update BEFORE UPDATE ON closed_periods
       BEGIN SELECT RAISE(ABORT, 'a closed period stays closed'); END""",
    """CREATE TRIGGER closed_periods_stay_closed_delete BEFORE DELETE ON closed_periods
       BEGIN SELECT RAISE(ABORT, 'a closed period stays closed'); END""",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION ledger_closed_period_guard() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (SELECT 1 FROM closed_periods
             WHERE OLD.created_at >= starts_at AND OLD.created_at < ends_at) THEN
           RAISE EXCEPTION 'ledger period closed' USING ERRCODE = 'check_violation';
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (SELECT 1 FROM closed_periods
             WHERE NEW.created_at >= starts_at AND NEW.created_at < ends_at) THEN
           RAISE EXCEPTION 'ledger period closed' USING ERRCODE = 'check_violation';
         END IF;
         IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER ledger_closed_period BEFORE INSERT OR UPDATE OR DELETE ON ledger_entries
       FOR EACH ROW EXECUTE FUNCTION ledger_closed_period_guard()""",
    """CREATE FUNCTION closed_periods_stay_closed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'a closed period stays closed' USING ERRCODE = 'check_violation'; END $$""",
    """CREATE TRIGGER closed_periods_stay_closed BEFORE UPDATE OR DELETE ON closed_periods
       FOR EACH ROW EXECUTE FUNCTION closed_periods_stay_closed()""",
]


def upgrade():
    for name, kind in LEDGER_COLUMNS:
        op.add_column("ledger_entries", sa.Column(name, kind, nullable=True))
    op.create_index("ix_ledger_entries_created_at", "ledger_entries", ["created_at"])
    op.add_column("accounts", sa.Column("cost_center", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "closed_periods",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("starts_at", NOW, nullable=False),
        sa.Column("ends_at", NOW, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("closed_at", NOW, nullable=False),
        sa.Column("closed_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_closed_periods"),
        sa.UniqueConstraint("period", name="uq_closed_periods_period"),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(127), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("cadence", sa.String(127), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("destinations", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("next_run_at", NOW, nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
        sa.UniqueConstraint("name", name="uq_schedules_name"),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("schedule_id", sa.Integer, nullable=False),
        sa.Column("due_at", NOW, nullable=False),
        sa.Column("started_at", NOW, nullable=False),
        sa.Column("finished_at", NOW, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", NOW, nullable=True),
        sa.Column("pending", sa.Text, nullable=False),
        sa.Column("output", sa.String(1024), nullable=True),
        sa.Column("error", sa.String(1024), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_runs"),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], name="fk_schedule_runs_schedule_id_schedules",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_schedule_runs_schedule_id", "schedule_runs", ["schedule_id", "id"])
    op.create_index("ix_schedule_runs_status", "schedule_runs", ["status", "next_attempt_at"])
    for statement in SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in ("ledger_closed_period_insert", "ledger_closed_period_update", "ledger_closed_period_delete",
                     "closed_periods_stay_closed_update", "closed_periods_stay_closed_delete"):
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER ledger_closed_period ON ledger_entries")
        op.execute("DROP FUNCTION ledger_closed_period_guard()")
        op.execute("DROP TRIGGER closed_periods_stay_closed ON closed_periods")
        op.execute("DROP FUNCTION closed_periods_stay_closed()")
    op.drop_index("ix_schedule_runs_status", "schedule_runs")
    op.drop_index("ix_schedule_runs_schedule_id", "schedule_runs")
    op.drop_table("schedule_runs")
    op.drop_table("schedules")
    op.drop_table("closed_periods")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("cost_center")
    op.drop_index("ix_ledger_entries_created_at", "ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        for name, _ in reversed(LEDGER_COLUMNS):
            batch.drop_column(name)
