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
joined after the first, when ``showpage`` appears outside any page (a cover page), when a
page device setting sits in the prolog (``%%BeginProlog`` … ``%%EndProlog`` only defines
procedures: ``/Duplex true`` there is the body of a procedure the document may call with
``false``), or when nesting runs away. Ghostscript runs as ``gs -dSAFER -dNOPAUSE -dBATCH -sDEVICE=inkcov``
in a subprocess with CPU-time, wall-time, address-space and file-size limits; the device
prints a line per page and copy, and an ``EndPage`` procedure reports before each page the
duplex mode and size in force (the device ignores ``/Duplex``, so the prologue remembers
what the job asked ``setpagedevice`` for). Both go to a private channel the job cannot
write to; stdout is drained unread (see "Ghostscript" below). All runs of one job share
``GS_JOB_BUDGET`` seconds (``GhostscriptBudget``).

Colour is not known from the comments. When colour is asked for (the default;
``colour=False`` or ``interpret=False`` switches it off) it comes from the program itself
where it is plain (``psscan``, which also counts the pages of a plain program whose
comments cannot be trusted); otherwise Ghostscript renders the section at full resolution,
and the ``inkcov`` lines give the share of the page each of C, M, Y and K touches (see
``ink_coverage``). Interpretation and colour share one run: each page report is followed by
the page's ``inkcov`` lines, so pages and their colour cannot drift apart. A DSC-counted
section gets a second, colour-only run; when Ghostscript printed another number of pages
than the comments describe (a ``%%Page:`` without ``showpage``), what it printed wins: the
section is counted from that run (method ``interpreted``).

The scan fills its own ``PageTally``; the caller throws it away when the verdict is to
interpret. ``DscScanner`` holds the policy (what each comment means); ``_scan`` is the byte loop,
which ``ext/_scan.pyx`` replaces.
"""
from __future__ import annotations

import functools
import os
import re
import resource
import selectors
import shutil
import subprocess
import tempfile
import time

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
        self._in_prolog = False  # between %%BeginProlog and %%EndProlog: procedure definitions
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
        elif key == b"BeginProlog":
            self._in_prolog = True
        elif key in (b"EndProlog", b"EndSetup"):
            self._in_prolog = False
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
        if self._in_prolog:
            # The prolog only defines procedures (DSC): a setting in it is a procedure's body,
            # made when and as the document calls it, which the comments cannot tell
            self._distrust("a page device setting inside a prolog procedure")
            return
        name = m.group(1)
        if name == b"PageSize":
            if m.group(2) is not None:
                self._page_size(media_from_points(float(m.group(2)), float(m.group(3))))
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
        self._add_page(copies, self.duplex, media)

    def _add_page(self, copies, duplex, media):
        """Hand one page to the tally (the Cython twin collects runs of alike pages first)."""
        self.tally.add_page(copies, duplex, media, None)

    def _page_size(self, media):
        """A ``/PageSize [w h]`` setting (outside embedded documents)."""
        self.media = media
        if self._in_page:
            self._page_media = media

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
#
# What Ghostscript tells us must come through a channel the job cannot write to. A job may
# print anything on Ghostscript's stdout and stderr (``print``, ``==``, ``(%stdout) (w) file``),
# and under -dSAFER it may still open the device's ``OutputFile`` path for writing (Ghostscript
# permits that path to the job as well as to the device). So the run is set up like this:
#
# * the device (``inkcov``, one line per page and copy) writes to a FIFO in a private
#   directory, opened before the job starts (``-dOpenOutputFile``);
# * the prologue opens the same FIFO for its own page reports, keeps the file object only
#   inside execute-only procedures (the job can call them, never read them), then says
#   ``PRINTGATE-READY`` on stdout and waits for a byte on stdin;
# * we unlink the FIFO and send the byte: from then on no path leads to the channel, and the
#   job runs. stdout is drained and thrown away (never parsed, never kept).
#
# Each page the device prints is an ``inkcov`` line; each page report (``%%PRINTGATE-PAGE``,
# written by ``EndPage`` before the device prints the page, so the stream stays in order) gives
# the duplex mode asked for and the page size. A page's copies are the lines the device printed
# for it; its colour is colour when any of them is. A report without device lines, device
# lines without a report (a job that installed its own ``EndPage`` behind our back), or anything
# else on the channel make the run fail: the pages are then unknown, never guessed.
#
# What this cannot stop: a job that behaves differently under Ghostscript than on a printer
# (it can ask ``product``). The SNMP counter check after release is the backstop for that.

#: Seconds one Ghostscript run may take (a single interpretation).
GS_TIMEOUT = float(os.environ.get("PRINTGATE_GS_TIMEOUT", "60"))
#: Seconds all Ghostscript runs of one job may take together (interpretation and colour).
GS_JOB_BUDGET = float(os.environ.get("PRINTGATE_GS_JOB_BUDGET", "60"))
GS_MEMORY = int(os.environ.get("PRINTGATE_GS_MEMORY", str(1 << 30)))
#: Largest file Ghostscript may write (its scratch files for huge pages; what a job writes).
GS_FILE_LIMIT = int(os.environ.get("PRINTGATE_GS_FILE_LIMIT", str(256 << 20)))
#: Distinct runs of alike pages kept from one Ghostscript run (beyond: the run fails).
GS_PAGE_RECORD_LIMIT = 100_000

_REPORT_LINE_LIMIT = 256
_READY = b"PRINTGATE-READY\n"


def _ps_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _prologue(channel: str) -> str:
    """Installed before the job: report each page the device is about to print, on ``channel``."""
    return """
/printgate_out %s (w) file def
/printgate_duplex [ false ] def
/printgate_report {
  dup {
    //printgate_out (%%%%PRINTGATE-PAGE ) writestring
    //printgate_out //printgate_duplex 0 get { (true ) } { (false ) } ifelse writestring
    currentpagedevice /PageSize get aload pop exch
    //printgate_out exch 32 string cvs writestring
    //printgate_out ( ) writestring
    //printgate_out exch 32 string cvs writestring
    //printgate_out (\\n) writestring
    //printgate_out flushfile
  } if
} bind executeonly def
/printgate_chain {
  [ exch /exec load //printgate_report /exec load ] cvx executeonly
} bind executeonly def
<< /EndPage { exch pop 2 ne //printgate_report exec } bind executeonly >> setpagedevice
/setpagedevice {
  dup type /dicttype eq {
    dup /EndPage known {
      dup length 1 add dict copy dup /EndPage 2 copy get //printgate_chain exec put
    } if
    dup /Duplex known { dup /Duplex get } { null } ifelse
    exch //setpagedevice
    dup type /booleantype eq { //printgate_duplex exch 0 exch put } { pop } ifelse
  } {
    //setpagedevice
  } ifelse
} bind executeonly def
userdict /printgate_out undef
userdict /printgate_duplex undef
userdict /printgate_report undef
userdict /printgate_chain undef
(PRINTGATE-READY\\n) print flush
(%%stdin) (r) file read { pop } if
""" % _ps_string(channel)


def ghostscript() -> str | None:
    return shutil.which("gs")


def _limits(seconds: float):
    def apply():  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (GS_MEMORY, GS_MEMORY))
        cpu = int(seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (GS_FILE_LIMIT, GS_FILE_LIMIT))
    return apply


class InterpretError(Exception):
    """Ghostscript could not give a page count (internal; becomes a warning)."""


class ColourError(Exception):
    """Ghostscript could not give per-page colour (internal; becomes a warning, colour unknown)."""


class GhostscriptBudget:
    """The seconds of Ghostscript one job may still use, over all its sections.

    Every run takes at most what is left; a run that starts with nothing left fails at once
    (its section's pages or colour are then unknown, with a warning). ``clock`` is for tests.
    """

    def __init__(self, seconds: float | None = None, clock=time.monotonic):
        self.seconds = GS_JOB_BUDGET if seconds is None else float(seconds)
        self.spent = 0.0
        self._clock = clock

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.spent)

    def exhausted_message(self) -> str:
        return f"Ghostscript time for the job ({self.seconds:g} s) used up"

    def timeout(self, cap: float) -> float:
        """Seconds the next run may take, at most ``cap``; raises ``_BudgetSpent`` when
        nothing is left."""
        left = self.remaining()
        if left <= 0:
            raise _BudgetSpent(self.exhausted_message())
        return min(cap, left)

    def run(self, fn, *args, cap: float, **kw):
        """``fn(*args, timeout=..., **kw)`` within the budget; its time is charged."""
        timeout = self.timeout(cap)
        start = self._clock()
        try:
            return fn(*args, timeout=timeout, **kw)
        finally:
            self.spent += self._clock() - start


class _BudgetSpent(Exception):
    pass


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
#
# A run for pages alone uses the same device at a low resolution (it is the device's lines
# that count the pages).

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
_INK = re.compile(rb" *([0-9]+\.[0-9]+) +([0-9]+\.[0-9]+) +([0-9]+\.[0-9]+) +([0-9]+\.[0-9]+) CMYK OK")
_GS_PAGE = re.compile(rb"%%PRINTGATE-PAGE (true|false) ([-+0-9.eE]+) ([-+0-9.eE]+)")


def is_colour(c: float, m: float, y: float, k: float = 0.0) -> bool:
    """The page verdict from one ``inkcov`` line."""
    return max(c, m, y) >= COLOUR_THRESHOLD


class _PageReports:
    """Reads the private channel: page reports, each followed by the device's lines for it.

    Pages are kept as runs of alike pages ``[duplex, width, height, copies, colour, count]``.
    """

    def __init__(self, colour: bool):
        self.colour = colour
        self.runs: list[list] = []
        self._page = None    # [duplex, width, height, lines, colour] of the page being printed
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > _REPORT_LINE_LIMIT:
            raise InterpretError("Ghostscript wrote an overlong line to its page channel")
        for line in lines:
            self._line(line)

    def _line(self, line: bytes) -> None:
        ink = _INK.fullmatch(line)
        if ink is not None:
            if self._page is None:
                raise InterpretError("Ghostscript printed a page it did not report (EndPage replaced?)")
            self._page[3] += 1
            if self.colour and not self._page[4] and is_colour(*(float(v) for v in ink.groups())):
                self._page[4] = True
            return
        report = _GS_PAGE.fullmatch(line)
        if report is None:
            raise InterpretError("Ghostscript wrote something unexpected to its page channel")
        self._close_page()
        duplex, width, height = report.groups()
        self._page = [duplex == b"true", width, height, 0, False]

    def _close_page(self) -> None:
        page, self._page = self._page, None
        if page is None:
            return
        if page[3] == 0:
            raise InterpretError("Ghostscript reported a page the device did not print")
        record = [page[0], page[1], page[2], page[3], page[4] if self.colour else None]
        if self.runs and self.runs[-1][:5] == record:
            self.runs[-1][5] += 1
            return
        if len(self.runs) >= GS_PAGE_RECORD_LIMIT:
            raise InterpretError("Ghostscript printed too many different pages")
        self.runs.append(record + [1])

    def close(self) -> list[list]:
        if self._buffer:
            raise InterpretError("Ghostscript's page channel ended in the middle of a line")
        self._close_page()
        return self.runs


def _run_gs(path: str, *, colour: bool, timeout: float, page_list: list[int] | None = None) -> list[list]:
    """Run the section at ``path`` through Ghostscript's ``inkcov`` device and read back, from
    a channel the job cannot reach, what it printed: runs of alike pages
    ``[duplex, width, height, copies, colour or None, count]``.

    Raises ``subprocess.TimeoutExpired`` / ``OSError`` / ``InterpretError``.
    """
    gs = ghostscript()
    if gs is None:
        raise InterpretError("Ghostscript is not installed")
    deadline = time.monotonic() + timeout
    private = tempfile.mkdtemp(prefix="printgate-gs-")
    try:
        channel = os.path.join(private, "pages")
        os.mkfifo(channel, 0o600)
        reader = os.open(channel, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            setup = _prologue(channel)
            if colour:
                device = ["-sDEVICE=inkcov", "-dUseFastColor=true"]
                setup = _INKCOV_SETUP + setup
            else:
                device = ["-sDEVICE=inkcov", "-r18"]
            if page_list:
                device.append("-sPageList=" + ",".join(str(n) for n in page_list))
            cmd = [gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-dNOINTERPOLATE", *device,
                   "-dOpenOutputFile=true", f"-sOutputFile={channel}", "-c", setup, "-f", path]
            env = {k: v for k, v in os.environ.items() if k != "GS_OPTIONS"}
            env["TMPDIR"] = private  # what -dSAFER lets a job write, it writes here (removed after)
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, env=env, close_fds=True,
                                    preexec_fn=_limits(timeout))
            try:
                reports = _PageReports(colour)
                _converse(proc, reader, channel, reports, deadline)
                code = proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise subprocess.TimeoutExpired(cmd, timeout) from None
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                for stream in (proc.stdin, proc.stdout):
                    if stream is not None and not stream.closed:
                        stream.close()
        finally:
            os.close(reader)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if code != 0:
        raise InterpretError(f"Ghostscript failed (exit {code})")
    return reports.close()


def _converse(proc, reader: int, channel: str, reports: _PageReports, deadline: float) -> None:
    """Wait for the prologue's ``PRINTGATE-READY``, unlink the channel and let the job run;
    then read the channel and drain stdout (nothing of it is kept) until both end."""
    out = proc.stdout.fileno()
    os.set_blocking(out, False)
    with selectors.DefaultSelector() as sel:
        sel.register(out, selectors.EVENT_READ, "stdout")
        greeting = b""
        ready = False
        streams = 1
        while streams:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, 0)
            for key, _ in sel.select(left):
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(key.fd)
                    streams -= 1
                    if not ready:
                        raise InterpretError("Ghostscript did not start")
                elif key.data == "channel":
                    reports.feed(data)
                elif not ready:
                    # Only Ghostscript and the prologue have run: whatever precedes the
                    # greeting is theirs. After it, stdout is the job's and is not read.
                    greeting = (greeting + data)[-(1 << 16):]
                    if _READY in greeting:
                        # The prologue holds the channel open: from now on it ends only when
                        # Ghostscript closes it. Unlink it before the job can look for it.
                        os.unlink(channel)
                        ready = True
                        sel.register(reader, selectors.EVENT_READ, "channel")
                        streams += 1
                        proc.stdin.write(b"\n")
                        proc.stdin.close()


def _expand(runs):
    for duplex, width, height, copies, colour, count in runs:
        for _ in range(count):
            yield duplex, width, height, copies, colour


def _pages(runs) -> int:
    return sum(run[5] for run in runs)


def colour_runs(path: str, pages: int, budget: GhostscriptBudget | None = None,
                page_list: list[int] | None = None) -> list[list]:
    """Render the PostScript or PDF at ``path`` (``pages`` of it expected; only the pages
    numbered in ``page_list`` when given, a PDF's) with colour: runs of alike pages
    ``[duplex, width, height, copies, colour, count]`` as Ghostscript printed them.

    Raises ``ColourError`` (colour unknown) past the page cap, on timeout, when the job's
    Ghostscript time (``budget``) is used up, or on failure.
    """
    if pages > COLOUR_PAGE_LIMIT:
        raise ColourError(f"colour not checked: more than {COLOUR_PAGE_LIMIT} pages")
    budget = budget if budget is not None else GhostscriptBudget()
    try:
        return budget.run(_run_gs, path, colour=True, cap=COLOUR_TIMEOUT, page_list=page_list)
    except _BudgetSpent as exc:
        raise ColourError(f"colour not checked: {exc}") from None
    except subprocess.TimeoutExpired as exc:
        raise ColourError(f"colour not checked: Ghostscript took more than {exc.timeout:g} s") from None
    except OSError as exc:
        raise ColourError(f"colour not checked: Ghostscript could not run: {exc}") from None
    except InterpretError as exc:
        raise ColourError(f"colour not checked: {exc}") from None


def runs_pages(runs) -> int:
    """Pages (not copies) in runs of alike pages."""
    return _pages(runs)


def runs_colours(runs) -> list[bool]:
    """The colour of each page in runs of alike pages."""
    return [page[4] for page in _expand(runs)]


def ink_coverage(path: str, pages: int, budget: GhostscriptBudget | None = None) -> list[bool]:
    """Per-page colour of the PostScript or PDF at ``path``, whose ``pages`` are known.

    Raises ``ColourError`` as ``colour_runs`` does, and when Ghostscript prints a different
    number of pages.
    """
    runs = colour_runs(path, pages, budget)
    printed = _pages(runs)
    if printed != pages:
        raise ColourError(f"colour not checked: Ghostscript printed {printed} pages, the count is {pages}")
    return runs_colours(runs)


def tally_runs(tally: PageTally, runs) -> None:
    """Add the pages Ghostscript printed (runs of alike pages) to ``tally``."""
    for duplex, width, height, copies, c, count in runs:
        try:
            media = media_from_points(float(width), float(height))
        except ValueError:
            media = None
        for _ in range(count):
            tally.add_page(copies=copies, duplex=duplex, media=media, color=c)


def interpret(path: str, tally: PageTally, colour: bool = False,
              budget: GhostscriptBudget | None = None) -> list[str]:
    """Count pages by running the PostScript at ``path`` through Ghostscript; with ``colour``,
    in the same run, the colour of each page (at full resolution). Returns warnings. A colour
    run that fails or takes longer than ``COLOUR_TIMEOUT`` is followed by a run for the pages
    alone (colour unknown). All runs of one job share ``budget``; when it is used up the pages
    are unknown (``InterpretError``)."""
    budget = budget if budget is not None else GhostscriptBudget()
    warnings: list[str] = []
    runs = None
    if colour:
        try:
            runs = budget.run(_run_gs, path, colour=True, cap=min(COLOUR_TIMEOUT, GS_TIMEOUT))
        except _BudgetSpent as exc:
            raise InterpretError(f"PostScript pages not counted: {exc}") from None
        except subprocess.TimeoutExpired as exc:
            warnings.append(f"colour not checked: Ghostscript took more than {exc.timeout:g} s")
        except (OSError, InterpretError) as exc:
            warnings.append(f"colour not checked: {exc}")
        if runs is not None and _pages(runs) > COLOUR_PAGE_LIMIT:
            warnings.append(f"colour not checked: more than {COLOUR_PAGE_LIMIT} pages")
            runs = [run[:4] + [None, run[5]] for run in runs]
    if runs is None:
        try:
            runs = budget.run(_run_gs, path, colour=False, cap=GS_TIMEOUT)
        except _BudgetSpent as exc:
            raise InterpretError(f"PostScript pages not counted: {exc}") from None
        except subprocess.TimeoutExpired:
            if budget.remaining() <= 0:
                raise InterpretError(f"PostScript pages not counted: {budget.exhausted_message()}") from None
            raise InterpretError("Ghostscript took too long") from None
        except OSError as exc:
            raise InterpretError(f"Ghostscript could not run: {exc}") from None
    tally_runs(tally, runs)
    return warnings
