"""The one table from Printgate errors to IPP status codes (and HTTP statuses).

Handlers raise; the server answers. ``IppError`` is what the IPP code itself raises when
it refuses a request; every other error is looked up here by type, and anything not in
the table is logged by the caller and answered with server-error-internal-error.
"""
from __future__ import annotations

from accounting.errors import InvalidStateChange, JobNotFound, NotJobOwner
from spooler.errors import (
    EmptyJob, ExpandsTooMuch, JobRefused, JobTooLarge, OwnerUnknown, ShuttingDown, SpoolWriteError, SpoolerError,
    UnknownQueue,
)
from spooler.ipp.codec import Attribute, IppDecodeError
from spooler.ipp.constants import Status

__all__ = ["IppError", "AuthenticationRequired", "status_for", "STATUS_TABLE"]


class IppError(SpoolerError):
    """Refuse an IPP request with ``status``; ``unsupported`` attributes are echoed back."""

    def __init__(self, status: Status, message: str, *, unsupported: list[Attribute] = ()):
        super().__init__(message)
        self.status = Status(status)
        self.message = message
        self.unsupported = list(unsupported)


class AuthenticationRequired(IppError):
    """The queue needs credentials. Over TLS the HTTP layer answers ``401`` with a Basic
    challenge; over plain HTTP no challenge is sent (a password must not travel in the
    clear) and the IPP status says where to print instead."""

    def __init__(self, message: str, *, secure: bool):
        super().__init__(Status.CLIENT_ERROR_NOT_AUTHENTICATED if secure
                         else Status.CLIENT_ERROR_NOT_AUTHORIZED, message)
        self.secure = secure


#: exception type -> status; the first matching entry (in order) wins.
STATUS_TABLE: list[tuple[type[BaseException], Status]] = [
    (IppDecodeError, Status.CLIENT_ERROR_BAD_REQUEST),
    (JobRefused, Status.CLIENT_ERROR_NOT_POSSIBLE),
    (OwnerUnknown, Status.CLIENT_ERROR_NOT_AUTHORIZED),
    (UnknownQueue, Status.CLIENT_ERROR_NOT_FOUND),
    (JobTooLarge, Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE),
    (EmptyJob, Status.CLIENT_ERROR_BAD_REQUEST),
    (ExpandsTooMuch, Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE),
    (ShuttingDown, Status.SERVER_ERROR_NOT_ACCEPTING_JOBS),
    (SpoolWriteError, Status.SERVER_ERROR_BUSY),
    (JobNotFound, Status.CLIENT_ERROR_NOT_FOUND),
    (NotJobOwner, Status.CLIENT_ERROR_NOT_AUTHORIZED),
    (InvalidStateChange, Status.CLIENT_ERROR_NOT_POSSIBLE),
]


def status_for(error: BaseException) -> tuple[Status, str] | None:
    """The status and client-facing message for ``error``, or None when it is unexpected."""
    if isinstance(error, IppError):
        return error.status, error.message
    for kind, status in STATUS_TABLE:
        if isinstance(error, kind):
            if isinstance(error, JobRefused):
                return status, error.reason
            if isinstance(error, IppDecodeError):
                return status, error.reason
            return status, str(error)
    return None
