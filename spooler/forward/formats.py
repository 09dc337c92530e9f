"""Which IPP ``document-format`` a held job is sent as: the language the page analyzer
found, chosen among what the printer lists in ``document-format-supported``.

A printer refuses a job whose format it does not list, and one sent as
``application/octet-stream`` only if it can tell the language itself. So the analyzer's
answer goes first (PCL as ``application/vnd.hp-pcl``, ...), then ``octet-stream`` when the
printer auto-senses. A PDF or PostScript job behind a PJL header (a Windows driver's
wrapper) goes as ``octet-stream`` first: a PDF or PostScript interpreter expects its own
first bytes. When nothing fits, the printer cannot print the job: the panel says so
before release and nothing is charged.
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


def preferred_formats(pdl: str, languages: Sequence[str] = (), *, pjl_header: bool = False,
                      client_format: str = "") -> list[str]:
    """The IPP document formats that describe the job, best first."""
    language = job_language(pdl, languages)
    if language is None:
        if client_format and client_format != AUTO:
            return [client_format, AUTO]
        return [AUTO]
    own = LANGUAGE_FORMATS[language]
    if pjl_header and language in _OWN_FIRST_BYTES:
        return [AUTO]
    return [own, AUTO]


def choose_format(preferred: Sequence[str], supported: Sequence[str] | None) -> str | None:
    """The first of ``preferred`` the printer lists; the first of all when the printer
    lists nothing (it did not say); None when it lists formats and none fits."""
    if not supported:
        return preferred[0] if preferred else AUTO
    for document_format in preferred:
        if document_format in supported:
            return document_format
    return None


def cannot_print_note(pdl: str, languages: Sequence[str], supported: Sequence[str]) -> str:
    """What the panel says about a job this printer cannot take."""
    language = job_language(pdl, languages)
    name = LANGUAGE_NAMES.get(language or "", "jobs in this format")
    takes = sorted({LANGUAGE_NAMES[lang] for lang, mime in LANGUAGE_FORMATS.items() if mime in supported})
    return (f"Cannot print here: this printer does not take {name}"
            + (f" (it takes {', '.join(takes)})" if takes else "") + ". Nothing will be charged.")
