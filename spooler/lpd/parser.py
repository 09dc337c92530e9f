"""A sans-IO RFC 1179 server: bytes in, events out. No sockets, no Twisted.

The protocol shell feeds received bytes to ``LpdServerParser.feed`` and acts on the events
it returns; it answers each event that needs an acknowledgement (the parser does not
know whether the job can be stored). Data files are streamed out in ``DataChunk`` events as
they arrive; control files are small and arrive whole.

Lengths: a data file announced with length 0 runs until the connection closes (RFC 1179,
LPRng); so does one announced with an impossible length (Windows LPR with byte counting
off, CUPS ``mode=stream``). ``eof()`` says whether such a file ended cleanly. A file with a
plausible length that stops short was cut off, and is discarded.
"""
from __future__ import annotations

from dataclasses import dataclass

from spooler.lpd.errors import (
    BadCount,
    ControlFileTooLarge,
    IncompleteJob,
    LineTooLong,
    MissingTerminator,
    OutOfOrder,
    UnknownCommand,
)

MAX_LINE = 4096
MAX_CONTROL_FILE = 64 * 1024
#: Lengths at or above this are "until the connection closes", not a promise.
STREAM_LENGTH = 2**31 - 1


# -- events --------------------------------------------------------------------------
@dataclass
class PrintWaiting:
    queue: str


@dataclass
class ReceiveJob:
    queue: str


@dataclass
class QueueState:
    queue: str
    long: bool
    items: list[str]


@dataclass
class RemoveJobs:
    queue: str
    agent: str
    items: list[str]


@dataclass
class AbortJob:
    pass


@dataclass
class ControlFileStart:
    count: int
    name: str


@dataclass
class ControlFileComplete:
    name: str
    content: bytes


@dataclass
class DataFileStart:
    count: int
    name: str
    until_close: bool


@dataclass
class DataChunk:
    name: str
    data: bytes


@dataclass
class DataFileComplete:
    name: str
    by_close: bool = False


# -- parser ----------------------------------------------------------------------------
_COMMAND, _SUBCOMMAND, _CONTROL, _DATA, _TERMINATOR, _DONE = range(6)


class LpdServerParser:
    def __init__(self, *, max_data_file: int | None = None):
        self._state = _COMMAND
        self._buffer = bytearray()
        self._offset = 0
        self._remaining = 0
        self._file_name = ""
        self._control = bytearray()
        self._until_close = False
        self._max_data_file = max_data_file
        self.control_seen = False

    def feed(self, data: bytes) -> list:
        events: list = []
        self._buffer += data
        while self._buffer and self._state != _DONE:
            if self._state == _COMMAND:
                line = self._line()
                if line is None:
                    break
                events.append(self._command(line))
            elif self._state == _SUBCOMMAND:
                line = self._line()
                if line is None:
                    break
                events.append(self._subcommand(line))
            elif self._state == _CONTROL:
                take = min(self._remaining, len(self._buffer))
                self._control += self._buffer[:take]
                self._consume(take)
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _TERMINATOR
            elif self._state == _DATA:
                if self._until_close:
                    chunk = bytes(self._buffer)
                    self._consume(len(chunk))
                    events.append(DataChunk(self._file_name, chunk))
                    continue
                take = min(self._remaining, len(self._buffer))
                chunk = bytes(self._buffer[:take])
                self._consume(take)
                self._remaining -= take
                if chunk:
                    events.append(DataChunk(self._file_name, chunk))
                if self._remaining == 0:
                    self._state = _TERMINATOR
            elif self._state == _TERMINATOR:
                if self._buffer[0] != 0:
                    raise MissingTerminator(f"file {self._file_name} not followed by a zero byte", offset=self._offset)
                self._consume(1)
                self._state = _SUBCOMMAND
                if self._control_pending:
                    events.append(ControlFileComplete(self._file_name, bytes(self._control)))
                    self._control = bytearray()
                    self._control_pending = False
                else:
                    events.append(DataFileComplete(self._file_name))
        return events

    _control_pending = False

    def eof(self) -> list:
        """The peer closed its side. Returns the final events, or raises
        ``IncompleteJob`` when the close cut something off."""
        if (self._state == _DATA and self._until_close) or (
            self._state == _TERMINATOR and not self._control_pending and not self._buffer
        ):
            # Read until close, or every announced byte arrived and only the zero byte is
            # missing: CUPS's lpd backend in stream mode closes instead of sending it.
            self._state = _DONE
            return [DataFileComplete(self._file_name, by_close=True)]
        if self._state in (_CONTROL, _DATA, _TERMINATOR):
            raise IncompleteJob(f"connection closed in the middle of {self._file_name}", offset=self._offset)
        if self._buffer:
            raise IncompleteJob("connection closed in the middle of a command line", offset=self._offset)
        self._state = _DONE
        return []

    # -- helpers -------------------------------------------------------------------------
    def _consume(self, count: int) -> None:
        del self._buffer[:count]
        self._offset += count

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE:
                raise LineTooLong(f"command line longer than {MAX_LINE} bytes", offset=self._offset)
            return None
        if end > MAX_LINE:
            raise LineTooLong(f"command line longer than {MAX_LINE} bytes", offset=self._offset)
        line = bytes(self._buffer[:end])
        self._consume(end + 1)
        return line

    def _command(self, line: bytes):
        if not line:
            raise UnknownCommand("empty command line", offset=self._offset)
        code, operands = line[0], line[1:].decode("latin-1").split()
        queue = operands[0] if operands else ""
        if code == 1:
            self._state = _DONE
            return PrintWaiting(queue)
        if code == 2:
            self._state = _SUBCOMMAND
            return ReceiveJob(queue)
        if code in (3, 4):
            self._state = _DONE
            return QueueState(queue, long=code == 4, items=operands[1:])
        if code == 5:
            if len(operands) < 2:
                raise UnknownCommand("remove-jobs command without an agent", offset=self._offset)
            self._state = _DONE
            return RemoveJobs(queue, agent=operands[1], items=operands[2:])
        raise UnknownCommand(f"unknown LPD command byte {code:#04x}", offset=self._offset)

    def _subcommand(self, line: bytes):
        if not line:
            raise UnknownCommand("empty subcommand line", offset=self._offset)
        code = line[0]
        if code == 1:
            self.control_seen = False
            return AbortJob()
        if code not in (2, 3):
            raise UnknownCommand(f"unknown receive-job subcommand byte {code:#04x}", offset=self._offset)
        fields = line[1:].decode("latin-1").split(" ", 1)
        count_text = fields[0]
        name = fields[1].strip() if len(fields) > 1 else ""
        if not count_text.isdigit() or len(count_text) > 18:
            raise BadCount(f"bad byte count {count_text!r}", offset=self._offset)
        count = int(count_text)
        if not name or "/" in name or len(name) > 255:
            raise OutOfOrder(f"bad file name {name!r}", offset=self._offset)
        self._file_name = name
        if code == 2:
            if self.control_seen:
                raise OutOfOrder("a second control file in one job", offset=self._offset)
            if count > MAX_CONTROL_FILE or count == 0:
                raise ControlFileTooLarge(f"control file of {count} bytes (limit {MAX_CONTROL_FILE})",
                                          offset=self._offset)
            self.control_seen = True
            self._control_pending = True
            self._remaining = count
            self._state = _CONTROL
            return ControlFileStart(count, name)
        until_close = count == 0 or count >= STREAM_LENGTH or (
            self._max_data_file is not None and count > self._max_data_file
        )
        self._until_close = until_close
        self._remaining = count
        self._state = _DATA if (count or until_close) else _TERMINATOR
        return DataFileStart(count, name, until_close)
