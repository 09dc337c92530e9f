"""Memory stays flat and time linear while a long streaming job is fed."""
import io
import time
import tracemalloc

import pytest

from tests.spooler.pdl.test_languages import xl_page, xl_stream

MiB = 1 << 20


def stream_peak(cls, head: bytes, unit: bytes, total: int, tail: bytes = b""):
    """Feed ``head``, ``unit`` repeated to ``total`` bytes, ``tail``; return (facts, peak bytes, seconds)."""
    block = unit * max(1, (64 * 1024) // len(unit))
    a = cls()
    tracemalloc.start()
    t = time.perf_counter()
    a.feed(head)
    fed = 0
    while fed < total:
        a.feed(block)
        fed += len(block)
    a.feed(tail)
    facts = a.finish()
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return facts, peak, seconds, fed


def test_pcl5_memory_is_flat_for_a_long_job(backend):
    unit = b"\x1b*b40W" + bytes(range(40)) + b"\x1b*b2W\x0c\x0c" + b"text\x0c"
    facts, peak, _, fed = stream_peak(backend, b"\x1bE", unit, 8 * MiB)
    assert facts.pages == fed // len(unit)
    assert peak < 2 * MiB


def test_pclxl_memory_is_flat_for_a_long_job(backend):
    page = xl_page(copies=2, data=b"\x44" * 2000)
    head = b") HP-PCL XL;2;0\n\xc0\x00\xf8\x86\x41"
    facts, peak, _, fed = stream_peak(backend, head, page, 8 * MiB, b"\x42")
    assert facts.pages == fed // len(page)
    assert peak < 2 * MiB


def test_dsc_memory_is_flat_for_a_long_job(backend):
    page = b"%%Page: x 1\n" + b"0 0 moveto (text) show /Helvetica findfont 12 scalefont setfont\n" * 40 + b"showpage\n"
    head = b"%!PS-Adobe-3.0\n%%Pages: (atend)\n%%EndComments\n"
    # without a path the section is kept (the chunks fed, capped by SPOOL_LIMIT) for a
    # possible interpretation; the scanner's own heap stays flat
    facts, peak, _, fed = stream_peak(lambda: backend(interpret=False), head, page, 24 * MiB, b"%%Trailer\n%%EOF\n")
    assert facts.pages == fed // len(page)
    assert peak < 4 * MiB


def test_time_is_linear_in_input_size(backend):
    unit = b"\x1b*b40W" + bytes(range(40)) + b"text\x0c"
    _, _, small, _ = stream_peak(backend, b"\x1bE", unit, 1 * MiB)
    _, _, large, _ = stream_peak(backend, b"\x1bE", unit, 8 * MiB)
    assert large < small * 8 * 3 + 0.5


def test_endless_tiny_sections_are_folded_not_kept(backend):
    section = b"\x1b%-12345X@PJL ENTER LANGUAGE=PCL\n\x1bEx\x0c"
    a = backend()
    tracemalloc.start()
    for _ in range(200):
        a.feed(section * 100)
    facts = a.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert facts.pages == 20000 and facts.impressions == 20000
    assert peak < 4 * MiB


def test_no_plaintext_copy_of_a_job_is_written_to_disk(backend, tmp_path, monkeypatch):
    """Held jobs are confidential and the spool is encrypted: the copies the analyzer keeps
    for qpdf and Ghostscript live in memory files, never in a temporary directory."""
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    secret = (b"%!PS-Adobe-3.0\n%%Pages: 1\n%%Page: 1 1\n/Helvetica findfont 12 scalefont setfont 72 72 moveto "
              b"(SALARY-LIST) show showpage\n%%Page: 2 2\nshowpage\n%%EOF\n")
    analyzer = backend()
    analyzer.feed(b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + secret + b"\x1b%-12345X")
    facts = analyzer.finish()
    assert (facts.pages, facts.method) == (2, "interpreted")  # Ghostscript read the memory file
    assert list(tmp_path.iterdir()) == []


def test_kept_bytes_hold_whole_chunks_by_reference_and_gather_small_pieces():
    from spooler.pdl.reference import _KeptBytes

    big = bytes(range(256)) * 256
    pieces = [b"a", big, b"bc" * 100, b"d" * (_KeptBytes.BLOCK - 1), b"e" * 3, big[1:]]
    kept = _KeptBytes()
    for piece in pieces:
        kept.add(piece)
    assert kept.size == sum(map(len, pieces))
    assert any(part is big for part in kept.parts)  # not copied
    assert sum(len(p) for p in kept.parts) + len(kept.small) == kept.size
    assert len(kept.parts) + 1 < len(pieces) + 1  # small pieces were gathered into blocks
    out = io.BytesIO()
    kept.write_to(out)
    assert out.getvalue() == b"".join(pieces)


def test_kept_bytes_of_a_job_fed_a_byte_at_a_time_are_gathered_into_blocks():
    from spooler.pdl.reference import _KeptBytes

    kept = _KeptBytes()
    for i in range(100_000):
        kept.add(b"%c" % (i & 0xFF))
    assert len(kept.parts) <= 100_000 // _KeptBytes.BLOCK + 1


@pytest.mark.parametrize("chunks", [[1 << 16], [1, 7, 3], [5000, 17, 1 << 15], [40, 1 << 17]])
def test_ghostscript_reads_exactly_the_section_kept_in_memory(backend, monkeypatch, chunks):
    """The section handed to Ghostscript is its bytes and nothing else, however it was fed."""
    from spooler.pdl import postscript

    seen = []

    def interpret(path, tally, colour=False, budget=None):
        with open(path, "rb") as f:
            seen.append(f.read())
        tally.add_page()
        return []

    monkeypatch.setattr(postscript, "interpret", interpret)
    section = b"%!PS\n" + b"".join(b"%d 0 moveto (line) show\n" % i for i in range(3000)) + b"showpage\n"
    job = (b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + section
           + b"\x1b%-12345X@PJL ENTER LANGUAGE=PCL\r\n\x1bEtext\x0c\x1b%-12345X")
    a = backend(colour=False)
    pos, i = 0, 0
    while pos < len(job):
        size = chunks[i % len(chunks)]
        a.feed(job[pos:pos + size])
        pos += size
        i += 1
    facts = a.finish()
    assert seen == [section]
    assert (facts.pages, facts.method) == (2, "interpreted")


def test_a_section_larger_than_the_keep_limit_has_unknown_pages(backend, monkeypatch):
    from spooler.pdl import reference

    monkeypatch.setattr(reference, "SPOOL_LIMIT", 4096)
    section = b"%!PS\n" + b"(line) show\n" * 1000 + b"showpage\n"
    a = backend(colour=False)
    for i in range(0, len(section), 1000):
        a.feed(section[i:i + 1000])
    facts = a.finish()
    assert facts.pages is None
    assert any("too large to keep" in w for w in facts.warnings), facts.warnings


def test_kept_bytes_truncate_to_a_size_across_parts():
    from spooler.pdl.reference import _KeptBytes

    big = b"x" * _KeptBytes.BLOCK
    for pieces, size in [([big, b"abc"], len(big) + 1), ([big, b"abc"], 5), ([b"ab", big, big], len(big)), ([b"abc"], 0)]:
        kept = _KeptBytes()
        for piece in pieces:
            kept.add(piece)
        kept.truncate(size)
        out = io.BytesIO()
        kept.write_to(out)
        assert out.getvalue() == b"".join(pieces)[:size] and kept.size == size
