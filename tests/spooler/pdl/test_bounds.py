"""Memory stays flat and time linear while a long streaming job is fed."""
import time
import tracemalloc

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
    # without a path the section is kept in an anonymous memory file (memfd, capped by
    # SPOOL_LIMIT) for a possible interpretation; the scanner's own heap stays flat
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
