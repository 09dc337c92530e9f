"""A title for a job whose sender gave none (a RAW/JetDirect job without PJL naming it):
the document's own title in its first bytes — PostScript's ``%%Title:`` comment, or the
first line of a plain-text job — so the person at the printer recognises their job.

Reads only the head the intake keeps anyway (``spooler.pdl.pjl.HEAD_LIMIT``); never
raises; the result is short, printable text or ``None``."""
from __future__ import annotations

import re

MAX_TITLE = 80
UEL = b"\x1b%-12345X"
_PS_TITLE = re.compile(rb"^%%Title:[ \t]*(.+?)[ \t]*\r?$", re.MULTILINE)
_PS_HEADER_SCAN = 4096
_TEXT_SCAN = 512


def title_from_head(head: bytes) -> str | None:
    body = _after_pjl(head)
    if body.startswith(b"%!"):
        match = _PS_TITLE.search(body, 0, _PS_HEADER_SCAN)
        return _clean(_ps_string(match.group(1))) if match else None
    if body.startswith((b"%PDF", b"\x1b")) or not body:
        return None
    sample = body[:_TEXT_SCAN]
    if any(byte < 0x20 and byte not in b"\t\r\n\x0c" for byte in sample):
        return None  # not plain text (PCL, PCL XL, raster)
    for line in sample.splitlines():
        text = _clean(line)
        if text:
            return text
    return None


def _after_pjl(head: bytes) -> bytes:
    """The document after a PJL wrapper (UELs and ``@PJL`` lines)."""
    body = head
    while True:
        body = body.lstrip(b"\r\n\t \x00")
        if body.startswith(UEL):
            body = body[len(UEL):]
        elif body.startswith(b"@PJL"):
            end = body.find(b"\n")
            if end < 0:
                return b""
            body = body[end + 1:]
        else:
            return body


def _ps_string(value: bytes) -> bytes:
    """``%%Title: (Quarterly report)`` gives its text without the parentheses."""
    if value.startswith(b"(") and value.endswith(b")"):
        return value[1:-1]
    return value


def _clean(raw: bytes) -> str | None:
    text = raw.decode("utf-8", errors="replace")
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:MAX_TITLE] or None
