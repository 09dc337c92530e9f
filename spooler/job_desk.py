"""What the print protocols (LPD, IPP) may ask of the application about recorded jobs.

The protocols never change a recorded job's state, nor touch its spool file, themselves:
ending a job (LPD remove, IPP Cancel-Job and Cancel-My-Jobs) is one use case of the
application layer (``gateway.end_job``), which also deletes the job's confidential
bytes. The gateway gives each protocol factory an object with this shape; tests give a
fake with the same signatures (``tests/test_interfaces.py`` compares them).

Every method returns a Deferred firing with plain ``accounting.records`` dataclasses
(``HeldJob``); errors are accounting's own (``JobNotFound``, ``InvalidStateChange``,
``LoginFailed``, ``LoginLocked``).
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from twisted.internet.defer import Deferred


@runtime_checkable
class JobDesk(Protocol):
    def get_job(self, job_id: int) -> Deferred:
        """Deferred[HeldJob]; fails with ``JobNotFound``."""

    def list_jobs(self, *, queue: str | None = None, owner: str | None = None, states: Sequence[str] = ("held",),
                  limit: int | None = None, newest_first: bool = False) -> Deferred:
        """Deferred[list[HeldJob]], oldest first unless ``newest_first``."""

    def count_jobs(self, *, queue: str | None = None, states: Sequence[str] = ("held",)) -> Deferred:
        """Deferred[int]."""

    def end_job(self, job_id: int, state: str, *, actor: str, reason: str = "") -> Deferred:
        """End a held job (``canceled`` by its owner, ``deleted`` by an operator): its
        state changes and its spool bytes are gone when the Deferred fires (with the
        ``HeldJob``). Fails with ``InvalidStateChange`` when the job is not held."""

    def verify_password(self, username: str, password: str, *, device: str) -> Deferred:
        """Deferred[User] for a local (or directory) password; fails with ``LoginFailed``
        or ``LoginLocked``. ``device`` names where the attempt came from (for lockouts
        and the audit log), e.g. ``ipp:192.0.2.7``."""
