"""A title for a job its sender did not name, from the document's first bytes."""
import pytest

from spooler.document_title import MAX_TITLE, title_from_head

UEL = b"\x1b%-12345X"


@pytest.mark.parametrize("head, title", [
    (b"%!PS-Adobe-3.0\n%%Title: (Quarterly report.docx)\n%%Pages: 3\n", "Quarterly report.docx"),
    (UEL + b"@PJL JOB\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS-Adobe-3.0\r\n%%Title: Invoice 42\r\n", "Invoice 42"),
    (b"\n\n   Minutes of the board meeting\nAttendees: ...\n", "Minutes of the board meeting"),
    (b"%!PS\n%%Pages: 1\nshowpage\n", None),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", None),
    (b"\x1bE\x1b&l1X\x1b*p0x0Y", None),
    (b") HP-PCL XL;2;0\r\n\xc0\x00\xf8\x86", None),
    (b"", None),
    (UEL + b"@PJL JOB NAME=x", None),
])
def test_the_title_found_in_the_head(head, title):
    assert title_from_head(head) == title


def test_a_title_is_short_and_printable():
    title = title_from_head(b"%!PS\n%%Title: (" + b"\x07A" * 200 + b")\n")
    assert title == "A" * MAX_TITLE
