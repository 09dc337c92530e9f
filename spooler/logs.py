"""The gateway's log output: Twisted's classic text lines, written for less.

The gateway logs a line for every job it holds, so under load the formatting of log lines
is a visible share of the reactor's time: Twisted's own text observer works out the local
time zone and re-parses the format string for every event. This observer writes the same
lines (``2026-11-21T10:15:52+0000 [namespace#info] text``) but formats each second's time
stamp once and formats plain events with ``str.format_map``, leaving anything unusual
(failures, ``{callable()}`` fields, events that do not format) to Twisted.
"""
from __future__ import annotations

import time
from typing import IO

from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    eventAsText,
)

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class _SecondStamps:
    """The text time stamp of the current second, computed once per second."""

    def __init__(self):
        self._second = None
        self._text = "-"

    def __call__(self, when: float | None) -> str:
        if when is None:
            return "-"
        second = int(when)
        if second != self._second:
            self._text = time.strftime(_TIME_FORMAT, time.localtime(second))
            self._second = second
        return self._text


def _system(event: dict) -> str:
    system = event.get("log_system")
    if system is not None:
        return str(system)
    level = event.get("log_level")
    level_name = level.name if level is not None else "-"
    return f"{event.get('log_namespace', '-')}#{level_name}"


def line_formatter():
    """``event -> str | None``, the same text as ``formatEventAsClassicLogText``."""
    stamps = _SecondStamps()

    def format_line(event: dict) -> str | None:
        text = None
        fmt = event.get("log_format")
        if fmt is not None and "log_failure" not in event and "()" not in fmt:
            try:
                text = fmt.format_map(event)
            except Exception:  # noqa: BLE001 - Twisted's formatter says what went wrong
                text = None
        if text is None:
            text = eventAsText(event, includeTimestamp=False, includeSystem=False)
            if not text:
                return None
        elif not text:
            return None
        text = text.replace("\n", "\n\t")
        return f"{stamps(event.get('log_time'))} [{_system(event)}] {text}\n"

    return format_line


def gateway_log_observer(out: IO[str], level: str = "info"):
    """Lines at ``level`` and above (``debug`` adds every IPP request with its
    attributes: useful when a client misbehaves, too costly and too revealing to be on
    by default)."""
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    return FilteringLogObserver(FileLogObserver(out, line_formatter()), [predicate])

