"""PostScript: pages from DSC comments, or from Ghostscript when the comments cannot be trusted.

The DSC scan reads only what a conforming document promises: ``%%Page:`` comments at the
top level (``%%BeginDocument``/``%%EndDocument`` nest embedded documents whose pages do not
count), ``%%Pages:`` (header or ``(atend)`` trailer), ``%%BeginBinary: n`` and
``%%BeginData: n [type [Bytes|Lines]]`` payloads skipped unread, and the page device
settings a job makes: ``/NumCopies n``, ``/#copies n``, ``/Duplex true|false`` and
``/PageSize [w h]`` (usually inside ``%%BeginFeature`` or page setup). A page takes the
settings in force when it ends. Media also comes from ``%%PageBoundingBox`` (what
``ps2write`` writes) and the document ``%%BoundingBox``.

The scan gives up, and the section is interpreted by Ghostscript instead (method
``interpreted``), when the document is not DSC-conforming (no ``%!PS-Adobe-`` header, no
``%%Page:``), when ``%%Pages:`` disagrees with the pages found, when a second document is
joined after the first, when ``showpage`` appears outside any page (a cover page), or when
nesting runs away. Ghostscript runs as ``gs -dSAFER -dNOPAUSE -dBATCH -sDEVICE=nullpage``
in a subprocess with CPU-time, wall-time and address-space limits; an ``EndPage`` procedure
prints, per page, the copies, duplex and size in force (the null device ignores ``/Duplex``,
so the prologue remembers what the job asked ``setpagedevice`` for).

Colour is not known from a scan. When colour is asked for (the default; ``colour=False`` or
``interpret=False`` switches it off) Ghostscript renders the section with its ``inkcov``
device, which prints one line per page with the share of the page each of C, M, Y and K
touches (see ``ink_coverage``). Interpretation and colour share one run: the ``EndPage``
line is followed by the page's ``inkcov`` line, so pages and their colour cannot drift
apart. A DSC-counted section gets a second, colour-only run; its page count must match the
comments' or the colour stays unknown (with a warning).

The scan fills its own ``PageTally``; the caller throws it away when the verdict is to
interpret. ``DscScanner`` holds the policy (what each comment means); ``_scan`` is the byte loop,
which ``ext/_scan.pyx`` replaces.
"""
from __future__ import annotations

import functools
import os
import re
import resource
import shutil
import subprocess

from spooler.pdl.policy import PageTally, media_from_points

UEL = b"\x1b%-12345X"
#: Longest comment line kept; longer lines are cut (the rest is skipped to the line end).
LINE_LIMIT = 255
#: Bytes after a ``/`` needed to read a page device setting.
NAME_WINDOW = 64
#: Nesting of ``%%BeginDocument`` beyond this is not believed.
DEPTH_LIMIT = 32

_NUMBER = rb"[-+]?(?:\d+\.?\d*|\.\d+)"
_SETTING = re.compile(
    rb"/(NumCopies|#copies|Duplex|PageSize)[\s]*(?:\[\s*(" + _NUMBER + rb")\s+(" + _NUMBER + rb")\s*\]|(" + _NUMBER + rb"|true|false|null)(?=[\s/\]>}{)(<\[%]))"
)
_DELIMS = frozenset(b" \t\r\n\x0c\x00{}[]()<>%")


class DscScanner:
    """Streaming DSC reader. ``feed`` returns the bytes from a UEL on, or None."""

    language = "postscript"

    def __init__(self, tally: PageTally):
        self.tally = tally
        self.warnings: list[str] = []
        self.distrust: str | None = None   # why the comments cannot be believed
        self.conforming = None             # None until the first line is seen
        self._carry = b""
        self._prev = 0x0A
        self._skip = 0
        self._skip_lines = 0
        self._skip_to_eol = False
        self._outside = False   # after the prolog/setup, not in a page: showpage is suspicious
        self._depth = 0
        self._in_page = False
        self._pages_found = 0
        self._pages_declared = None
        self._ended = False     # saw %%EOF at depth 0
        self._prolog_done = False
        self._in_trailer = False
        self.copies = None
        self.hash_copies = None
        self.duplex = None
        self.media = None
        self._page_media = None
        self._page_bbox_media = None
        self._doc_media = None

    # -- the byte loop (replaced in Cython) ---------------------------------------------------
    def feed(self, data: bytes):
        if self._carry:
            data = self._carry + data
            self._carry = b""
        r = self._scan(data, False)
        return r

    def _scan(self, data: bytes, final: bool):
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                self._skip -= take
                pos += take
                continue
            if self._skip_lines or self._skip_to_eol:
                nl = _eol(data, pos, end, lf_only=bool(self._skip_lines))
                if nl < 0:
                    self._prev = data[end - 1]
                    return None
                pos = nl + 1
                self._prev = data[nl]
                if self._skip_to_eol:
                    self._skip_to_eol = False
                else:
                    self._skip_lines -= 1
                continue
            pattern = _INTERESTING_OUT if self._outside else _INTERESTING
            m = pattern.search(data, pos)
            if m is None:
                self._prev = data[end - 1]
                return None
            i = m.start()
            b = data[i]
            prev = data[i - 1] if i > 0 else self._prev
            if b == 0x25:  # %
                if prev not in (0x0A, 0x0D, 0x04):  # line start (^D ends a job, as drivers send it)
                    pos = i + 1
                    continue
                eol = _eol(data, i, min(end, i + LINE_LIMIT + 1), lf_only=False)
                if eol < 0:
                    if end - i <= LINE_LIMIT and not final:
                        return self._keep(data, i)
                    line = data[i:min(end, i + LINE_LIMIT)]
                    self._skip_to_eol = end - i > LINE_LIMIT
                    pos = min(end, i + LINE_LIMIT)
                else:
                    line = data[i:eol]
                    pos = eol
                self._prev = data[pos - 1]
                self._comment(line)
            elif b == 0x2F:  # /
                if end - i < NAME_WINDOW and not final:
                    return self._keep(data, i)
                self._setting(data[i:i + NAME_WINDOW])
                pos = i + 1
            elif b == 0x1B:
                if data.startswith(UEL, i):
                    self._end_section()
                    return data[i:]
                if end - i < len(UEL) and UEL.startswith(data[i:end]) and not final:
                    return self._keep(data, i)
                pos = i + 1
            else:  # 's' while outside a page
                if end - i < 9 and not final:
                    return self._keep(data, i)
                if (data.startswith(b"showpage", i) and prev in _DELIMS
                        and (i + 8 >= end or data[i + 8] in _DELIMS)):
                    self._showpage_outside()
                pos = i + 1
        if end:
            self._prev = data[end - 1]
        return None

    def _keep(self, data, i):
        self._carry = data[i:]
        if i > 0:
            self._prev = data[i - 1]
        return None

    # -- policy ---------------------------------------------------------------------------------
    def _comment(self, line: bytes) -> None:
        """Act on one ``%``-line (cut at ``LINE_LIMIT``), as the byte loop found it."""
        if line.startswith(b"%%Page:") and self.conforming is not None and not self._depth:
            self._new_page()  # the commonest line, first
            return
        if self.conforming is None:
            self.conforming = line.startswith(b"%!PS-Adobe-")
        if line.startswith(b"%!"):
            if (self._pages_found or self._ended) and self._depth == 0:
                self._distrust("two documents joined in one job")
            return
        if not line.startswith(b"%%"):
            return
        key, _, value = line[2:].partition(b":")
        value = value.strip()
        if key == b"BeginDocument":
            self._depth += 1
            if self._depth > DEPTH_LIMIT:
                self._distrust("%%BeginDocument nested too deeply")
            return
        if key == b"EndDocument":
            if self._depth:
                self._depth -= 1
            return
        if key == b"BeginBinary":
            n = _int(value.split()[0]) if value else None
            if n is not None and n > 0:
                self._skip = n
            return
        if key == b"BeginData":
            parts = value.split()
            n = _int(parts[0]) if parts else None
            if n is not None and n > 0:
                if len(parts) >= 3 and parts[2].lower() == b"lines":
                    self._skip_lines = n
                else:
                    self._skip = n
            return
        if self._depth:
            return
        if key == b"Page":
            self._new_page()
        elif key == b"Pages":
            n = _int(value.split()[0]) if value else None
            if n is not None and n >= 0:
                self._pages_declared = n
        elif key in (b"EndProlog", b"EndSetup"):
            self._prolog_done = True
            if not self._in_page:
                self._outside = True
        elif key == b"Trailer":
            self._close_page()
            self._in_trailer = True
            self._outside = True
        elif key == b"EOF":
            self._close_page()
            self._ended = True
            self._outside = True
        elif key == b"PageBoundingBox":
            self._page_bbox_media = _bbox_media(value)
        elif key == b"BoundingBox" and not self._pages_found:
            self._doc_media = _bbox_media(value)

    def _setting(self, window: bytes) -> None:
        m = _SETTING.match(window)
        if m is None or self._depth:
            return
        name = m.group(1)
        if name == b"PageSize":
            if m.group(2) is not None:
                media = media_from_points(float(m.group(2)), float(m.group(3)))
                self.media = media
                if self._in_page:
                    self._page_media = media
            return
        value = m.group(4)
        if value is None:
            return
        if name == b"Duplex":
            if value in (b"true", b"false"):
                self.duplex = value == b"true"
        elif name == b"NumCopies":
            if value == b"null":
                self.copies = None
            elif value not in (b"true", b"false"):
                self.copies = _copies(value)
        elif name == b"#copies":
            if value not in (b"true", b"false", b"null"):
                self.hash_copies = _copies(value)

    def _showpage_outside(self):
        if self._prolog_done:
            self._distrust("showpage outside the pages the comments describe")

    def _distrust(self, why: str) -> None:
        if self.distrust is None:
            self.distrust = why

    def _new_page(self):
        self._close_page()
        self._in_page = True
        self._outside = False
        self._pages_found += 1
        self._page_media = None
        self._page_bbox_media = None

    def _close_page(self):
        if not self._in_page:
            return
        self._in_page = False
        copies = self.copies if self.copies is not None else self.hash_copies
        media = self._page_media or self._page_bbox_media or self.media or self._doc_media
        self.tally.add_page(copies, self.duplex, media, None)

    def _end_section(self):
        if self._carry:
            carry, self._carry = self._carry, b""
            self._scan(carry, True)
        self._close_page()

    def close(self):
        self._end_section()

    def verdict(self) -> str | None:
        """None when the comments can be believed; else why not."""
        if self.distrust:
            return self.distrust
        if not self.conforming:
            return "no DSC header"
        if not self._pages_found:
            return "no %%Page comments"
        if self._depth:
            return "unbalanced %%BeginDocument"
        if self._pages_declared is not None and self._pages_declared != self._pages_found:
            return f"%%Pages says {self._pages_declared}, the document has {self._pages_found}"
        return None


_INTERESTING = re.compile(rb"[%/\x1b]")
_INTERESTING_OUT = re.compile(rb"[%/\x1bs]")


def _eol(data, pos, end, lf_only):
    if lf_only:
        i = data.find(b"\n", pos, end)
        return i
    n = data.find(b"\n", pos, end)
    r = data.find(b"\r", pos, end)
    if n < 0:
        return r
    if r < 0:
        return n
    return min(n, r)


def _int(raw: bytes):
    try:
        v = int(raw)
    except ValueError:
        return None
    return v if -(1 << 31) < v < (1 << 31) else None


def _copies(raw: bytes):
    try:
        v = float(raw)
    except ValueError:
        return None
    if v != v:
        return None
    return max(1, min(9999, int(v)))


@functools.lru_cache(maxsize=256)
def _bbox_media(value: bytes):
    parts = value.split()
    if len(parts) != 4:
        return None
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        return None
    if abs(x0) > 3 or abs(y0) > 3:
        return None
    return media_from_points(x1, y1)


# -- Ghostscript -------------------------------------------------------------------------------

GS_TIMEOUT = float(os.environ.get("PRINTGATE_GS_TIMEOUT", "60"))
GS_MEMORY = int(os.environ.get("PRINTGATE_GS_MEMORY", str(1 << 30)))

#: Installed before the job: report each page as printed with the settings in force.
_GS_PROLOGUE = b"""
/printgate_duplex false def
/setpagedevice {
  dup type /dicttype eq {
    dup /Duplex known { dup /Duplex get dup type /booleantype eq {
      /printgate_duplex exch store } { pop } ifelse } if
  } if
  //setpagedevice
} bind def
<< /EndPage {
  exch pop 0 eq dup {
    (%%PRINTGATE-PAGE ) print
    currentpagedevice /NumCopies 2 copy known { get } { pop pop null } ifelse
    dup null eq { pop userdict /#copies known { userdict /#copies get } { 1 } ifelse } if
    =only ( ) print
    userdict /printgate_duplex get =only ( ) print
    currentpagedevice /PageSize get aload pop exch =only ( ) print =only
    (\\n) print flush
  } if
} >> setpagedevice
"""

_GS_PAGE = re.compile(rb"%%PRINTGATE-PAGE (\S+) (\S+) (\S+) (\S+)")


def ghostscript() -> str | None:
    return shutil.which("gs")


def _limits():  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (GS_MEMORY, GS_MEMORY))
    cpu = int(GS_TIMEOUT) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class InterpretError(Exception):
    """Ghostscript could not give a page count (internal; becomes a warning)."""


class ColourError(Exception):
    """Ghostscript could not give per-page colour (internal; becomes a warning, colour unknown)."""


# -- colour: Ghostscript's inkcov device ---------------------------------------------------------
#
# ``inkcov`` renders each page to CMYK (at 72 dpi, its default: a mark touches every pixel it
# covers any part of, so thin coloured lines are not lost) and prints, per page, the share
# of the pixels where each colorant is non-zero. Two things make it a colour detector:
#
# * ``-dUseFastColor`` with identity black generation and full under-colour removal (and the
#   job kept from changing them): a neutral colour, however it was declared (DeviceGray,
#   DeviceRGB r=g=b, ICCBased sRGB grey, CMYK 0 0 0 k), renders to K alone, and C, M, Y are
#   exactly 0.00000. With Ghostscript's default ICC conversion RGB grey becomes C=M=Y=K
#   ("rich black"), which would make every phone/Mac PDF colour.
# * ``COLOUR_THRESHOLD`` on max(C, M, Y): the page is colour when some colorant other than K
#   covers at least that share of the page. The default 0.0001 (0.01 %: ~6 mm2 on A4, a
#   2.5 mm square, ~50 pixels at 72 dpi) is far below any colour a reader sees (a 5 mm logo
#   is 0.0004, one line of blue link text ~0.001) and far above the 0.00001 resolution of
#   the numbers, so a few stray pixels do not make a page colour. Neutral pages are exactly
#   0 whatever the threshold. What it cannot tell: near-neutral pixels (a JPEG of a grey
#   scan with chroma noise) do put colour ink on paper and count as colour.

#: Pages beyond this are not rendered for colour (colour unknown, with a warning).
COLOUR_PAGE_LIMIT = int(os.environ.get("PRINTGATE_COLOUR_PAGE_LIMIT", "500"))
#: Seconds one colour run may take (beyond: colour unknown, with a warning).
COLOUR_TIMEOUT = float(os.environ.get("PRINTGATE_COLOUR_TIMEOUT", "30"))
#: Sections of one job rendered for colour (a job of many tiny sections: the rest stay unknown).
COLOUR_RUN_LIMIT = int(os.environ.get("PRINTGATE_COLOUR_RUN_LIMIT", "16"))
#: Share of the page C, M or Y must cover for the page to be colour (see above).
COLOUR_THRESHOLD = float(os.environ.get("PRINTGATE_COLOUR_THRESHOLD", "0.0001"))

#: Neutrals to K only, and the job may not undo it.
_INKCOV_SETUP = ("{} setblackgeneration {} setundercolorremoval "
                 "/setblackgeneration { pop } def /setundercolorremoval { pop } def ")
_INK = re.compile(rb"^\s*([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+CMYK OK\s*$", re.M)
_LINE = re.compile(rb"^(%%PRINTGATE-PAGE [^\n]*|\s*[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+CMYK OK)\s*$", re.M)


def is_colour(c: float, m: float, y: float, k: float = 0.0) -> bool:
    """The page verdict from one ``inkcov`` line."""
    return max(c, m, y) >= COLOUR_THRESHOLD


def _run_gs(path: str, *, colour: bool, timeout: float):
    """Run the section through Ghostscript with the page-reporting prologue.

    Returns ``[(page fields, colour or None)]``, one per page as the job printed it.
    Raises ``subprocess.TimeoutExpired`` / ``OSError`` / ``InterpretError``.
    """
    gs = ghostscript()
    if gs is None:
        raise InterpretError("Ghostscript is not installed")
    setup = _GS_PROLOGUE.decode()
    if colour:
        device = ["-sDEVICE=inkcov", "-dUseFastColor=true", "-sOutputFile=%stdout"]
        setup = _INKCOV_SETUP + setup
    else:
        device = ["-sDEVICE=nullpage"]
    cmd = [gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-dNOINTERPOLATE", *device,
           "-sstdout=%stdout", "-c", setup, "-f", path]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, preexec_fn=_limits)
    if proc.returncode != 0 or b"Error:" in proc.stdout:
        raise InterpretError(f"Ghostscript failed (exit {proc.returncode})")
    pages = []
    for line in _LINE.findall(proc.stdout):
        page = _GS_PAGE.match(line)
        if page is not None:
            pages.append([page.groups(), None])
        elif pages and pages[-1][1] is None:
            # the page's first inkcov line; further ones are the device's copies of it
            ink = _INK.match(line)
            pages[-1][1] = is_colour(*(float(v) for v in ink.groups()))
    if colour and any(c is None for _, c in pages):
        raise InterpretError("Ghostscript printed a page without its ink coverage")
    return [(fields, c) for fields, c in pages]


def ink_coverage(path: str, pages: int) -> list[bool]:
    """Per-page colour of the PostScript or PDF at ``path``, whose ``pages`` are known.

    Raises ``ColourError`` (colour unknown) past the page cap, on timeout, on failure, or when
    Ghostscript prints a different number of pages.
    """
    if pages > COLOUR_PAGE_LIMIT:
        raise ColourError(f"colour not checked: more than {COLOUR_PAGE_LIMIT} pages")
    try:
        result = _run_gs(path, colour=True, timeout=COLOUR_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ColourError(f"colour not checked: Ghostscript took more than {COLOUR_TIMEOUT:g} s") from None
    except OSError as exc:
        raise ColourError(f"colour not checked: Ghostscript could not run: {exc}") from None
    except InterpretError as exc:
        raise ColourError(f"colour not checked: {exc}") from None
    if len(result) != pages:
        raise ColourError(f"colour not checked: Ghostscript printed {len(result)} pages, the count is {pages}")
    return [c for _, c in result]


def interpret(path: str, tally: PageTally, colour: bool = False) -> list[str]:
    """Count pages by running the PostScript at ``path`` through Ghostscript; with ``colour``,
    in the same run, the colour of each page (``inkcov`` instead of ``nullpage``). Returns
    warnings. A colour run that fails or takes longer than ``COLOUR_TIMEOUT`` is followed by
    a ``nullpage`` run for the pages alone (colour unknown)."""
    warnings: list[str] = []
    result = None
    if colour:
        try:
            result = _run_gs(path, colour=True, timeout=min(COLOUR_TIMEOUT, GS_TIMEOUT))
        except subprocess.TimeoutExpired:
            warnings.append(f"colour not checked: Ghostscript took more than {min(COLOUR_TIMEOUT, GS_TIMEOUT):g} s")
        except (OSError, InterpretError) as exc:
            warnings.append(f"colour not checked: {exc}")
        if result is not None and len(result) > COLOUR_PAGE_LIMIT:
            warnings.append(f"colour not checked: more than {COLOUR_PAGE_LIMIT} pages")
            result = [(fields, None) for fields, _ in result]
    if result is None:
        try:
            result = _run_gs(path, colour=False, timeout=GS_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise InterpretError("Ghostscript took too long") from None
        except OSError as exc:
            raise InterpretError(f"Ghostscript could not run: {exc}") from None
    for (copies, duplex, width, height), c in result:
        try:
            n = _copies(copies)
            media = media_from_points(float(width), float(height))
        except ValueError:
            n, media = None, None
        tally.add_page(copies=n, duplex=duplex == b"true", media=media, color=c)
    return warnings
