"""Fleet over SNMP (issue 17): SNMP credentials, discovered and approved printers,
their events, status history and meter reads, and per-job meter checks.

Revision ID: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0010"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "snmp_credentials",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("version", sa.String(2), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("auth_protocol", sa.String(16), nullable=False),
        sa.Column("priv_protocol", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snmp_credentials"),
        sa.UniqueConstraint("name", name="uq_snmp_credentials_name"),
    )
    op.create_table(
        "fleet_devices",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("device_name", sa.String(127), nullable=True),
        sa.Column("credential", sa.String(64), nullable=True),
        sa.Column("vendor_oid", sa.String(255), nullable=False),
        sa.Column("vendor", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("serial", sa.String(255), nullable=False),
        sa.Column("mac", sa.String(32), nullable=False),
        sa.Column("location", sa.String(255), nullable=False),
        sa.Column("info", sa.Text, nullable=False),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("health_reason", sa.String(255), nullable=False),
        sa.Column("printer_status", sa.String(16), nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("alerts", sa.Text, nullable=False),
        sa.Column("supplies", sa.Text, nullable=False),
        sa.Column("life_count", sa.BigInteger, nullable=True),
        sa.Column("counter_unit", sa.String(32), nullable=False),
        sa.Column("color_count", sa.BigInteger, nullable=True),
        sa.Column("mono_count", sa.BigInteger, nullable=True),
        sa.Column("discovered_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=True),
        sa.Column("status_at", TZ, nullable=True),
        sa.Column("counters_at", TZ, nullable=True),
        sa.Column("info_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_fleet_devices"),
        sa.UniqueConstraint("device_name", name="uq_fleet_devices_device_name"),
        sa.UniqueConstraint("address", "port", name="uq_fleet_devices_address"),
    )
    op.create_table(
        "fleet_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("fleet_device_id", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("code", sa.Integer, nullable=True),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["fleet_device_id"], ["fleet_devices.id"], ondelete="CASCADE",
                                name="fk_fleet_events_fleet_device_id_fleet_devices"),
        sa.PrimaryKeyConstraint("id", name="pk_fleet_events"),
    )
    op.create_index("ix_fleet_events_at", "fleet_events", ["at"])
    op.create_index("ix_fleet_events_device", "fleet_events", ["fleet_device_id", "id"])
    op.create_table(
        "fleet_status_history",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("fleet_device_id", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("printer_status", sa.String(16), nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("alerts", sa.Text, nullable=False),
        sa.Column("supplies", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["fleet_device_id"], ["fleet_devices.id"], ondelete="CASCADE",
                                name="fk_fleet_status_history_fleet_device_id_fleet_devices"),
        sa.PrimaryKeyConstraint("id", name="pk_fleet_status_history"),
    )
    op.create_index("ix_fleet_status_history_at", "fleet_status_history", ["at"])
    op.create_index("ix_fleet_status_history_device", "fleet_status_history", ["fleet_device_id", "id"])
    op.create_table(
        "meter_reads",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("fleet_device_id", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("life_count", sa.BigInteger, nullable=True),
        sa.Column("color_count", sa.BigInteger, nullable=True),
        sa.Column("mono_count", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("flag", sa.String(32), nullable=True),
        sa.Column("period_start", TZ, nullable=True),
        sa.ForeignKeyConstraint(["fleet_device_id"], ["fleet_devices.id"], ondelete="CASCADE",
                                name="fk_meter_reads_fleet_device_id_fleet_devices"),
        sa.PrimaryKeyConstraint("id", name="pk_meter_reads"),
        sa.UniqueConstraint("fleet_device_id", "period_start", name="uq_meter_reads_period"),
    )
    op.create_index("ix_meter_reads_at", "meter_reads", ["at"])
    op.create_table(
        "job_meter_checks",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("device_name", sa.String(127), nullable=False),
        sa.Column("expected", sa.Integer, nullable=True),
        sa.Column("counted", sa.Integer, nullable=True),
        sa.Column("before_count", sa.BigInteger, nullable=True),
        sa.Column("after_count", sa.BigInteger, nullable=True),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("note", sa.String(255), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_meter_checks"),
        sa.UniqueConstraint("job_id", name="uq_job_meter_checks_job_id"),
    )
    op.create_index("ix_job_meter_checks_at", "job_meter_checks", ["at"])


def downgrade():
    for table in ("job_meter_checks", "meter_reads", "fleet_status_history", "fleet_events", "fleet_devices",
                  "snmp_credentials"):
        op.drop_table(table)
