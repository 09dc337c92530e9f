"""Per-page colour of PostScript and PDF (Ghostscript's inkcov device), on both backends."""
import io

import pytest

from tests.spooler.pdl.conftest import analyze_bytes
from tests.spooler.pdl.test_languages import pjl

#: One page each: what it draws, and whether a colour printer would lay colour ink for it.
PAGES = {
    "black text": (b"0 setgray 72 700 moveto (Black text) show", False),
    "grey fill": (b"0.5 setgray 72 72 400 400 rectfill", False),
    "rgb grey fill and text": (b"0.5 0.5 0.5 setrgbcolor 72 72 400 400 rectfill 0 0 0 setrgbcolor 72 700 moveto (rgb) show", False),
    "cmyk black": (b"0 0 0 1 setcmykcolor 72 72 400 400 rectfill", False),
    "rgb grey image": (b"gsave 72 300 translate 300 300 scale 4 4 8 [4 0 0 -4 0 4] {<" + bytes(v for i in range(16) for v in (i * 16,) * 3).hex().encode() + b">} false 3 colorimage grestore", False),
    "job resets black generation": (b"{pop 0} setblackgeneration {pop 0} setundercolorremoval 0.4 0.4 0.4 setrgbcolor 72 72 400 400 rectfill", False),
    "small colour logo": (b"0 setgray 72 700 moveto (text) show 0 0.4 0.8 setrgbcolor 500 60 14 14 rectfill", True),
    "rgb image": (b"gsave 72 300 translate 300 300 scale 2 1 8 [2 0 0 -1 0 1] {<ff000000ff00>} false 3 colorimage grestore", True),
    "brown (C, M, Y all non-zero)": (b"0.6 0.4 0.2 setrgbcolor 72 72 100 100 rectfill", True),
}


def ps_document(pages, *, dsc=True):
    out = [b"%!PS-Adobe-3.0" if dsc else b"%!PS"]
    if dsc:
        out += [b"%%%%Pages: %d" % len(pages), b"%%EndComments", b"%%BeginProlog",
                b"/Helvetica findfont 20 scalefont setfont", b"%%EndProlog", b"%%BeginSetup", b"%%EndSetup"]
    else:
        out.append(b"/Helvetica findfont 20 scalefont setfont")
    for i, body in enumerate(pages, 1):
        if dsc:
            out.append(b"%%%%Page: %d %d" % (i, i))
        out += [body, b"showpage"]
    if dsc:
        out += [b"%%Trailer", b"%%EOF"]
    return b"\n".join(out) + b"\n"


def to_pdf(ps: bytes, tmp_path) -> bytes:
    import subprocess

    src, out = tmp_path / "src.ps", tmp_path / "out.pdf"
    src.write_bytes(ps)
    subprocess.run(["gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", f"-sOutputFile={out}", str(src)],
                   check=True, timeout=60)
    return out.read_bytes()


BODIES = [body for body, _ in PAGES.values()]
TRUTH = sum(1 for _, colour in PAGES.values() if colour)


def test_each_kind_of_page_has_the_right_colour(backend):
    """Page by page: neutral in any colour space is mono, any visible colour is colour."""
    from spooler.pdl import postscript

    for name, (body, colour) in PAGES.items():
        f = analyze_bytes(backend, ps_document([body]))
        assert (f.method, f.color_pages, f.mono_pages) == ("dsc", int(colour), int(not colour)), (name, f.warnings)
    assert postscript.is_colour(0, 0, 0, 0.9) is False and postscript.is_colour(0, 0.0004, 0.0004, 0) is True


@pytest.mark.parametrize("kind", ["dsc", "interpreted", "pdf", "pdf-pjl"])
def test_postscript_and_pdf_pages_carry_their_colour(backend, kind, tmp_path):
    ps = ps_document(BODIES, dsc=kind != "interpreted")
    data = ps if kind in ("dsc", "interpreted") else to_pdf(ps, tmp_path)
    if kind == "pdf-pjl":
        data = pjl(data, "SET QTY=2", lang="PDF")
    f = analyze_bytes(backend, data)  # no path: Ghostscript reads the memory file
    assert (f.pages, f.color_pages, f.mono_pages) == (len(BODIES), TRUTH, len(BODIES) - TRUTH), f.warnings
    assert f.method == {"dsc": "dsc", "interpreted": "interpreted"}.get(kind, "header")
    (tmp_path / "job").write_bytes(data)  # and read back from the spool file's path
    a = backend(tmp_path / "job")
    a.feed(data)
    assert (a.finish().color_pages, a.finish().mono_pages) == (TRUTH, len(BODIES) - TRUTH)


def test_colour_can_be_switched_off(backend):
    data = ps_document(BODIES[:2], dsc=False)
    f = analyze_bytes(backend, data, colour=False)
    assert (f.pages, f.method, f.color_pages, f.mono_pages) == (2, "interpreted", None, None)
    f = analyze_bytes(backend, ps_document(BODIES[:2]), interpret=False)  # interpret=False: no Ghostscript at all
    assert (f.pages, f.color_pages, f.mono_pages) == (2, None, None)


def test_pjl_grayscale_makes_postscript_colour_pages_mono(backend):
    f = analyze_bytes(backend, pjl(ps_document(BODIES), "SET RENDERMODE=GRAYSCALE", lang="POSTSCRIPT"))
    assert (f.pages, f.color_pages, f.mono_pages) == (len(BODIES), 0, len(BODIES))


def test_when_ghostscript_printed_other_pages_than_the_comments_describe_what_it_printed_counts(backend):
    # one %%Page whose content prints two pages: Ghostscript ran for colour and printed two
    data = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\nshowpage showpage\n%%Trailer\n%%EOF\n"
    f = analyze_bytes(backend, data)
    assert (f.pages, f.method, f.color_pages, f.mono_pages) == (2, "interpreted", 0, 2)
    assert any("describes 1 pages, Ghostscript printed 2" in w for w in f.warnings)


def test_past_the_page_cap_colour_is_unknown(backend, monkeypatch, tmp_path):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "COLOUR_PAGE_LIMIT", 2)
    for data in (ps_document(BODIES), ps_document(BODIES, dsc=False)):
        f = analyze_bytes(backend, data)
        assert (f.pages, f.color_pages, f.mono_pages) == (len(BODIES), None, None)
        assert any("more than 2 pages" in w for w in f.warnings)
    # a PDF's pages are decided from their content: the cap is on what Ghostscript renders
    f = analyze_bytes(backend, to_pdf(ps_document(BODIES), tmp_path))
    assert (f.pages, f.color_pages, f.colour_methods) == (len(BODIES), TRUTH, {"content": len(BODIES)})


def test_past_the_time_cap_colour_is_unknown_and_pages_still_count(backend, monkeypatch):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "COLOUR_TIMEOUT", 0.1)
    slow = b"0 1 10000000 { pop 1 1 add pop } for "  # a page that takes a while to interpret
    f = analyze_bytes(backend, ps_document([slow + BODIES[0], BODIES[1]], dsc=False))
    assert (f.pages, f.method, f.color_pages) == (2, "interpreted", None)
    assert any("colour not checked" in w for w in f.warnings)
    f = analyze_bytes(backend, ps_document([slow + BODIES[0], BODIES[1]]))
    assert (f.pages, f.method, f.color_pages) == (2, "dsc", None)


def test_copies_printed_by_the_device_are_one_page_each(backend):
    """inkcov prints a line per copy; the colour run must still see one page per showpage."""
    setup = b"<< /NumCopies 3 >> setpagedevice\n"
    data = ps_document(BODIES[-3:], dsc=False).replace(b"%!PS\n", b"%!PS\n" + setup)
    f = analyze_bytes(backend, data)
    assert (f.pages, f.copies, f.color_pages, f.mono_pages) == (3, 3, 3, 0)
    dsc = ps_document(BODIES[-3:]).replace(b"%%BeginSetup\n", b"%%BeginSetup\n" + setup)
    f = analyze_bytes(backend, dsc)
    assert (f.method, f.pages, f.copies, f.color_pages, f.mono_pages) == ("dsc", 3, 3, 3, 0)


def test_the_cli_reports_colour_and_switches_it_off(tmp_path):
    import json
    import subprocess
    import sys

    job = tmp_path / "job.ps"
    job.write_bytes(ps_document(BODIES))
    rows = []
    for flags in ([], ["--no-colour"], ["--no-interpret"]):
        out = subprocess.run([sys.executable, "-m", "gateway", "analyze", "--json", *flags, str(job)],
                             capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out))
    assert [(r["color_pages"], r["mono_pages"]) for r in rows] == [(TRUTH, len(BODIES) - TRUTH), (None, None), (None, None)]
    assert all(r["pages"] == len(BODIES) for r in rows)


def test_a_job_of_many_sections_renders_only_some_for_colour(backend, monkeypatch, tmp_path):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "COLOUR_RUN_LIMIT", 2)
    doc = to_pdf(ps_document(BODIES[-1:]), tmp_path)
    f = analyze_bytes(backend, doc * 3)  # a client sending the document three times
    assert (f.pages, f.color_pages) == (3, None)
    assert any("more than 2 sections" in w for w in f.warnings)
    f = analyze_bytes(backend, doc * 2)
    assert (f.pages, f.color_pages, f.mono_pages) == (2, 2, 0)
