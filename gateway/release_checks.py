"""What a release asks of the printer it goes to, beyond accounting: may a job be sent
there now (is it in error, and where could the person print instead), and did it print
what the job should have printed.

The release use case (``gateway.release_job``) and the panel's job list
(``gateway.panel_services``) are given an object of this shape: the fleet's
``gateway.fleet_release.FleetRelease`` when ``[fleet] enabled``, ``NoDeviceChecks``
otherwise. ``tests/test_interfaces.py`` compares both with the declaration.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from twisted.internet import defer
from twisted.internet.defer import Deferred


@runtime_checkable
class PrintWatch(Protocol):
    """Follows one job sent to a printer, from just before it is sent."""

    def printed(self):
        """The printer took the job: compare its page counter with what was expected
        (in the background; the release does not wait for it)."""

    def abandoned(self):
        """Nothing was printed: stop watching."""


@runtime_checkable
class DeviceChecks(Protocol):
    def check_release(self, device_name: str) -> Deferred:
        """Deferred[str | None]: the sentence refusing a release at ``device_name``
        (naming where to print instead), or None to go on. Asked before anything is
        reserved."""

    def panel_note(self, device_name: str) -> tuple[str, bool] | None:
        """(note, printable here) for the panel's job list, or None; blocking (the panel
        lists jobs in a thread)."""

    def release_started(self, job, device_name: str) -> Deferred:
        """``job`` (a reserved ``HeldJob``) is about to be sent to ``device_name``:
        Deferred[PrintWatch], firing when the job may be sent (the printer's counter
        has been read first, briefly)."""


class NoPrintWatch:
    def printed(self):
        return None

    def abandoned(self):
        return None


class NoDeviceChecks:
    """Nothing is refused and nothing is watched (the fleet is off)."""

    def check_release(self, device_name: str) -> Deferred:
        return defer.succeed(None)

    def panel_note(self, device_name: str) -> tuple[str, bool] | None:
        return None

    def release_started(self, job, device_name: str) -> Deferred:
        return defer.succeed(NoPrintWatch())
