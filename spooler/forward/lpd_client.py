"""An RFC 1179 client: sends one job to a printer's LPD queue.

The conversation: ``\\x02queue\\n`` (receive a printer job) → ack; ``\\x02<len> cfA<nnn><host>\\n``
→ ack; the control file and a zero byte → ack; ``\\x03<len> dfA<nnn><host>\\n`` → ack; the data
file with exactly ``len`` bytes and a zero byte → ack. Every ack is one zero byte; anything
else is the printer saying no. The job is the printer's only after the last ack.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from twisted.internet.error import ConnectionDone

from spooler.forward.attempt import SendAttemptProtocol
from spooler.forward.errors import ConnectionLostMidway, ForwardTimeout, PrinterRefusedJob, SourceChanged
from spooler.forward.job import AttemptResult
from spooler.forward.payload import DocumentProducer


_UNSAFE = re.compile(r"[^\x21-\x7e ]")
_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]")


def control_text(value: str, limit: int) -> str:
    """A control-file operand: printable ASCII only (no line breaks can smuggle lines in)."""
    return _UNSAFE.sub("_", value or "")[:limit]


def lpd_host_name(host: str) -> str:
    return (_HOST_UNSAFE.sub("-", host or "") or "printgate")[:31]


@dataclass(frozen=True)
class LpdJobNames:
    number: int
    host: str

    @property
    def control(self) -> str:
        return f"cfA{self.number:03d}{self.host}"

    @property
    def data(self) -> str:
        return f"dfA{self.number:03d}{self.host}"


def build_control_file(names: LpdJobNames, *, user: str, title: str, copies_lines: int) -> bytes:
    """``H`` host, ``P`` user, ``J`` job name, ``N`` source name, one ``l`` line per copy
    (binary: the printer must not reinterpret the bytes), ``U`` to unlink afterwards."""
    user = control_text(user, 31) or "printgate"
    title = control_text(title, 99)
    lines = [f"H{names.host}", f"P{user}", f"J{title}", f"N{title}"]
    lines += [f"l{names.data}"] * copies_lines
    lines.append(f"U{names.data}")
    return ("\n".join(lines) + "\n").encode("ascii")


@dataclass(frozen=True)
class LpdTimeouts:
    ack: float = 30.0          # each acknowledgement, including the last one
    stall: float = 60.0        # no progress while writing the data file


class LpdSendProtocol(SendAttemptProtocol):
    """One job over one connection; reports through ``on_result(result_or_error)`` once."""

    def __init__(self, *, queue: str, names: LpdJobNames, control_file: bytes, data_length: int,
                 chunks, clock, timeouts: LpdTimeouts, on_result, target: str, data_first: bool = False):
        self.queue = queue
        self.names = names
        self.control_file = control_file
        self.data_length = data_length
        self.chunks = chunks
        self.clock = clock
        self.timeouts = timeouts
        self.on_result = on_result
        self.target = target
        steps = ["control", "data"] if not data_first else ["data", "control"]
        self._plan = ["queue"] + [s + part for s in steps for part in ("-command", "-file")]
        self._stage = None
        self._timer = None
        self._producer: DocumentProducer | None = None
        self._done = False

    # -- the conversation ---------------------------------------------------------------
    def connectionMade(self):
        self._send_stage("queue")

    def _send_stage(self, stage: str) -> None:
        self._stage = stage
        if stage == "queue":
            self.transport.write(b"\x02" + self.queue.encode("utf-8") + b"\n")
        elif stage == "control-command":
            self.transport.write(b"\x02%d %s\n" % (len(self.control_file), self.names.control.encode()))
        elif stage == "control-file":
            self.transport.write(self.control_file + b"\x00")
        elif stage == "data-command":
            self.transport.write(b"\x03%d %s\n" % (self.data_length, self.names.data.encode()))
        elif stage == "data-file":
            self._stream_data()
            return
        self._arm(self.timeouts.ack)

    def _stream_data(self) -> None:
        self._producer = DocumentProducer(self.transport, self.chunks, on_done=self._data_written,
                                          on_error=self._fail, on_progress=lambda: self._arm(self.timeouts.stall))
        self._arm(self.timeouts.stall)
        self._producer.start()

    def _data_written(self) -> None:
        written = self._producer.bytes_written
        if written != self.data_length:
            # Never send the closing zero byte: the printer then discards the short file.
            self._fail(SourceChanged(f"the job produced {written} bytes, {self.data_length} were announced",
                                     expected=self.data_length, produced=written, target=self.target))
            return
        self.transport.write(b"\x00")
        self._arm(self.timeouts.ack)

    def dataReceived(self, data: bytes):
        for byte in data:
            if self._done:
                return
            if self._stage == "data-file" and not (self._producer and self._producer.finished):
                self._fail(PrinterRefusedJob(f"{self.target} answered {byte:#04x} while receiving the data file",
                                             stage=self._stage, code=byte, target=self.target,
                                             bytes_sent=self.bytes_sent))
                return
            if byte != 0:
                self._fail(PrinterRefusedJob(
                    f"{self.target} refused the job at {self._stage} (negative acknowledgement {byte})",
                    stage=self._stage, code=byte, target=self.target, bytes_sent=self.bytes_sent,
                    retryable=self._stage == "queue"))
                return
            index = self._plan.index(self._stage)
            if index + 1 == len(self._plan):
                self._succeed()
                return
            self._send_stage(self._plan[index + 1])

    # -- endings ------------------------------------------------------------------------
    @property
    def bytes_sent(self) -> int:
        return self._producer.bytes_written if self._producer else 0

    def _arm(self, seconds: float) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.reset(seconds)
            return
        self._timer = self.clock.callLater(seconds, self._timed_out, seconds)

    def _timed_out(self, seconds: float) -> None:
        self._timer = None
        self._fail(ForwardTimeout(f"{self.target} did not answer within {seconds:g} s at {self._stage}",
                                  stage=self._stage, seconds=seconds, target=self.target,
                                  bytes_sent=self.bytes_sent, before_document=self._producer is None))

    def _succeed(self) -> None:
        self._report(AttemptResult(bytes_sent=self.bytes_sent, sha256=self._producer.digest.hexdigest(),
                                   confirmed_by="lpd-ack"))
        self.transport.loseConnection()

    def connectionLost(self, reason=ConnectionDone):
        if self._done:
            return
        how = "closed" if reason.check(ConnectionDone) else "lost"
        self._report(ConnectionLostMidway(
            f"{self.target} {how} the connection at {self._stage} after {self.bytes_sent} of "
            f"{self.data_length} bytes", target=self.target, bytes_sent=self.bytes_sent,
            total_bytes=self.data_length, before_document=self._producer is None))
