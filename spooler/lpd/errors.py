"""LPD failures. Every one of them is answered the same way on the wire (a non-zero
acknowledgement byte, then the connection closed); the type says why in the log."""
from spooler.errors import SpoolerError


class LpdError(SpoolerError):
    """Base of LPD protocol errors; ``offset`` is where in the stream it was noticed."""

    def __init__(self, message, *, offset=None):
        super().__init__(message)
        self.offset = offset


class UnknownCommand(LpdError):
    pass


class BadCount(LpdError):
    pass


class LineTooLong(LpdError):
    pass


class ControlFileTooLarge(LpdError):
    pass


class MissingTerminator(LpdError):
    pass


class OutOfOrder(LpdError):
    """A subcommand outside a receive-job, a second control file, data after abort..."""


class BadControlFile(LpdError):
    pass


class IncompleteJob(LpdError):
    """The connection ended before the job was whole."""


class TooManyDataFiles(LpdError):
    """More data files in one job than a job may hold (``assembly.MAX_DATA_FILES``)."""


class ConnectionMemoryExceeded(LpdError):
    """The data files one connection holds in memory, waiting for their control file,
    passed ``assembly.MAX_MEMORY_PER_CONNECTION``."""


class RefusedAgain(LpdError):
    """A client sending again a job refused a moment ago (the CUPS lpd backend retries
    30 s after a refusal, with an emptied control file): refused at its first subcommand,
    which makes the backend give up and its queue show the job failed."""
