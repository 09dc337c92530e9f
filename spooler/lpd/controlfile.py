"""RFC 1179 control files: who printed, what, and how many copies of each data file.

Each line is one command letter and an operand. A format line (``f``, ``l``, ``o``, ``p``...)
names a data file to print; the same data file named N times means N copies (that is how
``lpr -#N`` and the CUPS lpd backend with ``manual_copies=no`` say copies).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from spooler.lpd.errors import BadControlFile

#: Format letters of RFC 1179 section 7 plus ``o`` (PostScript, LPRng) and ``z`` (Palladium).
FORMAT_LETTERS = frozenset("cdfglnoprtvxz")
FORMAT_NAMES = {
    "f": "text/plain", "l": "application/octet-stream", "p": "text/plain", "o": "application/postscript",
    "c": "application/x-cifplot", "d": "application/x-dvi", "g": "application/x-plot", "n": "application/x-ditroff",
    "t": "application/x-troff", "v": "image/x-raster", "r": "text/plain", "x": "application/octet-stream",
    "z": "application/octet-stream",
}
MAX_LINES = 10_000


@dataclass
class ControlFile:
    host: str = ""
    user: str = ""
    job_name: str = ""
    class_name: str = ""
    banner_user: str = ""
    title: str = ""
    mail_to: str = ""
    source_names: dict[str, str] = field(default_factory=dict)  # data file -> N line
    copies: Counter = field(default_factory=Counter)  # data file -> format lines naming it
    formats: dict[str, str] = field(default_factory=dict)  # data file -> first format letter
    unlink: list[str] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)

    @property
    def data_files(self) -> list[str]:
        """Data files to print, in the order the control file first names them."""
        return list(self.formats)

    def title_for(self, data_file: str) -> str:
        return self.job_name or self.title or self.source_names.get(data_file, "") or data_file


def parse_control_file(content: bytes) -> ControlFile:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        raise BadControlFile(f"control file has more than {MAX_LINES} lines")
    control = ControlFile()
    last_n_for: str | None = None
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line:
            continue
        letter, operand = line[0], line[1:]
        if "\x00" in line:
            raise BadControlFile(f"NUL byte in control file line {number}")
        if letter == "H":
            control.host = operand[:255]
        elif letter == "P":
            control.user = operand[:255]
        elif letter == "J":
            control.job_name = operand[:1024]
        elif letter == "C":
            control.class_name = operand[:255]
        elif letter == "L":
            control.banner_user = operand[:255]
        elif letter == "T":
            control.title = operand[:1024]
        elif letter == "M":
            control.mail_to = operand[:320]
        elif letter == "N":
            if last_n_for is not None:
                control.source_names.setdefault(last_n_for, operand[:1024])
            else:
                control.source_names.setdefault("", operand[:1024])
        elif letter == "U":
            control.unlink.append(operand)
        elif letter in FORMAT_LETTERS:
            if not operand:
                raise BadControlFile(f"format line {number} names no data file")
            control.copies[operand] += 1
            control.formats.setdefault(operand, letter)
            last_n_for = operand
        else:
            control.other.append((letter, operand))
    if "" in control.source_names and control.formats:
        # An N line before the first format line (LPRng writes them that way round).
        first = control.data_files[0]
        control.source_names.setdefault(first, control.source_names.pop(""))
    return control
