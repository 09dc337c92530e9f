"""How long history is kept: the bounds of ``[retention] days`` and their check.

Apart from ``accounting.retention`` (which purges, and so imports the database layer) so
that reading the configuration stays cheap for every command-line call."""
from __future__ import annotations

DEFAULT_RETENTION_DAYS = 100
MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 2000


def check_retention_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise ValueError(f"retention is {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days, not {days!r}")
    return days
