"""Which IPP ``document-format`` a held job is sent as: the language the page analyzer
found, chosen among what the printer lists in ``document-format-supported``.

A printer refuses a job whose format it does not list, and one sent as
``application/octet-stream`` unless it can tell the language itself (``ippeveprinter``,
like many printers, senses only PDF, PostScript and rasters). So the analyzer's answer is
sent (PCL as ``application/vnd.hp-pcl``, ...); a PDF or PostScript job behind a PJL header
(a Windows driver's wrapper) goes as ``octet-stream`` where listed, since a PDF or
PostScript interpreter expects its own first bytes. When nothing fits, the printer cannot
print the job: the panel says so before release and nothing is charged.
"""
from __future__ import annotations

from typing import Sequence

AUTO = "application/octet-stream"
#: The analyzer's language names → IPP document formats (MIME media types).
LANGUAGE_FORMATS = {
    "pdf": "application/pdf",
    "postscript": "application/postscript",
    "pcl5": "application/vnd.hp-pcl",
    "pclxl": "application/vnd.hp-pclxl",
    "pwg": "image/pwg-raster",
    "urf": "image/urf",
    "text": "text/plain",
}
#: How a person at the panel calls each language.
LANGUAGE_NAMES = {"pdf": "PDF", "postscript": "PostScript", "pcl5": "PCL", "pclxl": "PCL XL",
                  "pwg": "PWG raster", "urf": "Apple raster", "text": "plain text"}
#: Languages whose interpreters expect their own first bytes, not a PJL header.
_OWN_FIRST_BYTES = ("pdf", "postscript", "pwg", "urf")


def job_language(pdl: str, languages: Sequence[str]) -> str | None:
    """The one language of the job, or None (unknown, or several mixed)."""
    known = {language for language in (*languages, pdl) if language in LANGUAGE_FORMATS}
    return known.pop() if len(known) == 1 else None


def choose_format(language: str | None, supported: Sequence[str] | None, *, pjl_header: bool = False,
                  fallback: str = "") -> str | None:
    """The ``document-format`` to send a job in ``language`` (None: unknown or mixed) to a
    printer listing ``supported``; None when it cannot print the job.

    A printer that lists formats auto-senses only among them: a PCL job goes as
    ``application/vnd.hp-pcl`` to a printer listing it, and to no printer listing other
    formats but not PCL, ``octet-stream`` or not. Only a printer listing nothing but
    ``octet-stream`` (or nothing at all) is trusted to sense any language. A job whose
    language is unknown goes as ``fallback`` (what the client said, or what its first bytes
    show) when listed, else as ``octet-stream``."""
    supported = list(supported or ())
    senses_anything = set(supported) <= {AUTO}
    if language is None:
        for candidate in (fallback, AUTO):
            if candidate and (not supported or candidate in supported):
                return candidate
        return AUTO if senses_anything else None
    own = LANGUAGE_FORMATS[language]
    if senses_anything:
        return AUTO if supported else own
    if own not in supported:
        return None
    if pjl_header and language in _OWN_FIRST_BYTES and AUTO in supported:
        return AUTO
    return own


def cannot_print_note(pdl: str, languages: Sequence[str], supported: Sequence[str]) -> str:
    """What the panel says about a job this printer cannot take."""
    language = job_language(pdl, languages)
    name = LANGUAGE_NAMES.get(language or "", "jobs in this format")
    takes = sorted({LANGUAGE_NAMES[lang] for lang, mime in LANGUAGE_FORMATS.items() if mime in supported})
    return (f"Cannot print here: this printer does not take {name}"
            + (f" (it takes {', '.join(takes)})" if takes else "") + ". Nothing will be charged.")
