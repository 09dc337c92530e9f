"""PostScript colour per page from the program, where its structure is plain (reference).

Drivers write DSC pages whose colour lies in a few operator shapes: ``setgray``,
``setrgbcolor``, ``setcmykcolor``, ``sethsbcolor``, ``setcolorspace``/``setcolor`` with a
device space, ``fill``/``stroke``/``rectfill`` and text shown with ``show`` and its kin, and
``image``/``colorimage``/``imagemask`` with their samples given as a string. ``page_colours``
interprets such a program with a small machine (operand stack, procedures the document
defines, graphics state with CTM, clip and colour) and judges every mark as the PDF walk
does (``pdfcolour.PageInk``: upper and lower bounds of the colour pixels, against the same
``inkcov`` threshold). It gives up — returns None, and the section is rendered with
Ghostscript, whose count of printed pages then wins — as soon as the program does anything
it cannot follow: an operator it does not know, a control structure (``if``, ``loop``,
``forall`` …), data read from ``currentfile``, a result it cannot compute (``stringwidth``,
``currentpoint`` …), a page with no ``showpage`` or with two, a mark outside the pages.

Output of Ghostscript's ``ps2write`` (PDF objects carried by a PostScript prolog that
renders them) is read as the PDF it carries: its objects are gathered into a PDF in memory
and each page is walked by ``pdfcolour``.

``tokens`` (the byte loop: PostScript's syntax, and the ``%%Page:`` comments that split the
pages) has a Cython twin in ``ext/_scan.pyx``; the tests hold the two to one answer.
"""
from __future__ import annotations

import base64
import math
import re

from spooler.pdl import pdfcolour, pdfcontent, pdfobjects, postscript
from spooler.pdl.pdfcolour import (COLOUR, IDENTITY, MAYBE, NEUTRAL, PageInk, _Image, apply, axis_aligned, box_of,
                                   classify_cmy, classify_rgb, image_lower, intersect, multiply)

#: Sections longer than this are not scanned (Ghostscript renders them).
SCAN_LIMIT = 32 << 20
#: Tokens read from one section (beyond: not scanned).
TOKEN_LIMIT = 4_000_000
#: Procedures nested in the source, and calls nested while running.
DEPTH_LIMIT = 64
#: Operators executed for one section (beyond: not scanned).
WORK_LIMIT = 4_000_000

#: The token of a ``%%Page:`` comment at the top level of the document.
PAGE = "%%Page:"


class Literal(str):
    """A literal name (``/name``), without its slash."""

    __slots__ = ()


class Procedure(list):
    """An executable array (``{ ... }``)."""

    __slots__ = ()


class NotPlain(Exception):
    """The program does something the scan cannot follow (the message says what)."""


# -- the byte loop ------------------------------------------------------------------------------------

_WHITE = frozenset(b"\x00\t\n\x0c\r ")
_DELIM = frozenset(b"()<>[]{}/%")
_REAL = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_RADIX = re.compile(rb"(\d+)#([0-9A-Za-z]+)\Z")
_BEGIN_DATA = re.compile(rb"%%Begin(?:Data|Binary):\s*(\d+)(?:\s+\S+\s+(\S+))?")


class TokenLimit(Exception):
    """More tokens, or deeper procedures, than the scan reads."""


def number(word: bytes):
    """A PostScript number token as int or float, or None."""
    if _REAL.match(word):
        if b"." in word or b"e" in word or b"E" in word:
            try:
                v = float(word)
            except (ValueError, OverflowError):
                return None
            return v if v == v and abs(v) != float("inf") else None
        v = int(word)
        return v if -(1 << 31) <= v < (1 << 31) else float(v)
    m = _RADIX.match(word)
    if m:
        base = int(m.group(1))
        if 2 <= base <= 36:
            try:
                v = int(m.group(2), base)
            except ValueError:
                return None
            return v if v < (1 << 31) else None
    return None


def tokens(data: bytes) -> list:
    """The tokens of a PostScript program: numbers, ``str`` (executable names, and ``[``,
    ``]``, ``<<``, ``>>``), ``Literal`` names, ``bytes`` (strings), ``Procedure`` lists, and
    ``PAGE`` where a ``%%Page:`` comment starts a page at the top level."""
    out: list = []
    procs: list[Procedure] = []
    target = out
    documents = 0          # %%BeginDocument nesting: pages of embedded documents do not count
    count = 0
    pos, end = 0, len(data)
    while pos < end:
        c = data[pos]
        if c in _WHITE:
            pos += 1
            continue
        count += 1
        if count > TOKEN_LIMIT:
            raise TokenLimit("too many tokens")
        if c == 0x25:  # %
            q = pos
            while q < end and data[q] not in (0x0A, 0x0D):
                q += 1
            line_start = pos == 0 or data[pos - 1] in (0x0A, 0x0D, 0x04)
            if line_start and data.startswith(b"%%", pos):
                line = data[pos:q]
                if line.startswith(b"%%Page:"):
                    if not procs and not documents:
                        out.append(PAGE)
                elif line.startswith(b"%%BeginDocument"):
                    documents += 1
                elif line.startswith(b"%%EndDocument"):
                    documents = max(0, documents - 1)
                else:
                    m = _BEGIN_DATA.match(line)
                    if m is not None:
                        q = _skip_data(data, q, end, int(m.group(1)), (m.group(2) or b"").lower() == b"lines")
            pos = q
            continue
        if c == 0x28:  # (
            value, pos = _literal(data, pos + 1, end)
        elif c == 0x3C:  # < << <~
            if data.startswith(b"<<", pos):
                value, pos = "<<", pos + 2
            elif data.startswith(b"<~", pos):
                q = data.find(b"~>", pos + 2)
                q = end if q < 0 else q
                value = _a85(data[pos + 2:q])
                pos = q + 2
            else:
                q = data.find(b">", pos + 1)
                q = end if q < 0 else q
                value = _hex(data[pos + 1:q])
                pos = q + 1
        elif c == 0x3E:  # >>
            if data.startswith(b">>", pos):
                value, pos = ">>", pos + 2
            else:
                pos += 1
                continue
        elif c in (0x5B, 0x5D):
            value, pos = chr(c), pos + 1
        elif c == 0x7B:  # {
            if len(procs) >= DEPTH_LIMIT:
                raise TokenLimit("procedures nested too deeply")
            proc = Procedure()
            target.append(proc)
            procs.append(proc)
            target = proc
            pos += 1
            continue
        elif c == 0x7D:  # }
            pos += 1
            if procs:
                procs.pop()
                target = procs[-1] if procs else out
            continue
        elif c == 0x29:  # stray )
            pos += 1
            continue
        elif c == 0x2F:  # /name or //name
            immediate = data.startswith(b"//", pos)
            q = pos + (2 if immediate else 1)
            start = q
            while q < end and data[q] not in _WHITE and data[q] not in _DELIM:
                q += 1
            name = data[start:q].decode("latin-1")
            value = name if immediate else Literal(name)
            pos = q
        else:
            q = pos + 1
            while q < end and data[q] not in _WHITE and data[q] not in _DELIM:
                q += 1
            word = data[pos:q]
            pos = q
            value = number(word)
            if value is None:
                value = word.decode("latin-1")
        target.append(value)
    return out


def _skip_data(data, q, end, n, lines):
    """After a ``%%BeginData:``/``%%BeginBinary:`` line ending at ``q``: skip its payload."""
    if q < end and data[q] == 0x0D:
        q += 1
    if q < end and data[q] == 0x0A:
        q += 1
    if lines:
        for _ in range(n):
            nl = data.find(b"\n", q)
            if nl < 0:
                return end
            q = nl + 1
        return q
    return min(end, q + n)


_literal = pdfcontent._literal
_hex = pdfcontent._hexstring


def _a85(raw):
    try:
        return base64.a85decode(bytes(b for b in raw if b not in _WHITE))
    except ValueError:
        return b""


# -- the machine -------------------------------------------------------------------------------------

#: Ghostscript's default page (A4 here): pages whose program never sets a size.
DEFAULT_PAGE = (595.0, 842.0)


class _Gs:
    __slots__ = ("ctm", "clip", "clip_exact", "fill", "space", "line_width", "opaque", "font_size", "path", "point")

    def copy(self):
        g = _Gs()
        for k in _Gs.__slots__:
            setattr(g, k, getattr(self, k))
        g.path = list(self.path)
        return g


class _Mark:
    """``[`` or ``<<`` on the operand stack."""


_MARK = _Mark()


class _Save:
    """What ``save`` leaves on the stack."""


class _Font:
    __slots__ = ("size",)

    def __init__(self, size):
        self.size = size


def page_colours(data: bytes, pages: int, tokenize=None, operations=None):
    """Per-page colour of a DSC PostScript section (``pages`` pages by its comments): a list,
    True/False per page, or None when the program is not plain enough to decide (or a
    page's colour is too close to call): Ghostscript then renders the section."""
    if len(data) > SCAN_LIMIT:
        return None
    pdf_pages = ps2write_colours(data, pages, operations)
    if pdf_pages is not False:
        return pdf_pages
    try:
        toks = (tokenize or tokens)(data)
    except TokenLimit:
        return None
    try:
        verdicts = _Machine().run(toks)
    except (NotPlain, RecursionError):
        return None
    except (ArithmeticError, ValueError, TypeError, IndexError, OverflowError):
        return None
    if len(verdicts) != pages or any(v is None for v in verdicts):
        return None
    return verdicts


def interpret(data: bytes, tokenize=None):
    """The pages a plain PostScript program prints, in order, each as ``(copies, duplex,
    width, height, colour)`` (copies and duplex None when the program leaves them to the
    job's defaults), counted by the ``showpage`` it runs: for a section whose DSC comments
    cannot be trusted. None when the program is not plain, a page's size is never set (the
    interpreter's default would decide it), or a page's colour is too close to call."""
    if len(data) > SCAN_LIMIT:
        return None
    try:
        toks = (tokenize or tokens)(data)
    except TokenLimit:
        return None
    machine = _Machine(counting=True)
    try:
        machine.run(toks)
    except (NotPlain, RecursionError):
        return None
    except (ArithmeticError, ValueError, TypeError, IndexError, OverflowError):
        return None
    if any(page[4] is None for page in machine.printed):
        return None
    return machine.printed


class _Machine:
    def __init__(self, counting=False):
        self.counting = counting  # pages are what showpage prints, not what %%Page: says
        self.printed: list = []   # (copies, duplex, width, height, colour) of each page printed
        self.num_copies = None
        self.duplex = None
        self.size_set = False
        self.names: dict = {}
        self.stack: list = []
        self.work = 0
        self.page_box = (0.0, 0.0) + DEFAULT_PAGE
        self.ink = None          # the PageInk of the page being read (None outside pages)
        self.shown = 0           # showpage run on this page
        self.verdicts: list = []
        self.saved: list = []
        self.gs = self._initial()
        if counting:
            self.ink = PageInk(self.page_box, _share() * _area(self.page_box))

    def _initial(self):
        g = _Gs()
        g.ctm = IDENTITY
        g.clip = self.page_box
        g.clip_exact = True
        g.fill = NEUTRAL
        g.space = "gray"
        g.line_width = 1.0
        g.opaque = True
        g.font_size = None
        g.path = []
        g.point = None
        return g

    def run(self, toks) -> list:
        for tok in toks:
            if tok is PAGE:
                if self.counting:
                    continue
                self._end_page()
                self.ink = PageInk(self.page_box, _share() * _area(self.page_box))
                self.shown = 0
                continue
            self.execute(tok, 0)
        self._end_page()
        return self.verdicts

    def _end_page(self):
        if self.ink is None or self.counting:
            return
        if self.shown != 1:
            raise NotPlain(f"a page ran showpage {self.shown} times")
        self.verdicts.append(self.ink.verdict())
        self.ink = None

    # -- execution ---------------------------------------------------------------------------------
    def execute(self, tok, depth):
        self.work += 1
        if self.work > WORK_LIMIT:
            raise NotPlain("too much to interpret")
        if type(tok) is str:
            value = self.names.get(tok, _UNDEFINED)
            if value is _UNDEFINED:
                op = _OPERATORS.get(tok)
                if op is None:
                    raise NotPlain(f"operator {tok}")
                op(self)
                return
            if isinstance(value, Procedure):
                self.call(value, depth)
            elif callable(value) and not isinstance(value, (Literal, bytes)):
                value(self)
            else:
                self.stack.append(value)
            return
        self.stack.append(tok)

    def call(self, proc, depth):
        if depth >= DEPTH_LIMIT:
            raise NotPlain("procedures call each other too deeply")
        for tok in proc:
            self.execute(tok, depth + 1)

    def pop(self):
        if not self.stack:
            raise NotPlain("stack underflow")
        return self.stack.pop()

    def num(self) -> float:
        v = self.pop()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise NotPlain("a number was expected")
        return float(v)

    def nums(self, n) -> list:
        out = [self.num() for _ in range(n)]
        out.reverse()
        return out

    # -- painting ------------------------------------------------------------------------------------
    def mark(self, box, exact_box, cls, lower, exact):
        if self.ink is None:
            raise NotPlain("marks outside the pages")
        g = self.gs
        pdfcolour.record_mark(self.ink, g.clip, g.clip_exact, g.opaque, box, exact_box, cls, lower, exact)

    def path_box(self):
        pts = self.gs.path
        if not pts:
            return None
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        return (min(xs), min(ys), max(xs), max(ys))

    def add_point(self, x, y, new=False):
        dx, dy = apply(self.gs.ctm, x, y)
        if not (pdfcolour._finite(dx) and pdfcolour._finite(dy)):
            raise NotPlain("coordinates out of range")
        self.gs.path.append((dx, dy))
        self.gs.point = (x, y)


_UNDEFINED = object()


def _share():

    return postscript.COLOUR_THRESHOLD


def _area(b):
    return pdfcolour.area(b)


def _inverse(m):
    a, b, c, d, e, f = m
    det = a * d - b * c
    if det == 0:
        raise NotPlain("a singular matrix")
    return (d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det)


def _matrix(v):
    if not isinstance(v, list) or len(v) != 6 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise NotPlain("a matrix was expected")
    return tuple(float(x) for x in v)


def _hsb(h, s, b):
    """PostScript's HSB to RGB."""
    h = (h % 1.0) * 6.0
    i = math.floor(h)
    f = h - i
    p, q, t = b * (1 - s), b * (1 - s * f), b * (1 - s * (1 - f))
    return [(b, t, p), (q, b, p), (p, b, t), (p, q, b), (t, p, b), (b, p, q)][int(i) % 6]


# -- operators ---------------------------------------------------------------------------------------

def _op_pop(m): m.pop()
def _op_exch(m): b, a = m.pop(), m.pop(); m.stack += [b, a]
def _op_dup(m): v = m.pop(); m.stack += [v, v]


def _op_copy(m):
    n = int(m.num())
    if n < 0 or n > len(m.stack):
        raise NotPlain("copy")
    if n:
        m.stack += m.stack[-n:]


def _op_index(m):
    n = int(m.num())
    if n < 0 or n >= len(m.stack):
        raise NotPlain("index")
    m.stack.append(m.stack[-1 - n])


def _op_roll(m):
    j, n = int(m.num()), int(m.num())
    if n < 0 or n > len(m.stack):
        raise NotPlain("roll")
    if n:
        part = m.stack[-n:]
        j %= n
        m.stack[-n:] = part[-j:] + part[:-j] if j else part


def _arith(fn):
    def op(m):
        b, a = m.num(), m.num()
        r = fn(a, b)
        if not pdfcolour._finite(r):
            raise NotPlain("arithmetic out of range")
        m.stack.append(r)
    return op


def _op_neg(m): m.stack.append(-m.num())
def _op_abs(m): m.stack.append(abs(m.num()))
def _op_mark(m): m.stack.append(_MARK)


def _op_cleartomark(m):
    while m.stack:
        if m.pop() is _MARK:
            return
    raise NotPlain("cleartomark")


def _to_mark(m, what) -> list:
    """The operands above the topmost mark (taken off the stack with it), in order."""
    items = []
    while True:
        if not m.stack:
            raise NotPlain(f"{what} without a mark")
        v = m.stack.pop()
        if v is _MARK:
            break
        items.append(v)
    items.reverse()
    return items


def _op_close_array(m):
    m.stack.append(_to_mark(m, "]"))


def _op_close_dict(m):
    items = _to_mark(m, ">>")
    if len(items) % 2:
        raise NotPlain("a dictionary with an odd count")
    m.stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2) if isinstance(items[i], str)})


def _op_def(m):
    value, key = m.pop(), m.pop()
    if not isinstance(key, str):
        raise NotPlain("def of a key that is not a name")
    m.names[str(key)] = value


def _op_bind(m):
    v = m.pop()
    if not isinstance(v, Procedure):
        raise NotPlain("bind")
    m.stack.append(v)


def _op_load(m):
    key = m.pop()
    if not isinstance(key, str):
        raise NotPlain("load")
    value = m.names.get(str(key), _UNDEFINED)
    if value is _UNDEFINED:
        op = _OPERATORS.get(str(key))
        if op is None:
            raise NotPlain(f"load {key}")
        value = op
    m.stack.append(value)


def _op_exec(m):
    v = m.pop()
    if isinstance(v, Procedure):
        m.call(v, 1)
    elif callable(v):
        v(m)
    else:
        m.stack.append(v)


def _op_dict(m):
    m.num()
    m.stack.append({})


def _op_begin(m):
    if not isinstance(m.pop(), dict):
        raise NotPlain("begin")


def _op_noop(m):
    pass


def _push_dict(m): m.stack.append({})


def _op_gsave(m):
    if len(m.saved) > 256:
        raise NotPlain("gsave nested too deeply")
    m.saved.append(m.gs.copy())


def _op_grestore(m):
    if m.saved:
        m.gs = m.saved.pop()


def _op_save(m):
    _op_gsave(m)
    m.stack.append(_Save())


def _op_restore(m):
    if not isinstance(m.pop(), _Save):
        raise NotPlain("restore")
    _op_grestore(m)


def _op_translate(m):
    if m.stack and isinstance(m.stack[-1], list):
        raise NotPlain("translate into a matrix")
    x, y = m.nums(2)
    m.gs.ctm = multiply((1, 0, 0, 1, x, y), m.gs.ctm)


def _op_scale(m):
    if m.stack and isinstance(m.stack[-1], list):
        raise NotPlain("scale into a matrix")
    x, y = m.nums(2)
    m.gs.ctm = multiply((x, 0, 0, y, 0, 0), m.gs.ctm)


def _op_rotate(m):
    if m.stack and isinstance(m.stack[-1], list):
        raise NotPlain("rotate into a matrix")
    a = math.radians(m.num())
    c, s = math.cos(a), math.sin(a)
    m.gs.ctm = multiply((c, s, -s, c, 0, 0), m.gs.ctm)


def _op_concat(m):
    m.gs.ctm = multiply(_matrix(m.pop()), m.gs.ctm)


def _op_matrix(m): m.stack.append([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
def _op_setlinewidth(m): m.gs.line_width = m.num()
def _op_pop_num(m): m.num()
def _op_pop_any(m): m.pop()


def _op_setdash(m):
    m.num()
    if not isinstance(m.pop(), list):
        raise NotPlain("setdash")


def _set_colour(m, space, cls):
    m.gs.space = space
    m.gs.fill = cls


def _op_setgray(m):
    m.num()
    _set_colour(m, "gray", NEUTRAL)


def _op_setrgbcolor(m):
    r, g, b = m.nums(3)
    _set_colour(m, "rgb", classify_rgb(r, g, b))


def _op_setcmykcolor(m):
    c, mm, y, k = m.nums(4)
    _set_colour(m, "cmyk", classify_cmy(c, mm, y))


def _op_sethsbcolor(m):
    h, s, b = m.nums(3)
    _set_colour(m, "rgb", classify_rgb(*_hsb(h, s, b)))


_SPACES = {"DeviceGray": ("gray", 1), "DeviceRGB": ("rgb", 3), "DeviceCMYK": ("cmyk", 4)}


def _op_setcolorspace(m):
    v = m.pop()
    name = v[0] if isinstance(v, list) and len(v) == 1 else v
    if not isinstance(name, str) or str(name) not in _SPACES:
        raise NotPlain("a colour space other than a device one")
    space = _SPACES[str(name)][0]
    _set_colour(m, space, NEUTRAL)  # the initial colour is black


def _op_setcolor(m):
    space = m.gs.space
    if space == "gray":
        _op_setgray(m)
    elif space == "rgb":
        _op_setrgbcolor(m)
    else:
        _op_setcmykcolor(m)


def _op_setblackgeneration(m):
    # Ghostscript's inkcov run keeps neutrals black whatever the job asks (postscript._INKCOV_SETUP)
    if not isinstance(m.pop(), Procedure):
        raise NotPlain("setblackgeneration")


def _op_setoverprint(m):
    if m.pop() is True:
        m.gs.opaque = False


def _op_newpath(m):
    m.gs.path = []
    m.gs.point = None


def _op_moveto(m):
    x, y = m.nums(2)
    m.add_point(x, y)


def _op_rmoveto(m):
    dx, dy = m.nums(2)
    if m.gs.point is None:
        raise NotPlain("no current point")
    m.add_point(m.gs.point[0] + dx, m.gs.point[1] + dy)


def _op_lineto(m):
    if m.gs.point is None:
        raise NotPlain("no current point")
    _op_moveto(m)


_op_rlineto = _op_rmoveto


def _op_curveto(m):
    if m.gs.point is None:
        raise NotPlain("no current point")
    v = m.nums(6)
    for i in range(0, 6, 2):
        m.add_point(v[i], v[i + 1])


def _op_rcurveto(m):
    if m.gs.point is None:
        raise NotPlain("no current point")
    v = m.nums(6)
    x0, y0 = m.gs.point
    for i in range(0, 6, 2):
        m.add_point(x0 + v[i], y0 + v[i + 1])


def _op_arc(m):
    x, y, r, a1, a2 = m.nums(5)
    for dx, dy in ((-r, -r), (r, r), (-r, r), (r, -r)):
        m.add_point(x + dx, y + dy)
    m.gs.point = (x + r * math.cos(math.radians(a2)), y + r * math.sin(math.radians(a2)))


def _op_closepath(m):
    pass


def _paint(m, stroke):
    box = m.path_box()
    if box is None:
        return
    g = m.gs
    if stroke:
        sx = math.hypot(g.ctm[0], g.ctm[1])
        sy = math.hypot(g.ctm[2], g.ctm[3])
        reach = abs(g.line_width) * max(sx, sy) / 2 * 10.0
        box = pdfcolour._grow(box, reach)
    m.mark(box, None, g.fill, 0.0, False)
    _op_newpath(m)


def _op_fill(m): _paint(m, False)
def _op_stroke(m): _paint(m, True)


def _rect(m):
    top = m.stack[-1] if m.stack else None
    if isinstance(top, (list, bytes)):
        raise NotPlain("rectangles given as an array or string")
    x, y, w, h = m.nums(4)
    return x, y, w, h


def _op_rectfill(m):
    x, y, w, h = _rect(m)
    g = m.gs
    box = box_of(g.ctm, min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h))
    exact = axis_aligned(g.ctm)
    lower = max(0.0, box[2] - box[0] - 1) * max(0.0, box[3] - box[1] - 1) if exact else 0.0
    m.mark(box, box if exact else None, g.fill, lower, exact)


def _op_rectstroke(m):
    if m.stack and isinstance(m.stack[-1], list):
        raise NotPlain("rectstroke with a matrix")
    x, y, w, h = _rect(m)
    g = m.gs
    box = box_of(g.ctm, min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h))
    sx = math.hypot(g.ctm[0], g.ctm[1])
    sy = math.hypot(g.ctm[2], g.ctm[3])
    m.mark(pdfcolour._grow(box, abs(g.line_width) * max(sx, sy) / 2 * 10.0), None, g.fill, 0.0, False)


def _clip_to(m, box, exact):
    g = m.gs
    g.clip = intersect(g.clip, pdfcolour._grow(box, 1.0)) if box is not None else None
    g.clip_exact = g.clip_exact and exact
    if g.clip is None:
        g.clip = (0.0, 0.0, 0.0, 0.0)


def _op_clip(m):
    _clip_to(m, m.path_box(), False)


def _op_rectclip(m):
    x, y, w, h = _rect(m)
    g = m.gs
    _clip_to(m, box_of(g.ctm, min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h)), axis_aligned(g.ctm))
    _op_newpath(m)


def _op_findfont(m):
    if not isinstance(m.pop(), str):
        raise NotPlain("findfont")
    m.stack.append(_Font(1.0))


def _op_scalefont(m):
    n = m.num()
    font = m.pop()
    if not isinstance(font, _Font):
        raise NotPlain("scalefont")
    m.stack.append(_Font(font.size * abs(n)))


def _op_makefont(m):
    mat = _matrix(m.pop())
    font = m.pop()
    if not isinstance(font, _Font):
        raise NotPlain("makefont")
    m.stack.append(_Font(font.size * max(math.hypot(mat[0], mat[1]), math.hypot(mat[2], mat[3]))))


def _op_setfont(m):
    font = m.pop()
    if not isinstance(font, _Font):
        raise NotPlain("setfont")
    m.gs.font_size = font.size


def _op_selectfont(m):
    v = m.pop()
    if isinstance(v, list):
        raise NotPlain("selectfont with a matrix")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise NotPlain("selectfont")
    if not isinstance(m.pop(), str):
        raise NotPlain("selectfont")
    m.gs.font_size = abs(float(v))


def _show(m, string, extra_numbers=0):
    g = m.gs
    if not isinstance(string, bytes):
        raise NotPlain("show of something not a string")
    if g.font_size is None or g.point is None:
        raise NotPlain("show with no font or no current point")
    size = g.font_size
    x, y = g.point
    advance = len(string) * size * 1.2 + extra_numbers
    box = box_of(g.ctm, x - size, y - size * 0.6 - 1, x + advance + size, y + size * 1.2 + 1)
    m.mark(box, None, g.fill, 0.0, False)
    g.point = (x + advance, y)
    g.path = [apply(g.ctm, *g.point)]


def _op_show(m): _show(m, m.pop())


def _op_ashow(m):
    s = m.pop()
    ax, ay = m.nums(2)
    _show(m, s, abs(ax) * len(s) if isinstance(s, bytes) else 0)


def _op_widthshow(m):
    s = m.pop()
    m.num()
    cx, cy = m.nums(2)
    _show(m, s, abs(cx) * len(s) if isinstance(s, bytes) else 0)


def _op_awidthshow(m):
    s = m.pop()
    ax, ay = m.nums(2)
    m.num()
    cx, cy = m.nums(2)
    _show(m, s, (abs(ax) + abs(cx)) * len(s) if isinstance(s, bytes) else 0)


def _op_xshow(m):
    widths = m.pop()
    s = m.pop()
    if isinstance(widths, bytes) or not isinstance(widths, list):
        raise NotPlain("xshow with encoded widths")
    _show(m, s, sum(abs(float(w)) for w in widths if isinstance(w, (int, float))))


def _op_glyphshow(m):
    if not isinstance(m.pop(), str):
        raise NotPlain("glyphshow")
    _show(m, b"x")


def _data_source(m, src, need):
    """The samples an image reads from ``src``: a string, or a procedure that only pushes one
    string (read again and again)."""
    if isinstance(src, Procedure) and len(src) == 1 and isinstance(src[0], bytes):
        src = src[0]
    if not isinstance(src, bytes):
        raise NotPlain("image data read other than from a string")
    if not src:
        raise NotPlain("image data from an empty string")
    if len(src) >= need:
        return src[:need]
    return (src * (need // len(src) + 1))[:need]


def _image(m, width, height, bpc, matrix, samples_cls):
    g = m.gs
    if width <= 0 or height <= 0:
        return
    unit = multiply(multiply((width, 0, 0, height, 0, 0), _inverse(matrix)), g.ctm)
    box = box_of(unit, 0, 0, 1, 1)
    cls, mask = samples_cls
    info = _Image(cls, mask, width, height)
    lower = image_lower(info, unit) if cls == COLOUR else 0.0
    exact = axis_aligned(unit)
    m.mark(box, box if exact else None, cls, lower, exact)


def _op_image(m):
    if m.stack and isinstance(m.stack[-1], dict):
        raise NotPlain("image with a dictionary")
    src = m.pop()
    matrix = _matrix(m.pop())
    width, height, bpc = (int(v) for v in m.nums(3))
    if width <= 0 or height <= 0 or width * height > pdfcolour.IMAGE_SAMPLE_LIMIT:
        raise NotPlain("image size")
    _data_source(m, src, 0 if True else 0) if isinstance(src, bytes) and not src else None
    if not (isinstance(src, bytes) or (isinstance(src, Procedure) and len(src) == 1 and isinstance(src[0], bytes))):
        raise NotPlain("image data read other than from a string")
    _image(m, width, height, bpc, matrix, (NEUTRAL, None))  # the operand form reads DeviceGray


def _op_colorimage(m):
    ncomp = int(m.num())
    multi = m.pop()
    if ncomp not in (1, 3, 4) or not isinstance(multi, bool):
        raise NotPlain("colorimage")
    sources = [m.pop() for _ in range(ncomp if multi else 1)]
    sources.reverse()
    matrix = _matrix(m.pop())
    width, height, bpc = (int(v) for v in m.nums(3))
    if width <= 0 or height <= 0 or width * height > pdfcolour.IMAGE_SAMPLE_LIMIT:
        raise NotPlain("image size")
    if ncomp == 1:
        for src in sources:
            _data_source(m, src, 1)
        _image(m, width, height, bpc, matrix, (NEUTRAL, None))
        return
    if bpc != 8:
        raise NotPlain("colour image samples of other than 8 bits")
    if multi:
        planes = [_data_source(m, src, width * height) for src in sources]
        samples = bytes(b for pixel in zip(*planes) for b in pixel)
    else:
        samples = _data_source(m, sources[0], width * height * ncomp)
    _image(m, width, height, bpc, matrix, _samples_class(samples, width, height, ncomp))


def _samples_class(samples, width, height, ncomp):
    """The class of an image's 8-bit samples and its colour mask (as pdfcolour judges them)."""
    from PIL import Image, ImageChops

    if ncomp == 3:
        r, g, b = Image.frombytes("RGB", (width, height), samples).split()
        levels = ImageChops.lighter(ImageChops.lighter(ImageChops.difference(r, g), ImageChops.difference(g, b)),
                                    ImageChops.difference(r, b))
    else:
        c, mm, y, _ = Image.frombytes("CMYK", (width, height), samples).split()
        levels = ImageChops.lighter(ImageChops.lighter(c, mm), y)
    colour, maybe = pdfcolour._threshold(levels, False)
    if colour.histogram()[255]:
        return COLOUR, colour
    if maybe.histogram()[255]:
        return MAYBE, None
    return NEUTRAL, None


def _op_imagemask(m):
    if m.stack and isinstance(m.stack[-1], dict):
        raise NotPlain("imagemask with a dictionary")
    src = m.pop()
    matrix = _matrix(m.pop())
    polarity = m.pop()
    width, height = (int(v) for v in m.nums(2))
    if not isinstance(polarity, bool):
        raise NotPlain("imagemask")
    _data_source(m, src, 1)
    unit = multiply(multiply((width, 0, 0, height, 0, 0), _inverse(matrix)), m.gs.ctm)
    m.mark(box_of(unit, 0, 0, 1, 1), None, m.gs.fill, 0.0, False)


def _op_showpage(m):
    if m.ink is None:
        raise NotPlain("showpage outside the pages")
    m.shown += 1
    if m.counting:
        if not m.size_set:
            raise NotPlain("a page printed with no page size set")
        copies = m.num_copies
        if copies is None:
            hash_copies = m.names.get("#copies")
            if isinstance(hash_copies, (int, float)) and not isinstance(hash_copies, bool):
                copies = int(hash_copies)
        if copies is not None and copies < 1:
            raise NotPlain("a page printed no time")
        m.printed.append((copies, m.duplex, m.page_box[2], m.page_box[3], m.ink.verdict()))
        m.ink = PageInk(m.page_box, _share() * _area(m.page_box))
    g = m._initial()
    m.gs = g


def _op_setpagedevice(m):
    d = m.pop()
    if not isinstance(d, dict):
        raise NotPlain("setpagedevice")
    if "NumCopies" in d:
        n = d["NumCopies"]
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, float))):
            raise NotPlain("NumCopies")
        m.num_copies = None if n is None else int(n)
    if "Duplex" in d:
        if not isinstance(d["Duplex"], bool):
            raise NotPlain("Duplex")
        m.duplex = d["Duplex"]
    size = d.get("PageSize")
    if size is not None:
        if not isinstance(size, list) or len(size) < 2:
            raise NotPlain("PageSize")
        w, h = float(size[0]), float(size[1])
        m.page_box = (0.0, 0.0, w, h)
        m.size_set = True
        if m.ink is not None:
            if m.ink.marks or m.ink.upper_dropped:
                raise NotPlain("a page size set after marks")
            m.ink = PageInk(m.page_box, _share() * _area(m.page_box))
        m.gs = m._initial()
    elif d.get("EndPage") is not None or d.get("BeginPage") is not None:
        raise NotPlain("the job installs its own page procedures")


def _op_true(m): m.stack.append(True)
def _op_false(m): m.stack.append(False)
def _op_null(m): m.stack.append(None)
def _op_cvi(m): m.stack.append(int(m.num()))
def _op_cvr(m): m.stack.append(m.num())


_OPERATORS = {
    "pop": _op_pop, "exch": _op_exch, "dup": _op_dup, "copy": _op_copy, "index": _op_index, "roll": _op_roll,
    "add": _arith(lambda a, b: a + b), "sub": _arith(lambda a, b: a - b), "mul": _arith(lambda a, b: a * b),
    "div": _arith(lambda a, b: a / b), "neg": _op_neg, "abs": _op_abs, "cvi": _op_cvi, "cvr": _op_cvr,
    "mark": _op_mark, "[": _op_mark, "<<": _op_mark, "]": _op_close_array, ">>": _op_close_dict,
    "cleartomark": _op_cleartomark, "def": _op_def, "bind": _op_bind, "load": _op_load, "exec": _op_exec,
    "dict": _op_dict, "begin": _op_begin, "end": _op_noop, "userdict": _push_dict, "currentdict": _push_dict,
    "globaldict": _push_dict,
    "gsave": _op_gsave, "grestore": _op_grestore, "save": _op_save, "restore": _op_restore,
    "translate": _op_translate, "scale": _op_scale, "rotate": _op_rotate, "concat": _op_concat, "matrix": _op_matrix,
    "setlinewidth": _op_setlinewidth, "setlinecap": _op_pop_num, "setlinejoin": _op_pop_num,
    "setmiterlimit": _op_pop_num, "setflat": _op_pop_num, "setdash": _op_setdash, "setstrokeadjust": _op_pop_any,
    "setgray": _op_setgray, "setrgbcolor": _op_setrgbcolor, "setcmykcolor": _op_setcmykcolor,
    "sethsbcolor": _op_sethsbcolor, "setcolorspace": _op_setcolorspace, "setcolor": _op_setcolor,
    "setblackgeneration": _op_setblackgeneration, "setundercolorremoval": _op_setblackgeneration,
    "setoverprint": _op_setoverprint,
    "newpath": _op_newpath, "moveto": _op_moveto, "rmoveto": _op_rmoveto, "lineto": _op_lineto,
    "rlineto": _op_rlineto, "curveto": _op_curveto, "rcurveto": _op_rcurveto, "arc": _op_arc, "arcn": _op_arc,
    "closepath": _op_closepath, "fill": _op_fill, "eofill": _op_fill, "stroke": _op_stroke,
    "rectfill": _op_rectfill, "rectstroke": _op_rectstroke, "clip": _op_clip, "eoclip": _op_clip,
    "rectclip": _op_rectclip,
    "findfont": _op_findfont, "scalefont": _op_scalefont, "makefont": _op_makefont, "setfont": _op_setfont,
    "selectfont": _op_selectfont, "show": _op_show, "ashow": _op_ashow, "widthshow": _op_widthshow,
    "awidthshow": _op_awidthshow, "xshow": _op_xshow, "yshow": _op_xshow, "xyshow": _op_xshow,
    "glyphshow": _op_glyphshow,
    "image": _op_image, "colorimage": _op_colorimage, "imagemask": _op_imagemask,
    "showpage": _op_showpage, "setpagedevice": _op_setpagedevice,
    "true": _op_true, "false": _op_false, "null": _op_null,
}


# -- ps2write: the PDF a PostScript prolog carries ----------------------------------------------------

_PS2WRITE = re.compile(rb"%%Creator:[^\r\n]*\(ps2write\)")
_OBJ = re.compile(rb"(?m)^(\d+) (\d+) obj\b")
_PAGE_OBJ = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")


def ps2write_colours(data: bytes, pages: int, operations=None):
    """Per-page colour of ``ps2write`` output from the PDF objects it carries; False when the
    section is not such output, None when it is but cannot be decided here."""
    head = data[:4096]
    if not _PS2WRITE.search(head) or b"/DSC_OPDFREAD true def" not in data[:65536]:
        return False
    end_prolog = data.find(b"\n%%EndProlog")
    if end_prolog < 0:
        return None
    try:
        pdf_bytes, order = _carried_pdf(data, end_prolog, pages)
    except NotPlain:
        return None

    operations = operations or pdfcontent.operations
    plain = pdfobjects.open_plain_bytes(pdf_bytes)
    verdicts = None
    if plain is not None:
        doc, pages, _ = plain
        try:
            walk = pdfcolour.DocumentColour(doc, operations, _share())
            verdicts = [walk.page(page) for page in pages]
        except pdfobjects.Unreadable:
            verdicts = None
        if doc.failed:
            verdicts = None
    if verdicts is None:
        verdicts = _carried_pdf_by_qpdf(pdf_bytes, order, operations)
    if any(v is None for v in verdicts):
        return None
    return verdicts


def _carried_pdf_by_qpdf(pdf_bytes, order, operations):
    import io

    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(pdf_bytes), suppress_warnings=True) as pdf:
            doc = pdfcolour.DocumentColour(pdf, operations, _share())
            return [doc.page(pikepdf.Page(pdf.get_object((num, 0)))) for num in order]
    except Exception:
        return [None]


def _carried_pdf(data, start, pages):
    """A PDF file made of the objects in ``data``, and the page objects in page order (one
    in each page after the prolog, which ends at ``start``)."""
    objects: dict[int, bytes] = {}
    order: list[int] = []
    page_starts = [m.start() for m in re.finditer(rb"(?m)^%%Page:", data[start:])]
    if len(page_starts) != pages:
        raise NotPlain("pages")
    bounds = [start + p for p in page_starts] + [len(data)]
    # the prolog carries the shared objects (fonts, resources) too, after its procedures,
    # each in a resource of its own
    found = [i for i in (data.find(b"\n%%BeginResource: procset (PDF ", 0, start),
                         data.find(b"\n%%BeginResource: file (PDF ", 0, start)) if i >= 0]
    pos = min(found) if found else start
    while True:
        m = _OBJ.search(data, pos)
        if m is None:
            break
        num = int(m.group(1))
        body_start = m.end()
        length = _LENGTH.search(data, body_start, body_start + 512)
        stream = data.find(b"stream", body_start, body_start + 4096)
        endobj = data.find(b"endobj", body_start)
        if endobj < 0:
            raise NotPlain("an object without endobj")
        if stream >= 0 and stream < endobj and length is not None:
            data_at = stream + 6
            if data.startswith(b"\r\n", data_at):
                data_at += 2
            elif data[data_at:data_at + 1] in (b"\n", b"\r"):
                data_at += 1
            endobj = data.find(b"endobj", data_at + int(length.group(1)))
            if endobj < 0:
                raise NotPlain("a stream without endobj")
        text = data[m.start():endobj + 6]
        objects[num] = text
        if _PAGE_OBJ.search(data, body_start, min(endobj, body_start + 4096)) and b"stream" not in data[body_start:min(endobj, body_start + 64)]:
            for i in range(pages):
                if bounds[i] <= m.start() < bounds[i + 1]:
                    if len(order) != i:
                        raise NotPlain("page objects out of order")
                    order.append(num)
                    break
        pos = endobj + 6
    if len(order) != pages:
        raise NotPlain("not one page object per page")
    out = bytearray(b"%PDF-1.7\n")
    offsets: dict[int, int] = {}
    for num, text in objects.items():
        offsets[num] = len(out)
        out += text + b"\n"
    catalog = max(objects) + 1
    tree = catalog + 1
    offsets[catalog] = len(out)
    out += b"%d 0 obj\n<< /Type /Catalog /Pages %d 0 R >>\nendobj\n" % (catalog, tree)
    offsets[tree] = len(out)
    kids = b" ".join(b"%d 0 R" % n for n in order)
    out += b"%d 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (tree, kids, len(order))
    xref = len(out)
    size = tree + 1
    out += b"xref\n0 %d\n" % size
    for n in range(size):
        out += (b"%010d 00000 n \n" % offsets[n]) if n in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, catalog, xref)
    return bytes(out), order
