"""One behaviour per test, on both backends: PJL, PCL 5, PCL XL, PostScript, PDF, raster."""
import struct

import pytest

from tests.spooler.pdl.conftest import analyze_bytes

UEL = b"\x1b%-12345X"


def pjl(body, *lines, lang="PCL"):
    head = UEL + b"".join(b"@PJL " + line.encode() + b"\r\n" for line in lines)
    return head + f"@PJL ENTER LANGUAGE={lang}\r\n".encode() + body + UEL


def pcl_pages(n, copies=None, extra=b""):
    body = b"\x1bE" + (b"\x1b&l%dX" % copies if copies else b"") + extra
    return body + b"".join(b"page %d\x0c" % i for i in range(n)) + b"\x1bE"


# -- PJL and the copies rule -------------------------------------------------------------------

def test_pjl_qty_multiplies_in_stream_copies(backend):
    f = analyze_bytes(backend, pjl(pcl_pages(2, copies=2), "SET QTY=3"))
    assert (f.pages, f.copies, f.impressions) == (2, 6, 12)


def test_in_stream_copies_override_pjl_copies(backend):
    f = analyze_bytes(backend, pjl(pcl_pages(2, copies=1), "SET COPIES=5"))
    assert (f.copies, f.impressions) == (1, 2)


def test_pjl_copies_apply_when_the_stream_says_nothing(backend):
    f = analyze_bytes(backend, pjl(pcl_pages(3), "SET COPIES=4"))
    assert (f.copies, f.impressions, f.sheets) == (4, 12, 12)


def test_pjl_duplex_makes_sheets_of_two_sides(backend):
    f = analyze_bytes(backend, pjl(pcl_pages(3), "SET DUPLEX=ON", "SET QTY=2"))
    assert (f.duplex, f.impressions, f.sheets) == (True, 6, 4)


def test_in_stream_simplex_overrides_pjl_duplex(backend):
    f = analyze_bytes(backend, pjl(pcl_pages(2, extra=b"\x1b&l0S"), "SET DUPLEX=ON"))
    assert (f.duplex, f.sheets) == (False, 2)


def test_pjl_commands_are_read_in_lower_case_and_with_spaces(backend):
    data = UEL + b'@PJL set qty = 2\n@PJL SET  USERNAME = "bob"\n@PJL enter language = pcl\n' + pcl_pages(1) + UEL
    f = analyze_bytes(backend, data)
    assert (f.impressions, f.user_name, f.pdl) == (2, "bob", "pcl5")


def test_eoj_resets_the_pjl_environment_between_jobs(backend):
    job1 = pjl(pcl_pages(1), 'JOB NAME="a"', "SET COPIES=3") + b"@PJL EOJ\r\n"
    job2 = pjl(pcl_pages(1), 'JOB NAME="b"') + b"@PJL EOJ\r\n" + UEL
    f = analyze_bytes(backend, job1 + job2)
    assert (f.pages, f.impressions) == (2, 4)


def test_a_pcl5_banner_and_a_pcl_xl_job_share_one_file(backend):
    xl = xl_stream(xl_page() * 3)
    data = UEL + b"@PJL ENTER LANGUAGE=PCL\n" + pcl_pages(1) + UEL + b"@PJL ENTER LANGUAGE=PCLXL\n" + xl + UEL
    f = analyze_bytes(backend, data)
    assert (f.pdl, f.languages, f.pages) == ("pclxl", ["pcl5", "pclxl"], 4)


def test_a_pjl_only_job_has_no_pages(backend):
    f = analyze_bytes(backend, UEL + b"@PJL INFO STATUS\r\n" + UEL)
    assert (f.pdl, f.pages, f.impressions) == ("pjl", 0, 0)


# -- PCL 5 ---------------------------------------------------------------------------------------

def test_form_feeds_inside_raster_data_are_not_pages(backend):
    row = b"\x1b*b8W" + b"\x0c" * 8
    data = b"\x1bE\x1b*r1A" + row * 50 + b"\x1b*rB\x0c\x1bE"
    assert analyze_bytes(backend, data).pages == 1


def test_a_reset_ejects_only_a_marked_page(backend):
    assert analyze_bytes(backend, b"\x1bE\x1bE\x1bEtext\x1bE\x1bE").pages == 1


def test_page_size_change_ejects_a_marked_page(backend):
    f = analyze_bytes(backend, b"\x1bE\x1b&l26Aone\x1b&l27Atwo\x1bE")
    assert (f.pages, f.media, f.sheets) == (2, ["a3", "a4"], 2)


def test_combined_escape_sequences_apply_every_command(backend):
    f = analyze_bytes(backend, b"\x1bE\x1b&l2a3x1S" + b"a\x0cb\x0c" + b"\x1bE")
    assert (f.pages, f.copies, f.duplex, f.media, f.sheets) == (2, 3, True, ["letter"], 3)


def test_binary_payloads_are_skipped_by_length(backend):
    font = b"\x1b)s40W" + b"\x1bE\x0c" * 13 + b"x"
    macro = b"\x1b&f0X" + b"ink" + b"\x1b&f1X"
    data = b"\x1bE" + font + macro + b"\x1b&p3X\x0c\x0c\x0c" + b"\x0c\x1bE"
    assert analyze_bytes(backend, data).pages == 1


def test_hpgl2_drawing_marks_the_page(backend):
    data = b"\x1bE\x1b%0BIN;SP1;PU0,0;PD100,100;\x1b%0A\x1bE"
    assert analyze_bytes(backend, data).pages == 1
    assert analyze_bytes(backend, b"\x1bE\x1b%0BIN;SP1;\x1b%0A\x1bE").pages == 0


def test_colour_comes_from_unbalanced_raster_planes(backend):
    def row(c, m, y):
        return b"".join(b"\x1b*b100" + final + bytes([v]) * 100 for final, v in ((b"V", c), (b"V", m), (b"W", y)))

    head = b"\x1bE\x1b*r-3U\x1b*b0M\x1b*r1A"
    grey = row(0xAA, 0xAA, 0xAA) * 40
    dithered_grey = (row(0xAA, 0x55, 0xA5) + row(0x55, 0xAA, 0x5A)) * 20  # other screen per plane
    red = row(0x00, 0xFF, 0xFF) * 40
    f = analyze_bytes(backend, head + grey + b"\x0c" + dithered_grey + b"\x0c" + red + b"\x0c\x1bE")
    assert (f.pages, f.color_pages, f.mono_pages) == (3, 1, 2)


def test_delta_row_and_packbits_rows_are_decoded_for_colour(backend):
    seed = b"\x1b*b2M\x1b*b2V\xe1\xff\x1b*b2V\xe1\xff\x1b*b2W\xe1\xff"      # 32 x 0xFF in C, M, Y
    clear_c = b"\xe0" + bytes(8)  # delta row: replace 8 bytes at the cursor with zeros
    red = b"\x1b*b3M" + (b"\x1b*b36V" + clear_c * 4 + b"\x1b*b0V\x1b*b0W") * 40  # C cleared, M Y kept
    f = analyze_bytes(backend, b"\x1bE\x1b*r-3U\x1b*r1A" + seed + red + b"\x0c\x1bE")
    assert f.color_pages == 1


def test_colour_comes_from_a_non_neutral_foreground(backend):
    data = b"\x1bE\x1b*r3Ublack\x0c\x1b*v1Sred\x0c\x1b*v0a0b0c5I\x1b*v5Sblack\x0c\x1bE"
    f = analyze_bytes(backend, data)
    assert (f.pages, f.color_pages) == (3, 1)


def test_duplex_side_command_starts_a_new_sheet(backend):
    f = analyze_bytes(backend, b"\x1bE\x1b&l1Sa\x0c\x1b&a1Gb\x0cc\x0c\x1bE")
    assert (f.pages, f.sheets) == (3, 2)


def test_truncated_pcl_counts_the_marked_page_and_warns(backend):
    f = analyze_bytes(backend, b"\x1bEtext\x1b*b100W\x00\x00")
    assert f.pages == 1 and any("truncated" in w for w in f.warnings)


def test_lying_raster_lengths_do_not_hang_or_crash(backend):
    data = b"\x1bE" + b"\x1b*b2147483647W" + b"x" * 1000
    assert analyze_bytes(backend, data).pages == 1
    data = b"\x1bE" + b"\x1b*b99999999999999999999999999999999999W" + b"x\x0c"
    f = analyze_bytes(backend, data)
    assert f.pages == 1 and f.warnings


def test_plain_text_is_counted_by_form_feeds(backend):
    f = analyze_bytes(backend, b"Hello\nworld\x0cpage two\n")
    assert (f.pdl, f.pages) == ("text", 2)


# -- PCL XL ----------------------------------------------------------------------------------------

def xl_stream(body, big=False):
    return (b"( HP-PCL XL;2;0\n" if big else b") HP-PCL XL;2;0\n") + b"\xc0\x00\xf8\x86\x41" + body + b"\x42"


def xl_page(copies=None, duplex=False, media=2, rgb=None, data=b"", big=False):
    begin = b"\xc0" + bytes([media]) + b"\xf8\x25" + (b"\xc0\x01\xf8\x35" if duplex else b"\xc0\x00\xf8\x34") + b"\x43"
    body = b""
    if rgb is not None:
        body += b"\xc0\x02\xf8\x03\x6a" + b"\xc8\xc0\x03" + bytes(rgb) + b"\xf8\x0b\x63"
    if data:
        body += b"\xfa" + struct.pack(">I" if big else "<I", len(data)) + data
    end = (b"\xc1" + struct.pack(">H" if big else "<H", copies) + b"\xf8\x31" if copies else b"") + b"\x44"
    return begin + body + end


def test_pcl_xl_pages_copies_duplex_and_media(backend):
    f = analyze_bytes(backend, xl_stream(xl_page(copies=2, duplex=True, media=5) * 3))
    assert (f.pages, f.copies, f.duplex, f.media, f.sheets) == (3, 2, True, ["a3"], 4)


def test_pcl_xl_big_endian_binding(backend):
    f = analyze_bytes(backend, xl_stream(xl_page(copies=3, big=True, data=b"\x44" * 300), big=True))
    assert (f.pages, f.copies) == (1, 3)


def test_pcl_xl_embedded_data_is_skipped_by_length(backend):
    f = analyze_bytes(backend, xl_stream(xl_page(data=b"\x43\x44" * 40000)))
    assert f.pages == 1


def test_pcl_xl_gray_rgb_is_not_colour(backend):
    f = analyze_bytes(backend, xl_stream(xl_page(rgb=(9, 9, 9)) + xl_page(rgb=(200, 0, 0))))
    assert (f.color_pages, f.mono_pages) == (1, 1)


def test_pcl_xl_grammar_errors_make_the_pages_unknown(backend):
    f = analyze_bytes(backend, xl_stream(xl_page() + b"\x07\x08" + xl_page()))
    assert f.pages is None and any("grammar" in w for w in f.warnings)


def test_pcl_xl_ascii_binding_is_unknown_not_guessed(backend):
    f = analyze_bytes(backend, b"' HP-PCL XL;2;0\nBeginSession\n")
    assert f.pages is None and f.warnings


# -- PostScript ------------------------------------------------------------------------------------

def dsc(pages, *, header="%!PS-Adobe-3.0\n%%Pages: {n}\n%%EndComments\n", setup="", body=b""):
    out = header.format(n=pages).encode() + b"%%BeginSetup\n" + setup.encode() + b"%%EndSetup\n"
    for i in range(pages):
        out += b"%%%%Page: %d %d\nshowpage\n" % (i + 1, i + 1)
    return out + body + b"%%Trailer\n%%EOF\n"


def test_dsc_pages_copies_and_duplex(backend):
    f = analyze_bytes(backend, dsc(3, setup="<< /NumCopies 2 /Duplex true >> setpagedevice\n"))
    assert (f.pages, f.copies, f.duplex, f.sheets, f.method) == (3, 2, True, 4, "dsc")


def test_binary_sections_and_embedded_documents_are_not_pages(backend):
    embedded = b"%%BeginDocument: x.eps\n%%Page: 1 1\n%%EndDocument\n"
    binary = b"%%BeginBinary: 20\n\n%%Page: 9 9\n%%Page:\n"
    data = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\n" + embedded + binary + b"showpage\n%%EOF\n"
    assert analyze_bytes(backend, data).pages == 1


def test_pages_disagreeing_with_the_header_are_interpreted(backend):
    f = analyze_bytes(backend, dsc(2, header="%!PS-Adobe-3.0\n%%Pages: 5\n%%EndComments\n"))
    assert (f.method, f.pages) == ("interpreted", 2)
    assert any("DSC not used" in w for w in f.warnings)


def test_a_cover_page_outside_the_pages_is_interpreted(backend):
    f = analyze_bytes(backend, dsc(2, setup="%%EndSetup\nshowpage\n"))
    assert (f.method, f.pages) == ("interpreted", 3)


def test_without_interpretation_untrusted_dsc_leaves_pages_unknown(backend):
    f = analyze_bytes(backend, b"%!PS\nshowpage showpage\n", interpret=False)
    assert (f.pdl, f.pages, f.method) == ("postscript", None, "interpreted")


def test_deep_and_huge_dsc_is_bounded(backend):
    deep = b"%%BeginDocument\n" * 100000 + b"%" * 5_000_000 + b"\n"
    f = analyze_bytes(backend, b"%!PS-Adobe-3.0\n" + deep + b"%%Page: 1 1\n", interpret=False)
    assert f.pages is None and f.warnings


def test_ghostscript_runs_with_a_time_limit(backend, monkeypatch):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "GS_TIMEOUT", 1.0)
    f = analyze_bytes(backend, b"%!PS\n{ } loop\n")
    assert f.pages is None and any("too long" in w or "failed" in w for w in f.warnings)


# -- PDF -------------------------------------------------------------------------------------------

def minimal_pdf(kids_count=1, loop=False):
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    if loop:
        objs.append(b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>")
    else:
        objs.append(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (3 + i) for i in range(kids_count)) + b"] /Count %d >>" % kids_count)
    for _ in range(kids_count):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def test_pdf_pages_and_media(backend):
    f = analyze_bytes(backend, minimal_pdf(3))
    assert (f.pdl, f.pages, f.media, f.method) == ("pdf", 3, ["a4"], "header")


def test_pdf_page_tree_loops_do_not_hang(backend):
    f = analyze_bytes(backend, minimal_pdf(1, loop=True))
    assert f.pdl == "pdf"


def test_truncated_pdf_is_reported_not_raised(backend):
    f = analyze_bytes(backend, minimal_pdf(2)[:60])
    assert f.pdl == "pdf" and f.pages is None and f.warnings


def test_pdf_copies_come_from_the_pjl_around_it(backend):
    f = analyze_bytes(backend, pjl(minimal_pdf(2), "SET COPIES=3", "SET DUPLEX=ON", lang="PDF"))
    assert (f.pages, f.copies, f.impressions, f.sheets) == (2, 3, 6, 3)


# -- raster ---------------------------------------------------------------------------------------

def test_truncated_pwg_raster_is_not_guessed(backend, corpus):
    import os

    directory, jobs = corpus
    job = next(j for j in jobs if j.variant == "pwg-srgb")
    with open(os.path.join(directory, job.path), "rb") as fh:
        data = fh.read()
    f = analyze_bytes(backend, data[: len(data) // 2])
    assert f.pages < job.pages and any("truncated" in w for w in f.warnings)


def test_the_fast_pdf_walk_never_disagrees_with_qpdf(corpus):
    import os

    from spooler.pdl import pdf, policy

    directory, jobs = corpus
    walked = 0
    for job in jobs:
        if job.pdl != "pdf":
            continue
        path = os.path.join(directory, job.path)
        fast = pdf.fast_count(path)
        if fast is None:
            continue
        walked += 1
        import pikepdf

        with pikepdf.open(path) as doc:
            assert fast[0] == len(doc.pages), job.path
    assert walked >= 10


ENCRYPTIONS = {
    "aes-256, no user password": (["--encrypt", "", "owner", "256"], True),
    "aes-256 revision 5": (["--encrypt", "", "owner", "256", "--force-R5"], True),
    "aes-256, a user password": (["--encrypt", "secret", "owner", "256"], False),
    "aes-256 in object streams": (["--object-streams=generate", "--encrypt", "", "owner", "256"], False),
    "aes-128": (["--encrypt", "", "owner", "128", "--use-aes=y"], False),
    "rc4-128": (["--allow-weak-crypto", "--encrypt", "", "owner", "128", "--use-aes=n"], False),
}


@pytest.mark.parametrize("name", ENCRYPTIONS)
def test_an_encrypted_pdf_is_walked_only_when_it_opens_without_a_password_and_then_as_qpdf_reads_it(backend, name, tmp_path, monkeypatch):
    import shutil
    import subprocess

    from spooler.pdl import pdf

    if not shutil.which("qpdf"):
        pytest.fail("qpdf is missing (it makes the encrypted files, and the gateway needs it): "
                    "install it with `apt-get install -y qpdf`", pytrace=False)
    args, walked = ENCRYPTIONS[name]
    (tmp_path / "plain.pdf").write_bytes(minimal_pdf(3))
    subprocess.run(["qpdf", *args, "--", str(tmp_path / "plain.pdf"), str(tmp_path / "job.pdf")], check=True)
    data = (tmp_path / "job.pdf").read_bytes()
    walk = pdf.fast_walk(str(tmp_path / "job.pdf"))
    assert (walk is not None) == walked
    if walked:
        assert walk == (3, ["a4"] * 3, True)
    fast = analyze_bytes(backend, data).to_dict()
    monkeypatch.setattr(pdf, "fast_walk", lambda path: None)
    assert analyze_bytes(backend, data).to_dict() == fast  # what qpdf says
    assert fast["pages"] == (None if "a user password" in name else 3)


def test_pdf_strings_are_read_as_the_standard_writes_them():
    from spooler.pdl.pdf import _string

    assert _string(b"<48 65 6c6C6\n f>") == b"Hello"
    assert _string(b"<4>") == b"\x40" and _string(b"<zz>") is None
    assert _string(b"(a\\(b\\)c\\\\d\\n\\r\\t\\b\\f)") == b"a(b)c\\d\n\r\t\b\f"
    assert _string(b"(\\101\\0\\7a\\1234\\q)") == b"A\x00\x07aS4q"
    assert _string(b"(one\\\r\ntwo\\\nthree\r\nfour\rfive)") == b"onetwothree\nfour\nfive"
    assert _string(b"/Name") is None and _string(5) is None


def test_the_fast_pdf_walk_gives_up_on_lying_offsets(tmp_path):
    from spooler.pdl import pdf

    data = minimal_pdf(2)
    bad = data.replace(b"0000000009 00000 n", b"0000000001 00000 n")
    (tmp_path / "a.pdf").write_bytes(bad)
    assert pdf.fast_count(str(tmp_path / "a.pdf")) is None


def test_a_document_sent_several_times_is_counted_every_time(backend):
    """Clients without copy support send the document N times (CUPS socket/lpd backends)."""
    pdf = minimal_pdf(2)
    f = analyze_bytes(backend, pdf * 3, chunks=[7] * 200)
    assert (f.pdl, f.impressions) == ("pdf", 6)


def objstm_bomb(pad_mib: int) -> bytes:
    """A PDF whose page objects sit in an object stream padded to inflate to ``pad_mib`` MiB."""
    import zlib

    o3 = b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>"
    o4 = b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] >>"
    header = b"3 0 4 %d " % (len(o3) + 1)
    comp = zlib.compressobj(9)
    data = comp.compress(header + o3 + b" " + o4 + b" ")
    for _ in range(pad_mib):
        data += comp.compress(b" " * (1 << 20))
    data += comp.flush()
    out = b"%PDF-1.5\n"
    off1 = len(out)
    out += b"1 0 obj\n<< /Type /Catalog /Pages 3 0 R >>\nendobj\n"
    off5 = len(out)
    out += (b"5 0 obj\n<< /Type /ObjStm /N 2 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (len(header), len(data)) + data + b"\nendstream\nendobj\n")
    xoff = len(out)
    rows = [(0, 0, 255), (1, off1, 0), (0, 0, 0), (2, 5, 0), (2, 5, 1), (1, off5, 0), (1, xoff, 0)]
    raw = b"".join(struct.pack(">BIH", *r) for r in rows)
    out += (b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(raw)
            + raw + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xoff)
    return out


def test_object_streams_are_read_within_the_inflate_limit(backend):
    f = analyze_bytes(backend, objstm_bomb(1))
    assert (f.pages, f.media) == (1, ["a4"])


def test_an_object_stream_zip_bomb_is_refused(backend, monkeypatch):
    from spooler.pdl import pdf

    monkeypatch.setattr(pdf, "INFLATE_LIMIT", 8 << 20)
    f = analyze_bytes(backend, objstm_bomb(24))
    assert f.pages is None and any("zip bomb" in w for w in f.warnings)


def test_pjl_grayscale_rendering_makes_colour_pages_mono(backend):
    page = xl_page(rgb=(200, 0, 0))
    f = analyze_bytes(backend, pjl(xl_stream(page), "SET RENDERMODE=GRAYSCALE", lang="PCLXL"))
    assert (f.color_pages, f.mono_pages) == (0, 1)
    f = analyze_bytes(backend, pjl(xl_stream(page), "SET RENDERMODE=COLOR", lang="PCLXL"))
    assert (f.color_pages, f.mono_pages) == (1, 0)


def test_a_pdf_whose_xref_chain_loops_does_not_hang(backend):
    data = minimal_pdf(1)
    xref_at = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    looped = data.replace(b"/Root 1 0 R >>", b"/Root 1 0 R /Prev %d >>" % xref_at)
    f = analyze_bytes(backend, looped)
    assert f.pdl == "pdf"


def test_lying_lengths_in_pcl_xl_postscript_and_raster_do_not_hang(backend):
    xl = xl_stream(xl_page() + b"\xfa\xff\xff\xff\xff" + b"\x43\x44" * 100)
    f = analyze_bytes(backend, xl)
    assert f.pages == 1 and any("truncated" in w for w in f.warnings)
    ps = b"%!PS-Adobe-3.0\n%%Pages: 1\n%%Page: 1 1\n%%BeginBinary: 99999999999\nshowpage\n"
    f = analyze_bytes(backend, ps, interpret=False)
    assert f.pdl == "postscript"
    pwg = b"RaS2" + bytes(372) + struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF) + bytes(1796 - 380) + b"\x00" * 64
    f = analyze_bytes(backend, pwg)
    assert f.pages is None and f.warnings


def test_ghostscript_runs_with_a_memory_limit(backend, monkeypatch):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "GS_MEMORY", 300 << 20)
    f = analyze_bytes(backend, b"%!PS\n/big 2000000000 string def showpage\n")
    assert f.pages is None and any("Ghostscript" in w for w in f.warnings)


def test_a_pcl_document_sent_three_times_is_three_copies(backend):
    doc = b"\x1bE\x1b&l26A" + b"page one\x0cpage two\x0c"
    f = analyze_bytes(backend, doc * 3 + b"\x1bE", chunks=[5] * 30)
    assert (f.pages, f.copies, f.impressions) == (2, 3, 6)
    assert any("same document 3 times" in w for w in f.warnings)


def test_different_pcl_documents_are_not_taken_for_copies(backend):
    f = analyze_bytes(backend, b"\x1bEpage one\x0c\x1bEpage two\x0c\x1bE")
    assert (f.pages, f.copies, f.impressions) == (2, 1, 2)


def _crc32_twin(doc: bytes, other: bytes, at: int) -> bytes:
    """``other`` with its 4 bytes at ``at`` changed so that its CRC-32 is ``doc``'s (CRC-32
    is linear over GF(2): solve for the bits to flip)."""
    import zlib

    base = zlib.crc32(other)
    columns = []
    for bit in range(32):
        flipped = bytearray(other)
        flipped[at + bit // 8] ^= 1 << (bit % 8)
        columns.append((zlib.crc32(bytes(flipped)) ^ base, 1 << bit))
    target, chosen = zlib.crc32(doc) ^ base, 0
    for row in range(32):  # Gaussian elimination, pivot on bit ``row`` of the CRC difference
        pivot = next((i for i in range(row, 32) if columns[i][0] >> row & 1), None)
        assert pivot is not None
        columns[row], columns[pivot] = columns[pivot], columns[row]
        for i in range(32):
            if i != row and columns[i][0] >> row & 1:
                columns[i] = (columns[i][0] ^ columns[row][0], columns[i][1] ^ columns[row][1])
    for row in range(32):
        if target >> row & 1:
            chosen ^= columns[row][1]
    out = bytearray(other)
    for bit in range(32):
        if chosen >> bit & 1:
            out[at + bit // 8] ^= 1 << (bit % 8)
    assert zlib.crc32(bytes(out)) == zlib.crc32(doc) and bytes(out) != doc
    return bytes(out)


def test_pcl_documents_differing_in_their_first_bytes_are_not_copies_even_with_one_crc(backend):
    """Documents are compared by their first bytes themselves, not by a checksum of them."""
    doc = b"\x1bE\x1b*b4W\x00\x00\x00\x00text\x0c"
    twin = _crc32_twin(doc, doc.replace(b"text", b"next"), doc.index(b"\x00"))
    f = analyze_bytes(backend, doc + twin + b"\x1bE")
    assert (f.pages, f.copies, f.impressions) == (2, 1, 2)
    f = analyze_bytes(backend, doc + doc + b"\x1bE")
    assert (f.pages, f.copies, f.impressions) == (1, 2, 2)


def test_a_control_d_before_the_dsc_header_is_still_dsc(backend):
    f = analyze_bytes(backend, pjl(b"\x04" + dsc(2) + b"\x04", lang="POSTSCRIPT"), interpret=False)
    assert (f.pages, f.method) == (2, "dsc")


def test_a_pjl_wrapped_section_is_read_back_from_the_path_for_ghostscript(backend, tmp_path):
    from spooler.pdl.reference import analyze_path

    job = tmp_path / "job.prn"
    job.write_bytes(pjl(b"%!PS\n/#copies 2 def\nshowpage showpage showpage\n", "SET QTY=2", lang="POSTSCRIPT"))
    f = analyze_path(job, analyzer_class=backend, chunk_size=7)
    assert (f.method, f.pages, f.copies, f.impressions) == ("interpreted", 3, 4, 12)


def _pdf_with_page_dict(page_dict: bytes) -> bytes:
    return minimal_pdf(2).replace(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>", page_dict, 1)


def test_a_percent_sign_inside_a_string_is_not_a_comment(tmp_path):
    """``%`` starts a comment only between tokens: a page whose strings hold one is walked,
    and walked as qpdf reads it."""
    import pikepdf

    from spooler.pdl import pdf

    data = _pdf_with_page_dict(b"<< /Type /Page /Parent 2 0 R /PieceInfo << /Note (100% \\) sure) >> "
                               b"/MediaBox [0 0 612 792] >>")
    path = tmp_path / "percent.pdf"
    path.write_bytes(_fix_offsets(data))
    assert pdf.fast_walk(str(path)) == (2, ["letter", "a4"], False)
    with pikepdf.open(path) as doc:
        assert len(doc.pages) == 2


def test_comments_between_tokens_are_skipped_and_bytes_that_are_no_token_give_up(tmp_path):
    from spooler.pdl import pdf

    commented = _pdf_with_page_dict(b"<< /Type /Page % the first page\n/Parent 2 0 R\n"
                                    b"/MediaBox [0 0 595 842] % A4\n>>")
    (tmp_path / "commented.pdf").write_bytes(_fix_offsets(commented))
    assert pdf.fast_walk(str(tmp_path / "commented.pdf")) == (2, ["a4", "a4"], False)
    junk = _pdf_with_page_dict(b"<< /Type /Page /Parent 2 0 R { junk } /MediaBox [0 0 595 842] >>")
    (tmp_path / "junk.pdf").write_bytes(_fix_offsets(junk))
    assert pdf.fast_walk(str(tmp_path / "junk.pdf")) is None  # qpdf decides, nothing is skipped


def _fix_offsets(data: bytes) -> bytes:
    """Rewrite the xref table of a file made by ``minimal_pdf`` after its objects moved."""
    import re

    body, _, _ = data.partition(b"xref\n")
    offsets = [m.start() for m in re.finditer(rb"(?m)^\d+ 0 obj\n", body)]
    out = body + b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, len(body))
    return out
