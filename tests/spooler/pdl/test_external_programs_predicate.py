"""may_need_external_programs: a job whose analysis could start qpdf or Ghostscript is
never taken for one that only scans (the committer's own thread must not wait for them)."""
import pytest

from spooler.pdl import Analyzer
from spooler.pdl.detect import may_need_external_programs

PCL = b"\x1b%-12345X@PJL JOB NAME=\"a\"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bEhello\x0c\x1bE\x1b%-12345X"


@pytest.mark.parametrize("job", [
    PCL,
    b"\x1b%-12345X@PJL ENTER LANGUAGE=PCLXL\r\n) HP-PCL XL;2;0\r\n",
    b"plain text, 100% sure",
    b"@PJL ENTER LANGUAGE=PSX\r\n",
    b"RaS2" + bytes(64),
    b"",
])
def test_jobs_that_only_scan(job):
    assert not may_need_external_programs(job)


@pytest.mark.parametrize("job", [
    b"%PDF-1.7\n...",
    b"%!PS-Adobe-3.0\n",
    b"\x04%!PS\n",
    PCL + b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n/a 1 def showpage\r\n",
    b"@PJL ENTER LANGUAGE = PostScript\r\nshowpage\r\n",
    b"@pjl enter language=ps\r\nshowpage\r\n",
    b"@PJL ENTER LANGUAGE=\"PDF\"\r\n",
    b"text that mentions %! somewhere",
])
def test_jobs_that_may_start_qpdf_or_ghostscript(job):
    assert may_need_external_programs(job)


@pytest.mark.parametrize("job", [b"%PDF-1.4\n1 0 obj\n", b"@PJL ENTER LANGUAGE=POSTSCRIPT\r\nshowpage\r\n"])
def test_what_says_yes_is_what_the_analyzer_takes_for_pdf_or_postscript(job):
    analyzer = Analyzer(interpret=False)
    analyzer.feed(job)
    assert analyzer.finish().pdl in ("pdf", "postscript", "mixed")
