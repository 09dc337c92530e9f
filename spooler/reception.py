"""What the intake asks of the application about a job whose bytes are durable: may it
be kept, record it, and (once its sender was told) it was kept.

The group committer calls ``admit``, ``admission_scope``, ``record_jobs`` and ``unrecord``
in its committing thread (blocking database work is fine there); the intake pipeline
calls ``recorded`` on the reactor, after the senders' acknowledgements went out. The
gateway's implementation is ``gateway.receive_job.JobReception``; tests give fakes with
the same signatures (``tests/test_interfaces.py`` compares them).
"""
from __future__ import annotations

from typing import Callable, ContextManager, Protocol, Sequence, runtime_checkable


@runtime_checkable
class JobReception(Protocol):
    #: Makes everything ``record_jobs`` committed so far durable, or None when
    #: ``record_jobs`` waits for the disk itself.
    sync_commits: Callable[[], None] | None

    def admit(self, new_job) -> None:
        """Decide (rules, price, balance) and keep the decision on ``new_job``; raise
        ``spooler.errors.JobRefused`` (with the message for the sender) to refuse it."""

    def admission_scope(self, new_jobs: Sequence) -> ContextManager:
        """Entered around the admission of a whole group (to read its owners at once)."""

    def record_jobs(self, new_jobs: Sequence) -> list:
        """Record the admitted jobs in one transaction; returns their ``HeldJob``s."""

    def unrecord(self, held_jobs: Sequence) -> None:
        """Jobs recorded whose commit could not be made durable: take them back."""

    def recorded(self, held_jobs: Sequence) -> None:
        """On the reactor, after the senders were told: act on what the rules asked
        (notifications)."""
