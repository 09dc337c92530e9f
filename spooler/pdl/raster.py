"""PWG Raster (``RaS2``) and Apple URF (``UNIRAST``): what phones send (AirPrint, Mopria).

Both are a stream of pages, each a fixed header followed by run-length coded lines:
a line-repeat byte (the line is printed that many times plus one), then packets until the line is full — a control byte ``c`` < 128
repeats the next pixel ``c + 1`` times, ``c`` > 128 is followed by ``257 - c`` literal
pixels, and 128 fills the rest of the line with white. The lines are decoded only to find
where the next page header starts and whether a pixel is not neutral (R = G = B); their
pixels are never kept. Pages, duplex, copies (PWG ``NumCopies``), media and colour space
come from the headers.

Shared by both backends (written in Python; phones send small jobs).
"""
from __future__ import annotations

import struct

from spooler.pdl.policy import media_from_points

PWG_SYNC = b"RaS2"
URF_SYNC = b"UNIRAST\x00"
PWG_HEADER = 1796
URF_HEADER = 32

#: cupsColorSpace values that hold only neutral colours.
PWG_GRAY_SPACES = frozenset({0, 3, 18, 48})
#: URF colour spaces: 0 sGray, 4 gray.
URF_GRAY_SPACES = frozenset({0, 4})

MAX_LINE_BYTES = 1 << 20


class RasterScanner:
    """Streaming PWG/URF page reader."""

    def __init__(self, tally, language: str):
        self.tally = tally
        self.language = language
        self.warnings: list[str] = []
        self.failed: str | None = None
        self._buf = bytearray()
        self._state = "sync"
        self._lines_left = 0
        self._line_repeat = 1
        self._line_fill = 0
        self._bpp = 1
        self._line_pixels = 0
        self._check_color = False
        self._page = None
        self._color = False

    def feed(self, data: bytes):
        if self.failed:
            return None
        self._buf += data
        try:
            self._run()
        except _Broken as exc:
            self._fail(str(exc))
        return None

    def _fail(self, why):
        self.failed = why
        self.warnings.append(why)
        self._buf = bytearray()

    def _run(self):
        buf = self._buf
        pos = 0
        try:
            while True:
                if self._state == "sync":
                    need = 4 if self.language == "pwg" else 12
                    if len(buf) - pos < need:
                        return
                    if self.language == "pwg":
                        if bytes(buf[pos:pos + 4]) not in (b"RaS2",):
                            raise _Broken("PWG raster sync word missing")
                    elif bytes(buf[pos:pos + 8]) != URF_SYNC:
                        raise _Broken("URF sync word missing")
                    pos += need
                    self._state = "header"
                elif self._state == "header":
                    size = PWG_HEADER if self.language == "pwg" else URF_HEADER
                    if len(buf) - pos < size:
                        return
                    if buf.startswith(PWG_SYNC if self.language == "pwg" else URF_SYNC, pos):
                        self._state = "sync"  # the document again: a client's manual copies
                        continue
                    self._header(bytes(buf[pos:pos + size]))
                    pos += size
                    self._state = "line" if self._lines_left else "header"
                    if not self._lines_left:
                        self._end_page()
                elif self._state == "line":
                    if len(buf) - pos < 1:
                        return
                    self._line_repeat = buf[pos] + 1
                    pos += 1
                    self._line_fill = 0
                    self._state = "packet"
                else:  # packet
                    if len(buf) - pos < 1:
                        return
                    c = buf[pos]
                    bpp = self._bpp
                    if c == 128:
                        n = self._line_pixels - self._line_fill
                        used = 1
                    elif c < 128:
                        if len(buf) - pos < 1 + bpp:
                            return
                        n = c + 1
                        used = 1 + bpp
                        if self._check_color and not self._color:
                            self._color = not _neutral(buf, pos + 1, bpp)
                    else:
                        n = 257 - c
                        used = 1 + n * bpp
                        if len(buf) - pos < used:
                            return
                        if self._check_color and not self._color:
                            for k in range(n):
                                if not _neutral(buf, pos + 1 + k * bpp, bpp):
                                    self._color = True
                                    break
                    pos += used
                    self._line_fill += n
                    if self._line_fill > self._line_pixels:
                        raise _Broken("raster line overflows its width")
                    if self._line_fill == self._line_pixels:
                        self._lines_left -= self._line_repeat
                        if self._lines_left > 0:
                            self._state = "line"
                        else:
                            self._end_page()
                            self._state = "header"
        finally:
            del buf[:pos]

    def _header(self, h: bytes):
        copies, duplex, media, self._bpp, self._line_pixels, self._lines_left, self._check_color = (
            page_header(self.language, h))
        self._color = False
        self._page = (copies, duplex, media)

    def _end_page(self):
        copies, duplex, media = self._page
        self.tally.add_page(copies=copies, duplex=duplex, media=media, color=self._color)
        self._page = None

    def close(self):
        if self.failed:
            return
        if self._state not in ("header",) or self._buf:
            if self._state != "sync":
                self.warnings.append("raster job truncated")


class _Broken(Exception):
    pass


def page_header(language: str, h: bytes):
    """``(copies, duplex, media, bytes per pixel unit, units per line, lines, check colour)``
    from one page header; raises ``_Broken`` when it is out of range."""
    if language == "pwg":
        (duplex,) = struct.unpack_from(">I", h, 272)
        (copies,) = struct.unpack_from(">I", h, 340)
        w_pt, h_pt = struct.unpack_from(">II", h, 352)
        width, height, _, bpc, bpp, bpl, order, space = struct.unpack_from(">IIIIIIII", h, 372)
        gray = space in PWG_GRAY_SPACES
        media = media_from_points(w_pt, h_pt)
        copies = copies or None
    else:
        bpp, space, dup = h[0], h[1], h[2]
        width, height, dpi = struct.unpack_from(">III", h, 12)
        duplex = dup in (2, 3)
        gray = space in URF_GRAY_SPACES
        media = media_from_points(width * 72 / dpi, height * 72 / dpi) if dpi else None
        copies = None
    # Packets count pixels of 8 bits or more, and bytes of pixels packed below 8 bits.
    bytes_pp = max(1, bpp // 8)
    if language == "pwg":
        units = bpl // bytes_pp
    else:
        units = width if bpp >= 8 else (width * bpp + 7) // 8
    if units * bytes_pp > MAX_LINE_BYTES or height > 1 << 20 or bytes_pp > 16:
        raise _Broken("raster page header out of range")
    return copies, bool(duplex), media, bytes_pp, units, (height if units else 0), (not gray and bytes_pp >= 3)


def _neutral(buf, pos, bpp) -> bool:
    if bpp == 3:
        return buf[pos] == buf[pos + 1] == buf[pos + 2]
    if bpp == 6:
        return buf[pos:pos + 2] == buf[pos + 2:pos + 4] == buf[pos + 4:pos + 6]
    return True
