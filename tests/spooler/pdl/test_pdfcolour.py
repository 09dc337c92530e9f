"""PDF colour from the page's content, page by page equal to what Ghostscript's inkcov
device decides, on hard cases made on purpose and on every PDF of the generated corpus.

Each hard case is a small PDF written here; Ghostscript renders it (the oracle, as the
analyzer runs it) and the walk's verdict for each page it decides must be the same. Where
the walk is expected to decide by itself, the test says so: a case that only ever reaches
Ghostscript proves nothing about the walk.
"""
import io
import os
import zlib

import pikepdf
import pytest

from spooler.pdl import pdfcolour, postscript
from tests.spooler.pdl.conftest import analyze_bytes, oracle


def make_pdf(pages, *, size=(595, 842)) -> bytes:
    """``pages``: (content, resources dict, annotations) each; objects built with pikepdf."""
    pdf = pikepdf.new()
    for content, resources, annots in pages:
        page = pdf.add_blank_page(page_size=size)
        page.obj.Contents = pdf.make_stream(content)
        page.obj.Resources = pikepdf.Dictionary(resources(pdf) if callable(resources) else resources)
        if annots:
            page.obj.Annots = pikepdf.Array([pdf.make_indirect(a(pdf)) for a in annots])
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)  # the same bytes each time: the oracle runs once per case
    return out.getvalue()


def inkcov(data: bytes, tmp_path) -> list[bool]:
    return oracle("inkcov", data, lambda: _inkcov(data, tmp_path))


def _inkcov(data: bytes, tmp_path) -> list[bool]:
    path = tmp_path / "oracle.pdf"
    path.write_bytes(data)
    with pikepdf.open(path) as pdf:
        n = len(pdf.pages)
    return postscript.runs_colours(postscript.colour_runs(str(path), n, postscript.GhostscriptBudget()))


def walk(data: bytes, backend) -> list:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        doc = pdfcolour.DocumentColour(pdf, backend.content_operations, postscript.COLOUR_THRESHOLD)
        return [doc.page(page) for page in pdf.pages]


def image(pdf, width, height, samples: bytes, space="/DeviceRGB", **extra):
    stream = pdf.make_stream(zlib.compress(samples))
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent = width, height, 8
    stream.ColorSpace = pikepdf.Name(space) if isinstance(space, str) else space
    stream.Filter = pikepdf.Name.FlateDecode
    for k, v in extra.items():
        stream[f"/{k}"] = v
    return stream


def jpeg(pdf, picture):
    from PIL import Image  # noqa: F401

    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    stream = pdf.make_stream(out.getvalue())
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent = picture.size[0], picture.size[1], 8
    stream.ColorSpace = pikepdf.Name.DeviceRGB
    stream.Filter = pikepdf.Name.DCTDecode
    return stream


def form(pdf, content: bytes, bbox=(0, 0, 595, 842), resources=None, **extra):
    stream = pdf.make_stream(content)
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Form
    stream.BBox = list(bbox)
    if resources is not None:
        stream.Resources = pikepdf.Dictionary(resources)
    for k, v in extra.items():
        stream[f"/{k}"] = v
    return stream


def icc_rgb(pdf):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stream = pdf.make_stream(profile)
    stream.N = 3
    return pikepdf.Array([pikepdf.Name.ICCBased, stream])


def spot(pdf, name, alternate, c1):
    fn = pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0] * len(c1), C1=c1, N=1)
    return pikepdf.Array([pikepdf.Name.Separation, pikepdf.Name("/" + name), pikepdf.Name(alternate), fn])


def type3_font(pdf, glyph: bytes):
    proc = pdf.make_stream(glyph)
    return pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type3, FontBBox=[0, 0, 1000, 1000],
        FontMatrix=[0.001, 0, 0, 0.001, 0, 0], FirstChar=65, LastChar=65, Widths=[1000],
        Encoding=pikepdf.Dictionary(Type=pikepdf.Name.Encoding, Differences=[65, pikepdf.Name.square]),
        CharProcs=pikepdf.Dictionary(square=proc), Resources=pikepdf.Dictionary())


def square_annotation(colour: bytes, flags: int, rect=(100, 100, 300, 300)):
    def make(pdf):
        appearance = form(pdf, colour + b" rg 0 0 200 200 re f", bbox=(0, 0, 200, 200))
        return pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=list(rect), F=flags,
                                  AP=pikepdf.Dictionary(N=appearance))
    return make


GREY_RAMP = bytes(v for i in range(64 * 64) for v in ((i * 7) % 256,) * 3)
COLOUR_RAMP = bytes(v for i in range(64 * 64) for v in ((i * 7) % 256, 255 - (i * 3) % 256, 90))


def _grey_jpeg(pdf):
    from PIL import Image

    return jpeg(pdf, Image.frombytes("L", (64, 64), bytes((i * 7) % 256 for i in range(4096))).convert("RGB"))


def _colour_jpeg(pdf):
    from PIL import Image

    return jpeg(pdf, Image.frombytes("RGB", (64, 64), COLOUR_RAMP))


#: name -> (content, resources, annotations, decided by the walk itself?)
HARD = {
    "a long thin coloured line": (b"0 0 1 RG 0.25 w 72 400 m 520 400 l S", {}, None, False),
    "a short thin coloured line": (b"0 0 1 RG 0.25 w 72 400 m 90 400 l S", {}, None, False),
    "a very short thin coloured line": (b"0 0 1 RG 0.25 w 72 400 m 78 400 l S", {}, None, True),
    "a grey image in an RGB space": (b"q 300 0 0 300 72 300 cm /Im Do Q",
                                     lambda pdf: {"/XObject": {"/Im": image(pdf, 64, 64, GREY_RAMP)}}, None, True),
    "a colour image": (b"q 300 0 0 300 72 300 cm /Im Do Q",
                       lambda pdf: {"/XObject": {"/Im": image(pdf, 64, 64, COLOUR_RAMP)}}, None, True),
    "a colour JPEG that is grey in content": (b"q 300 0 0 300 72 300 cm /Im Do Q",
                                              lambda pdf: {"/XObject": {"/Im": _grey_jpeg(pdf)}}, None, True),
    "a colour JPEG": (b"q 300 0 0 300 72 300 cm /Im Do Q",
                      lambda pdf: {"/XObject": {"/Im": _colour_jpeg(pdf)}}, None, True),
    "a colour image shrunk to a few pixels": (b"q 6 0 0 6 72 300 cm /Im Do Q",
                                              lambda pdf: {"/XObject": {"/Im": image(pdf, 64, 64, COLOUR_RAMP)}}, None, False),
    "an ICC profile with 3 components holding grey": (b"/ICC cs 0.4 0.4 0.4 sc 72 72 400 400 re f",
                                                     lambda pdf: {"/ColorSpace": {"/ICC": icc_rgb(pdf)}}, None, True),
    "an ICC profile with 3 components holding colour": (b"/ICC cs 0.9 0.1 0.1 sc 72 72 400 400 re f",
                                                        lambda pdf: {"/ColorSpace": {"/ICC": icc_rgb(pdf)}}, None, True),
    "a spot colour": (b"/Spot cs 1 sc 72 72 200 200 re f",
                      lambda pdf: {"/ColorSpace": {"/Spot": spot(pdf, "PANTONE 185 C", "/DeviceCMYK", [0, 0.91, 0.76, 0])}},
                      None, True),
    "a spot grey": (b"/Spot cs 0.7 sc 72 72 200 200 re f",
                    lambda pdf: {"/ColorSpace": {"/Spot": spot(pdf, "Warm Grey", "/DeviceGray", [1])}}, None, True),
    "a Black separation": (b"/Spot cs 1 sc 72 72 200 200 re f",
                           lambda pdf: {"/ColorSpace": {"/Spot": spot(pdf, "Black", "/DeviceCMYK", [0, 0, 0, 1])}},
                           None, True),
    "a Cyan separation": (b"/Spot cs 1 sc 72 72 200 200 re f",
                          lambda pdf: {"/ColorSpace": {"/Spot": spot(pdf, "Cyan", "/DeviceCMYK", [1, 0, 0, 0])}},
                          None, True),
    "colour only in a printed annotation": (b"0 g 72 700 200 20 re f", {}, [square_annotation(b"1 0 0", 4)], True),
    "colour only in an annotation that does not print": (b"0 g 72 700 200 20 re f", {},
                                                         [square_annotation(b"1 0 0", 0)], True),
    "colour only in a hidden annotation": (b"0 g 72 700 200 20 re f", {}, [square_annotation(b"1 0 0", 6)], True),
    "colour hidden under white": (b"1 0 0 rg 100 100 200 200 re f 1 g 90 90 220 220 re f", {}, None, True),
    "colour half hidden under white": (b"1 0 0 rg 100 100 200 200 re f 1 g 90 90 100 220 re f", {}, None, True),
    "colour clipped away": (b"q 0 0 50 50 re W n 1 0 0 rg 100 100 200 200 re f Q", {}, None, True),
    "a transparency group in RGB": (b"/Fm Do", lambda pdf: {"/XObject": {"/Fm": form(
        pdf, b"1 0 0 rg 100 100 200 200 re f", Group=pikepdf.Dictionary(S=pikepdf.Name.Transparency,
                                                                          CS=pikepdf.Name.DeviceRGB))}}, None, True),
    "a transparency group in gray": (b"/Fm Do", lambda pdf: {"/XObject": {"/Fm": form(
        pdf, b"1 0 0 rg 100 100 200 200 re f", Group=pikepdf.Dictionary(S=pikepdf.Name.Transparency,
                                                                          CS=pikepdf.Name.DeviceGray))}}, None, False),
    "half-transparent colour": (b"/Half gs 1 0 0 rg 100 100 200 200 re f",
                                {"/ExtGState": {"/Half": pikepdf.Dictionary(ca=0.5)}}, None, False),
    "a colour shading": (b"q 100 100 200 200 re W n /Sh sh Q", lambda pdf: {"/Shading": {"/Sh": pikepdf.Dictionary(
        ShadingType=2, ColorSpace=pikepdf.Name.DeviceRGB, Coords=[100, 0, 300, 0],
        Function=pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[1, 0, 0], C1=[0, 0, 1], N=1))}}, None, False),
    "a grey shading in RGB": (b"q 100 100 200 200 re W n /Sh sh Q", lambda pdf: {"/Shading": {"/Sh": pikepdf.Dictionary(
        ShadingType=2, ColorSpace=pikepdf.Name.DeviceRGB, Coords=[100, 0, 300, 0],
        Function=pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[1, 1, 1], C1=[0, 0, 0], N=1))}}, None, True),
    "a Type 3 font drawn in colour": (b"0 g BT /T3 40 Tf 100 400 Td (AAAA) Tj ET", lambda pdf: {"/Font": {"/T3": type3_font(
        pdf, b"1000 0 d0 1 0 0 rg 0 0 1000 1000 re f")}}, None, False),
    "a Type 3 font drawn in black": (b"1 0 0 rg BT /T3 40 Tf 100 400 Td 0 g (AAAA) Tj ET", lambda pdf: {"/Font": {
        "/T3": type3_font(pdf, b"1000 0 0 0 1000 1000 d1 0 0 1000 1000 re f")}}, None, True),
    "colour text": (b"0 0 1 rg BT /F1 12 Tf 72 700 Td (A line of blue link text in Helvetica) Tj ET",
                    lambda pdf: {"/Font": {"/F1": pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                                      BaseFont=pikepdf.Name.Helvetica)}}, None, False),
    "near-neutral grey": (b"0.5 0.5 0.501 rg 72 72 400 400 re f", {}, None, False),
    "a tiny colour logo": (b"0 0.4 0.8 rg 500 60 6 6 re f", {}, None, False),
    "a colour dot": (b"0 0.4 0.8 rg 500 60 3 3 re f", {}, None, True),
    "a small colour logo": (b"0 0.4 0.8 rg 500 60 14 14 re f", {}, None, True),
}


@pytest.mark.parametrize("name", sorted(HARD))
def test_each_hard_case_has_the_colour_inkcov_gives_it(backend, name, tmp_path):
    content, resources, annots, decided = HARD[name]
    data = make_pdf([(content, resources, annots)])
    truth = inkcov(data, tmp_path)
    verdicts = walk(data, backend)
    if decided:
        assert verdicts == truth, (name, verdicts, truth)
    else:
        assert verdicts[0] in (None, truth[0]), (name, verdicts, truth)
    facts = analyze_bytes(backend, data)
    assert (facts.color_pages, facts.mono_pages) == (sum(truth), len(truth) - sum(truth)), facts.warnings
    assert facts.colour_methods == ({"content": 1} if verdicts[0] is not None else {"ghostscript": 1})


def test_only_the_undecided_pages_are_rendered(backend, tmp_path):
    pages = [HARD[name][:3] for name in ("a colour shading", "a grey image in an RGB space", "a Type 3 font drawn in colour",
                                         "colour hidden under white", "a colour image")]
    data = make_pdf(pages)
    truth = inkcov(data, tmp_path)
    facts = analyze_bytes(backend, data)
    assert (facts.pages, facts.color_pages) == (5, sum(truth))
    assert facts.colour_methods == {"content": 3, "ghostscript": 2}


def test_every_generated_pdf_page_has_the_colour_inkcov_gives_it(corpus, backend, tmp_path):
    directory, jobs = corpus
    checked = 0
    for job in jobs:
        if job.pdl != "pdf" or job.variant not in ("pdf-pdfwrite", "pdf-objstm", "pdf-encrypted"):
            continue
        with open(os.path.join(directory, job.path), "rb") as f:
            data = f.read()
        truth = inkcov(data, tmp_path)
        assert walk(data, backend) == truth, job.path
        checked += len(truth)
    assert checked >= 50


# -- our own reading of plain files (pdfobjects) against qpdf's -------------------------------------

def walk_plain(data: bytes, backend, tmp_path):
    """Verdicts on pdfobjects' reading of the file; None when it leaves the file to qpdf."""
    from spooler.pdl import pdfobjects

    path = tmp_path / "plain.pdf"
    path.write_bytes(data)
    plain = pdfobjects.open_plain(str(path))
    if plain is None:
        return None
    doc, pages, _ = plain
    try:
        walk_ = pdfcolour.DocumentColour(doc, backend.content_operations, postscript.COLOUR_THRESHOLD)
        verdicts = [walk_.page(page) for page in pages]
    except pdfobjects.Unreadable:
        return None
    finally:
        doc.close()
    return None if doc.failed else verdicts


def test_our_reading_of_plain_files_gives_qpdfs_verdicts(backend, tmp_path):
    read = 0
    for name, (content, resources, annots, _) in sorted(HARD.items()):
        data = make_pdf([(content, resources, annots)])
        plain = walk_plain(data, backend, tmp_path)
        if plain is not None:
            assert plain == walk(data, backend), name
            read += 1
    assert read >= len(HARD) - 3  # all but what needs qpdf (inline image decoding, a DCT in Indexed...)


def test_our_reading_of_every_corpus_pdf_gives_qpdfs_verdicts(corpus, backend, tmp_path):
    directory, jobs = corpus
    read = 0
    for job in jobs:
        if job.pdl != "pdf" or "pjl" in job.variant:
            continue
        with open(os.path.join(directory, job.path), "rb") as f:
            data = f.read()
        plain = walk_plain(data, backend, tmp_path)
        if plain is not None:
            assert plain == walk(data, backend), job.path
            read += 1
    assert read >= 25  # pdfwrite, linearized, incremental and encrypted ones (not object streams)


def test_an_aes256_file_is_decrypted_with_qpdfs_key(corpus, tmp_path):
    from spooler.pdl import pdfobjects

    directory, jobs = corpus
    job = next(j for j in jobs if j.variant == "pdf-encrypted")
    path = os.path.join(directory, job.path)
    doc, pages, _ = pdfobjects.open_plain(path)
    try:
        with pikepdf.open(path) as pdf:
            assert doc.key == pdf.encryption.encryption_key
            assert [p.obj.get("/Contents").read_bytes() for p in pages] == [p.obj.Contents.read_bytes() for p in pdf.pages]
    finally:
        doc.close()


def test_a_chain_of_filters_is_read_alike_by_our_reader_and_qpdf(backend, tmp_path):
    data = make_pdf([(b"1 0 0 rg 72 72 200 200 re f", {}, None)])
    with pikepdf.open(io.BytesIO(data)) as pdf:
        contents = pdf.pages[0].obj.Contents
        contents.write(b"1 0 0 rg 72 72 200 200 re f".hex().encode() + b">", filter=pikepdf.Name.ASCIIHexDecode)
        out = io.BytesIO()
        pdf.save(out, compress_streams=False)
    data = out.getvalue()
    assert walk_plain(data, backend, tmp_path) == walk(data, backend) == [True]


def test_a_stream_that_may_inflate_beyond_the_limit_is_left_to_ghostscript(backend, tmp_path, monkeypatch):
    from spooler.pdl import pdfobjects

    data = make_pdf([(b"1 0 0 rg 72 72 200 200 re f " * 50, {}, None)])
    monkeypatch.setattr(pdfobjects, "INFLATE_LIMIT", 64)
    assert walk_plain(data, backend, tmp_path) is None
    assert walk(data, backend) == [None]
    facts = analyze_bytes(backend, data)
    assert (facts.color_pages, facts.colour_methods) == (1, {"ghostscript": 1})


def test_a_file_that_needs_a_password_is_not_opened_by_our_reader(backend, tmp_path):
    import subprocess

    from spooler.pdl import pdfobjects

    clear = tmp_path / "clear.pdf"
    clear.write_bytes(make_pdf([(b"1 0 0 rg 72 72 200 200 re f", {}, None)]))
    locked = tmp_path / "locked.pdf"
    subprocess.run(["qpdf", "--encrypt", "secret", "owner", "256", "--", str(clear), str(locked)], check=True, timeout=60)
    assert pdfobjects.open_plain(str(locked)) is None
    facts = analyze_bytes(backend, locked.read_bytes())
    assert facts.pages is None and facts.color_pages is None
