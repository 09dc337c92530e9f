"""Which page description language a section of a job is written in.

Strong signatures in the bytes win over what PJL ``ENTER LANGUAGE`` announced (drivers
announce ``POSTSCRIPT`` and send PDF); weak ones (a leading ESC, printable text) come
after the announcement.
"""
from __future__ import annotations

#: Bytes needed before deciding, unless the job ends sooner.
SNIFF_BYTES = 16

_ENTER = {
    "PCL": "pcl5", "PCL5": "pcl5", "PCL5C": "pcl5", "PCL5E": "pcl5", "HPGL2": "pcl5",
    "PCLXL": "pclxl", "PCL6": "pclxl", "PCLXL2": "pclxl",
    "POSTSCRIPT": "postscript", "PS": "postscript", "PDF": "pdf",
    "URF": "urf", "PWG": "pwg", "PWGRASTER": "pwg",
}

_TEXT = frozenset(range(0x20, 0x7F)) | frozenset(b"\t\r\n\x0c\x08") | frozenset(range(0xA0, 0x100))


def sniff(head: bytes, announced: str | None = None) -> str:
    """Name the language of ``head`` (a section's first bytes): pcl5, pclxl, postscript,
    pdf, pwg, urf, text, or unknown."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"%!") or head.startswith(b"\x04%!"):
        return "postscript"
    if len(head) >= 11 and head[0] in b"()'" and head[1:11] == b" HP-PCL XL":
        return "pclxl"
    if head.startswith(b"RaS2"):
        return "pwg"
    if head.startswith(b"UNIRAST\x00"):
        return "urf"
    if announced:
        lang = _ENTER.get(announced.upper().strip())
        if lang:
            return lang
    if head[:1] == b"\x1b":
        return "pcl5"
    if head and all(b in _TEXT for b in head):
        return "text"
    return "unknown"
