"""PCL 5 / 5c page counting by the escape-sequence grammar (reference implementation).

A PCL 5 stream is text and control codes interleaved with escape sequences. Two-character
escapes are ``ESC`` + a byte in 0x30–0x7E (``ESC E`` is the printer reset). Parameterized
escapes are ``ESC`` + a parameterized character (0x21–0x2F) + an optional group character
(0x60–0x7E) + one or more *value, parameter* pairs; a lower-case parameter character
(0x60–0x7E) combines the next command into the same sequence, an upper-case one
(0x40–0x5E) ends it. Some commands are followed by a binary payload whose length is the
value (raster rows ``ESC*b#W``, fonts ``ESC(s#W``, patterns, palettes, transparent data);
the payload is skipped by length, never scanned, so a 0x0C byte inside raster data is not
a form feed.

A page is ejected by a form feed (always), and by ``ESC E``, a page size, paper source,
media type (0–4), simplex/duplex or duplex side command, an orientation command that
changes the orientation (0–3; the one in force, from PJL ``ORIENTATION`` after a reset, is
ignored), and the end of the section (UEL or end of data) when the page is *marked*: a
printable character, raster data, a rectangle fill, HP-GL/2 that draws (``hpgl``: a block
that only sets pens and line types does not), transparent data or a macro call since the
last eject. Page length (``ESC&l#P``) ejects nothing. These are GhostPCL's rules, checked
against ``gpcl6`` by the tests.

Colour: a page is colour when a printable character or solid fill is drawn with a
non-neutral foreground colour (palette entry from ``ESC*r#U`` defaults or ``ESC*v#A/B/C``
+ ``ESC*v#I``), or when its colour planes (CMY, RGB, or the CMY of KCMY) are out of
balance. Raster rows are decoded (compression modes 0–3: unencoded, run-length, TIFF
PackBits, delta row) and the set pixels of each compared plane are counted over bands of
``BAND_ROWS`` rows: a band whose plane counts differ by more than a fifth
(``5 × (max − min) > max + 256``) is colour. Grey, even dithered with a different screen
per plane, keeps the three planes in balance; a red block does not. Raster in another
compression mode, or in a direct-by-pixel or indexed CID colour space, is not decoded; a
page using it counts as colour, with a warning.

This module is the specification; ``ext/_scan.pyx`` implements the same machine in Cython.
"""
from __future__ import annotations

import re

from spooler.pdl.errors import AnalyzerError
from spooler.pdl.hpgl import HpglState

ESC = 0x1B
FF = 0x0C

#: ``ESC&l#A`` page size codes.
PAGE_SIZES = {
    1: "executive", 2: "letter", 3: "legal", 6: "ledger", 25: "a5", 26: "a4", 27: "a3",
    45: "b5", 46: "b4", 80: "monarch", 81: "com10", 90: "dl", 91: "c5", 100: "b5", 24: "a6",
}

#: Parameterized commands followed by ``value`` bytes of binary data: (char, group, final).
PAYLOAD = frozenset({
    (0x2A, 0x62, 0x57), (0x2A, 0x62, 0x56),  # ESC*b#W raster row, ESC*b#V raster plane
    (0x2A, 0x76, 0x57),  # ESC*v#W configure image data
    (0x28, 0x73, 0x57), (0x29, 0x73, 0x57),  # ESC(s#W character data, ESC)s#W font header
    (0x28, 0x66, 0x57),  # ESC(f#W symbol set
    (0x26, 0x70, 0x58),  # ESC&p#X transparent print data
    (0x2A, 0x63, 0x57),  # ESC*c#W user-defined pattern
    (0x2A, 0x6D, 0x57),  # ESC*m#W dither matrix
    (0x2A, 0x6C, 0x57),  # ESC*l#W colour lookup tables
    (0x2A, 0x69, 0x57),  # ESC*i#W viewing illuminant
    (0x26, 0x6E, 0x57),  # ESC&n#W alphanumeric id
    (0x2A, 0x6F, 0x57),  # ESC*o#W driver configuration
    (0x26, 0x62, 0x57),  # ESC&b#W AppleTalk configuration
    (0x2A, 0x67, 0x57),  # ESC*g#W configure raster data
})

#: A plane of one raster row longer than this (encoded or decoded) is not decoded; the
#: page counts as colour.
PLANE_COMPARE_LIMIT = 1 << 16
#: Bytes of each document compared when telling repeated documents apart.
DOC_HEAD = 4096
#: Raster rows per colour-balance band.
BAND_ROWS = 32
#: A parameterized escape longer than this is malformed: its ESC is ignored.
SEQUENCE_LIMIT = 256
#: Digits in one value beyond this make the sequence malformed.
VALUE_DIGITS_LIMIT = 32

_SPECIAL = re.compile(rb"[\x1b\x0c]")
_MARKING = re.compile(rb"[\x21-\x7e\xa1-\xff]")


def _neutral(rgb) -> bool:
    return rgb[0] == rgb[1] == rgb[2]


#: Default palettes of ``ESC*r#U`` as neutral flags per index (only neutrality matters).
_PALETTE_NEUTRAL = {
    1: (True, True),                                            # black & white
    -3: (True, False, False, False, False, False, False, True),  # CMY: white, c, m, b, y, g, r, black
    3: (True, False, False, False, False, False, False, True),   # RGB: black, r, g, y, b, m, c, white
    -4: (True,) + (False,) * 6 + (True,) * 9,                    # KCMY: neutral where only K inks
}


class Pcl5Scanner:
    """Streaming PCL 5 page counter. ``feed`` returns the bytes from a UEL on, or None."""

    language = "pcl5"

    def __init__(self, tally, orientation: int = 0):
        self.tally = tally
        self.warnings: list[str] = []
        self._default_orientation = orientation  # PJL ORIENTATION: 0 portrait, 1 landscape
        self._carry = b""
        self._skip = 0          # payload bytes still to skip
        self._payload_kind = 0  # 0 plain skip, 1 raster plane (compared), 2 CID header
        self._cid = bytearray()
        self._resume = None     # (char, group) of a sequence interrupted by a payload
        self._hpgl = False
        self._plotter = HpglState()
        self._defining_macro = False
        self._fed = 0
        self._buf = b""
        self._buf_base = 0
        self._docs = 0
        self._docs_alike = True
        self._doc_sig = None
        self._doc_start = 0
        self._doc_head = bytearray()
        self._doc_pages = self._doc_impressions = self._doc_sheets = self._doc_color = 0
        self._reset_environment()
        self._new_page()

    # -- page and environment state -------------------------------------------------------
    def _reset_environment(self):
        self.copies = None
        self.duplex = None
        self.media = None
        self._orientation = self._default_orientation
        self._plotter.reset()
        self._planes = 1
        self._plane_base = 0
        self._palette = list(_PALETTE_NEUTRAL[1])
        self._fg_neutral = True
        self._component = [0, 0, 0]
        self._raster_assume_color = False
        self._compression = 0
        self._reset_raster()

    def _reset_raster(self):
        self._seeds = [bytearray(), bytearray(), bytearray()]
        self._plane_index = 0
        self._band = [0, 0, 0]
        self._band_rows = 0

    def _new_page(self):
        self._marked = False
        self._color = False
        self._front = False
        self._plane_index = 0
        self._band = [0, 0, 0]
        self._band_rows = 0

    def _mark(self, color=False):
        if not self._defining_macro:
            self._marked = True
            if color:
                self._color = True

    def _eject(self):
        self._band_flush()
        self.tally.add_page(copies=self.copies, duplex=self.duplex, media=self.media,
                            color=self._color, front=self._front)
        self._new_page()

    def _eject_if_marked(self):
        if self._marked:
            self._eject()

    # -- documents: a client's manual copies --------------------------------------------------
    #
    # Clients without a copies setting send the whole document N times (CUPS socket and lpd
    # backends do by default). A *document* here runs from one ``ESC E`` to the next; when a
    # section holds two or more documents with pages and they are all alike — same length, same
    # first ``DOC_HEAD`` bytes, same pages, impressions, sheets and colour — the section is
    # one document printed N times: pages are folded into copies (impressions are unchanged).

    def _doc_boundary(self, data, pos):
        self._collect_head(data, pos)
        pages = self.tally.pages - self._doc_pages
        if pages:
            t = self.tally
            sig = (self._buf_base + pos - self._doc_start, bytes(self._doc_head), pages,
                   t.impressions - self._doc_impressions, t.sheets - self._doc_sheets,
                   t.color_pages - self._doc_color)
            if self._doc_sig is None:
                self._doc_sig = sig
            elif sig != self._doc_sig:
                self._docs_alike = False
            self._docs += 1
        self._doc_start = self._buf_base + pos
        self._doc_head = bytearray()
        t = self.tally
        self._doc_pages, self._doc_impressions, self._doc_sheets, self._doc_color = (
            t.pages, t.impressions, t.sheets, t.color_pages)

    def _collect_head(self, data, upto):
        """Add the processed bytes of ``data`` (before ``upto``) to the document's head."""
        have = len(self._doc_head)
        if have >= DOC_HEAD:
            return
        lo = self._doc_start + have - self._buf_base
        hi = min(upto, self._doc_start + DOC_HEAD - self._buf_base)
        if hi > lo >= 0:
            self._doc_head += data[lo:hi]

    # -- streaming --------------------------------------------------------------------------
    def feed(self, data: bytes):
        self._buf_base = self._fed - len(self._carry)
        self._fed += len(data)
        before = len(self._carry)
        result = self._feed(data)
        if result is not None:
            self._fed -= len(result)  # the section ends where the UEL starts
        total = before + len(data)
        done = total - (len(result) if result is not None else len(self._carry))
        self._collect_head(self._buf, done)
        self._buf = b""
        return result

    def _feed(self, data: bytes):
        if self._carry:
            data = self._carry + data
            self._carry = b""
        self._buf = data
        pos = 0
        end = len(data)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                self._payload(data, pos, pos + take)
                self._skip -= take
                pos += take
                if self._skip == 0:
                    self._payload_done()
                continue
            if self._resume is not None:
                r = self._escape(data, pos, end, self._resume)
                if r < 0:
                    self._carry = data[pos:]
                    return None
                pos = r
                continue
            if self._hpgl:
                pos = self._scan_hpgl(data, pos, end)
                if pos >= end:
                    break
            m = _SPECIAL.search(data, pos)
            stop = m.start() if m else end
            if (not self._marked or (not self._color and not self._fg_neutral)) and stop > pos and _MARKING.search(data, pos, stop):
                self._mark(not self._fg_neutral)
            if m is None:
                return None
            pos = stop
            if data[pos] == FF:
                self._eject()
                pos += 1
                continue
            # ESC
            if pos + 1 >= end:
                self._carry = data[pos:]
                return None
            c = data[pos + 1]
            if 0x21 <= c <= 0x2F:
                if self._is_uel(data, pos, end):
                    self._eject_if_marked()
                    return data[pos:]
                if self._uel_pending(data, pos, end):
                    self._carry = data[pos:]
                    return None
                r = self._escape(data, pos + 2, end, None, c)
                if r == -1:
                    self._carry = data[pos:]
                    return None
                if r == -2:
                    self._malformed()
                    pos += 2
                    continue
                pos = r
            elif 0x30 <= c <= 0x7E:
                if c == 0x45:  # ESC E
                    self._eject_if_marked()
                    self._doc_boundary(data, pos)
                    self._reset_environment()
                    self._defining_macro = False
                pos += 2
            else:
                pos += 1
        return None

    @staticmethod
    def _is_uel(data, pos, end):
        return data.startswith(b"\x1b%-12345X", pos)

    @staticmethod
    def _uel_pending(data, pos, end):
        return end - pos < 9 and b"\x1b%-12345X".startswith(data[pos:end])

    def _malformed(self):
        if "malformed PCL escape sequence" not in self.warnings:
            self.warnings.append("malformed PCL escape sequence")

    def _escape(self, data, pos, end, resume, c=None):
        """Parse a parameterized escape from after its parameterized character.

        Returns the position after it, -1 when more bytes are needed, -2 when malformed.
        Nothing is applied until the sequence is complete up to its end or first payload.
        """
        if resume is not None:
            c, group = resume
            p = pos
            start = pos
        else:
            start = pos - 2
            p = pos
            if p >= end:
                return -1
            group = 0
            if 0x60 <= data[p] <= 0x7E:
                group = data[p]
                p += 1
        commands = []
        while True:
            if p - start > SEQUENCE_LIMIT:
                if resume is not None:
                    self._resume = None
                    self._malformed()
                    return p
                return -2
            q = p
            if q < end and data[q] in b"+-":
                q += 1
            digits_start = q
            while q < end and (0x30 <= data[q] <= 0x39 or data[q] == 0x2E):
                q += 1
            if q - digits_start > VALUE_DIGITS_LIMIT:
                if resume is not None:
                    self._resume = None
                    self._malformed()
                    return q
                return -2
            if q >= end:
                return -1
            t = data[q]
            value = _number(data[p:q])
            if 0x60 <= t <= 0x7E:
                final = t - 0x20
                commands.append((final, value))
                p = q + 1
                if (c, group, final) in PAYLOAD:
                    break
                continue
            if 0x40 <= t <= 0x5E:
                commands.append((t, value))
                p = q + 1
                break
            # Not a parameter character: the sequence ends before it.
            if resume is None and not commands:
                return -2
            p = q
            break
        self._resume = None
        for i, (final, value) in enumerate(commands):
            self._command(c, group, final, value)
        final, value = commands[-1] if commands else (0, 0)
        if commands and (c, group, final) in PAYLOAD:
            last_lower = 0x60 <= data[p - 1] <= 0x7E
            if last_lower:
                self._resume = (c, group)
        return p

    def _command(self, c, group, final, value):
        iv = int(value) if -2147483648 < value < 2147483648 else 0
        key = (c, group, final)
        if key in PAYLOAD:
            n = iv if iv > 0 else 0
            self._start_payload(key, n)
            return
        if c == 0x26 and group == 0x6C:  # &l
            if final == 0x58:
                if iv >= 1:
                    self.copies = iv
            elif final == 0x53:  # simplex/duplex: ejects whatever the value
                self._eject_if_marked()
                if iv in (0, 1, 2):
                    self.duplex = iv != 0
            elif final == 0x41:
                self._eject_if_marked()
                if iv in PAGE_SIZES:
                    self.media = PAGE_SIZES[iv]
            elif final == 0x48:  # paper source
                self._eject_if_marked()
            elif final == 0x4F:  # orientation: a new one only (the value's magnitude)
                o = -iv if iv < 0 else iv
                if o <= 3 and o != self._orientation:
                    self._eject_if_marked()
                    self._orientation = o
            elif final == 0x4D:  # media type 0-4
                if -4 <= iv <= 4:
                    self._eject_if_marked()
        elif c == 0x26 and group == 0x61 and final == 0x47:  # &a#G duplex side: ejects whatever the value
            self._eject_if_marked()
            if iv == 1:
                self._front = True
        elif c == 0x26 and group == 0x66 and final == 0x58:  # &f#X macro control
            if iv == 0:
                self._defining_macro = True
            elif iv == 1:
                self._defining_macro = False
            elif iv in (2, 3):
                self._mark(not self._fg_neutral)
        elif c == 0x25 and group == 0:
            if final == 0x42:  # enter HP-GL/2
                self._hpgl = True
        elif c == 0x2A and group == 0x72:  # *r
            if final == 0x55:
                self._set_planes(iv)
            elif final in (0x41, 0x42, 0x43):
                self._band_flush()
                self._seeds = [bytearray(), bytearray(), bytearray()]
                self._plane_index = 0
        elif c == 0x2A and group == 0x62:  # *b
            if final == 0x4D:
                self._compression = iv
            elif final == 0x59:
                self._seeds = [bytearray(), bytearray(), bytearray()]
        elif c == 0x2A and group == 0x76:  # *v
            if final in (0x41, 0x42, 0x43):
                self._component[final - 0x41] = value
            elif final == 0x49:
                if 0 <= iv < 256:
                    while len(self._palette) <= iv:
                        self._palette.append(True)
                    self._palette[iv] = _neutral(self._component)
            elif final == 0x53:
                self._fg_neutral = self._palette[iv] if 0 <= iv < len(self._palette) else True
        elif c == 0x2A and group == 0x63 and final == 0x50:  # *c#P rectangle fill
            if iv != 1:
                self._mark(iv in (0, 5) and not self._fg_neutral)

    def _set_planes(self, iv):
        if iv in (3, -3):
            self._planes, self._plane_base = 3, 0
        elif iv == -4:
            self._planes, self._plane_base = 4, 1
        else:
            iv = 1
            self._planes, self._plane_base = 1, 0
        self._palette = list(_PALETTE_NEUTRAL[iv])
        self._fg_neutral = True
        self._raster_assume_color = False
        self._seeds = [bytearray(), bytearray(), bytearray()]
        self._plane_index = 0

    # -- payloads ---------------------------------------------------------------------------
    def _start_payload(self, key, n):
        c, group, final = key
        self._payload_kind = 0
        if c == 0x2A and group == 0x62:  # raster plane / row
            if n > 0:
                self._mark(self._raster_assume_color)
            if self._planes > 1:
                self._payload_kind = 1
                self._plane_start(n, final == 0x57)
        elif c == 0x2A and group == 0x76:
            self._payload_kind = 2
            self._cid = bytearray()
        elif c == 0x26 and group == 0x70:
            if n > 0:
                self._mark(not self._fg_neutral)
        self._skip = n
        if n == 0:
            self._payload_done()

    def _plane_start(self, n, last):
        self._plane_last = last
        k = self._plane_index - self._plane_base
        self._plane_k = k
        self._plane_buf = bytearray() if 0 <= k <= 2 else None
        self._plane_overflow = n > PLANE_COMPARE_LIMIT

    def _payload(self, data, start, stop):
        kind = self._payload_kind
        if kind == 1:
            if self._plane_buf is not None and not self._plane_overflow:
                self._plane_buf += data[start:stop]
        elif kind == 2:
            need = 6 - len(self._cid)
            if need > 0:
                self._cid += data[start:start + need]

    def _payload_done(self):
        kind = self._payload_kind
        self._payload_kind = 0
        if kind == 1:
            k = self._plane_k
            if 0 <= k <= 2:
                self._decode_plane(k)
            self._plane_index += 1
            if self._plane_last:
                for missing in range(max(0, self._plane_index - self._plane_base), 3):
                    self._seeds[missing] = bytearray()
                self._band_rows += 1
                if self._band_rows >= BAND_ROWS:
                    self._band_flush()
                self._plane_index = 0
        elif kind == 2:
            self._configure_image_data(bytes(self._cid))

    def _decode_plane(self, k):
        mode = self._compression
        if self._plane_overflow or mode not in (0, 1, 2, 3):
            self._mark(True)
            w = "raster colour not decoded (compression mode or size); its pages count as colour"
            if w not in self.warnings:
                self.warnings.append(w)
            return
        row = decode_row(mode, bytes(self._plane_buf), self._seeds[k])
        self._seeds[k] = row
        self._band[k] += int.from_bytes(row, "big").bit_count()

    def _band_flush(self):
        if self._band_rows:
            high, low = max(self._band), min(self._band)
            if 5 * (high - low) > high + 256:
                self._mark(True)
        self._band = [0, 0, 0]
        self._band_rows = 0

    def _configure_image_data(self, cid):
        if len(cid) < 2:
            return
        space, encoding = cid[0], cid[1]
        self._palette = [True] * 2
        self._fg_neutral = True
        self._seeds = [bytearray(), bytearray(), bytearray()]
        self._plane_index = 0
        if space in (0, 1) and encoding == 2:  # RGB/CMY direct by plane
            self._planes, self._plane_base = 3, 0
            self._raster_assume_color = False
        else:
            self._planes, self._plane_base = 1, 0
            self._raster_assume_color = not (encoding == 0 and len(cid) > 2 and cid[2] == 1)
            if self._raster_assume_color:
                w = "raster colour not decoded for this CID colour space; its pages count as colour"
                if w not in self.warnings:
                    self.warnings.append(w)

    # -- HP-GL/2 ------------------------------------------------------------------------------
    def _scan_hpgl(self, data, pos, end):
        stop = data.find(b"\x1b", pos, end)
        if stop < 0:
            stop = end
        if self._plotter.feed(data, pos, stop):
            self._mark(False)
        if stop < end:
            self._hpgl = False  # back to PCL at the next escape (ESC%#A, ESC E or UEL)
            if self._plotter.end():
                self._mark(False)
        return stop

    def close(self):
        self._close_streams()
        self._buf_base = self._fed
        self._doc_boundary(b"", 0)
        if self._docs >= 2 and self._docs_alike:
            self.tally.fold_copies(self._docs)
            self.warnings.append(f"the same document {self._docs} times: counted as {self._docs} copies")

    def _close_streams(self):
        if self._carry and not self._skip:
            if "PCL stream ends inside an escape sequence" not in self.warnings:
                self.warnings.append("PCL stream ends inside an escape sequence")
        if self._skip:
            self.warnings.append("PCL stream ends inside binary data (truncated job)")
        self._carry = b""
        self._eject_if_marked()


def decode_row(mode: int, data: bytes, seed: bytearray) -> bytearray:
    """One raster plane row in PCL compression ``mode`` 0–3 (3 edits ``seed``), at most
    ``PLANE_COMPARE_LIMIT`` bytes."""
    limit = PLANE_COMPARE_LIMIT
    if mode == 0:
        return bytearray(data[:limit])
    out = bytearray()
    i, n = 0, len(data)
    if mode == 1:
        while i + 1 < n and len(out) < limit:
            out += data[i + 1:i + 2] * (data[i] + 1)
            i += 2
        return out[:limit]
    if mode == 2:
        while i < n and len(out) < limit:
            c = data[i]
            i += 1
            if c < 128:
                out += data[i:i + c + 1]
                i += c + 1
            elif c > 128:
                out += data[i:i + 1] * (257 - c)
                i += 1
        return out[:limit]
    out = bytearray(seed)
    cursor = 0
    while i < n:
        cmd = data[i]
        i += 1
        count = (cmd >> 5) + 1
        offset = cmd & 31
        if offset == 31:
            while i < n:
                b = data[i]
                i += 1
                offset += b
                if b != 255:
                    break
        cursor += offset
        if cursor >= limit:
            break
        chunk = data[i:i + count]
        i += count
        stop = min(cursor + len(chunk), limit)
        if stop > len(out):
            out += bytes(stop - len(out))
        out[cursor:stop] = chunk[:stop - cursor]
        cursor += len(chunk)
    return out


def _number(raw: bytes) -> float:
    if not raw or raw in (b"+", b"-"):
        return 0.0
    try:
        return float(raw)
    except ValueError:
        return 0.0
