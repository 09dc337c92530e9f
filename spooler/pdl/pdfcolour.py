"""PDF colour per page from the page's content, without rendering it (reference).

The price of a side depends on whether Ghostscript's ``inkcov`` device, rendering the page
at 72 dpi with neutrals sent to black ink only (``postscript.ink_coverage``), puts cyan,
magenta or yellow on at least ``COLOUR_THRESHOLD`` of the page's pixels. This module
decides the same question from the content: it walks the page's content streams (and the
form XObjects, patterns, shadings, Type 3 glyphs and printing annotations they reach)
with a graphics state (CTM, clip, colour spaces and colours, transparency, text state),
and keeps, for every mark painted in a colour that is not neutral, the box it may cover
(an upper bound of its pixels) and the pixels it surely covers (a lower bound: an
axis-aligned filled rectangle, or the image samples that are colour, counted in blocks that
surely hold a pixel centre), less whatever was painted over it later. Then:

* every colour mark together covers less than the threshold → mono (a page with no colour
  mark at all is mono: neutral colours are exact zeros in ``inkcov``);
* one colour mark surely covers more than it → colour;
* otherwise the walk cannot tell → ``None``: that page (and only it) is rendered with
  Ghostscript (``pdf.count_pages``).

What is neutral follows Ghostscript's fast colour conversion, where C, M and Y are exactly
zero for gray, for RGB with r = g = b and for CMYK with c = m = y = 0, and a difference is
lost in its 15-bit fractions when below 1/256: a colour whose components differ by less
than ``NEUTRAL_BAND`` (but not by nothing) is neither, and leaves the page to Ghostscript.
Colour spaces: DeviceGray/RGB/CMYK; ICCBased by its component count (with the default
range; another range is left undecided); CalGray; Indexed by its palette; Separation and
DeviceN by their colorants (Black and None are neutral, Cyan/Magenta/Yellow/All are colour)
or else by their tint transform (types 2 and 3 are evaluated; others leave it undecided);
Lab, CalRGB and anything else are undecided. Images are decoded (pikepdf/qpdf for their
filters, Pillow for DCT) and their samples compared; JPX, 16-bit, odd Decode arrays and
soft masks leave colour marks without a lower bound.

What would change the answer and is not modelled (transparency groups in a gray blending
space, blend modes other than Normal, soft masks, constant alpha, overprint, transfer
functions, optional content, annotations without an appearance, curves and glyphs whose
exact pixels are unknown) never leads to a wrong verdict: it only removes lower bounds or
marks the page undecided, and Ghostscript decides.
"""
from __future__ import annotations

import math

from spooler.pdl import pdfobjects

#: Components differing by less than this (but not by nothing) may or may not be zero after
#: Ghostscript's 15-bit fractions and 8-bit device values: undecided.
NEUTRAL_BAND = 0.0045
#: Images larger than this (samples) are not decoded: their colour marks have no lower bound.
IMAGE_SAMPLE_LIMIT = 16_000_000
#: Nesting of forms, patterns, glyphs and annotations followed.
DEPTH_LIMIT = 12
#: Operations interpreted for one document (beyond: pages left to Ghostscript).
WORK_LIMIT = 3_000_000
#: Colour marks kept one by one per page (the rest count only towards the upper bound).
MARK_LIMIT = 256

NEUTRAL, COLOUR, MAYBE, NOTHING = 0, 1, 2, 3


class Undecided(Exception):
    """The walk cannot decide this page (the reason is the message): Ghostscript will."""


# -- colour spaces ----------------------------------------------------------------------------------

def _clamp(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if v < 0 or v != v else (1.0 if v > 1 else v)


def classify_rgb(r, g, b) -> int:
    r, g, b = _clamp(r), _clamp(g), _clamp(b)
    d = max(r, g, b) - min(r, g, b)
    return NEUTRAL if d == 0 else (COLOUR if d >= NEUTRAL_BAND else MAYBE)


def classify_cmy(c, m, y) -> int:
    top = max(_clamp(c), _clamp(m), _clamp(y))
    return NEUTRAL if top == 0 else (COLOUR if top >= NEUTRAL_BAND else MAYBE)


class Space:
    """A resolved colour space: ``n`` components and how a colour in it is judged."""

    kind = "maybe"

    def __init__(self, n: int):
        self.n = n

    def classify(self, comps) -> int:
        return MAYBE

    def initial(self) -> list:
        return [0.0] * self.n


class Gray(Space):
    kind = "gray"

    def __init__(self):
        super().__init__(1)

    def classify(self, comps) -> int:
        return NEUTRAL


class Rgb(Space):
    kind = "rgb"

    def __init__(self):
        super().__init__(3)

    def classify(self, comps) -> int:
        if len(comps) < 3:
            return MAYBE
        return classify_rgb(comps[0], comps[1], comps[2])


class Cmyk(Space):
    kind = "cmyk"

    def __init__(self):
        super().__init__(4)

    def classify(self, comps) -> int:
        if len(comps) < 4:
            return MAYBE
        return classify_cmy(comps[0], comps[1], comps[2])

    def initial(self) -> list:
        return [0.0, 0.0, 0.0, 1.0]


GRAY, RGB, CMYK = Gray(), Rgb(), Cmyk()


class Indexed(Space):
    kind = "indexed"

    def __init__(self, base: Space, palette: list[int]):
        super().__init__(1)
        self.base = base
        self.palette = palette  # class of each index

    def classify(self, comps) -> int:
        if not comps:
            return MAYBE
        try:
            i = int(comps[0])
        except (TypeError, ValueError):
            return MAYBE
        i = min(max(i, 0), len(self.palette) - 1)
        return self.palette[i] if self.palette else MAYBE


class Tinted(Space):
    """Separation (one colorant) or DeviceN: by colorant names, else by tint transform."""

    kind = "tinted"

    def __init__(self, names: list[str], alternate: Space, function):
        super().__init__(len(names))
        self.names = names
        self.alternate = alternate
        self.function = function

    def initial(self) -> list:
        return [1.0] * self.n

    def classify(self, comps) -> int:
        names = self.names
        if len(comps) < self.n:
            return MAYBE
        if all(name in _PROCESS for name in names):
            if "All" in names:
                return NEUTRAL if max(_clamp(c) for c in comps) == 0 else MAYBE if max(_clamp(c) for c in comps) < NEUTRAL_BAND else COLOUR
            colour = [_clamp(c) for c, name in zip(comps, names) if name in ("Cyan", "Magenta", "Yellow")]
            return classify_cmy(*(colour + [0, 0, 0])[:3]) if colour else NEUTRAL
        if self.function is None:
            return MAYBE
        try:
            out = self.function([float(c) for c in comps[:self.n]])
        except (ArithmeticError, ValueError, TypeError, IndexError):
            return MAYBE
        if out is None:
            return MAYBE
        return self.alternate.classify(out)


_PROCESS = {"Cyan", "Magenta", "Yellow", "Black", "None", "All"}


class Pattern(Space):
    kind = "pattern"

    def __init__(self, underlying: Space | None):
        super().__init__(underlying.n if underlying is not None else 0)
        self.underlying = underlying


# -- functions (tint transforms, shadings) ------------------------------------------------------

def make_function(obj, depth=0):
    """A callable for a PDF function of type 2 or 3 (of those), or None."""
    if depth > 4:
        return None
    try:
        kind = int(obj.get("/FunctionType"))
    except Exception:
        return None
    try:
        domain = [float(v) for v in obj.get("/Domain", [0, 1])]
    except Exception:
        return None
    if kind == 2:
        try:
            c0 = [float(v) for v in obj.get("/C0", [0.0])]
            c1 = [float(v) for v in obj.get("/C1", [1.0])]
            n = float(obj.get("/N"))
        except Exception:
            return None
        if len(c0) != len(c1):
            return None

        def exponential(x, c0=c0, c1=c1, n=n, lo=domain[0], hi=domain[1] if len(domain) > 1 else 1.0):
            t = min(max(x[0], lo), hi)
            p = t ** n if t > 0 or n >= 1 else (0.0 if n > 0 else 1.0)
            return [a + p * (b - a) for a, b in zip(c0, c1)]
        return exponential
    if kind == 3:
        try:
            parts = [make_function(f, depth + 1) for f in obj.get("/Functions")]
            bounds = [float(v) for v in obj.get("/Bounds", [])]
            encode = [float(v) for v in obj.get("/Encode")]
        except Exception:
            return None
        if any(p is None for p in parts) or len(bounds) != len(parts) - 1 or len(encode) < 2 * len(parts):
            return None

        def stitching(x, parts=parts, bounds=bounds, encode=encode, lo=domain[0], hi=domain[1] if len(domain) > 1 else 1.0):
            t = min(max(x[0], lo), hi)
            i = 0
            while i < len(bounds) and t >= bounds[i]:
                i += 1
            a = lo if i == 0 else bounds[i - 1]
            b = hi if i == len(bounds) else bounds[i]
            e0, e1 = encode[2 * i], encode[2 * i + 1]
            u = e0 if b == a else e0 + (t - a) * (e1 - e0) / (b - a)
            return parts[i]([u])
        return stitching
    return None


# -- geometry -----------------------------------------------------------------------------------------

IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def multiply(m, n):
    """m × n (m applied first)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def apply(m, x, y):
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def box_of(m, x0, y0, x1, y1):
    """The device box of the user rectangle (x0, y0)-(x1, y1) under ``m``."""
    pts = [apply(m, x0, y0), apply(m, x1, y0), apply(m, x0, y1), apply(m, x1, y1)]
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return (min(xs), min(ys), max(xs), max(ys))


def axis_aligned(m) -> bool:
    return (abs(m[1]) < 1e-9 and abs(m[2]) < 1e-9) or (abs(m[0]) < 1e-9 and abs(m[3]) < 1e-9)


def intersect(a, b):
    if a is None:
        return b
    if b is None:
        return a
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def area(bx) -> float:
    return 0.0 if bx is None else (bx[2] - bx[0]) * (bx[3] - bx[1])


def contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _finite(v) -> bool:
    return v == v and abs(v) < 1e12


# -- the ink of one page -------------------------------------------------------------------------------

class PageInk:
    """Colour marks of one page: ``[box, lower, upper]`` each, in device pixels at 72 dpi."""

    def __init__(self, box, threshold: float):
        self.box = box
        self.threshold = threshold
        self.marks: list[list] = []
        self.upper_dropped = 0.0
        self.saw_colour = False

    def paint(self, box, certain_box, cls: int, lower: float, knockout: bool) -> None:
        """A mark whose shape lies in ``box`` (already clipped): the pixels it touches lie in
        ``box`` grown by a pixel each way. ``certain_box`` is what it surely covers when
        ``knockout`` (an opaque rectangle); ``lower`` its surely covered colour pixels."""
        if box is None:
            return
        for mark in self.marks:
            over = area(intersect(mark[0], box))
            if over > 0:
                mark[1] -= over
                if knockout and certain_box is not None and contains(certain_box, _grow(mark[0], 1.0)):
                    mark[2] = 0.0
        if cls not in (COLOUR, MAYBE):
            return
        self.saw_colour = True
        w, h = box[2] - box[0], box[3] - box[1]
        upper = w * h + 2 * (w + h) + 4
        mark = [box, lower if cls == COLOUR else 0.0, upper]
        if len(self.marks) >= MARK_LIMIT:
            weakest = min(range(len(self.marks)), key=lambda i: self.marks[i][1])
            if self.marks[weakest][1] < mark[1]:
                self.upper_dropped += self.marks[weakest][2]
                self.marks[weakest] = mark
            else:
                self.upper_dropped += upper
            return
        self.marks.append(mark)

    def verdict(self):
        upper = self.upper_dropped + sum(m[2] for m in self.marks)
        if upper <= 0.8 * self.threshold:
            return False
        if any(m[1] >= 1.25 * self.threshold + 2 for m in self.marks):
            return True
        return None


def record_mark(ink: PageInk, clip, clip_exact: bool, sure: bool, box, exact_box, cls: int, lower: float,
                exact: bool) -> None:
    """Paint a mark whose shape lies in ``box`` through the clip: ``exact_box`` is the
    rectangle it surely covers when ``exact``, ``lower`` its surely covered colour pixels.
    A mark that is not ``sure`` to paint as drawn (transparency, overprint, optional content,
    a group that may blend colour away) hides nothing for sure and is at most MAYBE colour."""
    visible = intersect(box, clip)
    if visible is None:
        return
    if not sure:
        exact = False
        if cls == COLOUR:
            cls = MAYBE
    lost = area(box) - area(visible)
    knockout = exact and clip_exact
    certain = intersect(exact_box, clip) if knockout and exact_box is not None else None
    ink.paint(visible, certain, cls, max(0.0, lower - lost) if clip_exact else 0.0, knockout)


def _grow(bx, d):
    return (bx[0] - d, bx[1] - d, bx[2] + d, bx[3] + d)


# -- the walk ----------------------------------------------------------------------------------------

class _State:
    """The graphics state the walk needs (copied at ``q``, restored at ``Q``)."""

    __slots__ = ("ctm", "clip", "clip_exact", "fill_space", "fill", "stroke_space", "stroke", "line_width",
                 "miter", "join", "opaque", "hidden", "neutralised", "font", "size", "char_space", "word_space",
                 "scale", "rise", "render", "fill_class", "stroke_class")

    def copy(self):
        s = _State()
        s.ctm, s.clip, s.clip_exact = self.ctm, self.clip, self.clip_exact
        s.fill_space, s.fill, s.stroke_space, s.stroke = self.fill_space, self.fill, self.stroke_space, self.stroke
        s.line_width, s.miter, s.join = self.line_width, self.miter, self.join
        s.opaque, s.hidden, s.neutralised = self.opaque, self.hidden, self.neutralised
        s.font, s.size, s.char_space, s.word_space = self.font, self.size, self.char_space, self.word_space
        s.scale, s.rise, s.render = self.scale, self.rise, self.render
        s.fill_class, s.stroke_class = self.fill_class, self.stroke_class
        return s


def _name(obj) -> str | None:
    """A pikepdf name (or a content-stream name) without its slash."""
    if isinstance(obj, str):
        return obj[1:] if obj.startswith("/") else obj
    try:
        import pikepdf

        if isinstance(obj, pikepdf.Name):
            return str(obj)[1:]
    except ImportError:  # pragma: no cover
        pass
    return None


def _num(v, default=0.0) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return default
    return v if _finite(v) else default


_INLINE_SPACES = {"G": "DeviceGray", "RGB": "DeviceRGB", "CMYK": "DeviceCMYK", "I": "Indexed"}
_INLINE_KEYS = {"W": "/Width", "H": "/Height", "BPC": "/BitsPerComponent", "CS": "/ColorSpace", "D": "/Decode",
                "F": "/Filter", "DP": "/DecodeParms", "IM": "/ImageMask", "I": "/Interpolate", "L": "/Length"}
_INLINE_FILTERS = {"AHx": "ASCIIHexDecode", "A85": "ASCII85Decode", "LZW": "LZWDecode", "Fl": "FlateDecode",
                   "RL": "RunLengthDecode", "CCF": "CCITTFaxDecode", "DCT": "DCTDecode"}


class DocumentColour:
    """Per-page colour of one open PDF (``pikepdf.Pdf``), with what is shared between its pages
    (resolved colour spaces, analysed images, parsed forms) cached by object."""

    def __init__(self, pdf, operations, threshold_share: float):
        self.pdf = pdf
        self.operations = operations  # the content-stream byte loop (reference or Cython)
        self.share = threshold_share
        self.work = 0
        self.decoded = 0   # bytes qpdf decoded for the walk (bounded as ``pdfobjects`` bounds its own)
        self._ops: dict = {}
        self._images: dict = {}
        self._spaces: dict = {}
        self._patterns: dict = {}
        self._type3: dict = {}
        self._fonts: dict = {}
        self.optional_content = "/OCProperties" in pdf.Root

    # -- entry ------------------------------------------------------------------------------------
    def page(self, page):
        """True (colour), False (mono) or None (undecided) for one ``pikepdf.Page``."""
        obj = page.obj
        try:
            x0, y0, x1, y1 = (float(v) for v in page.mediabox)
            unit = float(obj.get("/UserUnit", 1))
        except Exception:
            return None
        if not all(_finite(v) for v in (x0, y0, x1, y1, unit)) or unit <= 0:
            return None
        base = (unit, 0.0, 0.0, unit, 0.0, 0.0)
        box = box_of(base, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if area(box) <= 0:
            return None
        ink = PageInk(box, self.share * area(box))
        try:
            walk = _Walk(self, ink, base, box)
            resources = obj.get("/Resources")
            walk.run(self._page_contents(obj), resources, 0)
            walk.annotations(obj)
        except Undecided:
            return None
        except RecursionError:
            return None
        return ink.verdict()

    def _page_contents(self, obj):
        contents = obj.get("/Contents")
        if contents is None:
            return []
        try:
            if _is_array(contents):
                data = b"\n".join(self.read(c) for c in contents if _is_stream(c))
            elif _is_stream(contents):
                data = self.read(contents)
            else:
                data = b""
        except Exception as exc:
            raise Undecided(f"content not readable: {type(exc).__name__}") from None
        return self._parse(data)

    def read(self, stream) -> bytes:
        """A stream's decoded data. Our own reading bounds what it inflates; qpdf's is given a
        stream only when its filters cannot decode it beyond what is left of the limit."""

        if isinstance(stream, pdfobjects.Stream):
            return stream.read_bytes()
        names = [pdfobjects._FULL.get(n, n) for n in _filters(stream)]
        bound = pdfobjects.most_decoded(len(stream.read_raw_bytes()), names)
        if bound is None or self.decoded + bound > pdfobjects.INFLATE_LIMIT:
            raise Undecided("a stream that may decode beyond the limit")
        data = stream.read_bytes()
        self.decoded += len(data)
        return data

    def _parse(self, data: bytes):
        try:
            ops = self.operations(data)
        except Exception as exc:
            raise Undecided(f"content not parsed: {type(exc).__name__}") from None
        self.work += len(ops)
        if self.work > WORK_LIMIT:
            raise Undecided("too much content to walk")
        return ops

    def stream_ops(self, stream):
        key = stream.objgen
        if key != (0, 0) and key in self._ops:
            self.work += len(self._ops[key])
            if self.work > WORK_LIMIT:
                raise Undecided("too much content to walk")
            return self._ops[key]
        try:
            data = self.read(stream)
        except Undecided:
            raise
        except Exception as exc:

            if isinstance(exc, pdfobjects.Unreadable):
                raise
            raise Undecided(f"stream not readable: {type(exc).__name__}") from None
        ops = self._parse(data)
        if key != (0, 0):
            self._ops[key] = ops
        return ops

    # -- colour spaces ------------------------------------------------------------------------------
    def space(self, obj, resources, depth=0) -> Space:
        """Resolve a colour space (a name, or an array) in ``resources``."""
        if depth > 6:
            return Space(1)
        name = _name(obj)
        if name is not None:
            if name in ("DeviceGray", "G", "CalGray"):
                return GRAY
            if name in ("DeviceRGB", "RGB"):
                return RGB
            if name in ("DeviceCMYK", "CMYK"):
                return CMYK
            if name == "Pattern":
                return Pattern(None)
            try:
                found = resources.get("/ColorSpace").get("/" + name) if resources is not None else None
            except Exception:
                found = None
            if found is None:
                # a Default space is used only when defined; a missing resource is an error gs skips
                raise Undecided(f"colour space {name} not found")
            return self.space(found, resources, depth + 1)
        key = getattr(obj, "objgen", (0, 0))
        if key != (0, 0) and key in self._spaces:
            return self._spaces[key]
        space = self._array_space(obj, resources, depth)
        if key != (0, 0):
            self._spaces[key] = space
        return space

    def _array_space(self, obj, resources, depth) -> Space:
        try:
            items = list(obj)
        except Exception:
            return Space(1)
        if not items:
            return Space(1)
        family = _name(items[0])
        if family in ("DeviceGray", "CalGray", "G"):
            return GRAY
        if family in ("DeviceRGB", "RGB"):
            return RGB
        if family in ("DeviceCMYK", "CMYK"):
            return CMYK
        if family == "ICCBased" and len(items) > 1:
            stream = items[1]
            try:
                n = int(stream.get("/N"))
            except Exception:
                return Space(3)
            rng = stream.get("/Range")
            if rng is not None:
                try:
                    values = [float(v) for v in rng]
                except Exception:
                    return Space(n)
                if values != [0.0, 1.0] * n:
                    return Space(n)
            return {1: GRAY, 3: RGB, 4: CMYK}.get(n, Space(n))
        if family in ("Indexed", "I") and len(items) >= 4:
            base = self.space(items[1], resources, depth + 1)
            try:
                hival = min(255, max(0, int(items[2])))
            except Exception:
                return Space(1)
            lookup = items[3]
            try:
                raw = lookup.read_bytes() if _is_stream(lookup) else bytes(lookup)
            except Exception:
                return Space(1)
            n = base.n
            palette = []
            for i in range(hival + 1):
                entry = raw[i * n:(i + 1) * n]
                if len(entry) < n:
                    palette.append(MAYBE)
                else:
                    palette.append(base.classify([b / 255.0 for b in entry]))
            return Indexed(base, palette)
        if family == "Separation" and len(items) >= 4:
            colorant = _name(items[1]) or ""
            alternate = self.space(items[2], resources, depth + 1)
            return Tinted([colorant], alternate, make_function(items[3]))
        if family == "DeviceN" and len(items) >= 4:
            try:
                names = [_name(v) or "" for v in items[1]]
            except Exception:
                return Space(1)
            alternate = self.space(items[2], resources, depth + 1)
            return Tinted(names, alternate, make_function(items[3]) if len(names) == 1 else None)
        if family == "Pattern":
            return Pattern(self.space(items[1], resources, depth + 1) if len(items) > 1 else None)
        n = {"Lab": 3, "CalRGB": 3}.get(family or "", 1)
        return Space(n)

    # -- images ---------------------------------------------------------------------------------------
    def image(self, stream, space: Space, inline=False):
        """``_Image`` facts of an image XObject (or an inline image's stream)."""
        key = None if inline else stream.objgen
        if key is not None and key in self._images:
            return self._images[key]
        info = _analyse_image(stream, space)
        if key is not None and key != (0, 0):
            self._images[key] = info
        return info

    def inline_stream(self, params: dict, data: bytes):
        if hasattr(self.pdf, "inline_stream"):  # pdfobjects
            return self.pdf.inline_stream({_INLINE_KEYS.get(k, "/" + k): _to_native(self.pdf, v, k in ("F", "CS", "Filter", "ColorSpace"))
                                           for k, v in params.items()}, data)
        import pikepdf

        d = {}
        for k, v in params.items():
            full = _INLINE_KEYS.get(k, "/" + k)
            d[full] = _to_pdf(v, full == "/Filter" or full == "/ColorSpace")
        stream = pikepdf.Stream(self.pdf, data)
        stream["/Type"] = pikepdf.Name("/XObject")
        stream["/Subtype"] = pikepdf.Name("/Image")
        for k, v in d.items():
            if k != "/Length":
                stream[k] = v
        return stream


def _to_pdf(v, abbreviations=False):
    import pikepdf

    if isinstance(v, str):
        if abbreviations:
            v = _INLINE_FILTERS.get(v, _INLINE_SPACES.get(v, v))
        return pikepdf.Name("/" + v)
    if isinstance(v, list):
        return pikepdf.Array([_to_pdf(x, abbreviations) for x in v])
    if isinstance(v, dict):
        return pikepdf.Dictionary({"/" + k: _to_pdf(x) for k, x in v.items()})
    if isinstance(v, bytes):
        return pikepdf.String(v)
    return v


def _to_native(doc, v, abbreviations=False):
    """An inline image's parameter as a ``pdfobjects`` value."""

    if isinstance(v, str):
        if abbreviations:
            v = _INLINE_FILTERS.get(v, _INLINE_SPACES.get(v, v))
        return pdfobjects.Name("/" + v)
    if isinstance(v, list):
        return pdfobjects.Array(doc, [_to_native(doc, x, abbreviations) for x in v])
    if isinstance(v, dict):
        return pdfobjects.Dict(doc, {"/" + k: _to_native(doc, x) for k, x in v.items()})
    return v


class _Image:
    """What an image's samples say: its class and the colour samples' mask (Pillow ``L``)."""

    __slots__ = ("cls", "mask", "width", "height", "stencil")

    def __init__(self, cls, mask=None, width=0, height=0, stencil=False):
        self.cls, self.mask, self.width, self.height, self.stencil = cls, mask, width, height, stencil


def _analyse_image(stream, space: Space) -> _Image:
    try:
        width, height = int(stream.get("/Width")), int(stream.get("/Height"))
    except Exception:
        return _Image(MAYBE)
    if width <= 0 or height <= 0:
        return _Image(NOTHING)
    if stream.get("/ImageMask") is True:
        return _Image(NEUTRAL, None, width, height, stencil=True)
    if space.kind == "gray":
        return _Image(NEUTRAL, None, width, height)
    if isinstance(space, Tinted) and all(n in ("Black", "None") for n in space.names):
        return _Image(NEUTRAL, None, width, height)
    if isinstance(space, Indexed) and space.palette and all(c == NEUTRAL for c in space.palette):
        return _Image(NEUTRAL, None, width, height)
    if isinstance(space, Indexed) and space.palette and all(c == COLOUR for c in space.palette):
        # every index is colour: every sample is (no need to decode)
        return _Image(COLOUR, None, width, height)
    if width * height > IMAGE_SAMPLE_LIMIT or space.kind not in ("rgb", "cmyk", "indexed"):
        return _Image(MAYBE, None, width, height)
    names = _filters(stream)
    if "/JPXDecode" in names or "/JBIG2Decode" in names:
        return _Image(MAYBE, None, width, height)
    if stream.get("/Decode") is not None:
        try:
            decode = [float(v) for v in stream.get("/Decode")]
        except Exception:
            return _Image(MAYBE, None, width, height)
        if space.kind == "indexed":
            if decode[:2] != [0.0, float((1 << _bpc(stream)) - 1)]:
                return _Image(MAYBE, None, width, height)
        elif decode != [0.0, 1.0] * space.n:
            return _Image(MAYBE, None, width, height)
    dct = "/DCTDecode" in names or "/DCT" in names
    if dct and space.kind == "cmyk":
        return _Image(MAYBE, None, width, height)  # Adobe's inverted CMYK JPEGs: not decided here
    bpc = _bpc(stream)
    if bpc != 8 and not (space.kind == "indexed" and bpc in (1, 2, 4, 8)):
        return _Image(MAYBE, None, width, height)
    try:
        mask = _colour_mask(stream, space, width, height, dct)
    except Exception:
        return _Image(MAYBE, None, width, height)
    if mask is None:
        return _Image(MAYBE, None, width, height)
    colour, maybe = mask
    hist = colour.histogram()
    n_colour = hist[255]
    n_maybe = maybe.histogram()[255] if maybe is not None else 0
    if n_colour == 0 and n_maybe == 0:
        return _Image(NEUTRAL, None, width, height)
    return _Image(COLOUR if n_colour else MAYBE, colour if n_colour else None, width, height)


def _filters(stream) -> list[str]:
    f = stream.get("/Filter")
    if f is None:
        return []
    if _is_array(f):
        return [str(x) for x in f]
    return [str(f)]


def _is_array(x) -> bool:
    """A PDF array, from pikepdf or from ``pdfobjects``."""
    if isinstance(x, list):
        return True
    import pikepdf

    return isinstance(x, pikepdf.Array)


def _is_stream(x) -> bool:
    """A PDF stream, from pikepdf or from ``pdfobjects``."""

    if isinstance(x, pdfobjects.Stream):
        return True
    import pikepdf

    return isinstance(x, pikepdf.Stream)


def _bpc(stream) -> int:
    try:
        return int(stream.get("/BitsPerComponent", 8))
    except Exception:
        return 0


def _colour_mask(stream, space, width, height, dct):
    """Pillow ``L`` masks (255 where a sample is colour; where it may be) of the image's samples."""
    from PIL import Image, ImageChops

    if space.kind == "indexed":

        if not isinstance(stream, pdfobjects.Stream):
            bound = pdfobjects.most_decoded(len(stream.read_raw_bytes()),
                                            [pdfobjects._FULL.get(n, n) for n in _filters(stream)])
            if bound is None or bound > pdfobjects.INFLATE_LIMIT:
                return None
        raw = stream.read_bytes()
        bpc = _bpc(stream)
        row = (width * bpc + 7) // 8
        if len(raw) < row * height:
            return None
        if bpc != 8:
            indices = Image.frombytes("1" if bpc == 1 else "L", (width, height), raw[:row * height], "raw",
                                      "1" if bpc == 1 else f"L;{bpc}")
            if bpc == 1:
                indices = indices.convert("L").point(lambda v: 1 if v else 0)
        else:
            indices = Image.frombytes("L", (width, height), raw[:row * height])
        palette = space.palette
        colour_lut = [255 if i < len(palette) and palette[i] == COLOUR else 0 for i in range(256)]
        maybe_lut = [255 if i >= len(palette) or palette[i] == MAYBE else 0 for i in range(256)]
        return indices.point(colour_lut), indices.point(maybe_lut)
    img = _decode_image(stream, space.n, width, height)
    if img is None or img.size != (width, height):
        return None
    if space.kind == "rgb":
        if img.mode != "RGB":
            return None
        r, g, b = img.split()
    elif space.kind == "cmyk":
        if img.mode != "CMYK":
            return None
        c, m, y, _ = img.split()
        top = ImageChops.lighter(ImageChops.lighter(c, m), y)
        return _threshold(top, dct)
    else:
        return None
    spread = ImageChops.lighter(ImageChops.lighter(ImageChops.difference(r, g), ImageChops.difference(g, b)),
                                ImageChops.difference(r, b))
    return _threshold(spread, dct)


def _decode_image(stream, components, width, height):
    """The image's samples as a Pillow image: pikepdf's ``PdfImage`` for its objects; for
    ``pdfobjects``, Flate (or no filter) or DCT data decoded here, else None."""

    if not isinstance(stream, pdfobjects.Stream):
        from pikepdf import PdfImage

        names = [pdfobjects._FULL.get(n, n) for n in _filters(stream)]
        if names and names[-1] == "/DCTDecode":
            names = names[:-1]  # its samples are bounded by the image's size, checked before
        bound = pdfobjects.most_decoded(len(stream.read_raw_bytes()), names)
        if bound is None or bound > pdfobjects.INFLATE_LIMIT:
            return None
        return PdfImage(stream).as_pil_image()
    import io

    from PIL import Image

    chain = [name for name, _ in stream.filters()]
    if chain and chain[-1] == "/DCTDecode":
        img = Image.open(io.BytesIO(stream.read_bytes(stop_at_dct=True)))
        img.load()
        return img
    mode = {1: "L", 3: "RGB", 4: "CMYK"}.get(components)
    data = stream.read_bytes()  # (a filter it does not know: the document goes to qpdf)
    need = width * height * components
    if mode is None or len(data) < need:
        return None
    return Image.frombytes(mode, (width, height), data[:need])


def _threshold(levels, dct):
    """Colour where the 8-bit difference is clear (2 levels; 4 for JPEG, whose decoders may
    differ by a level or two); may be colour where it is smaller but not 0."""
    sure = 4 if dct else 2
    colour = levels.point([255 if v >= sure else 0 for v in range(256)])
    maybe = levels.point([255 if 0 < v < sure else 0 for v in range(256)])
    return colour, maybe


def image_lower(info: _Image, ctm) -> float:
    """Device pixels surely painted with a colour sample, for the image placed by ``ctm`` (its
    unit square): colour samples counted in blocks that span at least a pixel each way (each
    then holds a pixel centre, which takes a sample of the block)."""
    if info.mask is None or not axis_aligned(ctm):
        return 0.0
    # device pixels per sample column (sx) and per sample row (sy); a quarter turn lays the
    # columns along device y
    if abs(ctm[1]) < 1e-9 and abs(ctm[2]) < 1e-9:
        sx, sy = abs(ctm[0]) / info.width, abs(ctm[3]) / info.height
    else:
        sx, sy = abs(ctm[1]) / info.width, abs(ctm[2]) / info.height
    if sx <= 0 or sy <= 0:
        return 0.0
    kx = 1 if sx >= 1 else math.ceil(1 / sx)
    ky = 1 if sy >= 1 else math.ceil(1 / sy)
    per_block = math.floor(kx * sx) * math.floor(ky * sy)
    mask = info.mask
    if kx > 1 or ky > 1:
        w, h = (info.width // kx) * kx, (info.height // ky) * ky
        if w == 0 or h == 0:
            return 0.0
        mask = mask.crop((0, 0, w, h)).reduce((kx, ky))
    return float(mask.histogram()[255] * per_block)


class _Walk:
    """Interprets content streams for one page, painting into its ``PageInk``."""

    def __init__(self, doc: DocumentColour, ink: PageInk, ctm, page_box):
        self.doc = doc
        self.ink = ink
        self.optional = 0    # depth of optional content (marked content with /OC) being read
        self.base = (ctm, page_box)
        self.state = self.initial()

    def initial(self) -> _State:
        ctm, page_box = self.base
        s = _State()
        s.ctm = ctm
        s.clip = page_box
        s.clip_exact = True
        s.fill_space = s.stroke_space = GRAY
        s.fill = [0.0]
        s.stroke = [0.0]
        s.fill_class = s.stroke_class = NEUTRAL
        s.line_width = 1.0
        s.miter = 10.0
        s.join = 0
        s.opaque = True      # alpha 1, Normal blending, no soft mask, no overprint
        s.hidden = False     # inside optional content or a construct that may not paint
        s.neutralised = False  # inside a transparency group that may blend colour away
        s.font = None
        s.size = 0.0
        s.char_space = s.word_space = s.rise = 0.0
        s.scale = 1.0
        s.render = 0
        return s

    # -- running content -----------------------------------------------------------------------------
    def run(self, ops, resources, depth):
        if depth > DEPTH_LIMIT:
            raise Undecided("content nested too deeply")
        stack: list[_State] = []
        path = _Path()
        pending_clip = None
        text = None          # [Tm, Tlm] inside BT
        leading = 0.0
        text_clip = None
        marked: list[bool] = []
        for op, args in ops:
            s = self.state
            handler = _PATH_OPS.get(op)
            if handler is not None:
                handler(path, s.ctm, args)
                continue
            if op in _PAINT:
                fill, stroke = _PAINT[op]
                if fill:
                    self.paint_path(path, s, stroke=False)
                if stroke:
                    self.paint_path(path, s, stroke=True)
                if pending_clip is not None:
                    self._clip_box(path.box, exact=path.rect)
                    pending_clip = None
                path = _Path()
            elif op in (b"W", b"W*"):
                pending_clip = True
            elif op == b"q":
                if len(stack) < 256:
                    stack.append(s.copy())
            elif op == b"Q":
                if stack:
                    self.state = stack.pop()
            elif op == b"cm":
                if len(args) >= 6:
                    m = tuple(_num(v) for v in args[-6:])
                    s.ctm = multiply(m, s.ctm)
            elif op in _COLOUR_OPS:
                self.colour_op(op, args, resources)
            elif op == b"BT":
                text = [IDENTITY, IDENTITY]
                text_clip = None
            elif op == b"ET":
                text = None
                if text_clip is not None:
                    self._clip_box(text_clip, exact=False)
                    text_clip = None
            elif op in _TEXT_SHOW:
                if text is None:
                    text = [IDENTITY, IDENTITY]
                if op == b"'" or op == b'"':
                    if op == b'"' and len(args) >= 3:
                        s.word_space, s.char_space = _num(args[0]), _num(args[1])
                    text[1] = multiply((1, 0, 0, 1, 0, -leading), text[1])
                    text[0] = text[1]
                box = self.show(text, args[-1] if args else b"", s, resources, depth)
                if box is not None and s.render >= 4:
                    text_clip = box if text_clip is None else (min(text_clip[0], box[0]), min(text_clip[1], box[1]),
                                                               max(text_clip[2], box[2]), max(text_clip[3], box[3]))
            elif op in _TEXT_POS:
                if text is None:
                    text = [IDENTITY, IDENTITY]
                if op == b"Td" and len(args) >= 2:
                    text[1] = multiply((1, 0, 0, 1, _num(args[0]), _num(args[1])), text[1])
                    text[0] = text[1]
                elif op == b"TD" and len(args) >= 2:
                    leading = -_num(args[1])
                    text[1] = multiply((1, 0, 0, 1, _num(args[0]), _num(args[1])), text[1])
                    text[0] = text[1]
                elif op == b"Tm" and len(args) >= 6:
                    text[1] = text[0] = tuple(_num(v) for v in args[-6:])
                elif op == b"T*":
                    text[1] = multiply((1, 0, 0, 1, 0, -leading), text[1])
                    text[0] = text[1]
            elif op == b"Tf":
                if len(args) >= 2:
                    s.font = self.font(args[0], resources, depth)
                    s.size = _num(args[1])
            elif op == b"TL":
                leading = _num(args[0]) if args else 0.0
            elif op == b"Tc":
                s.char_space = _num(args[0]) if args else 0.0
            elif op == b"Tw":
                s.word_space = _num(args[0]) if args else 0.0
            elif op == b"Tz":
                s.scale = _num(args[0], 100.0) / 100.0 if args else 1.0
            elif op == b"Ts":
                s.rise = _num(args[0]) if args else 0.0
            elif op == b"Tr":
                s.render = int(_num(args[0])) if args else 0
            elif op == b"w":
                s.line_width = _num(args[0], 1.0) if args else 1.0
            elif op == b"M":
                s.miter = _num(args[0], 10.0) if args else 10.0
            elif op == b"j":
                s.join = int(_num(args[0])) if args else 0
            elif op == b"gs":
                self.ext_gstate(args[0] if args else None, resources)
            elif op == b"Do":
                if args:
                    self.xobject(args[0], resources, depth)
            elif op == b"BI":
                if len(args) == 2:
                    self.inline_image(args[0], args[1], resources)
            elif op == b"sh":
                if args:
                    self.shading_fill(args[0], resources)
            elif op in (b"BDC", b"BMC"):
                optional = (op == b"BDC" and len(args) >= 2 and args[0] == "OC" and self.doc.optional_content)
                if len(marked) < 1024:
                    marked.append(optional)
                    self.optional += optional
            elif op == b"EMC":
                if marked:
                    self.optional -= marked.pop()
            elif op in (b"d0", b"d1"):
                pass
        return None

    # -- painting --------------------------------------------------------------------------------------
    def _mark(self, box, exact_box, cls, lower, exact):
        s = self.state
        sure = s.opaque and not (s.hidden or s.neutralised or self.optional)
        record_mark(self.ink, s.clip, s.clip_exact, sure, box, exact_box, cls, lower, exact)

    def paint_path(self, path, s, stroke):
        if path.box is None:
            return
        cls = s.stroke_class if stroke else s.fill_class
        if cls == NOTHING or (cls == NEUTRAL and not self.ink.marks):
            return  # a neutral mark with no colour mark before it changes nothing
        box = path.box
        if stroke:
            width = _device_width(s.ctm, s.line_width)
            reach = width / 2 * (min(max(s.miter, 1.0), 10.0) if s.join == 0 and path.segments > 1 else 1.0)
            box = _grow(box, reach)
            self._mark(box, None, cls, 0.0, False)
            return
        exact = path.rect
        lower = 0.0
        if exact:
            w, h = box[2] - box[0], box[3] - box[1]
            lower = max(0.0, w - 1) * max(0.0, h - 1)
        self._mark(box, box if exact else None, cls, lower, exact)

    def _clip_box(self, box, exact):
        """Intersect the clip with ``box`` (None: an empty path clips everything away)."""
        s = self.state
        s.clip = intersect(s.clip, _grow(box, 1.0)) if box is not None else None
        s.clip_exact = s.clip_exact and exact
        if s.clip is None:
            s.clip = (0.0, 0.0, 0.0, 0.0)

    # -- colour ----------------------------------------------------------------------------------------
    def colour_op(self, op, args, resources):
        s = self.state
        stroke = op in (b"G", b"RG", b"K", b"CS", b"SC", b"SCN")
        if op in (b"g", b"G"):
            space, comps = GRAY, args[-1:]
        elif op in (b"rg", b"RG"):
            space, comps = RGB, args[-3:]
        elif op in (b"k", b"K"):
            space, comps = CMYK, args[-4:]
        elif op in (b"cs", b"CS"):
            if not args:
                return
            space = self.doc.space(args[-1], resources)
            comps = space.initial()
        else:  # sc scn SC SCN
            space = s.stroke_space if stroke else s.fill_space
            comps = args
        if isinstance(space, Pattern):
            cls = self.pattern_class(space, comps, resources)
        else:
            comps = [c for c in comps if isinstance(c, (int, float)) and not isinstance(c, bool)]
            cls = space.classify(comps)
            if isinstance(space, Tinted) and space.names == ["None"]:
                cls = NOTHING
        if stroke:
            s.stroke_space, s.stroke, s.stroke_class = space, comps, cls
        else:
            s.fill_space, s.fill, s.fill_class = space, comps, cls

    def pattern_class(self, space: Pattern, comps, resources) -> int:
        name = comps[-1] if comps and isinstance(comps[-1], str) else None
        if name is None:
            return MAYBE
        try:
            pattern = resources.get("/Pattern").get("/" + name)
        except Exception:
            pattern = None
        if pattern is None:
            raise Undecided(f"pattern {name} not found")
        kind = int(_num(pattern.get("/PatternType"), 0))
        if kind == 2:
            return MAYBE if self.shading_class(pattern.get("/Shading"), resources) != NEUTRAL else NEUTRAL
        paint = int(_num(pattern.get("/PaintType"), 1))
        if paint == 2:
            under = space.underlying
            if under is None:
                return MAYBE
            return MAYBE if under.classify([c for c in comps[:-1] if isinstance(c, (int, float))]) != NEUTRAL else NEUTRAL
        key = pattern.objgen
        cached = self.doc._patterns.get(key)
        if cached is None:
            cached = self.doc._patterns[key] = self.content_class(pattern, pattern.get("/Resources"))
        return cached

    def content_class(self, stream, resources) -> int:
        """Whether a content stream of its own (a tiling pattern's cell, a Type 3 glyph) paints
        anything that is not neutral: MAYBE if so (its pixels are not followed), else NEUTRAL."""
        box = (-1e9, -1e9, 1e9, 1e9)
        probe = PageInk(box, 0.0)
        walk = _Walk(self.doc, probe, IDENTITY, box)
        walk.run(self.doc.stream_ops(stream), resources, DEPTH_LIMIT - 2)
        return MAYBE if probe.saw_colour else NEUTRAL

    def shading_class(self, shading, resources) -> int:
        if shading is None:
            return MAYBE
        try:
            space = self.doc.space(shading.get("/ColorSpace"), resources)
        except Undecided:
            return MAYBE
        if space.kind == "gray" or (isinstance(space, Tinted) and all(n in ("Black", "None") for n in space.names)):
            return NEUTRAL
        function = shading.get("/Function")
        if function is None:
            return MAYBE
        try:
            parts = list(function) if _is_array(function) else [function]
        except Exception:
            return MAYBE
        fns = [make_function(f) for f in parts]
        if any(f is None for f in fns):
            return MAYBE
        try:
            domain = [float(v) for v in shading.get("/Domain", [0, 1])]
        except Exception:
            return MAYBE
        if int(_num(shading.get("/ShadingType"), 0)) not in (2, 3):
            return MAYBE
        worst = NEUTRAL
        for i in range(65):
            t = domain[0] + (domain[1] - domain[0]) * i / 64
            colour = fns[0]([t]) if len(fns) == 1 else [f([t])[0] for f in fns]
            c = space.classify(colour)
            if c != NEUTRAL:
                worst = MAYBE
                break
        return worst

    def shading_fill(self, name, resources):
        try:
            shading = resources.get("/Shading").get("/" + name)
        except Exception:
            shading = None
        if shading is None:
            raise Undecided(f"shading {name} not found")
        cls = self.shading_class(shading, resources)
        s = self.state
        region = s.clip
        bbox = shading.get("/BBox")
        if bbox is not None:
            try:
                region = intersect(region, box_of(s.ctm, *(float(v) for v in bbox)))
            except Exception:
                pass
        if region is not None:
            self._mark(region, None, cls, 0.0, False)

    def ext_gstate(self, name, resources):
        s = self.state
        try:
            gs = resources.get("/ExtGState").get("/" + name)
        except Exception:
            gs = None
        if gs is None:
            return
        for key in ("/CA", "/ca"):
            if key in gs and _num(gs.get(key), 1.0) < 1.0:
                s.opaque = False
        bm = gs.get("/BM")
        if bm is not None:
            names = [str(b) for b in bm] if not str(bm).startswith("/") else [str(bm)]
            if names and names[0] not in ("/Normal", "/Compatible"):
                s.opaque = False
                s.neutralised = True
        smask = gs.get("/SMask")
        if smask is not None and str(smask) != "/None":
            s.opaque = False
            s.neutralised = True
        if gs.get("/OP") is True or gs.get("/op") is True:
            s.opaque = False
        for key in ("/TR", "/TR2"):
            tr = gs.get(key)
            if tr is not None and str(tr) not in ("/Identity", "/Default"):
                s.neutralised = True
        if "/LW" in gs:
            s.line_width = _num(gs.get("/LW"), s.line_width)

    # -- XObjects ------------------------------------------------------------------------------------
    def xobject(self, name, resources, depth):
        try:
            xobj = resources.get("/XObject").get("/" + name)
        except Exception:
            xobj = None
        if xobj is None:
            raise Undecided(f"XObject {name} not found")
        subtype = str(xobj.get("/Subtype"))
        if subtype == "/Image":
            self.image(xobj, resources, inline=False)
        elif subtype == "/Form":
            self.form(xobj, resources, depth)

    def form(self, xobj, resources, depth, matrix=None):
        s = self.state
        saved = s.copy()
        try:
            m = xobj.get("/Matrix")
            form_matrix = tuple(float(v) for v in m) if m is not None else IDENTITY
            if len(form_matrix) != 6 or not all(_finite(v) for v in form_matrix):
                form_matrix = IDENTITY
            s.ctm = multiply(form_matrix, matrix if matrix is not None else s.ctm)
            bbox = xobj.get("/BBox")
            if bbox is not None:
                x0, y0, x1, y1 = (float(v) for v in bbox)
                self._clip_box(box_of(s.ctm, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                               exact=axis_aligned(s.ctm))
            group = xobj.get("/Group")
            if group is not None and str(group.get("/S")) == "/Transparency":
                cs = group.get("/CS")
                if cs is not None:
                    try:
                        gspace = self.doc.space(cs, resources)
                    except Undecided:
                        gspace = Space(1)
                    if gspace.kind not in ("rgb", "cmyk"):
                        s.neutralised = True
            if xobj.get("/OC") is not None and self.doc.optional_content:
                s.hidden = True
        except Exception:
            raise Undecided("form XObject not understood") from None
        inner = xobj.get("/Resources")
        self.run(self.doc.stream_ops(xobj), inner if inner is not None else resources, depth + 1)
        self.state = saved

    def image(self, stream, resources, inline, space_obj=None):
        s = self.state
        if stream.get("/OC") is not None and self.doc.optional_content:
            hidden = True
        else:
            hidden = False
        stencil = stream.get("/ImageMask") is True
        if stencil:
            info = _Image(NEUTRAL, stencil=True)
        else:
            cs = space_obj if space_obj is not None else stream.get("/ColorSpace")
            if cs is None:
                info = _Image(MAYBE)  # JPX with its own colour space
            else:
                info = self.doc.image(stream, self.doc.space(cs, resources), inline)
        box = box_of(s.ctm, 0, 0, 1, 1)
        if info.cls == NOTHING:
            return
        if stencil:
            cls = s.fill_class
            lower = 0.0
        else:
            cls = info.cls
            lower = image_lower(info, s.ctm) if cls == COLOUR else 0.0
        masked = stream.get("/SMask") is not None or (stream.get("/Mask") is not None)
        saved_hidden = s.hidden
        s.hidden = s.hidden or hidden
        exact = axis_aligned(s.ctm) and not masked and not stencil
        self._mark(box, box if exact else None, cls, 0.0 if masked else lower, exact)
        s.hidden = saved_hidden

    def inline_image(self, params, data, resources):
        cs = params.get("CS", params.get("ColorSpace"))
        space_obj = None
        if isinstance(cs, str):
            space_obj = _INLINE_SPACES.get(cs, cs)
        elif isinstance(cs, list):
            space_obj = _to_pdf(cs, True)
        try:
            stream = self.doc.inline_stream(params, data)
        except Exception:
            raise Undecided("inline image not understood") from None
        self.image(stream, resources, inline=True, space_obj=space_obj)

    # -- text -------------------------------------------------------------------------------------------
    def font(self, name, resources, depth):
        try:
            font = resources.get("/Font").get("/" + name)
        except Exception:
            font = None
        if font is None:
            raise Undecided(f"font {name} not found")
        key = font.objgen
        cached = self.doc._fonts.get(key) if key != (0, 0) else None
        if cached is None:
            cached = _Font(font, self, depth)
            if key != (0, 0):
                self.doc._fonts[key] = cached
        return cached

    def show(self, text, string, s, resources, depth):
        """Paint one show operation; advance the text matrix; return the device box."""
        font = s.font
        if font is None:
            raise Undecided("text shown with no font")
        size, scale = s.size, s.scale
        x = 0.0
        lo = hi = 0.0
        pieces = string if isinstance(string, list) else [string]
        for piece in pieces:
            if isinstance(piece, (int, float)) and not isinstance(piece, bool):
                x -= piece / 1000.0 * size * scale
            elif isinstance(piece, bytes):
                widths, glyphs, spaces = font.advance(piece)
                x += (widths * size + glyphs * s.char_space + spaces * s.word_space) * scale
            lo, hi = min(lo, x), max(hi, x)
        render = s.render % 4
        quiet = (render == 0 and s.fill_class == NEUTRAL and font.own_colour == NEUTRAL and not self.ink.marks
                 and s.render < 4)
        if quiet:  # black text and no colour mark before it: nothing to record
            tm = text[0]
            text[0] = (tm[0], tm[1], tm[2], tm[3], tm[4] + x * tm[0], tm[5] + x * tm[1])
            return None
        pad = abs(size) * scale * font.reach + 1.0
        top, bottom = font.ascent * abs(size) + 1.0, font.descent * abs(size) - 1.0
        trm = multiply(text[0], s.ctm)
        box = box_of(trm, lo - pad, s.rise + bottom, hi + pad, s.rise + top)
        text[0] = multiply((1, 0, 0, 1, x, 0), text[0])
        if render != 3:
            used = [s.fill_class] if render == 0 else [s.stroke_class] if render == 1 else [s.fill_class, s.stroke_class]
            if COLOUR in used:
                cls = COLOUR
            elif MAYBE in used:
                cls = MAYBE
            elif all(c == NOTHING for c in used):
                cls = NOTHING
            else:
                cls = NEUTRAL
            if cls != NOTHING and font.own_colour != NEUTRAL:
                cls = MAYBE
            if cls != NOTHING:
                self._mark(box, None, cls, 0.0, False)
        return box

    # -- annotations ---------------------------------------------------------------------------------
    def annotations(self, page_obj):
        annots = page_obj.get("/Annots")
        if annots is None:
            return
        self.state = self.initial()  # drawn on the page as it is, whatever the content left
        self.optional = 0
        try:
            items = list(annots)
        except Exception:
            raise Undecided("annotations not readable") from None
        for annot in items:
            try:
                subtype = str(annot.get("/Subtype"))
                flags = int(_num(annot.get("/F"), 0))
            except Exception:
                raise Undecided("annotation not readable") from None
            if subtype == "/Popup" or flags & 2 or not flags & 4:
                continue  # hidden, or not printed
            ap = annot.get("/AP")
            normal = ap.get("/N") if ap is not None else None
            if normal is not None and not hasattr(normal, "read_bytes"):
                state = annot.get("/AS")
                normal = normal.get(str(state)) if state is not None else None
                if normal is None:
                    continue  # no appearance for its state: nothing printed
            if normal is None:
                if subtype == "/Link":
                    continue  # a link prints nothing of its own
                raise Undecided(f"annotation {subtype} without an appearance")
            self.appearance(annot, normal)

    def appearance(self, annot, form):
        try:
            rect = [float(v) for v in annot.get("/Rect")]
            bbox = [float(v) for v in form.get("/BBox")]
            m = form.get("/Matrix")
            matrix = tuple(float(v) for v in m) if m is not None else IDENTITY
        except Exception:
            raise Undecided("annotation appearance not understood") from None
        rx0, ry0, rx1, ry1 = min(rect[0], rect[2]), min(rect[1], rect[3]), max(rect[0], rect[2]), max(rect[1], rect[3])
        tx0, ty0, tx1, ty1 = box_of(matrix, min(bbox[0], bbox[2]), min(bbox[1], bbox[3]), max(bbox[0], bbox[2]), max(bbox[1], bbox[3]))
        if tx1 - tx0 <= 0 or ty1 - ty0 <= 0:
            return
        sx, sy = (rx1 - rx0) / (tx1 - tx0), (ry1 - ry0) / (ty1 - ty0)
        fit = (sx, 0.0, 0.0, sy, rx0 - tx0 * sx, ry0 - ty0 * sy)
        page_ctm = self.state.ctm
        self.form(form, None, 1, matrix=multiply(fit, page_ctm))


def _device_width(ctm, width):
    sx = math.hypot(ctm[0], ctm[1])
    sy = math.hypot(ctm[2], ctm[3])
    return abs(width) * max(sx, sy)


class _Path:
    __slots__ = ("box", "rect", "segments", "x", "y")

    def __init__(self):
        self.box = None
        self.rect = False
        self.segments = 0
        self.x = self.y = 0.0

    def add(self, ctm, x, y):
        dx, dy = apply(ctm, x, y)
        if not (_finite(dx) and _finite(dy)):
            raise Undecided("coordinates out of range")
        b = self.box
        self.box = (dx, dy, dx, dy) if b is None else (min(b[0], dx), min(b[1], dy), max(b[2], dx), max(b[3], dy))


def _op_m(path, ctm, a):
    if len(a) >= 2:
        path.x, path.y = _num(a[-2]), _num(a[-1])
        path.add(ctm, path.x, path.y)
        path.rect = False


def _op_l(path, ctm, a):
    if len(a) >= 2:
        path.x, path.y = _num(a[-2]), _num(a[-1])
        path.add(ctm, path.x, path.y)
        path.rect = False
        path.segments += 1


def _op_curve(path, ctm, a):
    if len(a) >= 4:
        nums = [_num(v) for v in a]
        for i in range(0, len(nums) - 1, 2):
            path.add(ctm, nums[i], nums[i + 1])
        path.x, path.y = nums[-2], nums[-1]
        path.rect = False
        path.segments += 1


def _op_h(path, ctm, a):
    pass


def _op_re(path, ctm, a):
    if len(a) >= 4:
        x, y, w, h = (_num(v) for v in a[-4:])
        first = path.box is None
        path.add(ctm, x, y)
        path.add(ctm, x + w, y + h)
        path.add(ctm, x + w, y)
        path.add(ctm, x, y + h)
        path.rect = first and axis_aligned(ctm)
        path.segments += 4
        path.x, path.y = x, y


_PATH_OPS = {b"m": _op_m, b"l": _op_l, b"c": _op_curve, b"v": _op_curve, b"y": _op_curve, b"h": _op_h, b"re": _op_re}
_PAINT = {b"f": (True, False), b"F": (True, False), b"f*": (True, False), b"S": (False, True), b"s": (False, True),
          b"B": (True, True), b"B*": (True, True), b"b": (True, True), b"b*": (True, True), b"n": (False, False)}
_COLOUR_OPS = frozenset((b"g", b"G", b"rg", b"RG", b"k", b"K", b"cs", b"CS", b"sc", b"scn", b"SC", b"SCN"))
_TEXT_SHOW = frozenset((b"Tj", b"TJ", b"'", b'"'))
_TEXT_POS = frozenset((b"Td", b"TD", b"Tm", b"T*"))


class _Font:
    """What the walk needs of a font: glyph widths (text space, per 1 unit of size), how far
    a glyph may reach beyond them, and whether its glyphs (Type 3) paint colour themselves."""

    def __init__(self, font, walk: _Walk, depth):
        self.table = None
        self.two_bytes = False
        self.widths: dict[int, float] = {}
        self.default = 0.6
        self.reach = 1.0
        self.ascent, self.descent = 1.2, -0.6
        self.own_colour = NEUTRAL
        subtype = str(font.get("/Subtype"))
        try:
            if subtype == "/Type0":
                enc = str(font.get("/Encoding"))
                self.two_bytes = enc in ("/Identity-H", "/Identity-V")
                descendants = font.get("/DescendantFonts")
                cid = descendants[0] if descendants is not None else None
                if cid is not None:
                    self.default = _num(cid.get("/DW"), 1000.0) / 1000.0
                    if self.two_bytes:
                        self._cid_widths(cid.get("/W"))
                self.default = max(self.default, 0.0)
                return
            first = int(_num(font.get("/FirstChar"), 0))
            widths = font.get("/Widths")
            scale = 1.0 / 1000.0
            if subtype == "/Type3":
                fm = [float(v) for v in font.get("/FontMatrix")]
                scale = math.hypot(fm[0], fm[1]) if len(fm) >= 4 else 0.001
                self.reach = 2.0
                self.ascent, self.descent = 2.0, -1.0
                self.own_colour = walk.doc._type3.get(font.objgen)
                if self.own_colour is None:
                    self.own_colour = walk.doc._type3[font.objgen] = _type3_colour(font, walk, depth)
            if widths is not None:
                for i, w in enumerate(widths):
                    self.widths[first + i] = _num(w) * scale
        except Undecided:
            raise
        except Exception:
            raise Undecided("font not understood") from None

    def _cid_widths(self, w):
        if w is None:
            return
        items = list(w)
        i = 0
        count = 0
        while i < len(items) and count < 65536:
            first = int(_num(items[i]))
            nxt = items[i + 1] if i + 1 < len(items) else None
            if nxt is not None and hasattr(nxt, "__iter__") and not isinstance(nxt, (int, float)):
                for k, v in enumerate(nxt):
                    self.widths[first + k] = _num(v) / 1000.0
                    count += 1
                i += 2
            else:
                last = int(_num(nxt))
                value = _num(items[i + 2]) / 1000.0 if i + 2 < len(items) else 0.0
                for c in range(first, min(last, first + 65536) + 1):
                    self.widths[c] = value
                    count += 1
                i += 3

    def advance(self, data: bytes):
        """(sum of the glyph widths, glyphs, word spaces) of the string ``data``."""
        if self.two_bytes:
            get, default = self.widths.get, self.default
            codes = [data[i] << 8 | data[i + 1] for i in range(0, len(data) - 1, 2)]
            return sum(get(code, default) for code in codes), len(codes), 0
        table = self.table
        if table is None:
            get, default = self.widths.get, self.default
            table = self.table = [get(code, default) for code in range(256)]
        return sum(map(table.__getitem__, data)), len(data), data.count(32)


def _type3_colour(font, walk: _Walk, depth) -> int:
    """A Type 3 font's glyphs that set their own colour (``d0``) and paint something not
    neutral make its text colour whatever the fill colour: MAYBE; else NEUTRAL."""
    procs = font.get("/CharProcs")
    if procs is None:
        return NEUTRAL
    resources = font.get("/Resources")
    for key in list(procs.keys())[:1024]:
        proc = procs.get(key)
        try:
            ops = walk.doc.stream_ops(proc)
        except Undecided:
            return MAYBE
        if any(op == b"d1" for op, _ in ops[:4]):
            continue  # a shape painted in the current colour
        box = (-1e9, -1e9, 1e9, 1e9)
        probe = PageInk(box, 0.0)
        inner = _Walk(walk.doc, probe, IDENTITY, box)
        inner.run(ops, resources, DEPTH_LIMIT - 2)
        if probe.saw_colour:
            return MAYBE
    return NEUTRAL
