"""A corpus of print jobs made with Ghostscript and qpdf, each with the truth of how it was made.

Every job starts as a PostScript program we write (pages, media per page, colour per page)
and is turned into the languages printers receive: PostScript with and without DSC, PDF
(pdfwrite, object streams, linearized, incremental update, encrypted), PCL 5 (ljet4,
ljet4d, cljet5, hand-written text), PCL XL (pxlmono, pxlcolor), PWG raster and URF, with
PJL wrappers as Windows drivers write them and in-stream copies and duplex. The truth is
what we asked for, per-page colour included (black/grey pages in DeviceGray or in RGB
with r=g=b are mono; red blocks, RGB images and a small logo are colour); for PostScript
and PDF the page count is cross-checked by rendering with Ghostscript's bbox device when
the corpus is built.

``build(directory)`` writes the files and returns ``[Job]``. Used by the test fixtures (once
per session) and by ``benchmarks/pagecount.py``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

MEDIA = {"letter": (612, 792), "a4": (595, 842), "a3": (842, 1191), "legal": (612, 1008)}


@dataclass
class Doc:
    name: str
    media: list[str]
    color: list[bool]
    gray: bool = False  # mono pages carry a neutral grey fill
    images: bool = False  # every page carries a sampled image (grey on mono pages, RGB on colour)
    rgb_gray: bool = False  # mono pages draw their grey fill and image declared as RGB (r=g=b), as phones/Macs do
    logo: bool = False  # colour pages carry only a small colour logo (14 x 14 pt), not the red block

    @property
    def pages(self) -> int:
        return len(self.media)


@dataclass
class Job:
    path: str
    pdl: str
    variant: str
    pages: int
    copies: int
    duplex: bool
    media: list[str]
    color: list[bool] | None  # per page; None when the format cannot say
    method: str
    impressions: int = 0
    sheets: int = 0
    color_pages: int | None = None
    notes: str = ""
    gs_pages: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.impressions = self.pages * self.copies
        self.sheets = self.copies * sheets_per_copy(self.media, self.duplex)
        self.color_pages = None if self.color is None else sum(self.color)

    def to_dict(self):
        return asdict(self)


def sheets_per_copy(media, duplex) -> int:
    """Sheets for one copy: two sides per sheet in duplex, a media change starts a sheet."""
    sheets, sides, current = 0, 0, None
    for m in media:
        if sides == 0 or sides >= (2 if duplex else 1) or m != current:
            sheets += 1
            sides = 0
            current = m
        sides += 1
    return sheets


DOCS = [
    Doc("one", ["a4"], [False]),
    Doc("mixed", ["letter", "letter", "letter", "letter", "letter"], [False, True, False, False, True]),
    Doc("media", ["a4", "a3", "a4", "letter", "a4", "a4", "letter"], [False] * 7),
    Doc("long", ["a4"] * 12, [i % 5 == 0 for i in range(12)]),
    Doc("grey", ["a4", "a4", "a4"], [False, False, True], gray=True),
    Doc("color", ["letter", "letter"], [True, True]),
    Doc("photo", ["a4", "a4", "a4"], [False, True, False], images=True),
]

#: Documents made into PostScript and PDF only (their colour is what inkcov must get right).
COLOUR_DOCS = [
    # RGB-declared grey (fills, text, an r=g=b image) must be mono; a 14 pt logo is colour.
    Doc("rgbgrey", ["a4", "a4", "letter", "a4"], [False, True, False, True], images=True, rgb_gray=True, logo=True),
]


def ps_program(doc: Doc, *, dsc=True, copies=None, hash_copies=None, duplex=None, cover=False) -> bytes:
    """A PostScript program drawing ``doc``: black text, a red block on colour pages."""
    out = []
    w = out.append
    w("%!PS-Adobe-3.0" if dsc else "%!PS")
    if dsc:
        w(f"%%Title: ({doc.name})")
        w("%%Creator: printgate corpus")
        w(f"%%Pages: {doc.pages}")
        w("%%EndComments")
        w("%%BeginProlog")
    w("/F { /Helvetica findfont exch scalefont setfont } bind def")
    if dsc:
        w("%%EndProlog")
        w("%%BeginSetup")
    if duplex is not None:
        if dsc:
            w("%%BeginFeature: *Duplex " + ("DuplexNoTumble" if duplex else "None"))
        w(f"<< /Duplex {'true' if duplex else 'false'} >> setpagedevice")
        if dsc:
            w("%%EndFeature")
    if copies is not None:
        w(f"<< /NumCopies {copies} >> setpagedevice")
    if hash_copies is not None:
        w(f"/#copies {hash_copies} def")
    if dsc:
        w("%%EndSetup")
    if cover:
        w("<< /PageSize [595 842] >> setpagedevice 20 F 72 700 moveto (Cover sheet) show showpage")
    for i, (media, color) in enumerate(zip(doc.media, doc.color), 1):
        width, height = MEDIA[media]
        if dsc:
            w(f"%%Page: {i} {i}")
            w("%%BeginPageSetup")
        w(f"<< /PageSize [{width} {height}] >> setpagedevice")
        if dsc:
            w("%%EndPageSetup")
        w("0 setgray 24 F")
        w(f"72 {height - 100} moveto (Page {i} of {doc.name}) show")
        w("12 F")
        for line in range(8):
            w(f"72 {height - 140 - 16 * line} moveto (Line {line} of page {i}: quick brown fox, 0123456789.) show")
        if doc.rgb_gray and not color:
            w("0.3 0.3 0.3 setrgbcolor 72 620 moveto (RGB grey text) show 0 0 0 setrgbcolor")
        if doc.images:
            # a 64x64 sampled image: a grey ramp, or an RGB gradient on colour pages
            w("gsave 72 300 translate 300 300 scale")
            if doc.rgb_gray and not color:
                data = bytes(v for y in range(64) for x in range(64) for v in ((x * 4 + y) % 256,) * 3)
                w("64 64 8 [64 0 0 -64 0 64] {<" + data.hex() + ">} false 3 colorimage")
            elif color and doc.logo:
                data = bytes((x * 4 + y) % 256 for y in range(64) for x in range(64))
                w("64 64 8 [64 0 0 -64 0 64] {<" + data.hex() + ">} image")
            elif color:
                data = bytes(v for y in range(64) for x in range(64) for v in (x * 4, 255 - y * 4, 128))
                w("64 64 8 [64 0 0 -64 0 64] {<" + data.hex() + ">} false 3 colorimage")
            else:
                data = bytes((x * 4 + y) % 256 for y in range(64) for x in range(64))
                w("64 64 8 [64 0 0 -64 0 64] {<" + data.hex() + ">} image")
            w("grestore")
        if doc.gray and not color:
            w("0.55 setgray 72 200 300 120 rectfill 0 setgray")
        if doc.rgb_gray and not color:
            w("0.55 0.55 0.55 setrgbcolor 72 200 300 120 rectfill 0 setgray")
        if color and doc.logo:
            w("0 0.4 0.8 setrgbcolor 500 60 14 14 rectfill 0 setgray")
        elif color:
            w("0.9 0.1 0.1 setrgbcolor 72 200 300 120 rectfill 0 0 0.8 setrgbcolor")
            w("72 170 moveto (colour text) show 0 setgray")
        w("showpage")
    if dsc:
        w("%%Trailer")
        w("%%EOF")
    return ("\n".join(out) + "\n").encode()


def pjl(body: bytes, *, lang: str, copies=None, qty=None, duplex=None, lower=False, name="job") -> bytes:
    """Wrap ``body`` in PJL the way Windows drivers do (``lower`` spells the commands as some do)."""
    lines = [f'@PJL JOB NAME="{name}"', '@PJL COMMENT "Windows 10 driver"', '@PJL SET USERNAME="alice"',
             f'@PJL SET JOBNAME="{name}"', '@PJL SET JOBATTR="JobAcct1=alice"']
    if copies is not None:
        lines.append(f"@PJL SET COPIES={copies}")
    if qty is not None:
        lines.append(f"@PJL SET QTY={qty}")
    if duplex is not None:
        lines.append(f"@PJL SET DUPLEX={'ON' if duplex else 'OFF'}")
    lines.append(f"@PJL ENTER LANGUAGE={lang}")
    if lower:
        # the commands in lower case, the prefix as it must be: a line starting "@pjl" is not
        # PJL to a printer (GhostPCL prints it as text)
        lines = ["@PJL" + re.sub(r"=", " = ", ln.lower(), count=1)[4:] if "NAME=" not in ln else ln for ln in lines]
    head = b"\x1b%-12345X" + "\r\n".join(lines).encode() + b"\r\n"
    return head + body + b"\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X"


def pcl_text(pages: list[list[str]], *, copies=None, media_code=26, end_with_ff=False) -> bytes:
    """A hand-written PCL 5 text job; pages separated by FF, ended by ESC E."""
    out = [b"\x1bE", b"\x1b&l%dA" % media_code, b"\x1b&l0O", b"\x1b(s0p10h12v0s0b3T"]
    if copies:
        out.append(b"\x1b&l%dX" % copies)
    for i, lines in enumerate(pages):
        out.append("\r\n".join(lines).encode() + b"\r\n")
        if i < len(pages) - 1 or end_with_ff:
            out.append(b"\x0c")
    out.append(b"\x1bE")
    return b"".join(out)


class Builder:
    def __init__(self, directory: str):
        self.dir = directory
        self.gs = shutil.which("gs")
        self.qpdf = shutil.which("qpdf")
        self.jobs: list[Job] = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_gs(self, device, src: bytes, out: str, *extra):
        srcpath = out + ".src.ps"
        with open(srcpath, "wb") as f:
            f.write(src)
        subprocess.run([self.gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", f"-sDEVICE={device}",
                        f"-sOutputFile={out}", *extra, srcpath],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        os.unlink(srcpath)
        with open(out, "rb") as f:
            return f.read()

    def gs_count(self, path) -> int:
        """Pages Ghostscript prints for ``path`` (the cross-check)."""
        proc = subprocess.run([self.gs, "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=bbox", path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        return len(re.findall(rb"^%%BoundingBox", proc.stderr, re.M))

    def write(self, name, data: bytes, job: Job, check=False):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        job.path = name
        if check and self.gs:
            job.gs_pages = self.gs_count(path)
        self.jobs.append(job)

    # -- the jobs ---------------------------------------------------------------------------
    def tasks(self):
        docs = {d.name: d for d in DOCS}
        t = []
        for d in DOCS:
            t.append((self.postscript, d))
            t.append((self.pdfs, d))
            t.append((self.pcl, d))
            t.append((self.pclxl, d))
        for d in COLOUR_DOCS:
            t.append((self.postscript, d))
            t.append((self.pdfs, d))
        t.append((self.raster, docs["mixed"]))
        t.append((self.text_jobs, None))
        t.append((self.multi, docs["mixed"]))
        return t

    def postscript(self, d: Doc):
        n = d.name
        self.write(f"{n}_ps-dsc.ps", ps_program(d), Job("", "postscript", "ps-dsc", d.pages, 1, False, d.media, list(d.color), "dsc"), check=True)
        self.write(f"{n}_ps-dsc-copies.ps", ps_program(d, copies=3, duplex=True),
                   Job("", "postscript", "ps-dsc-copies", d.pages, 3, True, d.media, list(d.color), "dsc", notes="NumCopies 3, Duplex"), check=True)
        self.write(f"{n}_ps-nodsc.ps", ps_program(d, dsc=False, hash_copies=2),
                   Job("", "postscript", "ps-nodsc", d.pages, 2, False, d.media, list(d.color), "interpreted", notes="#copies 2, no DSC"), check=True)
        self.write(f"{n}_ps-pjl.ps", pjl(ps_program(d), lang="POSTSCRIPT", copies=4, duplex=True),
                   Job("", "postscript", "ps-pjl", d.pages, 4, True, d.media, list(d.color), "dsc", notes="PJL COPIES=4 DUPLEX=ON"))
        self.write(f"{n}_ps-cover.ps", ps_program(d, cover=True),
                   Job("", "postscript", "ps-cover", d.pages + 1, 1, False, ["a4"] + d.media, [False] + d.color, "interpreted",
                       notes="cover page outside %%Page"), check=True)
        joined = ps_program(d) + ps_program(DOCS[0])
        self.write(f"{n}_ps-joined.ps", joined,
                   Job("", "postscript", "ps-joined", d.pages + 1, 1, False, d.media + ["a4"], d.color + [False], "interpreted",
                       notes="two DSC documents joined"), check=True)
        if self.gs:
            out = self.path(f"{n}_ps-ps2write.ps")
            data = self.run_gs("ps2write", ps_program(d), out)
            self.write(f"{n}_ps-ps2write.ps", data, Job("", "postscript", "ps-ps2write", d.pages, 1, False, d.media, list(d.color), "dsc"), check=True)

    def pdfs(self, d: Doc):
        if not self.gs:
            return
        n = d.name
        base = self.path(f"{n}_pdf-pdfwrite.pdf")
        data = self.run_gs("pdfwrite", ps_program(d), base)
        self.write(f"{n}_pdf-pdfwrite.pdf", data, Job("", "pdf", "pdf-pdfwrite", d.pages, 1, False, d.media, list(d.color), "header"), check=True)
        self.write(f"{n}_pdf-pjl.pdf", pjl(data, lang="PDF", copies=2, duplex=True),
                   Job("", "pdf", "pdf-pjl", d.pages, 2, True, d.media, list(d.color), "header", notes="PJL COPIES=2 DUPLEX=ON"))
        self.write(f"{n}_pdf-pjl-qty.pdf", pjl(data, lang="PDF", qty=3),
                   Job("", "pdf", "pdf-pjl-qty", d.pages, 3, False, d.media, list(d.color), "header", notes="PJL QTY=3"))
        if self.qpdf:
            for variant, args in (("objstm", ["--object-streams=generate"]), ("linearized", ["--linearize"]),
                                  ("encrypted", ["--encrypt", "", "owner", "256", "--"])):
                out = self.path(f"{n}_pdf-{variant}.pdf")
                subprocess.run([self.qpdf, *args, base, out], check=False, timeout=60)
                with open(out, "rb") as f:
                    self.jobs.append(Job(os.path.basename(out), "pdf", f"pdf-{variant}", d.pages, 1, False, d.media, list(d.color), "header",
                                         gs_pages=self.gs_count(out)))
        if d.pages > 1:
            with open(base, "rb") as f:
                data = f.read()
            self.write(f"{n}_pdf-incremental.pdf", incremental_remove_last_page(data),
                       Job("", "pdf", "pdf-incremental", d.pages - 1, 1, False, d.media[:-1], d.color[:-1], "header",
                           notes="incremental update removes the last page"), check=True)

    def pcl(self, d: Doc):
        if not self.gs:
            return
        n = d.name
        src = ps_program(d)
        data = self.run_gs("ljet4", src, self.path(f"{n}_pcl5-ljet4.tmp"), "-r150")
        os.unlink(self.path(f"{n}_pcl5-ljet4.tmp"))
        self.write(f"{n}_pcl5-ljet4.pcl", pjl(data, lang="PCL", qty=3),
                   Job("", "pcl5", "pcl5-ljet4", d.pages, 3, False, d.media, [False] * d.pages, "scan", notes="PJL QTY=3"))
        data = self.run_gs("ljet4", src, self.path(f"{n}_pcl5-copies.tmp"), "-r150", "-dNumCopies=2")
        os.unlink(self.path(f"{n}_pcl5-copies.tmp"))
        self.write(f"{n}_pcl5-ljet4-copies.pcl", pjl(data, lang="PCL", copies=5),
                   Job("", "pcl5", "pcl5-ljet4-copies", d.pages, 2, False, d.media, [False] * d.pages, "scan",
                       notes="in-stream ESC&l2X overrides PJL COPIES=5"))
        if "a3" in d.media:
            return  # ljet4d has no A3: Ghostscript prints it on A4
        data = self.run_gs("ljet4d", src, self.path(f"{n}_pcl5-ljet4d.tmp"), "-r150")
        os.unlink(self.path(f"{n}_pcl5-ljet4d.tmp"))
        self.write(f"{n}_pcl5-ljet4d.pcl", pjl(data, lang="PCL", qty=2, duplex=True, lower=True),
                   Job("", "pcl5", "pcl5-ljet4d", d.pages, 2, True, d.media, [False] * d.pages, "scan",
                       notes="ljet4d, PJL QTY=2 DUPLEX=ON in lower case"))
        if set(d.media) <= {"letter", "a4", "legal"}:
            data = self.run_gs("cljet5", src, self.path(f"{n}_pcl5-cljet5.tmp"), "-r75")
            os.unlink(self.path(f"{n}_pcl5-cljet5.tmp"))
            self.write(f"{n}_pcl5-cljet5.pcl", pjl(data, lang="PCL", qty=2),
                       Job("", "pcl5", "pcl5-cljet5", d.pages, 2, False, d.media, list(d.color), "scan", notes="PJL QTY=2"))

    def pclxl(self, d: Doc):
        if not self.gs:
            return
        n = d.name
        src = ps_program(d)
        data = self.run_gs("pxlmono", src, self.path(f"{n}_pclxl-pxlmono.pxl"), "-r150", "-dNumCopies=3", "-dDuplex=true")
        self.write(f"{n}_pclxl-pxlmono.pxl", data,
                   Job("", "pclxl", "pclxl-pxlmono", d.pages, 3, True, d.media, [False] * d.pages, "scan",
                       notes="PageCopies=3, DuplexPageMode"))
        data = self.run_gs("pxlcolor", src, self.path(f"{n}_pclxl-pxlcolor.tmp"), "-r150")
        os.unlink(self.path(f"{n}_pclxl-pxlcolor.tmp"))
        self.write(f"{n}_pclxl-pxlcolor.pxl", pjl(data, lang="PCLXL", qty=2),
                   Job("", "pclxl", "pclxl-pxlcolor", d.pages, 2, False, d.media, list(d.color), "scan",
                       notes="gs PJL inside a driver PJL wrapper, QTY=2"))

    def raster(self, d: Doc):
        if not self.gs:
            return
        n = d.name
        src = ps_program(d)
        data = self.run_gs("pwgraster", src, self.path(f"{n}_pwg-gray.pwg"), "-r50")
        self.write(f"{n}_pwg-gray.pwg", data, Job("", "pwg", "pwg-gray", d.pages, 1, False, d.media, [False] * d.pages, "header"))
        data = self.run_gs("pwgraster", src, self.path(f"{n}_pwg-srgb.pwg"), "-r50", "-dcupsColorSpace=19", "-dcupsBitsPerColor=8")
        self.write(f"{n}_pwg-srgb.pwg", data, Job("", "pwg", "pwg-srgb", d.pages, 1, False, d.media, list(d.color), "header"))
        data = self.run_gs("urf", src, self.path(f"{n}_urf-rgb.urf"), "-r50", "-dcupsColorSpace=1", "-dcupsBitsPerColor=8")
        self.write(f"{n}_urf-rgb.urf", data, Job("", "urf", "urf-rgb", d.pages, 1, False, d.media, list(d.color), "header"))

    def text_jobs(self, _):
        pages = [[f"line {j} of page {i} of plain text" for j in range(20)] for i in range(4)]
        self.write("text_pcl5-text.pcl", pcl_text(pages),
                   Job("", "pcl5", "pcl5-text", 4, 1, False, ["a4"] * 4, [False] * 4, "scan", notes="last page ejected by ESC E"))
        self.write("text_pcl5-text-copies.pcl", pjl(pcl_text(pages[:2], copies=3, media_code=2, end_with_ff=True), lang="PCL"),
                   Job("", "pcl5", "pcl5-text-copies", 2, 3, False, ["letter"] * 2, [False] * 2, "scan", notes="ESC&l3X, trailing FF"))

    def multi(self, d: Doc):
        """A PCL 5 banner page, then a PCL XL job, in one PJL file."""
        if not self.gs:
            return
        banner = pcl_text([["Banner: alice", "job: report"]], media_code=2)
        xl = self.run_gs("pxlmono", ps_program(d), self.path("multi.tmp"), "-r150")
        os.unlink(self.path("multi.tmp"))
        xl_body = xl[xl.index(b") HP-PCL XL"):]
        xl_body = xl_body[:xl_body.rindex(b"\x1b%-12345X")] if b"\x1b%-12345X" in xl_body else xl_body
        data = (b"\x1b%-12345X@PJL JOB NAME=\"multi\"\r\n@PJL ENTER LANGUAGE=PCL\r\n" + banner
                + b"\x1b%-12345X@PJL ENTER LANGUAGE=PCLXL\r\n" + xl_body + b"\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X")
        self.write("multi_pcl5-banner-pclxl.pxl", data,
                   Job("", "pclxl", "multi-banner", d.pages + 1, 1, False, ["letter"] + d.media, [False] * (d.pages + 1), "scan",
                       notes="PCL 5 banner page, then PCL XL"))


def incremental_remove_last_page(data: bytes) -> bytes:
    """Append an incremental update whose page tree drops the last page."""
    import pikepdf
    import io

    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages_obj = pdf.Root.Pages
        num = pages_obj.objgen[0]
        kids = [k.objgen for k in pages_obj.Kids]
        size = int(pdf.trailer.Size)
        root = pdf.Root.objgen[0]
    m = re.findall(rb"startxref\s+(\d+)", data)
    prev = int(m[-1])
    body = data if data.endswith(b"\n") else data + b"\n"
    offset = len(body)
    refs = " ".join(f"{o} {g} R" for o, g in kids[:-1])
    obj = f"{num} 0 obj\n<< /Type /Pages /Kids [{refs}] /Count {len(kids) - 1} >>\nendobj\n".encode()
    xref_at = offset + len(obj)
    xref = f"xref\n0 1\n0000000000 65535 f \n{num} 1\n{offset:010d} 00000 n \n".encode()
    trailer = f"trailer\n<< /Size {size} /Root {root} 0 R /Prev {prev} >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return body + obj + xref + trailer


def build(directory: str, workers: int = 2) -> list[Job]:
    os.makedirs(directory, exist_ok=True)
    builder = Builder(directory)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for f in [pool.submit(fn, arg) for fn, arg in builder.tasks()]:
            f.result()
    jobs = sorted(builder.jobs, key=lambda j: j.path)
    with open(os.path.join(directory, "manifest.jsonl"), "w") as f:
        for job in jobs:
            f.write(json.dumps(job.to_dict()) + "\n")
    return jobs


if __name__ == "__main__":  # pragma: no cover
    import sys
    import time

    t = time.time()
    jobs = build(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts/corpus")
    print(f"{len(jobs)} jobs in {time.time() - t:.1f}s")
