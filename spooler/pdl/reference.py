"""Pure-Python reference analyzer (to be written by the "Page analyzer" issue).

Until then it recognises nothing and says so: pages unknown, ``pdl=unknown``, a warning.
"""
from __future__ import annotations

from spooler.pdl.facts import JobFacts
from spooler.pdl.pjl import HEAD_LIMIT, parse_header


class Analyzer:
    def __init__(self):
        self._head = bytearray()

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < HEAD_LIMIT:
            self._head += chunk[: HEAD_LIMIT - len(self._head)]

    def finish(self) -> JobFacts:
        header = parse_header(bytes(self._head))
        facts = JobFacts(warnings=["page description language not recognised"])
        facts.job_name = header.job_name
        facts.user_name = header.user_name
        facts.pjl = dict(header.settings)
        return facts


def analyze_path(path) -> JobFacts:
    analyzer = Analyzer()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            analyzer.feed(chunk)
    return analyzer.finish()
