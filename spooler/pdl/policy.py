"""What counts: pages, copies, sheets and colour, in one readable place.

Every scanner (PCL 5, PCL XL, PostScript, PDF, raster; reference or Cython) reports the
pages it sees to a ``PageTally`` and nothing else; this module turns those reports and the
PJL around them into ``JobFacts``. Policy lives here so both backends share it.

How copies combine (HP *PJL Technical Reference Manual*, "Environment Commands":
"Changing Environment Settings", the COPIES and QTY variables; Ricoh/Xerox PJL references
agree)::

    PJL COPIES  sets the PJL *current environment* default number of copies. A copies
                command in the page description language (PCL 5 ``ESC&l#X``, PCL XL
                ``PageCopies``, PostScript ``/NumCopies`` or ``#copies``) overrides it
                ("the newly specified printer language value overrides the PJL Current
                Environment value"); the next PJL reset (``EOJ``, UEL without a job,
                PCL ``ESC E`` back to the environment default) restores it.
    PJL QTY     is the number of collated copies of the whole job and multiplies whatever
                the job asks for per page.

    copies of a page = QTY (default 1) × (in-stream copies if the stream set them,
                                          else PJL COPIES, else 1)

So a Windows driver writing ``@PJL SET QTY=3`` and Ghostscript's ``ESC&l1X`` prints 3
copies; ``@PJL SET COPIES=3`` followed by an in-stream ``ESC&l1X`` prints 1 (the stream
wins); ``@PJL SET COPIES=4`` around PostScript or PDF with no copies of its own prints 4.

Sheets: pages are laid on sheets in order; a sheet holds two sides when the page is duplex
and one otherwise; a change of media size or of duplex mode starts a new sheet. The
uncollated in-stream copies of a page are copies of the sheet it starts, so
``sheets = QTY × Σ(copies of each sheet's first page)``.

PJL ``SET RENDERMODE=GRAYSCALE`` (or ``SET PLANESINUSE=1``) makes the printer render every
page in grey: such pages count as mono whatever the stream draws.

A page is colour when it visibly uses a non-neutral colour (not merely when the driver
declared an RGB colour space), as Ghostscript's ``inkcov`` device decides it
(``postscript.ink_coverage``): PDF pages from their content (``pdfcolour``), PostScript
pages from their program where it is plain (``psscan``), and only the rest by rendering
with ``inkcov``; ``PageTally.colour_methods`` counts the pages each way decided. Where
nothing could answer, colour counts are ``None``.
"""
from __future__ import annotations

import functools

from spooler.pdl.facts import JobFacts

#: Named media by size in PostScript points (width, height), portrait, ±3 pt tolerance.
MEDIA_POINTS = {
    "letter": (612, 792),
    "legal": (612, 1008),
    "executive": (522, 756),
    "ledger": (792, 1224),
    "a3": (842, 1191),
    "a4": (595, 842),
    "a5": (420, 595),
    "a6": (298, 420),
    "b4": (729, 1032),
    "b5": (516, 729),
    "com10": (297, 684),
    "monarch": (279, 540),
    "dl": (312, 624),
    "c5": (459, 649),
}

MAX_COPIES = 9999
#: Distinct media names remembered per section (custom sizes are unbounded in number).
MEDIA_LIMIT = 64


@functools.lru_cache(maxsize=1024)
def media_from_points(width: float, height: float) -> str | None:
    """Name a page size given in points, or ``None`` when it is not a known size."""
    if width > height:
        width, height = height, width
    for name, (w, h) in MEDIA_POINTS.items():
        if abs(w - width) <= 3 and abs(h - height) <= 3:
            return name
    if width <= 0 or height <= 0:
        return None
    return f"custom-{int(round(width))}x{int(round(height))}pt"


def clamp_copies(value: int) -> int:
    """Copies the way printers read them: at least 1, at most ``MAX_COPIES``."""
    if value < 1:
        return 1
    if value > MAX_COPIES:
        return MAX_COPIES
    return value


class PageTally:
    """Pages of one language section, accumulated in constant memory.

    ``default_copies`` and ``default_duplex`` come from the PJL current environment at the
    start of the section; ``add_page`` receives what the stream itself said (``None`` for
    "the stream did not say").
    """

    __slots__ = (
        "default_copies", "default_duplex", "default_media", "pages", "impressions", "sheets",
        "color_pages", "mono_pages", "color_known", "media", "copies_seen", "duplex_seen",
        "_sheet_media", "_sheet_duplex", "_sheet_sides", "force_mono", "colour_methods",
    )

    def __init__(self, default_copies: int = 1, default_duplex: bool = False, default_media: str | None = None):
        self.default_copies = default_copies
        self.default_duplex = default_duplex
        self.default_media = default_media
        self.pages = 0
        self.impressions = 0
        self.sheets = 0
        self.color_pages = 0
        self.mono_pages = 0
        self.color_known = True
        self.media: dict[str, int] = {}  # media name -> impressions on it
        self.copies_seen: set[int] = set()
        self.duplex_seen = False
        self._sheet_media = None
        self._sheet_duplex = False
        self._sheet_sides = 0
        self.force_mono = False
        #: Pages whose colour each method decided ("content": the walk or scan of the page's
        #: own content; "ghostscript": rendered with inkcov).
        self.colour_methods: dict[str, int] = {}

    def add_page(self, copies=None, duplex=None, media=None, color=None, front=False) -> None:
        """Record one page as printed. ``color`` is True/False, or None when unknowable.

        ``front`` forces the page onto the front of a new sheet (PCL ``ESC&a1G``).
        """
        copies = self.default_copies if copies is None else clamp_copies(copies)
        duplex = self.default_duplex if duplex is None else bool(duplex)
        if media is None:
            media = self.default_media
        self.pages += 1
        self.impressions += copies
        self.copies_seen.add(copies)
        if duplex:
            self.duplex_seen = True
        if media and (media in self.media or len(self.media) < MEDIA_LIMIT):
            self.media[media] = self.media.get(media, 0) + copies
        if color is not None and self.force_mono:
            color = False
        if color is None:
            self.color_known = False
        elif color:
            self.color_pages += 1
        else:
            self.mono_pages += 1
        capacity = 2 if duplex else 1
        if (front or self._sheet_sides == 0 or self._sheet_sides >= capacity
                or media != self._sheet_media or duplex != self._sheet_duplex):
            self.sheets += copies
            self._sheet_sides = 0
            self._sheet_media = media
            self._sheet_duplex = duplex
        self._sheet_sides += 1

    def add_pages(self, count: int, copies=None, duplex=None, media=None, color=None) -> None:
        """Record ``count`` alike pages in a row: the same as ``count`` calls of ``add_page``
        (without ``front``), in constant time. The Cython scanners hand pages over this way."""
        if count <= 0:
            return
        copies = self.default_copies if copies is None else clamp_copies(copies)
        duplex = self.default_duplex if duplex is None else bool(duplex)
        if media is None:
            media = self.default_media
        self.pages += count
        self.impressions += copies * count
        self.copies_seen.add(copies)
        if duplex:
            self.duplex_seen = True
        if media and (media in self.media or len(self.media) < MEDIA_LIMIT):
            self.media[media] = self.media.get(media, 0) + copies * count
        if color is not None and self.force_mono:
            color = False
        if color is None:
            self.color_known = False
        elif color:
            self.color_pages += count
        else:
            self.mono_pages += count
        capacity = 2 if duplex else 1
        # the first page starts a sheet unless it fits on the one begun; the rest fill it, then more
        sides = self._sheet_sides
        if sides == 0 or sides >= capacity or media != self._sheet_media or duplex != self._sheet_duplex:
            self.sheets += copies
            sides = 0
            self._sheet_media = media
            self._sheet_duplex = duplex
        sides += count
        new_sheets = (sides + capacity - 1) // capacity - 1
        self.sheets += copies * new_sheets
        self._sheet_sides = sides - capacity * new_sheets

    def set_colours(self, colours: list[bool]) -> None:
        """Give the pages already added (in order, all with colour unknown) their colour, once
        it is known after the fact (PostScript counted from DSC, rendered afterwards)."""
        if len(colours) != self.pages:
            raise ValueError(f"{len(colours)} colours for {self.pages} pages")
        color = 0 if self.force_mono else sum(1 for c in colours if c)
        self.color_pages = color
        self.mono_pages = self.pages - color
        self.color_known = True

    def fold_copies(self, n: int) -> None:
        """The pages seen are one document printed ``n`` times: count them as ``n`` copies.
        Impressions and sheets (what is printed) do not change."""
        self.pages //= n
        self.color_pages //= n
        self.mono_pages //= n
        self.copies_seen = {clamp_copies(c * n) for c in self.copies_seen}

    def merge(self, other: "PageTally") -> None:
        """Add ``other``'s pages to this tally (sheets do not continue across the two)."""
        self.pages += other.pages
        self.impressions += other.impressions
        self.sheets += other.sheets
        self.color_pages += other.color_pages
        self.mono_pages += other.mono_pages
        self.color_known = self.color_known and other.color_known
        for name, n in other.media.items():
            if name in self.media or len(self.media) < MEDIA_LIMIT:
                self.media[name] = self.media.get(name, 0) + n
        if len(self.copies_seen) < 64:
            self.copies_seen |= other.copies_seen
        self.duplex_seen = self.duplex_seen or other.duplex_seen
        for method, n in other.colour_methods.items():
            self.colour_methods[method] = self.colour_methods.get(method, 0) + n


class JobAccount:
    """Sections of one spool file (a PJL job may hold several languages) → ``JobFacts``."""

    def __init__(self):
        self.sections: list[tuple[str, PageTally, int, str]] = []
        self.warnings: list[str] = []

    #: Sections kept one by one; beyond this a job made of endless tiny sections is folded
    #: into one running total per (language, qty, method), so memory stays bounded.
    SECTION_LIMIT = 256

    def add_section(self, language: str, tally: PageTally | None, qty: int, method: str) -> None:
        if len(self.sections) >= self.SECTION_LIMIT:
            for i, (lang, t, q, m) in enumerate(self.sections):
                if (lang, q, m) == (language, qty, method) and (t is None) == (tally is None):
                    if t is not None:
                        t.merge(tally)
                    return
            self.warn("too many sections in one job; later ones are folded together")
            if len(self.sections) >= 2 * self.SECTION_LIMIT:
                return
        self.sections.append((language, tally, qty, method))

    def warn(self, text: str) -> None:
        if text not in self.warnings and len(self.warnings) < 32:
            self.warnings.append(text)

    def facts(self) -> JobFacts:
        facts = JobFacts()
        facts.warnings = list(self.warnings)
        counted = [s for s in self.sections if s[0] not in ("pjl",)]
        languages = []
        for language, *_ in counted:
            if language not in languages:
                languages.append(language)
        facts.languages = languages
        real = [s for s in counted if s[0] != "unknown"]
        if not real:
            facts.pdl = "unknown"
            if not any("not recognised" in w for w in facts.warnings):
                facts.warnings.append("page description language not recognised")
            return facts
        # The job's language: the one carrying most pages (a PCL 5 banner before PCL XL is
        # still a PCL XL job), else the first recognised one.
        main = max(real, key=lambda s: (s[1].pages if s[1] is not None else -1))
        facts.pdl = main[0]
        methods = [s[3] for s in real]
        facts.method = "interpreted" if "interpreted" in methods else main[3]
        if any(s[0] == "unknown" for s in counted):
            facts.warnings.append("part of the job is in an unrecognised language; it was not counted")
        if any(s[1] is None for s in real):
            return facts
        pages = impressions = sheets = color = mono = 0
        color_known = True
        copies_seen: set[int] = set()
        media: dict[str, int] = {}
        duplex = False
        methods: dict[str, int] = {}
        for _, tally, qty, _ in real:
            for method, n in tally.colour_methods.items():
                methods[method] = methods.get(method, 0) + n
            pages += tally.pages
            impressions += tally.impressions * qty
            sheets += tally.sheets * qty
            color += tally.color_pages
            mono += tally.mono_pages
            color_known = color_known and tally.color_known
            copies_seen.update(clamp_copies(c * qty) for c in tally.copies_seen)
            for name, n in tally.media.items():
                media[name] = media.get(name, 0) + n * qty
            duplex = duplex or tally.duplex_seen
        facts.pages = pages
        facts.impressions = impressions
        facts.sheets = sheets
        facts.duplex = duplex
        if pages == 0:
            facts.copies = clamp_copies(main[2] * main[1].default_copies)
        elif len(copies_seen) == 1:
            facts.copies = copies_seen.pop()
        else:
            facts.copies = max(copies_seen)
            facts.warnings.append("pages have different numbers of copies; impressions are exact, copies is the largest")
        if color_known:
            facts.color_pages = color
            facts.mono_pages = mono
        facts.colour_methods = methods
        facts.media = sorted(media)
        facts.media_impressions = {name: media[name] for name in sorted(media)}
        return facts
