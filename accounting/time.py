"""Time helpers shared by the accounting components: UTC for everything stored, and the
one configured local zone (``[server] timezone``) for everything people see or name —
report periods, schedules, quota periods, rule hours."""
from __future__ import annotations

import os
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accounting.errors import AccountingError

LOCALTIME = Path("/etc/localtime")


class UnknownTimeZone(AccountingError):
    def __init__(self, name):
        super().__init__(f"unknown time zone {name!r} (an IANA name such as Europe/Paris)")
        self.name = name


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def machine_zone_name(localtime: Path = LOCALTIME, environ=None) -> str:
    """The machine's zone as an IANA name: ``TZ`` when it names one, else the target of
    the ``/etc/localtime`` link (…/zoneinfo/Europe/Paris), else UTC."""
    environ = os.environ if environ is None else environ
    name = (environ.get("TZ") or "").lstrip(":")
    if name and _is_zone(name):
        return name
    try:
        target = str(localtime.resolve())
    except OSError:
        return "UTC"
    marker = "/zoneinfo/"
    if marker in target:
        candidate = target.split(marker, 1)[1]
        if _is_zone(candidate):
            return candidate
    return "UTC"


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone(name: str | None) -> ZoneInfo:
    """The configured zone (``None``: the machine's). Raises UnknownTimeZone."""
    name = name or machine_zone_name()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(name) from None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz`` (a day starts at 00:00, or at
    the first instant after it that exists)."""
    local = datetime.combine(day, time(0), tzinfo=tz)
    return local.astimezone(timezone.utc)
