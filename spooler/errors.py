"""Errors of the spooler: intake, spool store, and the protocols' shared failures.

Each protocol maps these to its own error reply in one place (LPD: a negative
acknowledgement in ``spooler/lpd/protocol.py``; IPP: the status table in
``spooler/ipp/replies.py``; RAW: a reset connection); exceptions carry the data a log line
or a reply needs.
"""
from printgate_errors import PrintgateError

__all__ = [
    "PrintgateError",
    "SpoolerError",
    "SpoolWriteError",
    "JobTooLarge",
    "JobRefused",
    "UnknownQueue",
    "OwnerUnknown",
    "ShuttingDown",
    "EmptyJob",
    "ExpandsTooMuch",
]


class SpoolerError(PrintgateError):
    """Base of the spooler's errors."""


class SpoolWriteError(SpoolerError):
    """Writing a job's bytes to the spool failed (disk full, I/O error)."""

    def __init__(self, message, *, path=None):
        super().__init__(message)
        self.path = path


class JobTooLarge(SpoolerError):
    """A job is larger than the configured maximum."""

    def __init__(self, size, limit):
        super().__init__(f"job of at least {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class JobRefused(SpoolerError):
    """Policy refused a job; ``reason`` is the message the sender should see."""

    def __init__(self, reason, *, user=None):
        super().__init__(reason)
        self.reason = reason
        self.user = user


class UnknownQueue(SpoolerError):
    def __init__(self, queue):
        super().__init__(f"no such queue: {queue!r}")
        self.queue = queue


class OwnerUnknown(SpoolerError):
    """A job arrived with no owner and the queue refuses unclaimed jobs."""

    def __init__(self, host):
        super().__init__(f"cannot tell who sent the job from {host}")
        self.host = host


class ShuttingDown(SpoolerError):
    """The gateway is stopping and takes no new jobs."""


class EmptyJob(SpoolerError):
    """A job without a single byte: nothing to hold (a client retrying a refused job may
    send one)."""

    def __init__(self, host):
        super().__init__(f"the job from {host} is empty: nothing to print")
        self.host = host


class ExpandsTooMuch(SpoolerError):
    """A compressed document (IPP ``compression``, HTTP ``Content-Encoding``) expands
    more than ``ratio`` times: a decompression bomb, refused before it costs more."""

    def __init__(self, produced: int, consumed: int, ratio: int):
        super().__init__(f"the compressed document expands more than {ratio} times "
                         f"({consumed} bytes gave more than {produced})")
        self.produced = produced
        self.consumed = consumed
        self.ratio = ratio
