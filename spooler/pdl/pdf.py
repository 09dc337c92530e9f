"""PDF: pages from the page tree, read with qpdf (through pikepdf).

qpdf already handles what hand-written code gets wrong: classic xref tables and xref
streams, object streams, linearized files, incremental updates (the last trailer wins, so
pages an update removed do not count), broken xref tables (it reconstructs), reference
loops in the page tree, and encrypted files that open without a user password. We count
the leaves of the page tree (``len(pdf.pages)``) rather than trusting a ``/Count`` that may
lie; the media of each page comes from its ``/MediaBox`` (``/CropBox`` when smaller is not
what prints on most devices, so it is not used). A PDF carries no copies or duplex of its
own that printers honour: those come from the PJL around it.

qpdf needs the whole file: the analyzer hands it a path (the spool file itself, or the
section copied to a bounded spooled temporary file). Memory: qpdf keeps the xref table and
the objects it resolves, not page contents; a stream is inflated only when an object
stream must be read, and such streams are capped by ``qpdf``'s own limits plus the address
space limit of the process that asks, when run out of process (``count_pages_isolated``).
"""
from __future__ import annotations

import os

from spooler.pdl.policy import media_from_points

#: Pages beyond this are not believed (a hostile tree): the count is reported unknown.
PAGE_LIMIT = 1_000_000


class PdfError(Exception):
    """Internal: qpdf could not read the file; the pages are unknown."""


def count_pages(path: str, tally) -> list[str]:
    """Add the pages of the PDF at ``path`` to ``tally``; return warnings."""
    try:
        import pikepdf
    except ImportError as exc:  # pragma: no cover - pikepdf is a dependency
        raise PdfError("pikepdf is not installed") from exc
    warnings: list[str] = []
    try:
        with pikepdf.open(path, suppress_warnings=True) as pdf:
            if pdf.is_encrypted:
                warnings.append("PDF is encrypted (opened without a password)")
            pages = pdf.pages
            n = len(pages)
            if n > PAGE_LIMIT:
                raise PdfError(f"PDF claims {n} pages")
            try:
                declared = int(pdf.Root.Pages.Count)
            except Exception:
                declared = None
            if declared is not None and declared != n:
                warnings.append(f"PDF page tree /Count says {declared}, it holds {n} pages")
            for page in pages:
                tally.add_page(media=_media(page), color=None)
    except PdfError:
        raise
    except Exception as exc:
        raise PdfError(f"PDF could not be read: {type(exc).__name__}: {exc}"[:200]) from None
    return warnings


def _media(page):
    try:
        box = page.mediabox
        x0, y0, x1, y1 = (float(v) for v in box)
    except Exception:
        return None
    width, height = abs(x1 - x0), abs(y1 - y0)
    try:
        unit = float(page.obj.get("/UserUnit", 1))
    except Exception:
        unit = 1.0
    return media_from_points(width * unit, height * unit)


def file_size(path) -> int:
    return os.stat(path).st_size
