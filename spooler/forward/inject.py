"""Forced mono/duplex/copies written into a job's bytes, for printers reached over LPD or RAW.

A streaming, sans-IO transform: ``feed(chunk) -> bytes`` and ``close() -> bytes``; memory
is bounded by ``head_limit`` (only a job's PJL header or PostScript header comments are
held, never the pages). Three shapes of job:

- **PJL** (starts with UEL or ``@PJL``): ``@PJL SET RENDERMODE=GRAYSCALE`` / ``@PJL SET
  DUPLEX=ON`` + ``@PJL SET BINDING=...`` / ``@PJL SET QTY=n`` go in just before the
  header's ``@PJL ENTER LANGUAGE`` (or before the first non-PJL byte), after the driver's
  own SETs, so ours win (a driver's own ``QTY`` is multiplied into ours: QTY counts
  collated copies of the whole job). Every later PJL header (after a UEL in the stream)
  gets them again, so a second job section cannot switch duplex back off.
- **bare PostScript** (``%!``, optionally after ``^D``): a setpagedevice prologue after the
  header comments, which also wraps ``setpagedevice`` so the document's own page-device
  requests keep the forced keys (and a ``NumCopies`` of its own is multiplied by ours; a
  level-1 ``#copies`` is not: ``NumCopies`` overrides it).
- **anything else** (PCL, PDF, text): a new ``UEL @PJL`` wrapper with the SET lines before
  the job and a UEL after it.

A PJL header longer than ``head_limit`` raises ``InjectionError``: the job is not sent
unchanged when a rule said it must be mono or duplex.
"""
from __future__ import annotations

import re

from spooler.forward.errors import InjectionError
from spooler.forward.job import ForcedChanges
from spooler.pdl.pjl import UEL

HEAD_LIMIT = 64 * 1024
MAX_QTY = 9999

_DETECT, _PJL_HEAD, _PS_HEAD, _PASS, _WRAPPED = range(5)
_PJL = b"@PJL"


_QTY = re.compile(rb"^@PJL\s+SET\s+QTY\s*=\s*(\d{1,4})", re.IGNORECASE)


def pjl_lines(forced: ForcedChanges, newline: bytes = b"\r\n", qty: int = 1) -> bytes:
    """``qty``: the QTY the job's own header set (ours multiplies it)."""
    lines = []
    if forced.mono:
        lines.append(b"@PJL SET RENDERMODE=GRAYSCALE")
    if forced.duplex:
        lines.append(b"@PJL SET DUPLEX=ON")
        lines.append(b"@PJL SET BINDING=" + forced.binding.encode("ascii"))
    if forced.copies > 1:
        lines.append(b"@PJL SET QTY=%d" % min(MAX_QTY, forced.copies * max(1, qty)))
    return b"".join(line + newline for line in lines)


def postscript_prologue(forced: ForcedChanges, newline: bytes = b"\n") -> bytes:
    keys = []
    if forced.duplex:
        tumble = b"true" if forced.binding == "SHORTEDGE" else b"false"
        keys.append((b"/Duplex", b"true"))
        keys.append((b"/Tumble", tumble))
    if forced.mono:
        keys.append((b"/ProcessColorModel", b"/DeviceGray"))
    forcing = b" ".join(b"dup " + k + b" " + v + b" put" for k, v in keys)
    if forced.copies > 1:
        # The document's own NumCopies (when it sets one) is multiplied by ours.
        forcing += (b" dup /NumCopies known { dup /NumCopies 2 copy get dup null eq { pop 1 } if %d mul put } if"
                    % forced.copies)
    # One request per feature: a printer that rejects one key still gets the other.
    requests = []
    if forced.duplex:
        requests.append(b"{ << " + b" ".join(k + b" " + v for k, v in keys[:2]) + b" >> setpagedevice } stopped pop")
    if forced.mono:
        requests.append(b"{ << /ProcessColorModel /DeviceGray >> setpagedevice } stopped pop")
    if forced.copies > 1:
        requests.append(b"{ << /NumCopies %d >> setpagedevice } stopped pop" % forced.copies)
    lines = [
        b"%%BeginFeature: Printgate forced settings",
        *requests,
        b"userdict /setpagedevice { dup wcheck { " + forcing
        + b" } if systemdict /setpagedevice get exec } bind put",
        b"%%EndFeature",
    ]
    return b"".join(line + newline for line in lines)


def _is_prefix(data: bytes, *candidates: bytes) -> bool:
    return any(c.startswith(data) for c in candidates)


class ForcedSettingsTransform:
    """Rewrites one copy of a job so the printer applies ``forced``. With nothing forced
    it passes bytes through untouched."""

    def __init__(self, forced: ForcedChanges, *, head_limit: int = HEAD_LIMIT):
        self.forced = forced
        self.head_limit = head_limit
        self._state = _DETECT if forced.any else _PASS
        self._buffer = b""
        self._offset = 0  # stream offset of the start of ``_buffer``
        self._tail = b""  # PASS: last bytes kept back to find a UEL across chunks
        self.injections = 0

    # -- public -------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        if not self.forced.any:
            return data
        self._buffer += data
        return self._run(final=False)

    def close(self) -> bytes:
        if not self.forced.any:
            return b""
        out = self._run(final=True)
        rest, self._buffer = self._buffer, b""
        if self._state == _PASS:
            rest = self._tail + rest
            self._tail = b""
        elif self._state == _WRAPPED:
            rest += UEL
        return out + rest

    # -- states -------------------------------------------------------------------------
    def _run(self, final: bool) -> bytes:
        out = []
        while True:
            before = (self._state, len(self._buffer))
            if self._state == _DETECT:
                out.append(self._detect(final))
            elif self._state == _PJL_HEAD:
                out.append(self._pjl_head(final))
            elif self._state == _PS_HEAD:
                out.append(self._ps_head(final))
            elif self._state == _PASS:
                out.append(self._pass(final))
            elif self._state == _WRAPPED:
                out.append(self._buffer)
                self._consume(len(self._buffer))
            if (self._state, len(self._buffer)) == before:
                return b"".join(out)

    def _consume(self, n: int) -> bytes:
        taken, self._buffer = self._buffer[:n], self._buffer[n:]
        self._offset += n
        return taken

    def _detect(self, final: bool) -> bytes:
        head = self._buffer
        if not head:
            return b""
        if head.startswith(UEL) or head[:4].upper() == _PJL:
            self._state = _PJL_HEAD
            return b""
        if head.startswith(b"%!") or head.startswith(b"\x04%!"):
            self._state = _PS_HEAD
            return b""
        if not final and (_is_prefix(head[:9], UEL, b"%!", b"\x04%!") or _is_prefix(head[:4].upper(), _PJL)):
            return b""
        self._state = _WRAPPED
        self.injections += 1
        return UEL + b"@PJL\r\n" + pjl_lines(self.forced)

    def _pjl_head(self, final: bool) -> bytes:
        """Walk the header line by line; output what was walked once the insertion point
        (ENTER LANGUAGE or the first non-PJL byte) is found."""
        pos = 0
        buf = self._buffer
        newline = b"\r\n"
        qty = 1
        while True:
            rest = buf[pos:]
            if rest.startswith(UEL):
                pos += len(UEL)
                continue
            stripped = rest.lstrip(b"\r\n\t ")
            if len(stripped) < len(rest) and (stripped or final):
                pos += len(rest) - len(stripped)
                continue
            if not rest or (not final and (not stripped or len(rest) < len(UEL) and _is_prefix(rest, UEL)
                                           or len(rest) < 4 and _is_prefix(rest.upper(), _PJL))):
                if final:
                    # The stream ended inside a header: no page description follows.
                    self._state = _PASS
                    return self._consume(len(buf))
                self._check_limit(pos)
                return b""
            if rest[:4].upper() != _PJL:
                return self._inject_at(pos, newline, qty)
            end = rest.find(b"\n")
            if end < 0:
                if final:
                    self._state = _PASS
                    return self._consume(len(buf))
                self._check_limit(len(buf))
                return b""
            line = rest[:end + 1]
            newline = b"\r\n" if line.endswith(b"\r\n") else b"\n"
            if line[4:].lstrip().upper().startswith(b"ENTER"):
                return self._inject_at(pos, newline, qty)
            found = _QTY.match(line)
            if found:
                qty = int(found.group(1))
            pos += end + 1

    def _inject_at(self, pos: int, newline: bytes, qty: int = 1) -> bytes:
        self._state = _PASS
        self.injections += 1
        return self._consume(pos) + pjl_lines(self.forced, newline, qty)

    def _check_limit(self, held: int) -> None:
        if held > self.head_limit:
            raise InjectionError(
                f"PJL header longer than {self.head_limit} bytes; forced settings cannot be applied",
                offset=self._offset + held,
            )

    def _ps_head(self, final: bool) -> bytes:
        """Header comments end at ``%%EndComments`` or at the first line that is not a
        comment; the prologue goes there (after line one at the latest, when the header
        is longer than the limit)."""
        buf = self._buffer
        pos = 0
        first_line_end = None
        while True:
            ends = [i for i in (buf.find(b"\n", pos), buf.find(b"\r", pos)) if i >= 0]
            end = min(ends) if ends else -1
            if end < 0:
                if final or len(buf) > self.head_limit:
                    return self._ps_inject(first_line_end if first_line_end is not None else len(buf), buf)
                return b""
            line_end = end + 1
            if buf[end] == 0x0D:
                if line_end == len(buf) and not final:
                    return b""  # CR at the edge: wait to see whether LF follows
                if buf[line_end:line_end + 1] == b"\n":
                    line_end += 1
            line = buf[pos:end]
            if first_line_end is None:
                first_line_end = line_end
            elif not line.startswith(b"%"):
                return self._ps_inject(pos, buf)
            elif line.startswith(b"%%EndComments"):
                return self._ps_inject(line_end, buf)
            pos = line_end
            if pos > self.head_limit:
                return self._ps_inject(first_line_end, buf)

    def _ps_inject(self, pos: int, buf: bytes) -> bytes:
        newline = b"\r\n" if b"\r\n" in buf[:pos] else b"\n"
        self._state = _PASS
        self.injections += 1
        head = self._consume(pos)
        if head and not head.endswith((b"\n", b"\r")):
            head += newline
        return head + postscript_prologue(self.forced, newline)

    def _pass(self, final: bool) -> bytes:
        data = self._tail + self._buffer
        self._tail = b""
        self._offset += len(self._buffer)
        self._buffer = b""
        at = data.find(UEL)
        if at >= 0:
            # Another PJL section starts: hold it back and walk its header.
            cut = at + len(UEL)
            self._offset -= len(data) - cut
            self._buffer = data[cut:]
            self._state = _PJL_HEAD
            return data[:cut]
        if final:
            return data
        keep = len(UEL) - 1
        # Keep back only a suffix that could begin a UEL.
        for k in range(min(keep, len(data)), 0, -1):
            if UEL.startswith(data[-k:]):
                self._tail = data[-k:]
                return data[:-k]
        return data
