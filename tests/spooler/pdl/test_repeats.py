"""A document sent N times (CUPS's lpd backend with its default manual_copies) is N copies
of one document, on both analyzer backends: pages of one copy, copies N, impressions of
all, and the byte length of one copy."""
from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from spooler.pdl.repeats import PREFIX, RepeatFinder, analyse_copies

PAGES_PS = b"""%!PS-Adobe-3.0
%%Pages: 3
%%EndComments
%%Page: 1 1
/Helvetica findfont 20 scalefont setfont 72 700 moveto (one) show showpage
%%Page: 2 2
72 700 moveto (two) show showpage
%%Page: 3 3
72 700 moveto (three) show showpage
%%EOF
"""


@pytest.fixture(scope="module")
def three_page_pdf(tmp_path_factory):
    gs = shutil.which("gs")
    if gs is None:
        pytest.fail("Ghostscript (gs) is missing: apt-get install -y --no-install-recommends ghostscript",
                    pytrace=False)
    directory = tmp_path_factory.mktemp("repeats")
    (directory / "three.ps").write_bytes(PAGES_PS)
    subprocess.run([gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
                    f"-sOutputFile={directory / 'three.pdf'}", str(directory / "three.ps")], check=True, timeout=60)
    return (directory / "three.pdf").read_bytes()


def chunked(data: bytes, size: int):
    return lambda: (data[i:i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize("copies", [2, 3])
@pytest.mark.parametrize("piece", [7, 4096, 1 << 20])
def test_a_pdf_sent_n_times_is_n_copies_of_its_pages(backend, three_page_pdf, copies, piece):
    facts, copy_length = analyse_copies(chunked(three_page_pdf * copies, piece), lambda: backend(colour=False))
    assert (facts.pdl, facts.pages, facts.copies, facts.impressions) == ("pdf", 3, copies, 3 * copies)
    assert copy_length == len(three_page_pdf)


def test_postscript_sent_twice_is_two_copies_of_its_pages(backend):
    facts, copy_length = analyse_copies(chunked(PAGES_PS * 2, 1000), lambda: backend(colour=False))
    assert (facts.pdl, facts.pages, facts.copies, facts.impressions, facts.sheets) == ("postscript", 3, 2, 6, 6)
    assert copy_length == len(PAGES_PS)


def test_both_backends_agree_on_a_repeated_document(three_page_pdf):
    from tests.spooler.pdl.conftest import analyzer_classes

    answers = {name: analyse_copies(chunked(three_page_pdf * 2, 5000), lambda cls=cls: cls())
               for name, cls in analyzer_classes().items()}
    assert len({(facts.to_dict().__repr__(), length) for facts, length in answers.values()}) == 1


def test_a_document_sent_once_keeps_its_own_facts_and_no_copy_length(backend, three_page_pdf):
    facts, copy_length = analyse_copies(chunked(three_page_pdf, 4096), lambda: backend(colour=False))
    direct = backend(colour=False)
    direct.feed(three_page_pdf)
    assert facts == direct.finish() and copy_length is None


def test_copies_that_differ_by_one_byte_are_not_copies():
    document = b"%PDF-1.4\n" + bytes(random.Random(1).getrandbits(8) for _ in range(3000)) + b"\n%%EOF\n"
    changed = document[:-20] + b"X" + document[-19:]
    finder = RepeatFinder()
    finder.feed(document + changed)
    assert finder.result() is None


def test_a_tail_after_the_copies_means_no_copies():
    document = b"%!PS-Adobe-3.0\n" + bytes(random.Random(2).getrandbits(8) for _ in range(500)) + b"\n%%EOF\n"
    for data in (document * 3 + b"\n", document * 2 + document[:100]):
        finder = RepeatFinder()
        finder.feed(data)
        assert finder.result() is None


def test_a_copy_is_at_least_its_prefix_long():
    finder = RepeatFinder()
    finder.feed(b"\0" * (PREFIX * 100))
    assert finder.result() is None or finder.result().copy_length >= PREFIX


def test_copies_that_ask_for_copies_themselves_are_counted_but_sent_whole(backend):
    one_copy = PAGES_PS.replace(b"%%EndComments\n", b"%%EndComments\n<< /NumCopies 2 >> setpagedevice\n")
    facts, copy_length = analyse_copies(chunked(one_copy * 3, 1000), lambda: backend(colour=False))
    assert (facts.pages, facts.copies, facts.impressions) == (3, 6, 18)
    assert copy_length is None
