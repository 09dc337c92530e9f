"""The classes of miss found on real drivers' files, each with hand-made minimal jobs, on both
backends, against the interpreter a printer would be: GhostPCL (``gpcl6``) for PCL 5 and
PCL XL, Ghostscript for PostScript.

GhostPCL prints one file per page and copy; it does not apply PJL ``QTY``, so these jobs
carry none and the analyzer's impressions are compared with its pages.
"""
import pytest

from tests.spooler.pdl.conftest import analyze_bytes, gpcl6_pages

UEL = b"\x1b%-12345X"


def printed(facts) -> int:
    return facts.impressions or 0


# -- HP-GL/2: a block that only sets state draws nothing ------------------------------------------

#: HP-GL/2 between ``IN;SP1;`` and the paper-source command that follows it: each either
#: marks the page (the paper source then ejects it: two pages) or not (one page).
HPGL_BLOCKS = [
    "PW0.35;", "LT;", "SP1;", "IN;", "DF;", "SC0,100,0,100;", "IW;", "RO90;", "TR0;", "FT;", "SD;",
    "PU;PA100,100;", "PU100,100;", "PD;", "PD100,100;", "PD;PU;", "PR0,0;PD;", "PD;IN;", "SP0;PD100,100;",
    "PE;", "PE<=\xbf\xbf;", "PE=\xbf\xbf;", "PE<=\xbf\xbf\xbf\xbf;", "PE\xbf\xbf;", "PE7<=__;", "PE7__;",
    "LBhi\x03", "LB\x03", "LB \x03", "LB\x01\x03", "DT#;LBab#", "DT#;LB#",
    "PM0;PM2;", "PM0;PD100,100;PM2;", "PM0;RR100,100;PM2;", "PM0;CI100;PM2;",
    "PM0;PD100,100,200,0;PM2;FP;", "PM0;PD100,100,200,0;PM2;EP;", "PM0;PD100,100;PM2;PM0;PM2;FP;",
    "PU;PM0;PU100,100;PD200,200;PM2;FP;", "PU;PM0;PU100,100;PM2;FP;", "FP;", "EP;",
    "RR100,100;", "RA100,100;", "ER100,100;", "EA100,100;", "EW100,0,90;", "WG100,0,90;",
    "AA100,100,90;", "PD;AA100,100,90;", "AR100,100,90;", "AT100,100,200,0;", "PD;AT100,100,200,0;",
    "BR100,100,200,100,300,0;", "PD;BR100,100,200,100,300,0;", "BZ100,100,200,100,300,0;",
    "SM*;PA100,100;", "SM*;PU100,100;", "CO\"PD100,100\";", "pd100,100;",
]


def hpgl_job(block: str) -> bytes:
    return (b"\x1bE\x1b%0BIN;SP1;" + block.encode("latin-1") + b"\x1b%0A\x1b&l1H(text)\x0c\x1bE")


@pytest.mark.parametrize("block", HPGL_BLOCKS)
def test_hpgl2_marks_the_page_exactly_when_ghostpcl_does(backend, block, tmp_path):
    data = hpgl_job(block)
    assert printed(analyze_bytes(backend, data)) == gpcl6_pages(data, tmp_path)


def test_an_hp_driver_setup_block_before_the_paper_source_ejects_no_blank_page(backend, tmp_path):
    data = b"\x1bE\x1b%0BIN;PW0.35;LT;SP1;\x1b%0A\x1b&l0O\x1b&l1H\x1b&l26A(text)\x0c\x1bE"
    assert (analyze_bytes(backend, data).pages, gpcl6_pages(data, tmp_path)) == (1, 1)


def test_a_circle_marks_the_page(backend):
    # (GhostPCL also re-marks every later page after CI, a quirk of its own not followed here)
    data = b"\x1bE\x1b%0BIN;SP1;CI100;\x1b%0A\x1b&l1H(text)\x1bE"
    assert analyze_bytes(backend, data).pages == 2


def test_hpgl2_state_carries_across_chunks(backend):
    data = hpgl_job("PU;PM0;PU100,100;PD200,200;PM2;FP;") + hpgl_job("PE<=\xbf\xbf;")
    whole = analyze_bytes(backend, data)
    assert all(analyze_bytes(backend, data, [n] * (len(data) // n)) == whole for n in (1, 2, 3, 7))
    assert whole.pages == 3


# -- PCL 5 page-setup commands ---------------------------------------------------------------------

PCL_EJECTS = {
    "orientation unchanged": b"\x1bE(text)\x1b&l0O(more)\x0c\x1bE",
    "orientation changed": b"\x1bE(text)\x1b&l1O(more)\x0c\x1bE",
    "orientation reversed": b"\x1bE(text)\x1b&l2O(more)\x0c\x1bE",
    "orientation -1 is landscape": b"\x1bE(text)\x1b&l-1O(more)\x0c\x1bE",
    "orientation out of range": b"\x1bE(text)\x1b&l5O(more)\x0c\x1bE",
    "landscape twice": b"\x1bE\x1b&l1O(text)\x1b&l1O(more)\x0c\x1bE",
    "landscape, reset, landscape": b"\x1bE\x1b&l1O(text)\x1bE\x1b&l1O(more)\x0c\x1bE",
    "landscape, page size, landscape": b"\x1bE\x1b&l1O(text)\x1b&l26A\x1b&l1O(more)\x0c\x1bE",
    "PJL landscape, then landscape": UEL + b"@PJL SET ORIENTATION=LANDSCAPE\r\n@PJL ENTER LANGUAGE=PCL\r\n"
                                     b"\x1bE(text)\x1b&l1O(more)\x0c\x1bE" + UEL,
    "PJL landscape, then portrait": UEL + b"@PJL SET ORIENTATION=LANDSCAPE\r\n@PJL ENTER LANGUAGE=PCL\r\n"
                                    b"\x1bE(text)\x1b&l0O(more)\x0c\x1bE" + UEL,
    "same page size": b"\x1bE\x1b&l26A(text)\x1b&l26A(more)\x0c\x1bE",
    "unknown page size": b"\x1bE(text)\x1b&l99A(more)\x0c\x1bE",
    "media type 1": b"\x1bE(text)\x1b&l1M(more)\x0c\x1bE",
    "media type 7": b"\x1bE(text)\x1b&l7M(more)\x0c\x1bE",
    "page length": b"\x1bE(text)\x1b&l66P(more)\x0c\x1bE",
    "paper source 0": b"\x1bE(text)\x1b&l0H(more)\x0c\x1bE",
    "paper source 9": b"\x1bE(text)\x1b&l9H(more)\x0c\x1bE",
    "simplex again": b"\x1bE(text)\x1b&l0S(more)\x0c\x1bE",
    "duplex value 5": b"\x1bE(text)\x1b&l5S(more)\x0c\x1bE",
    "duplex side 0": b"\x1bE\x1b&l1S(text)\x1b&a0G(more)\x0c\x1bE",
    "duplex side 2": b"\x1bE\x1b&l1S(text)\x1b&a2G(more)\x0c\x1bE",
    "duplex side 3 in simplex": b"\x1bE(text)\x1b&a3G(more)\x0c\x1bE",
    "duplex side on a blank page": b"\x1bE\x1b&a0G(text)\x0c\x1bE",
    "job separation": b"\x1bE(text)\x1b&l1T(more)\x0c\x1bE",
    "copies 0 is ignored": b"\x1bE\x1b&l2X\x1b&l0X(text)\x0c\x1bE",
}


@pytest.mark.parametrize("name", sorted(PCL_EJECTS))
def test_pcl5_page_setup_ejects_exactly_when_ghostpcl_does(backend, name, tmp_path):
    data = PCL_EJECTS[name]
    assert printed(analyze_bytes(backend, data)) == gpcl6_pages(data, tmp_path), name


def test_an_orientation_equal_to_the_current_one_ejects_nothing(backend):
    f = analyze_bytes(backend, b"\x1bE\x1b&l0O(text)\x1b&l0O\x1b&l26A\x1b&l0O(more)\x0c\x1bE")
    assert f.pages == 2  # the page size ejects the first page; the orientations eject nothing


# -- PJL ---------------------------------------------------------------------------------------------

def test_a_pjl_only_job_prints_nothing(backend, tmp_path):
    data = UEL + b"@PJL JOB NAME=\"status\"\r\n@PJL SET COPIES=2\r\n@PJL INFO STATUS\r\n@PJL EOJ\r\n" + UEL
    f = analyze_bytes(backend, data)
    assert (f.pdl, f.pages, f.impressions, f.sheets, f.color_pages, f.mono_pages) == ("pjl", 0, 0, 0, 0, 0)
    assert f.job_name == "status"
    assert gpcl6_pages(data, tmp_path) == 0


def test_a_line_starting_with_lower_case_pjl_is_not_pjl(backend, tmp_path):
    """The PJL prefix is upper case: ``@pjl ...`` is text a printer prints on a page."""
    data = UEL + b"@pjl set duplex=off\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE(text)\x0c\x1bE" + UEL
    assert printed(analyze_bytes(backend, data)) == gpcl6_pages(data, tmp_path) == 2
    upper = UEL + b"@PJL set duplex = off\r\n@PJL enter language = pcl\r\n\x1bE(text)\x0c\x1bE" + UEL
    assert printed(analyze_bytes(backend, upper)) == gpcl6_pages(upper, tmp_path) == 1


# -- PCL XL: PageCopies 0 ------------------------------------------------------------------------------

#: BeginSession with UnitsPerMeasure 600 x 600, Measure inch, ErrorReport none (what GhostPCL needs).
XL_SESSION = b"\xd1\x58\x02\x58\x02\xf8\x89\xc0\x00\xf8\x86\xc0\x00\xf8\x8f\x41"


def xl_page(copies=None, on_begin=False):
    copies_attr = b"" if copies is None else b"\xc1" + copies.to_bytes(2, "little") + b"\xf8\x31"
    begin = b"\xc0\x02\xf8\x25\xc0\x00\xf8\x34" + (copies_attr if on_begin else b"") + b"\x43"
    return begin + (b"" if on_begin else copies_attr) + b"\x44"


def xl_job(*pages):
    return b") HP-PCL XL;2;0\n" + XL_SESSION + b"".join(pages) + b"\x42"


@pytest.mark.parametrize("pages", [
    (xl_page(), xl_page(0), xl_page()),
    (xl_page(0),),
    (xl_page(2), xl_page(0), xl_page(3)),
    (xl_page(1), xl_page(0, on_begin=True)),
])
def test_a_pcl_xl_page_with_page_copies_0_prints_no_time(backend, pages, tmp_path):
    data = xl_job(*pages)
    f = analyze_bytes(backend, data)
    assert printed(f) == gpcl6_pages(data, tmp_path)
    assert any("PageCopies 0" in w for w in f.warnings)


def test_pcl_xl_page_copies_0_leaves_the_other_pages_counted(backend):
    f = analyze_bytes(backend, xl_job(xl_page(2), xl_page(0), xl_page(2)))
    assert (f.pages, f.copies, f.impressions, f.sheets) == (2, 2, 4, 4)


# -- PostScript: what Ghostscript printed wins; no settings read from procedure bodies -----------

def ps_doc(pages, *, prolog=b"", setup=b"", showpage=True):
    out = [b"%!PS-Adobe-3.0", b"%%%%Pages: %d" % len(pages), b"%%EndComments", b"%%BeginProlog", prolog,
           b"%%EndProlog", b"%%BeginSetup", b"/Helvetica findfont 12 scalefont setfont", setup, b"%%EndSetup"]
    for i, body in enumerate(pages, 1):
        out += [b"%%%%Page: %d %d" % (i, i), body] + ([b"showpage"] if showpage else [])
    out += [b"%%Trailer", b"%%EOF"]
    return b"\n".join(out) + b"\n"


def test_dsc_pages_with_no_showpage_count_what_ghostscript_printed(backend):
    data = ps_doc([b"0 setgray 72 72 100 100 rectfill", b"72 72 moveto 100 100 lineto stroke"], showpage=False)
    f = analyze_bytes(backend, data)
    assert (f.pages, f.impressions, f.method) == (0, 0, "interpreted")
    assert any("Ghostscript printed 0" in w for w in f.warnings)


def test_dsc_pages_are_counted_from_the_comments_when_no_interpreter_ran(backend):
    data = ps_doc([b"0 setgray", b"0 setgray"], showpage=False)
    assert analyze_bytes(backend, data, interpret=False).pages == 2


DUPLEX_PROCEDURE = (b"/SetDuplex { { << /Duplex true >> setpagedevice } "
                    b"{ << /Duplex false >> setpagedevice } ifelse } bind def")


@pytest.mark.parametrize("argument, duplex", [(b"false", False), (b"true", True)])
def test_duplex_comes_from_how_a_prolog_procedure_is_called(backend, argument, duplex):
    data = ps_doc([b"72 72 moveto (a) show", b"72 72 moveto (b) show", b"72 72 moveto (c) show"], prolog=DUPLEX_PROCEDURE, setup=argument + b" SetDuplex")
    f = analyze_bytes(backend, data)
    assert (f.pages, f.duplex, f.sheets, f.method) == (3, duplex, 2 if duplex else 3, "interpreted")
    assert any("prolog" in w for w in f.warnings)


def test_without_ghostscript_a_prolog_setting_leaves_the_pages_unknown(backend):
    data = ps_doc([b"72 72 moveto (a) show"], prolog=DUPLEX_PROCEDURE, setup=b"false SetDuplex")
    assert analyze_bytes(backend, data, interpret=False).pages is None


def test_settings_in_the_document_setup_are_still_read(backend):
    data = ps_doc([b"72 72 moveto (a) show", b"72 72 moveto (b) show", b"72 72 moveto (c) show"], setup=b"<< /Duplex true >> setpagedevice")
    f = analyze_bytes(backend, data, interpret=False)
    assert (f.pages, f.duplex, f.sheets, f.method) == (3, True, 2, "dsc")
