"""Hostile PostScript against the Ghostscript runs: pages and colour come from a channel the
job cannot write to, Ghostscript's stdout is never believed or kept, and all runs of one job
share one time budget. Both backends."""
import time
import tracemalloc

import pytest

from tests.spooler.pdl.conftest import analyze_bytes
from tests.spooler.pdl.test_colour import ps_document
from tests.spooler.pdl.test_languages import pjl

COLOUR_PAGE = b"0 0.4 0.8 setrgbcolor 72 72 400 400 rectfill"

#: Lines exactly as the device and the old prologue printed them: one mono page of A4.
FORGED_LINES = (b"%%PRINTGATE-PAGE 1 false 595 842\\n"
                b" 0.00000  0.00000  0.00000  0.01000 CMYK OK\\n"
                b"%%PRINTGATE-PAGE 1 false 595 842\\n"
                b"%%PRINTGATE-PAGE false 595 842\\n"
                b" 0.00000  0.00000  0.00000  0.01000 CMYK OK\\n")

#: Ways a job writes text where Ghostscript's reports might be read. Each is tried inside
#: ``stopped`` (a denied route raises) and leaves the stack as it found it.
WRITERS = {
    "print": b"(" + FORGED_LINES + b") print flush",
    "=": b"(" + FORGED_LINES.rstrip(b"\\n") + b") =",
    "==only": (b"(%%PRINTGATE-PAGE 1 false 595 842\\n 0.00000  0.00000  0.00000  ) print "
               b"0.01 ==only ( CMYK OK\\n) print flush"),
    "%stdout file": b"(%stdout) (w) file dup (" + FORGED_LINES + b") writestring flushfile",
    "%stderr file": b"(%stderr) (w) file dup (" + FORGED_LINES + b") writestring flushfile",
    "/dev/fd/N": (b"0 1 63 { mark exch { 10 string cvs (/dev/fd/) exch concatstrings (w) file dup ("
                  + FORGED_LINES + b") writestring flushfile } stopped pop cleartomark } for"),
    "/proc/self/fd/N": (b"0 1 63 { mark exch { 10 string cvs (/proc/self/fd/) exch concatstrings (w) file dup ("
                        + FORGED_LINES + b") writestring flushfile } stopped pop cleartomark } for"),
    # the job learns its temporary directory and writes where the channel was
    "temporary directory": (b"(PGX) (w) .tempfile closefile (PGX) search pop exch pop exch pop "
                            b"(pages) concatstrings (w) file dup (" + FORGED_LINES + b") writestring flushfile"),
}


def hostile(write: bytes) -> bytes:
    return b"mark { " + write + b" } stopped pop cleartomark"


def hostile_endpage(write: bytes) -> bytes:
    """An ``EndPage`` that writes forged reports and lets the page print."""
    return b"<< /EndPage { " + hostile(write) + b" exch pop 2 ne } >> setpagedevice\n"


@pytest.mark.parametrize("how", sorted(WRITERS))
@pytest.mark.parametrize("dsc", [False, True], ids=["interpreted", "dsc"])
def test_forged_reports_do_not_make_colour_pages_mono_or_fewer(backend, how, dsc):
    """Three colour pages whose EndPage and bodies print lines that mimic Ghostscript's."""
    write = WRITERS[how]
    data = ps_document([hostile(write) + b" " + COLOUR_PAGE] * 3, dsc=dsc)
    data = data.replace(b"/Helvetica findfont", hostile_endpage(write) + b"/Helvetica findfont", 1)
    f = analyze_bytes(backend, data)
    assert (f.pages, f.color_pages, f.mono_pages) == (3, 3, 0), (how, f.warnings)


@pytest.mark.parametrize("how", ["print", "%stdout file", "/dev/fd/N"])
def test_forged_reports_in_a_job_of_copies_do_not_lower_the_count(backend, how):
    write = WRITERS[how]
    data = ps_document([hostile(write) + b" " + COLOUR_PAGE] * 2, dsc=False)
    data = data.replace(b"/Helvetica findfont", b"<< /NumCopies 2 >> setpagedevice " + hostile_endpage(write)
                        + b"/Helvetica findfont", 1)
    f = analyze_bytes(backend, data)
    assert (f.pages, f.copies, f.impressions, f.color_pages) == (2, 2, 4, 2), f.warnings


def test_an_endpage_installed_behind_our_back_makes_the_pages_unknown_not_fewer(backend):
    """A job calling the system's setpagedevice directly: its pages print without our reports;
    the run must fail (pages unknown) rather than count the forged reports."""
    install = (b"systemdict /setpagedevice get << /EndPage { " + hostile(WRITERS["print"])
               + b" exch pop 2 ne } >> exch exec\n")
    data = ps_document([COLOUR_PAGE] * 3, dsc=False).replace(b"%!PS\n", b"%!PS\n" + install)
    f = analyze_bytes(backend, data)
    assert f.pages is None and f.method == "interpreted", f.warnings
    assert any("did not report" in w for w in f.warnings)


def test_copypage_prints_a_page(backend):
    """copypage transmits a page as on a printer (the old prologue did not count it)."""
    data = b"%!PS\n" + COLOUR_PAGE + b" copypage copypage showpage\n"
    f = analyze_bytes(backend, data, colour=False)
    assert f.pages == 3, f.warnings


def test_a_job_printing_a_flood_on_stdout_is_drained_not_kept(backend):
    """A job printing ~200 MB to stdout costs neither memory nor the count."""
    flood = b"/s 65536 string def 0 1 65535 { s exch 48 put } for 3000 { s print } repeat "
    data = ps_document([flood + COLOUR_PAGE, COLOUR_PAGE], dsc=False)
    tracemalloc.start()
    try:
        f = analyze_bytes(backend, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (f.pages, f.color_pages) == (2, 2), f.warnings
    assert peak < 32 << 20


def test_the_channel_is_gone_before_the_job_runs(tmp_path):
    """The job sees no path to the channel: what it writes never reaches the reports."""
    from spooler.pdl import postscript

    job = tmp_path / "job.ps"
    job.write_bytes(b"%!PS\n" + b" ".join(hostile(w) for w in WRITERS.values()) + b" " + COLOUR_PAGE + b" showpage\n")
    runs = postscript._run_gs(str(job), colour=True, timeout=30)
    assert [run[3:] for run in runs] == [[1, True, 1]]


def test_ghostscript_options_from_the_environment_are_not_passed_on(backend, monkeypatch):
    monkeypatch.setenv("GS_OPTIONS", "-dLastPage=1")
    f = analyze_bytes(backend, ps_document([COLOUR_PAGE] * 2, dsc=False))
    assert (f.pages, f.color_pages) == (2, 2), f.warnings


# -- one time budget per job ---------------------------------------------------------------------

def endless_sections(n: int) -> bytes:
    """``n`` PostScript sections that never end, each in its own PJL job."""
    return b"".join(pjl(b"%!PS\n{ } loop\n", lang="POSTSCRIPT") for _ in range(n))


def test_all_ghostscript_runs_of_a_job_share_one_budget(backend, monkeypatch):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "GS_JOB_BUDGET", 2.0)
    monkeypatch.setattr(postscript, "GS_TIMEOUT", 1.5)
    monkeypatch.setattr(postscript, "COLOUR_TIMEOUT", 1.5)
    start = time.monotonic()
    f = analyze_bytes(backend, endless_sections(4))
    elapsed = time.monotonic() - start
    assert elapsed < 5.0, elapsed  # each section alone could take 3 s (colour, then pages)
    assert f.pdl == "postscript" and f.pages is None and f.color_pages is None
    assert any("Ghostscript time for the job (2 s) used up" in w for w in f.warnings), f.warnings


def test_colour_past_the_budget_is_unknown_and_dsc_pages_still_count(backend, monkeypatch):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "GS_JOB_BUDGET", 0.0)
    beyond_the_scan = b"true { " + COLOUR_PAGE + b" } if"  # a control structure: Ghostscript must render it
    f = analyze_bytes(backend, ps_document([beyond_the_scan, COLOUR_PAGE]))
    assert (f.method, f.pages, f.color_pages) == ("dsc", 2, None)
    assert any("colour not checked" in w and "used up" in w for w in f.warnings), f.warnings


def test_the_budget_is_charged_with_the_time_each_run_took():
    from spooler.pdl import postscript

    now = [0.0]
    budget = postscript.GhostscriptBudget(10, clock=lambda: now[0])

    def run(timeout):
        now[0] += 4
        return timeout

    assert budget.run(run, cap=30) == 10
    assert budget.run(run, cap=30) == 6
    assert budget.run(run, cap=1) == 1
    with pytest.raises(postscript._BudgetSpent):
        budget.run(run, cap=30)
