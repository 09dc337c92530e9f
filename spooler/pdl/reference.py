"""The pure-Python reference analyzer: the specification the Cython backend must match.

A spool file is a sequence of *sections*: PJL lines (between Universal Exit Language
sequences ``ESC%-12345X``) and page description language sections that an ``@PJL ENTER
LANGUAGE`` line or the bytes themselves introduce and a UEL (or the end of the file) ends.
``Analyzer.feed`` reads PJL lines itself and hands each section's bytes, in whatever chunks
they arrive, to a scanner for its language:

========== ============================ =================== ===========================
language   scanner                      method              memory
========== ============================ =================== ===========================
pcl5, text ``pcl5.Pcl5Scanner``         scan                constant (4 × 64 KiB planes)
pclxl      ``pclxl.PclXlScanner``       scan                constant
postscript ``postscript.DscScanner``    dsc / interpreted   constant + kept chunks
pdf        ``pdf.count_pages``          header              kept chunks; our reader or qpdf
pwg, urf   ``raster.RasterScanner``     header              constant
========== ============================ =================== ===========================

PostScript and PDF sections are kept in memory as the chunks they were fed in (``_KeptBytes``:
bytes are immutable, so a whole chunk is kept by reference, not copied; at most
``SPOOL_LIMIT`` bytes: a larger section's pages are reported unknown) unless the analyzer
was given the path of the file it is reading, in which case the section is read back from
there. Only when qpdf or Ghostscript is to read the section are its bytes written to an
anonymous in-memory file (``memfd``; never on disk, because held jobs are confidential and
the spool is encrypted), which they read through its ``/proc`` path; a PostScript section
the comments count, without colour, is never copied at all.
Scanners report pages to a ``policy.PageTally``; ``policy.JobAccount`` makes the facts.

``finish()`` may block: it reads PDF (with our own reader or qpdf) and decides each page's
colour from its content (``pdfcolour``), and decides PostScript pages' colour — and their
count, when the DSC comments cannot be trusted — from the program where it is plain
(``psscan``). Ghostscript runs only for what those cannot decide: PostScript to interpret
(at most ``postscript.GS_TIMEOUT`` seconds a run), and its ``inkcov`` device for the colour
of the PDF pages the walk left undecided (those pages only) or of a PostScript section the
scan could not follow (at most ``postscript.COLOUR_TIMEOUT`` seconds and
``COLOUR_PAGE_LIMIT`` pages; one run with the interpretation when there is one). All Ghostscript runs of one job share ``postscript.GS_JOB_BUDGET`` seconds
(``PRINTGATE_GS_JOB_BUDGET``); sections left when it is used up have their pages (or colour)
unknown, with a warning. Call it off the reactor thread.
"""
from __future__ import annotations

import functools
import os

from twisted.logger import Logger

from spooler.pdl import detect, pdf, pdfcontent, postscript, psscan
from spooler.pdl.errors import AnalyzerUsageError
from spooler.pdl.facts import JobFacts
from spooler.pdl.pcl5 import Pcl5Scanner
from spooler.pdl.pclxl import PclXlScanner
from spooler.pdl.pjl import NAME_JOBATTRS, USER_JOBATTRS, parse_command
from spooler.pdl.policy import JobAccount, PageTally, clamp_copies, media_from_points
from spooler.pdl.raster import RasterScanner

UEL = b"\x1b%-12345X"
#: A PJL line longer than this is not PJL.
PJL_LINE_LIMIT = 4096
SPOOL_LIMIT = int(os.environ.get("PRINTGATE_ANALYZER_SPOOL_LIMIT", str(512 << 20)))
#: Distinct PJL variables remembered (a hostile job could send millions).
PJL_VARIABLE_LIMIT = 256

_PAPER = {"LETTER": "letter", "LEGAL": "legal", "A4": "a4", "A3": "a3", "A5": "a5", "A6": "a6",
          "EXECUTIVE": "executive", "LEDGER": "ledger", "TABLOID": "ledger", "11X17": "ledger",
          "COM10": "com10", "MONARCH": "monarch", "DL": "dl", "C5": "c5", "B5": "b5", "JISB5": "b5",
          "B4": "b4", "JISB4": "b4"}

_PJL_WHITESPACE = b"\r\n\t \x00\x04"

log = Logger(namespace="printgate.analyzer")

#: The warning a job carries when the analyzer itself failed (a bug: tests assert it never appears).
INTERNAL_FAILURE = "analyzer failed on this job"


class _Section:
    __slots__ = ("language", "scanner", "tally", "qty", "start", "kept", "overflow")

    def __init__(self, language, scanner, tally, qty, start):
        self.language = language
        self.scanner = scanner
        self.tally = tally
        self.qty = qty
        self.start = start
        self.kept: _KeptBytes | None = None
        self.overflow = False


class _KeptBytes:
    """A section's bytes, kept for a reader that needs them all, without copying them.

    A piece of at least ``BLOCK`` bytes (a fed chunk, usually) is kept as the very object
    that was fed; smaller pieces are gathered into blocks of about ``BLOCK`` bytes, so a job
    fed a byte at a time costs no more than its bytes. ``size`` is what is kept.
    """

    BLOCK = 16 << 10

    __slots__ = ("parts", "small", "size")

    def __init__(self):
        self.parts: list[bytes] = []
        self.small = bytearray()
        self.size = 0

    def add(self, piece: bytes) -> None:
        self.size += len(piece)
        if len(piece) >= self.BLOCK:
            if self.small:
                self.parts.append(bytes(self.small))
                self.small = bytearray()
            self.parts.append(piece)
            return
        self.small += piece
        if len(self.small) >= self.BLOCK:
            self.parts.append(bytes(self.small))
            self.small = bytearray()

    def truncate(self, size: int) -> None:
        """Drop what was kept beyond the first ``size`` bytes."""
        while self.size > size:
            extra = self.size - size
            if self.small:
                cut = min(extra, len(self.small))
                del self.small[len(self.small) - cut:]
            else:
                last = self.parts.pop()
                cut = min(extra, len(last))
                if cut < len(last):
                    self.parts.append(last[:len(last) - cut])
            self.size -= cut

    def write_to(self, f) -> None:
        for part in self.parts:
            f.write(part)
        f.write(self.small)


class _UelFinder:
    """The "scanner" of sections read whole at the end (PDF) or not at all (unknown)."""

    def __init__(self):
        self._carry = b""
        self.warnings: list[str] = []

    def feed(self, data):
        if self._carry:
            data = self._carry + data
            self._carry = b""
        i = data.find(UEL)
        if i >= 0:
            return data[i:]
        j = data.rfind(b"\x1b", max(0, len(data) - len(UEL) + 1))
        if j >= 0 and UEL.startswith(data[j:]):
            self._carry = data[j:]
        return None

    def close(self):
        self._carry = b""


class _PdfCollector:
    """A PDF section ends at a UEL, or where a second PDF starts after ``%%EOF`` (a client that
    makes copies by sending the document N times: each copy is its own section)."""

    def __init__(self):
        self._carry = b""
        self._tail = b""
        self.warnings: list[str] = []

    def feed(self, data):
        if self._carry:
            data = self._carry + data
            self._carry = b""
        window = self._tail + data
        base = len(self._tail)
        uel = data.find(UEL)
        limit = uel if uel >= 0 else len(data)
        start = base
        while True:
            i = window.find(b"%PDF-", start, base + limit)
            if i < 0:
                break
            j = window.rfind(b"%%EOF", 0, i)
            if j >= 0 and not window[j + 5:i].strip(b"\r\n\t \x00\x04"):
                return data[i - base:]
            start = i + 1
        if uel >= 0:
            return data[uel:]
        keep = 0
        for marker in (UEL, b"%PDF-"):
            for k in range(len(marker) - 1, 0, -1):
                if k > keep and data.endswith(marker[:k]):
                    keep = k
                    break
        if keep:
            self._carry = data[-keep:]
            data = data[:-keep]
        self._tail = (self._tail + data)[-64:]
        return None

    def close(self):
        self._carry = b""


class Analyzer:
    """Streaming analyzer: ``feed(chunk)`` any number of times, then ``finish()``.

    ``path``, when given, is the file being fed (in full, from its start): sections that need
    the whole file (PDF, PostScript to interpret) are read back from it instead of copied.
    ``interpret=False`` never starts Ghostscript (the PostScript pages are then unknown when
    the DSC cannot be trusted). ``colour`` renders PostScript and PDF sections with
    Ghostscript's ``inkcov`` device for per-page colour (``postscript.ink_coverage``); it
    follows ``interpret`` unless given (``colour=False`` keeps interpretation for pages but
    leaves PostScript/PDF colour unknown).
    """

    #: The byte loops; the Cython backend substitutes its own classes.
    scanners = {"pcl5": Pcl5Scanner, "text": Pcl5Scanner, "pclxl": PclXlScanner,
                "postscript": postscript.DscScanner, "pwg": RasterScanner, "urf": RasterScanner}
    #: The PDF content-stream byte loop (``pdfcontent.operations``); the Cython backend's own.
    content_operations = staticmethod(pdfcontent.operations)
    #: The PostScript tokenizer of the colour scan (``psscan.tokens``); the Cython backend's own.
    ps_tokens = staticmethod(psscan.tokens)
    backend = "reference"

    def __init__(self, path=None, *, interpret: bool = True, colour: bool | None = None):
        self._path = os.fspath(path) if path is not None else None
        self._interpret = interpret
        self._colour = interpret if colour is None else bool(colour)
        self._colour_runs = 0   # Ghostscript colour runs so far (at most postscript.COLOUR_RUN_LIMIT a job)
        self._gs_budget = postscript.GhostscriptBudget()  # seconds of Ghostscript left for this job
        self._account = JobAccount()
        self._env: dict[str, str] = {}
        self._pjl: dict[str, str] = {}
        self._jobattrs: dict[str, str] = {}
        self._job_name = None
        self._pjl_seen = False
        self._pending = b""
        self._sniffing = None   # the first bytes of a section, too few yet to tell its language
        self._announced = None
        self._section: _Section | None = None
        self._fed = 0
        self._finished = None
        self._failed = None

    # -- input ----------------------------------------------------------------------------------
    def feed(self, chunk) -> None:
        """Take the job's next bytes. Never raises on what the bytes say: a job the analyzer
        cannot read is still a job (it is reported with unknown pages and a warning)."""
        if self._finished is not None:
            raise AnalyzerUsageError("feed() after finish()")
        if self._failed is not None:
            return
        try:
            self._feed(chunk)
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the job
            self._fail(exc)

    def _fail(self, exc):
        self._failed = f"{type(exc).__name__}: {exc}"[:200]
        self._section = None
        log.failure("page analyzer failed after {fed} bytes ({backend})", fed=self._fed, backend=self.backend)

    def _feed(self, chunk) -> None:
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        if not chunk:
            return
        self._fed += len(chunk)
        data = chunk
        while data:
            if self._section is not None:
                data = self._scan(data)
            elif self._sniffing is not None:
                data, self._sniffing = self._sniffing + data, None
                data = self._start_section(data, final=False)
            else:
                data = self._read_pjl(data, final=False)

    def _scan(self, data):
        section = self._section
        rest = section.scanner.feed(data)
        if section.kept is not None or section.language == "pdf" or (
                section.language == "postscript" and (self._interpret or self._colour)):
            # (PostScript is kept only for Ghostscript: without interpretation or colour
            # nothing would read it)
            end = self._fed - (len(rest) if rest is not None else 0)
            self._keep(section, data, end)
        if rest is None:
            return None
        self._end_section(self._fed - len(rest))
        return rest

    def _read_pjl(self, data, final):
        if self._pending:
            data = self._pending + data
            self._pending = b""
        pos, end = 0, len(data)
        while pos < end:
            if data.startswith(UEL, pos):
                pos += len(UEL)
                self._pjl_seen = True
                self._announced = None
                continue
            if data[pos] in _PJL_WHITESPACE:
                pos += 1
                continue
            if data.startswith(b"@PJL", pos):  # the prefix is upper case (a line "@pjl ..." is not PJL)
                nl = data.find(b"\n", pos, pos + PJL_LINE_LIMIT)
                if nl < 0:
                    if end - pos < PJL_LINE_LIMIT and not final:
                        self._pending = data[pos:]
                        return None
                    nl = min(end, pos + PJL_LINE_LIMIT) - 1
                line = data[pos + 4:nl + 1].rstrip(b"\r\n")
                pos = nl + 1
                if self._pjl_line(line):
                    return self._start_section(data[pos:], final)
                continue
            if not final and end - pos < len(UEL) and (UEL.startswith(data[pos:]) or b"@PJL".startswith(data[pos:])):
                self._pending = data[pos:]
                return None
            return self._start_section(data[pos:], final)
        return None

    def _pjl_line(self, line: bytes) -> bool:
        """Apply one PJL line; True when it was ``ENTER LANGUAGE``."""
        self._pjl_seen = True
        cmd = _parse_pjl(line)
        if cmd.command == "SET":
            for key, value in cmd.assignments.items():
                if key == "JOBATTR":
                    k, sep, v = value.partition("=")
                    if sep and (len(self._jobattrs) < PJL_VARIABLE_LIMIT or k.strip().upper() in self._jobattrs):
                        self._jobattrs[k.strip().upper()] = v.strip()
                    continue
                if len(self._env) < PJL_VARIABLE_LIMIT or key in self._env:
                    self._env[key] = value
                if len(self._pjl) < PJL_VARIABLE_LIMIT or key in self._pjl:
                    self._pjl[key] = value
        elif cmd.command == "JOB":
            if "NAME" in cmd.assignments:
                self._job_name = cmd.assignments["NAME"]
        elif cmd.command in ("EOJ", "RESET"):
            self._env = {}
        elif cmd.command == "ENTER":
            self._announced = cmd.assignments.get("LANGUAGE") or (cmd.words[-1] if cmd.words else None)
            return True
        return False

    # -- sections -------------------------------------------------------------------------------
    def _start_section(self, data, final):
        if len(data) < detect.SNIFF_BYTES and not final:
            self._sniffing = data
            return None
        if data.startswith(UEL):
            # ENTER LANGUAGE followed at once by a UEL: back to PJL, nothing was entered.
            self._announced = None
            return data
        language = detect.sniff(data[:detect.SNIFF_BYTES], self._announced)
        self._announced = None
        env = self._env
        tally = PageTally(
            default_copies=_env_int(env, "COPIES"),
            default_duplex=env.get("DUPLEX", "").upper() == "ON",
            default_media=_PAPER.get(env.get("PAPER", "").upper()),
        )
        tally.force_mono = (env.get("RENDERMODE", "").upper() == "GRAYSCALE"
                            or env.get("PLANESINUSE", "").strip() == "1")
        qty = _env_int(env, "QTY")
        if language in ("pwg", "urf"):
            scanner = self.scanners[language](tally, language)
        elif language in ("pcl5", "text"):
            scanner = self.scanners[language](tally, 1 if env.get("ORIENTATION", "").upper() == "LANDSCAPE" else 0)
        elif language in self.scanners:
            scanner = self.scanners[language](tally)
        elif language == "pdf":
            scanner = _PdfCollector()
        else:
            scanner = _UelFinder()
        self._section = _Section(language, scanner, tally, qty, self._fed - len(data))
        return data

    def _keep(self, section, data, end):
        """Keep the section's bytes up to absolute offset ``end`` for a reader needing them all."""
        if self._path is not None or section.overflow:
            return
        kept = section.kept
        data_start = self._fed - len(data)
        lo = max(section.start + (kept.size if kept is not None else 0), data_start)
        if end <= lo:
            if kept is not None and end < section.start + kept.size:
                # the section ended inside bytes its scanner had held back (the start of
                # the UEL that ends it): those are not the section's
                kept.truncate(end - section.start)
            return
        if kept is None:
            kept = section.kept = _KeptBytes()
        if kept.size + (end - lo) > SPOOL_LIMIT:
            section.overflow = True
            section.kept = None
            return
        # a whole chunk slices to itself: kept by reference
        kept.add(data[lo - data_start:end - data_start])

    def _end_section(self, end: int):
        section, self._section = self._section, None
        scanner = section.scanner
        scanner.close()
        language = section.language
        for w in getattr(scanner, "warnings", ()):
            self._account.warn(w)
        tally = section.tally
        method = "scan"
        try:
            if language == "pdf":
                method = "header"
                with self._section_file(section, end) as path:
                    for w in pdf.count_pages(path, tally, colour=self._colour_run(), budget=self._gs_budget,
                                             operations=self.content_operations):
                        self._account.warn(w)
            elif language == "postscript":
                why = scanner.verdict()
                method = "dsc"
                if why is not None:
                    self._account.warn(f"PostScript DSC not used: {why}")
                    force_mono = tally.force_mono
                    tally = PageTally(tally.default_copies, tally.default_duplex, tally.default_media)
                    tally.force_mono = force_mono
                    method = "interpreted"
                    if self._scan_pages(section, end, tally):
                        pass  # a plain program: its pages (and colour) are what it runs
                    elif not self._interpret:
                        raise postscript.InterpretError("interpretation is disabled")
                    else:
                        with self._section_file(section, end) as path:
                            for w in postscript.interpret(path, tally, colour=self._colour_run(),
                                                          budget=self._gs_budget):
                                self._account.warn(w)
                        if tally.color_known and tally.pages:
                            tally.colour_methods["ghostscript"] = tally.pages
                elif tally.pages and self._colour:
                    if not self._scan_colour(section, end, tally) and self._colour_run():
                        printed = self._dsc_colour(section, end, tally)
                        if printed is not None:
                            tally, method = printed, "interpreted"
                        if tally.color_known and tally.pages:
                            tally.colour_methods["ghostscript"] = tally.pages
            elif language in ("pwg", "urf"):
                method = "header"
                if scanner.failed:
                    tally = None
            elif language == "unknown":
                tally = None
            elif getattr(scanner, "failed", None):
                tally = None
        except (pdf.PdfError, postscript.InterpretError, _SpoolError) as exc:
            self._account.warn(str(exc))
            tally = None
        finally:
            section.kept = None
        self._account.add_section(language, tally, section.qty, method)

    def forgo_external_programs(self, reason: str) -> None:
        """From now on start neither Ghostscript nor a colour run (PostScript pages are
        then known only from DSC, colour of PostScript/PDF unknown), with a warning: for
        an analysis that has to run where it must not wait for them."""
        if self._interpret or self._colour:
            self._interpret = False
            self._colour = False
            self._account.warn(f"Ghostscript not run: {reason}")

    def _colour_run(self) -> bool:
        """Whether this section may be rendered for colour (a job of endless small sections
        would otherwise start Ghostscript for each: past the limit their colour is unknown)."""
        if not self._colour:
            return False
        if self._colour_runs >= postscript.COLOUR_RUN_LIMIT:
            self._account.warn(f"colour not checked: more than {postscript.COLOUR_RUN_LIMIT} sections to render")
            return False
        self._colour_runs += 1
        return True

    def _section_bytes(self, section, end) -> bytes | None:
        """The section's bytes for the PostScript scan, or None when too large to scan."""
        if end - section.start > psscan.SCAN_LIMIT:
            return None
        try:
            with self._section_file(section, end) as path:
                with open(path, "rb") as f:
                    return f.read(end - section.start)
        except (_SpoolError, OSError):
            return None

    def _scan_pages(self, section, end, tally) -> bool:
        """Pages of a PostScript section whose comments cannot be trusted, counted by the
        ``showpage`` a plain program runs (``psscan.interpret``), with their colour when
        colour is asked for; False when Ghostscript must interpret it."""
        data = self._section_bytes(section, end)
        printed = psscan.interpret(data, self.ps_tokens) if data is not None else None
        if printed is None:
            return False
        for copies, duplex, width, height, colour in printed:
            tally.add_page(copies=copies, duplex=duplex, media=media_from_points(width, height),
                           color=colour if self._colour else None)
        if self._colour and printed:
            tally.colour_methods["content"] = len(printed)
        return True

    def _scan_colour(self, section, end, tally) -> bool:
        """Per-page colour of a DSC-counted PostScript section from its program, where it is
        plain (``psscan``); False when Ghostscript must render it."""
        data = self._section_bytes(section, end)
        if data is None:
            return False
        colours = psscan.page_colours(data, tally.pages, self.ps_tokens, self.content_operations)
        if colours is None:
            return False
        tally.set_colours(colours)
        tally.colour_methods["content"] = tally.pages
        return True

    def _dsc_colour(self, section, end, tally):
        """Per-page colour of a DSC-counted PostScript section (a colour-only Ghostscript run).

        When Ghostscript printed the pages the comments describe, they keep their count and
        get their colour. When it printed another number (a ``%%Page:`` with no ``showpage``),
        what it printed wins: returns a new tally of the pages as Ghostscript printed them."""
        try:
            with self._section_file(section, end) as path:
                runs = postscript.colour_runs(path, tally.pages, self._gs_budget)
        except postscript.ColourError as exc:
            self._account.warn(str(exc))
            return None
        except _SpoolError as exc:
            self._account.warn(f"colour not checked: {exc}")
            return None
        printed = postscript.runs_pages(runs)
        if printed == tally.pages:
            tally.set_colours(postscript.runs_colours(runs))
            return None
        self._account.warn(f"PostScript DSC describes {tally.pages} pages, Ghostscript printed {printed}: "
                           "what it printed counts")
        interpreted = PageTally(tally.default_copies, tally.default_duplex, tally.default_media)
        interpreted.force_mono = tally.force_mono
        postscript.tally_runs(interpreted, runs)
        return interpreted

    def _section_file(self, section, end):
        return _SectionFile(self._path, section, end)

    # -- output ---------------------------------------------------------------------------------
    def finish(self) -> JobFacts:
        if self._finished is not None:
            return self._finished
        if self._failed is None:
            try:
                self._finish_sections()
            except Exception as exc:  # noqa: BLE001 - a bug must not lose the job
                self._fail(exc)
        if self._failed is not None:
            facts = JobFacts(warnings=[f"{INTERNAL_FAILURE} ({self._failed})"])
        else:
            facts = self._account.facts()
        if facts.pdl == "unknown" and self._pjl_seen and not self._account.sections and self._failed is None:
            # PJL and nothing to print (a status query, a settings job): a printer prints
            # nothing for it, and GhostPCL prints no page
            facts = JobFacts(pdl="pjl", pages=0, impressions=0, sheets=0, color_pages=0, mono_pages=0,
                             warnings=["PJL only: no page description language in the job, nothing to print"])
        facts.pjl = dict(self._pjl)
        for k, v in self._jobattrs.items():
            facts.pjl[f"JOBATTR:{k}"] = v
        facts.job_name = self._job_name or self._pjl.get("JOBNAME") or _first(self._jobattrs, NAME_JOBATTRS)
        facts.user_name = self._pjl.get("USERNAME") or _first(self._jobattrs, USER_JOBATTRS)
        self._finished = facts
        return facts

    def _finish_sections(self) -> None:
        rest = None
        if self._section is None and self._sniffing is not None:
            data, self._sniffing = self._sniffing, None
            rest = self._start_section(data, final=True)
        elif self._section is None and self._pending:
            data, self._pending = self._pending, b""
            rest = self._read_pjl(data, final=True)
        if rest:
            while rest:
                if self._section is None:
                    rest = self._read_pjl(rest, final=True)
                else:
                    rest = self._scan(rest)
        if self._section is not None:
            self._end_section(self._fed)


class _SpoolError(Exception):
    pass


@functools.lru_cache(maxsize=512)
def _parse_pjl(line: bytes):
    """``pjl.parse_command`` of one line, remembered: drivers send the same lines job after
    job. The command returned is shared, so it is only read, never changed."""
    return parse_command(line.decode("latin-1"))


def _memory_file():
    """A file that lives only in memory (memfd): gone when closed, never written to disk."""
    return open(os.memfd_create("printgate-section", os.MFD_CLOEXEC), "w+b")


def _proc_path(f) -> str:
    """A path to an open file that qpdf (in process) and Ghostscript (a child of ours, same
    user) can open."""
    return f"/proc/{os.getpid()}/fd/{f.fileno()}"


class _SectionFile:
    """A path holding exactly one section's bytes, for qpdf or Ghostscript: the spool file
    itself, or a memory file the section is written to (and closed with)."""

    def __init__(self, source, section, end):
        self.source, self.section, self.end = source, section, end
        self.tmp = None

    def __enter__(self):
        section = self.section
        if self.source is not None:
            if section.start == 0 and self.end == os.path.getsize(self.source):
                return self.source
            self.tmp = _memory_file()
            with open(self.source, "rb") as f:
                f.seek(section.start)
                _copy(f, self.tmp, self.end - section.start)
            self.tmp.flush()
            return _proc_path(self.tmp)
        if section.overflow or section.kept is None:
            raise _SpoolError("job section too large to keep for counting")
        self.tmp = _memory_file()
        section.kept.write_to(self.tmp)
        self.tmp.flush()
        return _proc_path(self.tmp)

    def __exit__(self, *exc):
        if self.tmp is not None:
            self.tmp.close()


def _copy(src, dst, n):
    while n > 0:
        block = src.read(min(n, 1 << 20))
        if not block:
            break
        dst.write(block)
        n -= len(block)


def _env_int(env, key) -> int:
    raw = env.get(key)
    if raw is None:
        return 1
    try:
        return clamp_copies(int(raw.strip()))
    except ValueError:
        return 1


def _first(mapping, keys):
    for key in keys:
        if mapping.get(key):
            return mapping[key]
    return None


def analyze_path(path, *, analyzer_class=None, chunk_size: int = 1 << 16, interpret: bool = True,
                 colour: bool | None = None) -> JobFacts:
    """Analyze the file at ``path`` (read once, in chunks)."""
    cls = analyzer_class or Analyzer
    analyzer = cls(path, interpret=interpret, colour=colour)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            analyzer.feed(chunk)
    return analyzer.finish()
