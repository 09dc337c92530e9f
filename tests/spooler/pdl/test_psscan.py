"""PostScript colour by scan, page by page equal to what Ghostscript's inkcov device decides,
and Ghostscript (whose count of printed pages then wins) for what the scan cannot follow."""
import os

import pytest

from spooler.pdl import postscript, psscan
from tests.spooler.pdl.conftest import analyze_bytes, oracle


def document(pages, prolog=b"", setup=b""):
    out = [b"%!PS-Adobe-3.0", b"%%%%Pages: %d" % len(pages), b"%%EndComments", b"%%BeginProlog",
           b"/F { /Helvetica findfont exch scalefont setfont } bind def", prolog, b"%%EndProlog", b"%%BeginSetup",
           setup, b"%%EndSetup"]
    for i, body in enumerate(pages, 1):
        out += [b"%%%%Page: %d %d" % (i, i), b"<< /PageSize [595 842] >> setpagedevice", body, b"showpage"]
    out += [b"%%Trailer", b"%%EOF"]
    return b"\n".join(out) + b"\n"


def inkcov(data: bytes, tmp_path, pages=1) -> list[bool]:
    return oracle("inkcov", data, lambda: _inkcov(data, tmp_path, pages))


def _inkcov(data: bytes, tmp_path, pages) -> list[bool]:
    path = tmp_path / "oracle.ps"
    path.write_bytes(data)
    return postscript.runs_colours(postscript.colour_runs(str(path), pages, postscript.GhostscriptBudget()))


GREY64 = bytes((i * 7) % 256 for i in range(4096)).hex().encode()
GREY_RGB64 = bytes(v for i in range(4096) for v in ((i * 7) % 256,) * 3).hex().encode()
COLOUR_RGB64 = bytes(v for i in range(4096) for v in ((i * 7) % 256, 255 - (i * 3) % 256, 90)).hex().encode()

#: name -> (page body, decided by the scan itself?)
HARD = {
    "black text": (b"0 setgray 24 F 72 700 moveto (Black text) show", True),
    "rgb grey fill": (b"0.5 0.5 0.5 setrgbcolor 72 72 400 400 rectfill", True),
    "cmyk black": (b"0 0 0 1 setcmykcolor 72 72 400 400 rectfill", True),
    "cmyk colour": (b"0.2 0 0 0 setcmykcolor 72 72 400 400 rectfill", True),
    "hsb grey": (b"0.3 0 0.5 sethsbcolor 72 72 400 400 rectfill", True),
    "hsb colour": (b"0.3 0.8 0.5 sethsbcolor 72 72 400 400 rectfill", True),
    "setcolor in DeviceRGB": (b"/DeviceRGB setcolorspace 0.1 0.7 0.2 setcolor 72 72 300 300 rectfill", True),
    "setcolor grey in DeviceRGB": (b"[/DeviceRGB] setcolorspace 0.4 0.4 0.4 setcolor 72 72 300 300 rectfill", True),
    "a small colour logo": (b"0 0.4 0.8 setrgbcolor 500 60 14 14 rectfill", True),
    "a colour dot": (b"0 0.4 0.8 setrgbcolor 500 60 3 3 rectfill", True),
    "a tiny colour logo": (b"0 0.4 0.8 setrgbcolor 500 60 6 6 rectfill", False),
    "colour hidden under white": (b"1 0 0 setrgbcolor 100 100 200 200 rectfill 1 setgray 90 90 220 220 rectfill", True),
    "colour clipped away": (b"gsave 0 0 50 50 rectclip 1 0 0 setrgbcolor 100 100 200 200 rectfill grestore", True),
    "a long thin coloured line": (b"0 0 1 setrgbcolor 0.25 setlinewidth 72 400 moveto 520 400 lineto stroke", False),
    "colour text": (b"0 0 0.8 setrgbcolor 12 F 72 170 moveto (colour text) show", False),
    "a grey image": (b"gsave 72 300 translate 300 300 scale 64 64 8 [64 0 0 -64 0 64] {<" + GREY64 + b">} image grestore", True),
    "a grey image in RGB": (b"gsave 72 300 translate 300 300 scale 64 64 8 [64 0 0 -64 0 64] {<" + GREY_RGB64
                            + b">} false 3 colorimage grestore", True),
    "a colour image": (b"gsave 72 300 translate 300 300 scale 64 64 8 [64 0 0 -64 0 64] {<" + COLOUR_RGB64
                       + b">} false 3 colorimage grestore", True),
    "a colour image turned a quarter": (b"gsave 372 300 translate 90 rotate 300 300 scale 64 64 8 [64 0 0 -64 0 64] {<"
                                        + COLOUR_RGB64 + b">} false 3 colorimage grestore", True),
    "a colour image shrunk to a few pixels": (b"gsave 72 300 translate 5 5 scale 64 64 8 [64 0 0 -64 0 64] {<"
                                              + COLOUR_RGB64 + b">} false 3 colorimage grestore", False),
    "a colour stencil": (b"1 0 0 setrgbcolor gsave 72 300 translate 300 300 scale 8 8 true [8 0 0 -8 0 8] "
                         b"{<ff00ff00ff00ff00>} imagemask grestore", False),
    "a procedure of the prolog": (b"/box { 72 72 200 200 rectfill } def 0.9 0.1 0.1 setrgbcolor box", True),
    "the job resets black generation": (b"{pop 0} setblackgeneration {pop 0} setundercolorremoval "
                                        b"0.4 0.4 0.4 setrgbcolor 72 72 400 400 rectfill", True),
    "a loop": (b"0 1 3 { pop 0.9 0.1 0.1 setrgbcolor 72 72 100 100 rectfill } for", False),
}


@pytest.mark.parametrize("name", sorted(HARD))
def test_each_postscript_page_has_the_colour_inkcov_gives_it(backend, name, tmp_path):
    body, decided = HARD[name]
    data = document([body])
    truth = inkcov(data, tmp_path)
    verdicts = psscan.page_colours(data, 1, backend.ps_tokens)
    if decided:
        assert verdicts == truth, (name, verdicts, truth)
    else:
        assert verdicts in (None, truth), (name, verdicts, truth)
    facts = analyze_bytes(backend, data)
    assert (facts.pages, facts.color_pages) == (1, sum(truth)), facts.warnings
    assert facts.colour_methods == ({"content": 1} if verdicts is not None else {"ghostscript": 1})


def test_a_page_without_showpage_is_left_to_ghostscript_and_what_it_printed_counts(backend):
    data = document([b"0 setgray 72 72 100 100 rectfill", b"0.9 0.1 0.1 setrgbcolor 72 72 100 100 rectfill"])
    data = data.replace(b"showpage\n%%Page: 2", b"%%Page: 2")
    assert psscan.page_colours(data, 2, backend.ps_tokens) is None
    f = analyze_bytes(backend, data)
    assert (f.pages, f.method, f.color_pages, f.colour_methods) == (1, "interpreted", 1, {"ghostscript": 1})


def test_a_page_that_prints_twice_is_left_to_ghostscript(backend):
    data = document([b"0.9 0.1 0.1 setrgbcolor 72 72 100 100 rectfill showpage"])
    assert psscan.page_colours(data, 1, backend.ps_tokens) is None
    assert analyze_bytes(backend, data).pages == 2


def test_data_read_from_currentfile_is_left_to_ghostscript(backend):
    body = b"gsave 72 300 translate 300 300 scale 2 1 8 [2 0 0 -1 0 1] currentfile /ASCIIHexDecode filter false 3 colorimage\nff000000ff00>\ngrestore"
    data = document([body])
    assert psscan.page_colours(data, 1, backend.ps_tokens) is None
    assert analyze_bytes(backend, data).color_pages == 1


def test_every_generated_dsc_postscript_page_has_the_colour_inkcov_gives_it(corpus, backend, tmp_path):
    directory, jobs = corpus
    checked = 0
    for job in jobs:
        if job.pdl != "postscript" or job.variant not in ("ps-dsc", "ps-ps2write"):
            continue
        with open(os.path.join(directory, job.path), "rb") as f:
            data = f.read()
        truth = inkcov(data, tmp_path, job.pages)
        assert psscan.page_colours(data, job.pages, backend.ps_tokens) == truth, job.path
        checked += len(truth)
    assert checked >= 40


#: Programs whose DSC cannot be trusted, each read by the scan as Ghostscript interprets it.
UNTRUSTED = {
    "no comments, #copies": b"%!PS\n/#copies 2 def\n" + b"<< /PageSize [595 842] >> setpagedevice 0 setgray 72 72 100 100 rectfill showpage\n" * 3,
    "NumCopies and duplex": b"%!PS\n<< /NumCopies 3 /Duplex true >> setpagedevice\n"
                            b"<< /PageSize [612 792] >> setpagedevice 1 0 0 setrgbcolor 72 72 100 100 rectfill showpage\n"
                            b"<< /PageSize [842 1191] >> setpagedevice 0 setgray 72 72 100 100 rectfill showpage\n",
    "a cover page before the comments": document([b"0 0 1 setrgbcolor 72 72 200 200 rectfill", b"0 setgray"]).replace(
        b"%%EndSetup\n", b"%%EndSetup\n<< /PageSize [595 842] >> setpagedevice 1 0 0 setrgbcolor 0 0 50 50 rectfill showpage\n"),
    "two documents joined": document([b"0 setgray"]) + document([b"0 1 0 setrgbcolor 72 72 100 100 rectfill"]),
}


@pytest.mark.parametrize("name", sorted(UNTRUSTED))
def test_a_plain_program_whose_comments_cannot_be_trusted_counts_as_ghostscript_prints_it(backend, name, monkeypatch):
    data = UNTRUSTED[name]
    scanned = analyze_bytes(backend, data).to_dict()
    assert scanned["colour_methods"] == {"content": scanned["pages"]}
    monkeypatch.setattr(psscan, "interpret", lambda data, tokenize=None: None)
    rendered = analyze_bytes(backend, data).to_dict()
    assert rendered["colour_methods"] == {"ghostscript": rendered["pages"]}
    for facts in (scanned, rendered):
        del facts["colour_methods"]
    assert scanned == rendered


def test_pjl_duplex_applies_to_a_plain_program_that_does_not_set_it(backend):
    from tests.spooler.pdl.test_languages import pjl

    body = b"%!PS\n" + b"<< /PageSize [595 842] >> setpagedevice 72 72 100 100 rectfill showpage\n" * 3
    f = analyze_bytes(backend, pjl(body, "SET DUPLEX=ON", lang="POSTSCRIPT"))
    assert (f.pages, f.duplex, f.sheets, f.method) == (3, True, 2, "interpreted")


def test_a_plain_program_that_never_sets_a_page_size_is_left_to_ghostscript(backend):
    data = b"%!PS\n72 72 100 100 rectfill showpage\n"
    assert psscan.interpret(data, backend.ps_tokens) is None
    f = analyze_bytes(backend, data)
    assert (f.pages, f.colour_methods) == (1, {"ghostscript": 1})
