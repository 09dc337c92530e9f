"""A document sent N times over: N copies of one document, not one document N times as long.

CUPS's lpd backend makes copies by default (``manual_copies``) by sending the print file N
times back to back in one data file, and a socket backend does the same. A printer (and
qpdf, and Ghostscript) reads such a joined PDF as one copy, whatever follows its end; a
joined PostScript file prints N times. Either way what should be counted, priced and asked
of the printer is one copy, N times: ``pages`` of one copy, ``copies`` N (times what one
copy asks for), impressions and sheets of all copies, and ``copy_length``, the byte length
of one copy, so the release can send the first copy alone with ``copies = N`` (None when one
copy asks for copies itself: the release then sends the job whole, as counted). PCL 5 folds
repeated pages itself (``policy.PageTally.fold_copies``); this is the same for any job
whose bytes are exactly one document repeated.

How it is found, in one pass over the bytes with bounded memory: the job's first
``PREFIX`` bytes (a document's header: ``%PDF-1.7`` and its first object, ``%!PS-Adobe``
and its comments, or a driver's PJL) are looked for further on. Each place they occur
again is a candidate copy length ``c`` (at most ``MAX_CANDIDATES`` of them); a candidate
holds when the job's length is a multiple of ``c`` and every ``c``-byte piece hashes as the
first does. Nothing else is kept: a hash per candidate and the last ``PREFIX - 1`` bytes.

``analyse_copies`` ties it to the analyzer: the bytes are read once to find the repeat,
then the analyzer (either backend: they only ever see one copy's bytes, so they agree as
they do on any document) reads one copy, or all of the job when it is not a repeat.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable

from spooler.pdl.facts import JobFacts
from spooler.pdl.policy import clamp_copies

__all__ = ["PREFIX", "Repeat", "RepeatFinder", "analyse_copies", "as_copies"]

#: Bytes of the job's start that must recur where a copy starts.
PREFIX = 64
#: Candidate copy lengths followed at once (each costs one hash over the rest of the job).
MAX_CANDIDATES = 4


@dataclass(frozen=True)
class Repeat:
    copies: int
    copy_length: int


class _Candidate:
    """``length`` bytes per copy: hashes each copy as the bytes pass."""

    def __init__(self, length: int, first_digest: bytes):
        self.length = length
        self.first = first_digest
        self.piece = hashlib.sha256()
        self.filled = 0  # bytes of the current piece hashed so far
        self.alive = True

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self.alive:
            take = min(self.length - self.filled, len(view))
            self.piece.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.length:
                self.alive = self.piece.digest() == self.first
                self.piece = hashlib.sha256()
                self.filled = 0


class RepeatFinder:
    """Fed a job's bytes in order (chunks of any size); ``result()`` is a ``Repeat`` when
    the job is one document repeated at least twice, else None."""

    def __init__(self):
        self._size = 0
        self._prefix = b""
        #: Hash of every byte but the last ``PREFIX - 1`` (those are ``_tail``): where a
        #: copy may start, the hash of the bytes before it is this plus part of the tail.
        self._before_tail = hashlib.sha256()
        self._tail = b""
        self._candidates: list[_Candidate] = []
        self._searching = True

    def feed(self, data) -> None:
        data = bytes(data)
        if not data:
            return
        if len(self._prefix) < PREFIX:
            self._prefix += data[:PREFIX - len(self._prefix)]
        for candidate in self._candidates:
            candidate.feed(data)
        window = self._tail + data
        window_start = self._size - len(self._tail)
        if self._searching and len(self._prefix) == PREFIX:
            self._find_candidates(window, window_start)
        self._candidates = [c for c in self._candidates if c.alive]
        keep = len(window) - (PREFIX - 1)
        if keep > 0:
            self._before_tail.update(window[:keep])
            window = window[keep:]
        self._tail = window
        self._size += len(data)

    def _find_candidates(self, window: bytes, window_start: int) -> None:
        """Each new place the prefix recurs in ``window`` (it cannot lie wholly in the old
        tail, which is shorter than it) starts a candidate: a copy at least ``PREFIX`` long."""
        at = window.find(self._prefix, max(0, PREFIX - window_start))
        while at >= 0:
            first = self._before_tail.copy()
            first.update(window[:at])
            candidate = _Candidate(window_start + at, first.digest())
            candidate.feed(window[at:])
            self._candidates.append(candidate)
            if len(self._candidates) >= MAX_CANDIDATES:
                self._searching = False
                return
            at = window.find(self._prefix, at + 1)

    def result(self) -> Repeat | None:
        for candidate in sorted(self._candidates, key=lambda c: c.length):
            if candidate.alive and candidate.filled == 0 and self._size % candidate.length == 0:
                copies = self._size // candidate.length
                if copies >= 2:
                    return Repeat(copies, candidate.length)
        return None


def as_copies(one_copy: JobFacts, repeat: Repeat) -> JobFacts:
    """The facts of ``repeat.copies`` copies of the document ``one_copy`` describes."""
    n = repeat.copies
    facts = JobFacts(**{name: getattr(one_copy, name) for name in JobFacts.__dataclass_fields__})
    facts.copies = clamp_copies(one_copy.copies * n)
    if one_copy.impressions is not None:
        facts.impressions = one_copy.impressions * n
    if one_copy.sheets is not None:
        facts.sheets = one_copy.sheets * n
    facts.media_impressions = {name: count * n for name, count in one_copy.media_impressions.items()}
    facts.warnings = list(one_copy.warnings) + [f"the job is one document sent {n} times: counted as {n} copies"]
    return facts


def analyse_copies(read: Callable[[], Iterable[bytes]], analyzer_factory) -> tuple[JobFacts, int | None]:
    """The facts of a stored job and its ``copy_length`` (None unless it is N copies).
    ``read()`` yields the job's bytes from the start, each time it is called;
    ``analyzer_factory()`` makes an analyzer (either backend)."""
    finder = RepeatFinder()
    for chunk in read():
        finder.feed(chunk)
    repeat = finder.result()
    analyzer = analyzer_factory()
    if repeat is None:
        for chunk in read():
            analyzer.feed(chunk)
        return analyzer.finish(), None
    left = repeat.copy_length
    for chunk in read():
        if left <= 0:
            break
        piece = chunk[:left]
        analyzer.feed(piece)
        left -= len(piece)
    one_copy = analyzer.finish()
    facts = as_copies(one_copy, repeat)
    if one_copy.copies != 1:
        # One copy asks for copies of its own (``#copies``, ``NumCopies``, PCL ``&l#X``):
        # a printer asked for ``copies`` more of it would make them on top of those. The
        # job is counted as it is (N times what one copy makes) and sent whole.
        return facts, None
    return facts, repeat.copy_length
