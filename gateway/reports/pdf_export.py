"""PDF with ReportLab: a cover with the period and the totals, charts (money and pages
over time; the top cost centers or devices), then the table, one page at a time, each
page with the column header again, and a totals row at the end.

Rows stream in: the story handed to ReportLab is generated page by page
(``PagedStory``), so the rows of only one page are held as flowables at a time. (ReportLab
keeps the finished pages of the document itself until it writes the file, so a PDF's
memory grows with its page count; the CSV and XLSX writers are the flat ones.) Text is
set in DejaVu Sans (Debian ``fonts-dejavu-core``; ReportLab's bundled Vera when absent),
embedded as a subset; ``invariant`` keeps dates and ids out, so the same data gives the
same bytes. Long cells are cut to their column's width with an ellipsis: a table row
is one line."""
from __future__ import annotations

from collections import deque
from pathlib import Path

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import BaseDocTemplate, Frame, PageBreak, PageTemplate, Paragraph, Spacer, Table, TableStyle

from accounting.money import format_amount

FONT_PLACES = [
    (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")),
]
FONT, BOLD = "PrintgateSans", "PrintgateSans-Bold"
PAGE = landscape(A4)
MARGIN = 12 * mm
FONT_SIZE = 6.5
HEAD_SIZE = 6
ROW_HEIGHT = 10
HEADER_HEIGHT = 22
CHART_BLUE = colors.HexColor("#2f6db3")
CHART_ORANGE = colors.HexColor("#d9822b")


def register_fonts() -> str:
    """Register the embedded fonts once; returns the family's file for the record."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT
    import reportlab

    bundled = Path(reportlab.__file__).parent / "fonts"
    for regular, bold in FONT_PLACES + [(bundled / "Vera.ttf", bundled / "VeraBd.ttf")]:
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont(FONT, str(regular)))
            pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
            return FONT
    raise FileNotFoundError("no TrueType font for PDF reports: apt-get install fonts-dejavu-core")


class PagedStory:
    """The list-like story ``BaseDocTemplate.build`` consumes from its front, filled from
    a generator as it goes (only what is read is ever built)."""

    def __init__(self, flowables):
        self._source = iter(flowables)
        self._buffer: deque = deque()
        self._done = False

    def _fill(self, n: int) -> None:
        while len(self._buffer) < n and not self._done:
            try:
                self._buffer.append(next(self._source))
            except StopIteration:
                self._done = True

    def __len__(self):
        self._fill(1)
        return len(self._buffer) + (0 if self._done else 1)

    def __getitem__(self, index):
        if isinstance(index, slice):
            self._fill(index.stop or 0)
            return list(self._buffer)[index]
        self._fill(index + 1)
        return self._buffer[index]

    def __delitem__(self, index):
        if isinstance(index, slice):
            for _ in range(len(range(*index.indices(len(self._buffer))))):
                self._buffer.popleft()
        else:
            assert index == 0
            self._fill(1)
            self._buffer.popleft()

    def __setitem__(self, index, values):
        assert isinstance(index, slice) and index.start in (0, None) and index.stop == 0
        self._buffer.extendleft(reversed(list(values)))

    def insert(self, index, value):
        assert index == 0
        self._buffer.appendleft(value)


def _cell(kind, value, currency):
    if value is None:
        return ""
    if kind == "money":
        return format_amount(value)
    if kind == "datetime":
        return value.strftime("%Y-%m-%d %H:%M")
    if kind == "date":
        return value.isoformat()
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "percent":
        return f"{value * 100:.1f} %"
    if kind == "int":
        return f"{value:,}".replace(",", "\u202f")
    return str(value)


#: Natural widths (points) of the columns whose content has a known length; text
#: columns share what is left by their relative ``width``.
KIND_WIDTHS = {"datetime": 64, "date": 44, "int": 36, "money": 42, "bool": 22, "percent": 36}
#: Left plus right padding of a table cell (points).
CELL_PADDING = 4
#: The narrowest a text column is made (points) before the whole table is scaled down.
TEXT_MINIMUM = 24.0


class TextFit:
    """Text cut to a column's width as the font sets it: widths summed from the font's
    own glyph advances (cached per character; ``stringWidth`` per cell cost 4 µs, too much
    at millions of cells), and no measuring at all when even the font's widest glyph
    repeated would fit. A cut text ends with an ellipsis."""

    def __init__(self, font: str, size: float):
        self.font, self.size = font, size
        face = pdfmetrics.getFont(font).face
        self.widest = max(face.charWidths.values(), default=face.defaultWidth) * size / 1000
        self._widths: dict[str, float] = {}
        self.ellipsis = self.width("\u2026")

    def width(self, text: str) -> float:
        widths = self._widths
        total = 0.0
        for char in text:
            found = widths.get(char)
            if found is None:
                found = widths[char] = pdfmetrics.stringWidth(char, self.font, self.size)
            total += found
        return total

    def fit(self, text: str, room: float) -> str:
        if len(text) * self.widest <= room or self.width(text) <= room:
            return text
        room -= self.ellipsis
        used = 0.0
        for end, char in enumerate(text):
            used += self.width(char)
            if used > room:
                return text[:max(1, end)] + "\u2026"
        return text


def column_widths(columns, width: float, minimums=None) -> list[float]:
    """Widths in points: each column at least ``minimums`` (its header's longest word),
    columns of a known kind at their natural width, text columns sharing the rest by
    their relative ``width``; all scaled down together if the page is too narrow."""
    minimums = [max(TEXT_MINIMUM, m) if column.kind not in KIND_WIDTHS else m
                for column, m in zip(columns, minimums or [0.0] * len(columns))]
    fixed = [max(minimum, max(24.0, KIND_WIDTHS[column.kind] * column.width) if column.kind == "int"
                 else KIND_WIDTHS.get(column.kind, 0))
             for column, minimum in zip(columns, minimums)]
    shares = list(fixed)
    # Text columns share what is left by their relative width; one whose share falls
    # below its minimum gets the minimum, and the others share the rest again.
    sharing = [i for i, column in enumerate(columns) if column.kind not in KIND_WIDTHS]
    budget = width - sum(fixed[i] for i, column in enumerate(columns) if column.kind in KIND_WIDTHS)
    while sharing:
        weight = sum(columns[i].width for i in sharing)
        starved = [i for i in sharing if budget * columns[i].width / weight < minimums[i]]
        if not starved:
            for i in sharing:
                shares[i] = budget * columns[i].width / weight
            break
        for i in starved:
            shares[i] = minimums[i]
            budget -= minimums[i]
        sharing = [i for i in sharing if i not in starved]
    scale = min(1.0, width / sum(shares))
    return [scale * share for share in shares]


def header_lines(text: str, room: float, fit: TextFit) -> str:
    """A header in at most two lines of ``room`` points, words kept whole where they fit."""
    if fit.width(text) <= room:
        return text
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and fit.width(candidate) > room:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    return "\n".join(fit.fit(part, room) for part in lines)


class _Document(BaseDocTemplate):
    def __init__(self, path, table):
        super().__init__(str(path), pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 8,
                         bottomMargin=MARGIN, title=table.title, author="Printgate", creator="Printgate",
                         subject=table.period.label(), invariant=1, pageCompression=1, initialFontName=FONT)
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body", leftPadding=0,
                      rightPadding=0, topPadding=0, bottomPadding=0)
        self.table = table
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._decorate)])

    def _decorate(self, canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, PAGE[1] - MARGIN, f"{self.table.title} \u2014 {self.table.period.label()}")
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, f"page {doc.page}")
        canvas.restoreState()


def _styles():
    return {
        "title": ParagraphStyle("title", fontName=BOLD, fontSize=20, leading=26, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", fontName=FONT, fontSize=11, leading=15, spaceAfter=4),
        "note": ParagraphStyle("note", fontName=FONT, fontSize=9, leading=12, textColor=colors.HexColor("#7a3e00")),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=10, leading=13),
    }


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cover(table, summary, styles, width):
    yield Paragraph(_escape(table.title), styles["title"])
    yield Paragraph(_escape(f"Period: {table.period.label()}"), styles["subtitle"])
    yield Paragraph(_escape(f"Money in {table.currency}"), styles["subtitle"])
    for note in table.notes:
        yield Paragraph(_escape(note), styles["note"])
    yield Spacer(1, 8)
    if summary:
        grid = Table([[Paragraph(_escape(name), styles["cell"]), Paragraph(_escape(value), styles["cell"])]
                      for name, value in summary], colWidths=[60 * mm, 60 * mm], hAlign="LEFT")
        grid.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                                  ("FONTNAME", (0, 0), (-1, -1), FONT)]))
        yield grid
        yield Spacer(1, 10)


def _charts(table, charts, width):
    over_time = charts.get("over_time") or []
    top = charts.get("top") or []
    if not over_time and not top:
        return
    half = (width - 10 * mm) / 2
    drawing = Drawing(width, 190)
    drawing.initialFontName = FONT  # the renderer's first font, else Helvetica (not embedded)
    if over_time:
        drawing.add(String(0, 178, f"Net charge ({table.currency}) and pages over time", fontName=BOLD, fontSize=9))
        origin = over_time[0][0]
        plot = LinePlot()
        plot.x, plot.y, plot.width, plot.height = 30, 30, half - 40, 130
        money = [((day - origin).days, net / 100) for day, net, _ in over_time]
        pages = [((day - origin).days, float(count)) for day, _, count in over_time]
        top_money = max([v for _, v in money] + [1])
        top_pages = max([v for _, v in pages] + [1])
        # Two series on one scale: pages are drawn scaled to the money axis' range.
        scale = top_money / top_pages
        plot.data = [money, [(x, v * scale) for x, v in pages]]
        plot.lines[0].strokeColor, plot.lines[0].strokeWidth = CHART_BLUE, 1.5
        plot.lines[1].strokeColor, plot.lines[1].strokeWidth = CHART_ORANGE, 1.2
        plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, max(1, money[-1][0])
        plot.xValueAxis.labelTextFormat = lambda x: (origin.fromordinal(origin.toordinal() + int(x))).strftime("%d %b")
        plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = FONT
        plot.xValueAxis.labels.fontSize = plot.yValueAxis.labels.fontSize = 6
        plot.yValueAxis.valueMin = 0
        drawing.add(plot)
        legend = Legend()
        legend.x, legend.y = 40, 18
        legend.fontName, legend.fontSize = FONT, 6
        legend.alignment = "right"
        legend.columnMaximum = 1
        legend.colorNamePairs = [(CHART_BLUE, f"net charge ({table.currency})"),
                                 (CHART_ORANGE, f"pages (peak {int(top_pages):,})")]
        drawing.add(legend)
    if top:
        left = half + 10 * mm
        drawing.add(String(left, 178, charts.get("top_label", "Top"), fontName=BOLD, fontSize=9))
        bars = HorizontalBarChart()
        bars.x, bars.y, bars.width, bars.height = left + 70, 10, half - 80, 155
        bars.data = [[net / 100 for _, net in reversed(top)]]
        label = TextFit(FONT, 6)
        bars.categoryAxis.categoryNames = [label.fit(name, 64) for name, _ in reversed(top)]
        bars.categoryAxis.labels.fontName = bars.valueAxis.labels.fontName = FONT
        bars.categoryAxis.labels.fontSize = bars.valueAxis.labels.fontSize = 6
        bars.bars[0].fillColor = CHART_BLUE
        bars.valueAxis.valueMin = min([0] + [net / 100 for _, net in top])
        drawing.add(bars)
    yield drawing


def _table_pages(table, width, height, progress):
    """One Table per page: the header, as many rows as fit, and the totals at the end."""
    columns = table.columns
    head_fit, cell_fit = TextFit(BOLD, HEAD_SIZE), TextFit(FONT, FONT_SIZE)
    heads = [_head(table, column) for column in columns]
    widths = column_widths(columns, width, [max(map(head_fit.width, head.split())) + CELL_PADDING + 1
                                            for head in heads])
    rooms = [w - CELL_PADDING for w in widths]
    names = [header_lines(head, room, head_fit) for head, room in zip(heads, rooms)]
    per_page = max(1, int((height - HEADER_HEIGHT - 4) // ROW_HEIGHT))
    numeric = [i for i, column in enumerate(columns) if column.kind in ("int", "money", "percent")]
    base_style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), FONT_SIZE),
        ("FONTNAME", (0, 0), (-1, 0), BOLD), ("FONTSIZE", (0, 0), (-1, 0), HEAD_SIZE),
        ("LEADING", (0, 0), (-1, 0), HEAD_SIZE + 1.5), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f1f4f8")]),
    ] + [("ALIGN", (i, 0), (i, -1), "RIGHT") for i in numeric]
    currency = table.currency
    kinds = [column.kind for column in columns]
    fit = cell_fit.fit
    page: list = []
    count = 0
    first = True

    def render(rows, totals=None):
        data = [names] + rows + ([totals] if totals else [])
        heights = [HEADER_HEIGHT] + [ROW_HEIGHT] * (len(data) - 1)
        grid = Table(data, colWidths=widths, rowHeights=heights, repeatRows=1, hAlign="LEFT")
        style = list(base_style)
        if totals:
            style += [("FONTNAME", (0, -1), (-1, -1), BOLD), ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black),
                      ("BACKGROUND", (0, -1), (-1, -1), colors.white)]
        grid.setStyle(TableStyle(style))
        return grid

    def cells(row):
        return [fit(_cell(kind, value, currency), room) for kind, value, room in zip(kinds, row, rooms)]

    for row in table.rows:
        page.append(cells(row))
        count += 1
        if len(page) == per_page:
            if not first:
                yield PageBreak()
            first = False
            yield render(page)
            page = []
            if progress is not None:
                progress(count)
    totals = table.totals()
    if page or totals is not None or first:
        # What is left is less than a page, so the totals row still fits under it.
        if not first:
            yield PageBreak()
        yield render(page, cells(totals) if totals is not None else None)
    if progress is not None:
        progress(count)


def _head(table, column) -> str:
    return f"{column.name} ({table.currency})" if column.kind == "money" else column.name


def write_pdf(table, path, *, progress=None) -> None:
    """Write ``table`` as a PDF at ``path``."""
    register_fonts()
    document = _Document(path, table)
    styles = _styles()

    def story():
        yield from _cover(table, summary_lines(table), styles, document.width)
        yield from _charts(table, table.charts(), document.width)
        yield PageBreak()
        yield from _table_pages(table, document.width, document.height, progress)

    document.build(PagedStory(story()))


def summary_lines(table) -> list[tuple[str, str]]:
    """The cover's lines: the report's summary figures (``ReportTable.summary``), money
    (a ("money", minor units) pair) in the report's currency."""
    lines = []
    for name, value in table.summary().items():
        if isinstance(value, tuple) and value[0] == "money":
            lines.append((name, format_amount(value[1], table.currency)))
        else:
            lines.append((name, f"{value:,}" if isinstance(value, int) else str(value)))
    return lines
