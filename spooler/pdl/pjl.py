"""PJL (HP Printer Job Language) command lines, and the head of a job written in it.

Drivers put the job's owner and name in PJL before the page description: HP and Windows
drivers write ``@PJL SET USERNAME="jdoe"``, ``@PJL JOB NAME="report.docx"`` and account
attributes as ``@PJL SET JOBATTR="JobAcct1=jdoe"`` (HP) or ``"@LUNA=jdoe"`` (Xerox, Ricoh).
The RAW listener reads the owner from here; the page analyzer reads the rest.

PJL is case-insensitive in command names and variables and tolerant of spacing; values may
be quoted. Lines end with LF or CR LF. Anything bounded by ``HEAD_LIMIT`` bytes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

UEL = b"\x1b%-12345X"
HEAD_LIMIT = 64 * 1024

_LINE = re.compile(rb"@PJL(?P<rest>[^\r\n]*)\r?\n", re.IGNORECASE)
_ASSIGN = re.compile(r"\s*([A-Za-z0-9_:.\-]+)\s*=\s*(\"[^\"]*\"?|\S*)")

#: JOBATTR keys that carry the name of the person who printed, as drivers send them.
USER_JOBATTRS = ("JOBACCT1", "@LUNA", "@UNAME", "USERNAME", "JOBACCT5")
NAME_JOBATTRS = ("@JOBN", "JOBNAME")


@dataclass
class PjlCommand:
    """One ``@PJL`` line: the command word (upper case), its modifiers and assignments."""

    command: str
    words: list[str] = field(default_factory=list)
    assignments: dict[str, str] = field(default_factory=dict)
    raw: str = ""


@dataclass
class PjlHeader:
    """What the PJL before the first page description said about the job."""

    present: bool = False
    job_name: str | None = None
    user_name: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    jobattrs: dict[str, str] = field(default_factory=dict)
    language: str | None = None
    end: int = 0
    commands: list[PjlCommand] = field(default_factory=list)


def _unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        value = value[1:]
        if value.endswith('"'):
            value = value[:-1]
    return value


def parse_command(text: str) -> PjlCommand:
    """Parse the text after ``@PJL`` on one line."""
    raw = text.strip()
    if not raw:
        return PjlCommand(command="", raw=raw)
    head, _, rest = raw.partition(" ")
    command = head.upper()
    words: list[str] = []
    assignments: dict[str, str] = {}
    # "SET COPIES=2", "SET JOBATTR="JobAcct1=x"", "JOB NAME="a b"", "ENTER LANGUAGE = PCL"
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _ASSIGN.match(rest, pos)
        if m:
            key = m.group(1).upper()
            assignments[key] = _unquote(m.group(2))
            pos = m.end()
            continue
        space = rest.find(" ", pos)
        word = rest[pos:] if space < 0 else rest[pos:space]
        if word:
            words.append(word.upper())
        if space < 0:
            break
        pos = space + 1
    return PjlCommand(command=command, words=words, assignments=assignments, raw=raw)


def _apply(header: PjlHeader, cmd: PjlCommand) -> None:
    if cmd.command == "JOB" and "NAME" in cmd.assignments:
        header.job_name = cmd.assignments["NAME"]
    elif cmd.command in ("SET", "DEFAULT"):
        for key, value in cmd.assignments.items():
            if key == "JOBATTR":
                attr_key, sep, attr_value = value.partition("=")
                if sep:
                    header.jobattrs[attr_key.strip().upper()] = attr_value.strip()
                continue
            header.settings[key] = value
    elif cmd.command == "ENTER":
        header.language = cmd.assignments.get("LANGUAGE", "").upper() or None


def parse_header(data: bytes) -> PjlHeader:
    """Read the PJL at the start of ``data`` (which may be only the job's first bytes).

    Stops at ``ENTER LANGUAGE``, at the first line that is not PJL, or at ``HEAD_LIMIT``.
    Never raises on bad input: PJL that cannot be read is simply not there.
    """
    header = PjlHeader()
    data = data[:HEAD_LIMIT]
    pos = 0
    while True:
        while data.startswith(UEL, pos):
            pos += len(UEL)
            header.present = True
        while pos < len(data) and data[pos] in b"\r\n\x00 \t":
            pos += 1
        m = _LINE.match(data, pos)
        if not m:
            break
        header.present = True
        cmd = parse_command(m.group("rest").decode("latin-1"))
        header.commands.append(cmd)
        _apply(header, cmd)
        pos = m.end()
        if cmd.command == "ENTER":
            break
    header.end = pos
    header.user_name = _first(header.settings, ("USERNAME",)) or _first(header.jobattrs, USER_JOBATTRS)
    if header.job_name is None:
        header.job_name = _first(header.settings, ("JOBNAME",)) or _first(header.jobattrs, NAME_JOBATTRS)
    return header


def _first(mapping: dict[str, str], keys) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if value:
            return value
    return None
