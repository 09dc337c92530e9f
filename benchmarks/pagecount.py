"""Page counting speed, side by side: our Cython backend, our reference, Ghostscript, and a
plain read-and-scan of the same bytes (the physical limit of one pass).

    python3 benchmarks/pagecount.py [--seconds 2] [--stream-mib 256] [--clock wall|cpu] [--corpus DIR]

Per language it prints MB/s and files/s. *stream* rows feed one long job of that language
through ``Analyzer.feed`` in 64 KiB chunks (a long job made by repeating a corpus job's
body), without Ghostscript (``interpret=False``); PostScript rows add the same with a spool
path, and with interpretation on (the section kept in memory for Ghostscript, as intake runs it); *files* rows analyze each corpus job of that language as its own job
(``analyze_path``), which is what small PDFs and phone raster jobs look like. Ghostscript
(``-sDEVICE=nullpage``) runs on the PostScript and PDF files only: it cannot read PCL.
The *colour* table is PostScript and PDF with per-page colour decided, as intake runs the
analyzer (Cython backend, one process, Ghostscript only for the pages the content walk or
scan cannot decide), beside Ghostscript's ``inkcov`` device rendering the same files (the
way colour was decided before), with the share of pages that still needed Ghostscript
(``--no-colour`` skips that table).
``--clock cpu`` times CPU seconds (ours and Ghostscript's, a child) instead of the wall clock:
the figure per core, and steady on a machine shared with other work.
Run by hand; never part of the test suite. The corpus is the one the tests generate
(``tests/spooler/pdl/corpus.py``), built once into ``test-artifacts/bench-corpus``.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from spooler.pdl import reference  # noqa: E402
from tests.spooler.pdl import corpus as corpus_module  # noqa: E402

CHUNK = 64 * 1024


def cpu_clock() -> float:
    """CPU seconds of this process and of its finished children (Ghostscript)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


clock = time.perf_counter  # --clock cpu: cpu_clock


def load_corpus(directory):
    manifest = os.path.join(directory, "manifest.jsonl")
    if not os.path.exists(manifest):
        corpus_module.build(directory)
    import json

    with open(manifest) as f:
        return [json.loads(line) for line in f]


def stream_body(path: str, pdl: str) -> bytes:
    """A job's bytes that can be repeated into one long job of the same language."""
    with open(path, "rb") as f:
        data = f.read()
    if pdl == "pclxl":
        start = data.index(b"HP-PCL XL")
        start = data.index(b"\n", start) + 1
        first = data.index(b"\x43", start)  # BeginPage (attributes before it are kept below)
        end = data.rindex(b"\x44") + 1      # last EndPage
        head = data[:data.index(b"\n", data.index(b"HP-PCL XL")) + 1]
        prefix = head[head.index(b"\x1b%-12345X") if b"\x1b%-12345X" in head else 0:]
        body = data[start:end]
        return prefix, body, b"\x42"
    if pdl == "postscript":
        pages = data.index(b"%%Page:")
        trailer = data.rindex(b"%%Trailer")
        import re

        head = re.sub(rb"%%Pages: \d+", b"%%Pages: (atend)", data[:pages])
        return head, data[pages:trailer], data[trailer:]
    return b"", data, b""


def timed(fn, seconds):
    n = 0
    t0 = clock()
    while True:
        fn()
        n += 1
        dt = clock() - t0
        if dt >= seconds:
            return n, dt


def bench_stream(cls, head, body, tail, mib, seconds, path=None, interpret=False):
    reps = max(1, (mib << 20) // max(1, len(body)))
    big = head + body * reps + tail
    chunks = [big[i:i + CHUNK] for i in range(0, len(big), CHUNK)]

    def run():
        # colour off: interpret=True keeps PostScript in memory for Ghostscript, as intake
        # does, but a section the comments count is never rendered here
        a = cls(path, interpret=interpret, colour=False)
        for c in chunks:
            a.feed(c)
        run.facts = a.finish()

    n, dt = timed(run, seconds)
    return len(big) * n / dt / 1e6, n / dt, run.facts


def bench_scan(head, body, tail, mib, seconds):
    reps = max(1, (mib << 20) // max(1, len(body)))
    big = head + body * reps + tail
    chunks = [big[i:i + CHUNK] for i in range(0, len(big), CHUNK)]

    def run():
        n = 0
        for c in chunks:
            n += c.count(b"\x0c")
        return n

    n, dt = timed(run, seconds)
    return len(big) * n / dt / 1e6


def bench_files(fn, paths, seconds):
    size = sum(os.path.getsize(p) for p in paths)

    def run():
        for p in paths:
            fn(p)

    n, dt = timed(run, seconds)
    return size * n / dt / 1e6, len(paths) * n / dt


def gs_count(path):
    subprocess.run(["gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=nullpage", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--stream-mib", type=int, default=256)
    parser.add_argument("--no-colour", action="store_true", help="skip the colour cost table")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time wall-clock seconds (default) or CPU seconds, ours and Ghostscript's")
    parser.add_argument("--corpus", default=os.path.join(os.path.dirname(HERE), "test-artifacts", "bench-corpus"))
    args = parser.parse_args(argv)
    global clock
    clock = cpu_clock if args.clock == "cpu" else time.perf_counter

    from spooler.pdl import _scan

    jobs = load_corpus(args.corpus)
    rows = []
    streams = {
        "pcl5 (ljet4 raster)": ("pcl5", "pcl5-ljet4", "long"),
        "pcl5 (cljet5 colour)": ("pcl5", "pcl5-cljet5", "mixed"),
        "pcl5 (text)": ("pcl5", "pcl5-text", "text"),
        "pclxl (pxlmono)": ("pclxl", "pclxl-pxlmono", "long"),
        "pclxl (pxlcolor)": ("pclxl", "pclxl-pxlcolor", "mixed"),
        "pclxl (pxlcolor, images)": ("pclxl", "pclxl-pxlcolor", "photo"),
        "postscript (DSC)": ("postscript", "ps-dsc", "long"),
        "postscript (ps2write DSC)": ("postscript", "ps-ps2write", "long"),
        "postscript (ps2write, images)": ("postscript", "ps-ps2write", "photo"),
    }
    by_variant = {(j["variant"], j["path"].split("_")[0]): j for j in jobs}
    for label, (pdl, variant, doc) in streams.items():
        job = by_variant.get((variant, doc))
        if job is None:
            continue
        path = os.path.join(args.corpus, job["path"])
        head, body, tail = stream_body(path, pdl)
        cy, _, facts = bench_stream(_scan.Analyzer, head, body, tail, args.stream_mib, args.seconds)
        # PostScript kept in memory for a possible Ghostscript run (intake's case: no path,
        # interpretation on); with a path it is read back from there instead
        cy_path = cy_kept = None
        if pdl == "postscript":
            cy_path, _, _ = bench_stream(_scan.Analyzer, head, body, tail, args.stream_mib, args.seconds, path="/nonexistent")
            if facts.method == "dsc":
                cy_kept, _, _ = bench_stream(_scan.Analyzer, head, body, tail, args.stream_mib, args.seconds, interpret=True)
        ref, _, rfacts = bench_stream(reference.Analyzer, head, body, tail, max(1, args.stream_mib // 32), args.seconds)
        scan = bench_scan(head, body, tail, args.stream_mib, args.seconds)
        per_page = f" {len(body) // max(1, job['pages']) / 1024:.1f}K/pg"
        rows.append((label + per_page, "stream", cy, (cy_path, cy_kept), ref, None, scan, facts.pages))

    files = {}
    for j in jobs:
        files.setdefault(j["pdl"], []).append(os.path.join(args.corpus, j["path"]))
        if j["variant"] in ("pdf-pdfwrite", "pdf-linearized", "pdf-incremental"):
            files.setdefault("pdf, plain xref", []).append(os.path.join(args.corpus, j["path"]))
    for pdl, paths in sorted(files.items()):
        if pdl == "postscript":
            paths = [p for p, j in zip(paths, [j for j in jobs if j["pdl"] == pdl]) if j["method"] == "dsc"]
        cy, cy_fps = bench_files(lambda p: _scan.analyze_path(p, interpret=False), paths, args.seconds)
        ref, ref_fps = bench_files(lambda p: reference.analyze_path(p, interpret=False), paths, args.seconds)
        gs = gs_fps = None
        if pdl.split(",")[0] in ("postscript", "pdf") and shutil.which("gs"):
            gs, gs_fps = bench_files(gs_count, paths, args.seconds)
        raw, raw_fps = bench_files(lambda p: open(p, "rb").read().count(b"\x0c"), paths, args.seconds)
        rows.append((f"{pdl} ({len(paths)} files)", "files", (cy, cy_fps), None, (ref, ref_fps), (gs, gs_fps), (raw, raw_fps), None))

    print(f"Printgate page analyzer benchmark — 64 KiB feed() chunks, one core, {args.clock} clock, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    print()
    print(f"{'stream (one long job), size/page':38s} {'cython MB/s':>12s} {'ref MB/s':>10s} {'scan MB/s':>10s} {'cy/ref':>8s} {'cy/scan':>8s}")
    for label, kind, cy, cy_path, ref, _, scan, _ in rows:
        if kind != "stream":
            continue
        extra = ""
        if cy_path and cy_path[0]:
            extra = f"   (with spool path: {cy_path[0]:,.0f} MB/s"
            extra += f"; kept in memory for Ghostscript: {cy_path[1]:,.0f} MB/s)" if cy_path[1] else ")"
        print(f"{label:38s} {cy:12,.0f} {ref:10,.1f} {scan:10,.0f} {cy / ref:8.0f}x {cy / scan:8.2f}{extra}")
    print()
    print(f"{'files (each its own job)':32s} {'cython':>17s} {'reference':>17s} {'ghostscript':>17s} {'read+scan':>17s} {'cy/gs':>7s}")
    print(f"{'':32s} {'MB/s   files/s':>17s} {'MB/s   files/s':>17s} {'MB/s   files/s':>17s} {'MB/s   files/s':>17s}")
    for label, kind, cy, _, ref, gs, raw, _ in rows:
        if kind != "files":
            continue

        def cell(v):
            return f"{v[0]:7,.1f} {v[1]:9,.0f}" if v and v[0] is not None else f"{'-':>17s}"

        ratio = f"{cy[1] / gs[1]:6.0f}x" if gs and gs[0] else f"{'-':>7s}"
        print(f"{label:32s} {cell(cy)} {cell(ref)} {cell(gs)} {cell(raw)} {ratio}")
    if not args.no_colour and shutil.which("gs"):
        print()
        colour_table(jobs, args.corpus, args.seconds)
    print()
    print("pkpgcounter (the open anchor, as stated in issue 3, not measured here): ~21 MB/s, ~60% exact.")


def inkcov(path):
    """Ghostscript's inkcov device on one file, as the analyzer ran it for colour."""
    from spooler.pdl import postscript

    subprocess.run(["gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-dNOINTERPOLATE", "-sDEVICE=inkcov",
                    "-dUseFastColor=true", "-o", "/dev/null", "-c", postscript._INKCOV_SETUP, "-f", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def colour_table(jobs, directory, seconds):
    """PostScript and PDF with colour decided (Cython backend) beside Ghostscript inkcov."""
    from spooler.pdl import _scan

    groups = {
        "pdf": [j for j in jobs if j["pdl"] == "pdf"],
        "postscript, DSC": [j for j in jobs if j["pdl"] == "postscript" and j["method"] == "dsc"],
        "postscript, all": [j for j in jobs if j["pdl"] == "postscript"],
        "postscript, ps2write": [j for j in jobs if j["variant"] == "ps-ps2write"],
        "pdf, 3 pages with images": [j for j in jobs if j["pdl"] == "pdf" and j["path"].startswith("photo_")],
    }
    print(f"{'colour decided':28s} {'files':>5s} {'pages':>5s} {'cython (colour on)':>19s} {'gs inkcov':>18s} "
          f"{'cy/gs':>6s} {'pages by gs':>12s}")
    print(f"{'':40s} {'MB/s   files/s':>19s} {'MB/s   files/s':>18s}")
    for label, group in groups.items():
        if not group:
            continue
        paths = [os.path.join(directory, j["path"]) for j in group]
        pages = sum(j["pages"] for j in group)
        by_gs = 0
        decided = 0
        for p in paths:
            facts = reference.analyze_path(p, analyzer_class=_scan.Analyzer)
            by_gs += facts.colour_methods.get("ghostscript", 0)
            decided += sum(facts.colour_methods.values())
        mb, fps = bench_files(lambda p: reference.analyze_path(p, analyzer_class=_scan.Analyzer), paths, seconds)
        gmb, gfps = bench_files(inkcov, paths, seconds)
        share = f"{by_gs}/{decided} {100 * by_gs / max(1, decided):3.0f}%"
        print(f"{label:28s} {len(paths):5d} {pages:5d} {mb:7,.1f} {fps:9,.0f}   {gmb:7,.2f} {gfps:8,.1f} "
              f"{fps / gfps:5.0f}x {share:>12s}")


if __name__ == "__main__":
    main()
