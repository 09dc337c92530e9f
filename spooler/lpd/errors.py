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
