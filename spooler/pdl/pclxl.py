"""PCL XL (PCL 6) page counting by the operator/attribute/data grammar (reference).

A PCL XL stream starts with a header line whose first byte gives the binding: ``)``
binary little-endian, ``(`` binary big-endian, ``'`` ASCII (not supported: reported as
unknown pages with a warning). Then come tokens: a data value (type tag 0xC0–0xE5 and its
bytes; arrays carry their own element count), an attribute id (0xF8 ubyte / 0xF9 uint16)
naming the value just before it, embedded data (0xFA uint32 length / 0xFB ubyte length,
skipped by length), and operators (0x40–0xBF) that take the attributes collected since
the previous operator. White space (NUL, HT, LF, VT, FF, CR, SP) separates tokens; a UEL
ends the stream.

Pages are ``BeginPage`` … ``EndPage``; ``PageCopies`` (on either) is the page's
uncollated copies (0 is in its range and prints the page no time: such a page is not
counted, as GhostPCL prints it no time); ``DuplexPageMode`` / ``SimplexPageMode`` on ``BeginPage`` its sides;
``MediaSize`` its size (enumeration or name). A page is colour when it sets a non-neutral
``RGBColor`` for the pen or brush, selects a palette holding a non-neutral entry for an
indexed image, or draws a direct RGB image whose decoded pixels are not all neutral
(uncompressed and RLE data are decoded; JPEG and delta-row RGB images count as colour).
"""
from __future__ import annotations

import struct

ESC = 0x1B
UEL = b"\x1b%-12345X"

SCALAR_SIZE = {0xC0: 1, 0xC1: 2, 0xC2: 4, 0xC3: 2, 0xC4: 4, 0xC5: 4}
WHITESPACE = frozenset(b"\x00\x09\x0a\x0b\x0c\x0d\x20")

OP_BEGIN_PAGE = 0x43
OP_END_PAGE = 0x44
OP_SET_BRUSH_SOURCE = 0x63
OP_SET_COLOR_SPACE = 0x6A
OP_SET_PEN_SOURCE = 0x79
OP_BEGIN_IMAGE = 0xB0
OP_READ_IMAGE = 0xB1

A_PALETTE_DATA = 6
A_RGB_COLOR = 11
A_COLOR_SPACE = 3
A_MEDIA_SIZE = 37
A_PAGE_COPIES = 49
A_SIMPLEX = 52
A_DUPLEX = 53
A_COLOR_DEPTH = 98
A_COLOR_MAPPING = 100
A_COMPRESS_MODE = 101
A_SOURCE_WIDTH = 108
A_PAD_BYTES = 110

MEDIA_SIZES = {
    0: "letter", 1: "legal", 2: "a4", 3: "executive", 4: "ledger", 5: "a3", 6: "com10",
    7: "monarch", 8: "c5", 9: "dl", 10: "b4", 11: "b5", 16: "a5", 17: "a6",
}
MEDIA_NAMES = {
    b"LETTER": "letter", b"LEGAL": "legal", b"A4": "a4", b"A3": "a3", b"A5": "a5", b"A6": "a6",
    b"EXEC": "executive", b"EXECUTIVE": "executive", b"LEDGER": "ledger", b"COM10": "com10",
    b"MONARCH": "monarch", b"C5": "c5", b"DL": "dl", b"JISB4": "b4", b"JISB5": "b5",
}

#: The warning of a job holding a page with ``PageCopies 0``.
NO_COPIES = "a PCL XL page asks for 0 copies (PageCopies 0): it prints nothing and is not counted"

#: Arrays longer than this (in bytes) are skipped, not kept (only short ones carry facts we use).
ARRAY_KEEP = 1024

#: Attribute values are kept as (kind, value): scalars as integers or reals, arrays of at
#: most ``ARRAY_KEEP`` bytes as a tuple of numbers (ubyte arrays also keep their bytes, for
#: media names), everything else (boxes, long arrays) as NONE. Only the attributes in
#: ``KEPT_ATTRIBUTES`` are remembered until the next operator.
K_NONE, K_INT, K_REAL, K_ARRAY, K_XY = 0, 1, 2, 3, 4
HEADER_LIMIT = 256


KEPT_ATTRIBUTES = frozenset({
    A_PALETTE_DATA, A_RGB_COLOR, A_COLOR_SPACE, A_MEDIA_SIZE, A_PAGE_COPIES, A_SIMPLEX, A_DUPLEX,
    A_COLOR_DEPTH, A_COLOR_MAPPING, A_COMPRESS_MODE, A_SOURCE_WIDTH, A_PAD_BYTES,
})


def _int_attr(attrs, key, default=None):
    v = attrs.get(key)
    return v[1] if v is not None and v[0] == K_INT else default


def _num_attr(attrs, key, default):
    v = attrs.get(key)
    return v[1] if v is not None and v[0] in (K_INT, K_REAL) else default


class PclXlError(Exception):
    """Internal: the stream broke the grammar; the section's pages are unknown."""


class PclXlScanner:
    """Streaming PCL XL page counter. ``feed`` returns the bytes from a UEL on, or None."""

    language = "pclxl"

    def __init__(self, tally):
        self.tally = tally
        self.warnings: list[str] = []
        self.failed: str | None = None
        self._carry = b""
        self._header = True
        self._big = False
        self._skip = 0
        self._image = None  # pixel checker for the embedded data being skipped
        self._value = None
        self._attrs: dict[int, object] = {}
        self._color_space = 1
        self._palette_neutral = True
        self._image_mode = 0  # 0 neutral/none, 1 decode direct RGB, 2 colour
        self._image_width = 0
        self._image_pad = 4
        self._image_rle = False
        self._in_page = False
        self._page_color = False
        self._page_attrs = {}

    # -- streaming --------------------------------------------------------------------------
    def feed(self, data: bytes):
        if self._carry:
            data = self._carry + data
            self._carry = b""
        pos, end = 0, len(data)
        if self.failed:
            return self._find_uel(data, 0)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                if self._image is not None:
                    if self._image.feed(data, pos, pos + take):
                        self._page_color = True
                        self._image = None
                self._skip -= take
                pos += take
                if self._skip == 0:
                    self._image = None
                continue
            if self._header:
                nl = data.find(b"\n", pos, end)
                if nl < 0:
                    if end - pos > HEADER_LIMIT:
                        return self._fail("PCL XL stream header too long", data, pos)
                    self._carry = data[pos:]
                    return None
                binding = data[pos]
                if binding == 0x28:
                    self._big = True
                elif binding == 0x29:
                    self._big = False
                else:
                    return self._fail("PCL XL ASCII binding is not supported", data, pos)
                self._header = False
                pos = nl + 1
                continue
            b = data[pos]
            if b in WHITESPACE:
                pos += 1
                continue
            r = self._token(data, pos, end, b)
            if r is None:
                self._carry = data[pos:]
                return None
            if r < 0:
                if b == ESC:
                    self._end_section()
                    return data[pos:]
                return self._fail(f"PCL XL grammar broken at byte 0x{b:02x}", data, pos)
            pos = r
        return None

    def _find_uel(self, data, pos):
        i = data.find(UEL, pos)
        if i >= 0:
            return data[i:]
        # the start of a UEL the next chunk may complete, never bytes before ``pos`` (already
        # read as something else: whole, the job would not find a UEL there either)
        keep = min(len(UEL) - 1, len(data) - pos)
        self._carry = data[len(data) - keep:] if keep > 0 else b""
        return None

    def _fail(self, why, data, pos):
        self.failed = why
        self.warnings.append(why)
        return self._find_uel(data, pos)

    def _num(self, data, pos, tag):
        size = SCALAR_SIZE[tag]
        raw = data[pos:pos + size]
        e = ">" if self._big else "<"
        if tag == 0xC0:
            return raw[0]
        fmt = {0xC1: "H", 0xC2: "I", 0xC3: "h", 0xC4: "i", 0xC5: "f"}[tag]
        return struct.unpack(e + fmt, raw)[0]

    def _token(self, data, pos, end, b):
        """Consume one token at ``pos``; None when incomplete, -1 when not a token."""
        if b in SCALAR_SIZE:
            size = SCALAR_SIZE[b]
            if pos + 1 + size > end:
                return None
            self._value = (K_REAL if b == 0xC5 else K_INT, self._num(data, pos + 1, b))
            return pos + 1 + size
        if 0xC8 <= b <= 0xCD:
            if pos + 2 > end:
                return None
            ltag = data[pos + 1]
            if ltag not in (0xC0, 0xC1):
                return -1
            lsize = SCALAR_SIZE[ltag]
            if pos + 2 + lsize > end:
                return None
            n = self._num(data, pos + 2, ltag)
            esize = SCALAR_SIZE[b - 8]
            start = pos + 2 + lsize
            total = n * esize
            if total > ARRAY_KEEP:
                self._value = (K_NONE, None)
                self._skip = total
                return start
            if start + total > end:
                return None
            tag = b - 8
            items = tuple(self._num(data, start + i * esize, tag) for i in range(n))
            raw = data[start:start + total] if tag == 0xC0 else None
            self._value = (K_ARRAY, items, raw)
            return start + total
        if 0xD0 <= b <= 0xD5:
            tag = b - 0x10
            size = SCALAR_SIZE[tag]
            if pos + 1 + 2 * size > end:
                return None
            self._value = (K_XY, None)
            return pos + 1 + 2 * size
        if 0xE0 <= b <= 0xE5:
            size = SCALAR_SIZE[b - 0x20]
            if pos + 1 + 4 * size > end:
                return None
            self._value = (K_NONE, None)
            return pos + 1 + 4 * size
        if b == 0xF8 or b == 0xF9:
            n = 2 if b == 0xF8 else 3
            if pos + n > end:
                return None
            attr = data[pos + 1] if b == 0xF8 else self._num(data, pos + 1, 0xC1)
            if attr in KEPT_ATTRIBUTES:
                self._attrs[attr] = self._value if self._value is not None else (K_NONE, None)
            self._value = None
            return pos + n
        if b == 0xFA or b == 0xFB:
            n = 5 if b == 0xFA else 2
            if pos + n > end:
                return None
            length = self._num(data, pos + 1, 0xC2) if b == 0xFA else data[pos + 1]
            self._skip = length
            if self._image_mode == 1 and length:
                self._image = RgbPixelCheck(self._image_width, self._image_pad, self._image_rle)
            elif self._image_mode == 2 and length:
                self._page_color = True
            return pos + n
        if 0x40 <= b <= 0xBF:
            self._operator(b)
            self._attrs = {}
            self._value = None
            return pos + 1
        return -1

    # -- operators ----------------------------------------------------------------------------
    def _operator(self, op):
        a = self._attrs
        if op == OP_BEGIN_PAGE:
            if self._in_page:
                self._end_page()
            self._in_page = True
            self._page_color = False
            self._page_attrs = dict(a)
        elif op == OP_END_PAGE:
            if not self._in_page:
                self._page_attrs = {}
                self._page_color = False
            if A_PAGE_COPIES in a:
                self._page_attrs[A_PAGE_COPIES] = a[A_PAGE_COPIES]
            self._end_page()
        elif op == OP_SET_COLOR_SPACE:
            self._color_space = _int_attr(a, A_COLOR_SPACE, 1)
            self._palette_neutral = _palette_neutral(a.get(A_PALETTE_DATA), self._color_space)
        elif op in (OP_SET_BRUSH_SOURCE, OP_SET_PEN_SOURCE):
            rgb = a.get(A_RGB_COLOR)
            if rgb is not None and rgb[0] != K_NONE and self._color_space != 1:
                if rgb[0] != K_ARRAY or len(rgb[1]) < 3 or not (rgb[1][0] == rgb[1][1] == rgb[1][2]):
                    self._page_color = True
        elif op == OP_BEGIN_IMAGE:
            mapping = _num_attr(a, A_COLOR_MAPPING, 0)
            depth = _num_attr(a, A_COLOR_DEPTH, 2)
            width = _int_attr(a, A_SOURCE_WIDTH)
            if self._color_space == 1:
                self._image_mode = 0
            elif mapping == 1:
                self._image_mode = 0 if self._palette_neutral else 2
            elif depth == 2 and width is not None:
                self._image_mode = 1
                self._image_width = width
                pad = _int_attr(a, A_PAD_BYTES, 4)
                self._image_pad = pad if pad > 0 else 4
            else:
                self._image_mode = 2
        elif op == OP_READ_IMAGE:
            mode = _num_attr(a, A_COMPRESS_MODE, 0)
            self._image_rle = mode == 1
            if self._image_mode == 1 and mode not in (0, 1):
                self._image_mode = 2
        elif op == 0xB2:  # EndImage
            self._image_mode = 0

    def _end_page(self):
        pa = self._page_attrs
        copies = _int_attr(pa, A_PAGE_COPIES)
        duplex = None
        if A_DUPLEX in pa:
            duplex = True
        elif A_SIMPLEX in pa:
            duplex = False
        media = None
        m = pa.get(A_MEDIA_SIZE)
        if m is not None:
            if m[0] == K_INT:
                media = MEDIA_SIZES.get(m[1])
            elif m[0] == K_ARRAY and m[2] is not None:
                media = MEDIA_NAMES.get(m[2].upper().strip(b"\x00 "))
        if copies == 0:
            # "PageCopies: the number of copies of the page to print" (0 included): the page
            # prints no copy, on GhostPCL as on a printer; it is not a printed page at all
            if NO_COPIES not in self.warnings:
                self.warnings.append(NO_COPIES)
        else:
            self.tally.add_page(copies=copies, duplex=duplex, media=media, color=self._page_color)
        self._in_page = False
        self._page_color = False
        self._page_attrs = {}

    def _end_section(self):
        if self._in_page:
            self.warnings.append("PCL XL page without EndPage")
            self._end_page()

    def close(self):
        if self.failed:
            return
        if self._skip or self._carry or self._header:
            self.warnings.append("PCL XL stream truncated")
        self._carry = b""
        self._end_section()


def _palette_neutral(pal, color_space) -> bool:
    if pal is None or pal[0] == K_NONE or color_space == 1:
        return True
    if pal[0] != K_ARRAY:
        return False
    items = pal[1]
    for i in range(0, len(items) - 2, 3):
        if not (items[i] == items[i + 1] == items[i + 2]):
            return False
    return True


class RgbPixelCheck:
    """Decide whether 8-bit RGB image rows (padded to ``pad`` bytes) hold a non-neutral pixel.

    ``feed`` returns True as soon as one is found. RLE data is PackBits, decoded on the fly.
    """

    def __init__(self, width, pad, rle):
        row = width * 3
        self.pixels = row
        self.row_bytes = (row + pad - 1) // pad * pad if pad > 1 else row
        self.col = 0
        self.r = self.g = 0
        self.rle = rle
        self.ctl = 0      # PackBits: >0 literal bytes left, <0 repeat count pending
        self.repeat = 0   # pending repeat count awaiting its byte

    def _pixel_byte(self, v):
        col = self.col
        if col < self.pixels:
            k = col % 3
            if k == 0:
                self.r = v
            elif k == 1:
                self.g = v
            elif not (self.r == self.g == v):
                return True
        col += 1
        self.col = 0 if col >= self.row_bytes else col
        return False

    def feed(self, data, start, stop):
        if self.row_bytes <= 0:
            return False
        if not self.rle:
            for i in range(start, stop):
                if self._pixel_byte(data[i]):
                    return True
            return False
        for i in range(start, stop):
            v = data[i]
            if self.ctl > 0:
                self.ctl -= 1
                if self._pixel_byte(v):
                    return True
            elif self.repeat:
                for _ in range(self.repeat):
                    if self._pixel_byte(v):
                        return True
                self.repeat = 0
            elif v < 128:
                self.ctl = v + 1
            elif v > 128:
                self.repeat = 257 - v
        return False
