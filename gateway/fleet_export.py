"""Writing the printer-data export (``accounting.fleet.export``) to a file: for the
``[fleet.export] directory`` loop of ``gateway.fleet`` (the simple case) and for
``fleet-export`` schedules of ``gateway.scheduler``, which deliver it to directories,
SFTP, SMB and mail like reports.

Jitter: a ``fleet-export`` schedule keeps ``jitter_minutes`` in its params; the
scheduler moves each next run time forward by a random part of that window
(``gateway.scheduler.jittered``), so the delay is stored with the schedule, survives a
restart, and holds no thread or tick while it waits."""
from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from accounting.fleet.export import export_printers


def write_printer_export(inventory, fmt: str, target: Path) -> Path:
    """Write every known printer as ``fmt`` to ``target`` atomically (blocking: the
    inventory read is SQLAlchemy); a crash leaves no half-written file."""
    body = export_printers(inventory.list(), fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".printers-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return target


def export_name(prefix: str, fmt: str, at: datetime) -> str:
    return f"{prefix}-{at:%Y%m%dT%H%M%SZ}.{fmt}"


def fleet_export_producer(inventory):
    """``kind = "fleet-export"``: params ``format`` (json, xml or csv) and
    ``jitter_minutes``; one file ``<schedule>-<due, UTC>.<format>`` per run."""
    def produce(schedule, due_at, directory):
        fmt = schedule.params.get("format", "csv")
        return [write_printer_export(inventory, fmt, Path(directory) / export_name(schedule.name, fmt, due_at))]

    return produce
