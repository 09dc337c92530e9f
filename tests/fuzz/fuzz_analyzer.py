"""Differential fuzz target for the page analyzer (atheris). Run by hand, e.g. for an hour:

    pip install atheris
    python3 tests/fuzz/fuzz_analyzer.py -max_total_time=3600 -rss_limit_mb=2048 -timeout=10 \\
        test-artifacts/fuzz-corpus [--seed-from test-artifacts/bench-corpus]

Every input is fed, in chunks whose sizes the fuzzer also chooses, to the reference and
the Cython backend (Ghostscript interpretation off); the target fails when the two give
different facts or different exception types, when either raises anything but an
``AnalyzerError``, or when one input takes more than ``-timeout`` seconds. The same input
is also read as a PDF content stream and as a PostScript program by both backends' byte
loops of the colour walk and scan (``pdfcontent.operations``, ``psscan.tokens``), which
must give the same operations and tokens. ``--seed-from DIR``
copies the first 64 KiB of every job in DIR into the corpus directory first.
"""
import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

with atheris.instrument_imports():
    from spooler.pdl import AnalyzerError, pdfcontent, psscan, reference
    from spooler.pdl import _scan

UEL = b"\x1b%-12345X"
PREFIXES = [
    b"", b"\x1bE", UEL + b"@PJL ENTER LANGUAGE=PCL\n", b") HP-PCL XL;2;0\n", b"( HP-PCL XL;2;0\n",
    b"%!PS-Adobe-3.0\n", UEL + b"@PJL SET QTY=2\n@PJL ENTER LANGUAGE=PCLXL\n) HP-PCL XL;2;0\n",
    b"%PDF-1.4\n", b"RaS2", b"UNIRAST\x00\x00\x00\x00\x01",
]


def run(cls, data, sizes):
    try:
        a = cls(interpret=False)
        pos = 0
        for n in sizes:
            a.feed(data[pos:pos + n])
            pos += n
        a.feed(data[pos:])
        return ("ok", a.finish().to_dict())
    except AnalyzerError as exc:
        return ("error", type(exc).__name__)


def one_input(raw: bytes):
    fdp = atheris.FuzzedDataProvider(raw)
    prefix = PREFIXES[fdp.ConsumeIntInRange(0, len(PREFIXES) - 1)]
    sizes = [fdp.ConsumeIntInRange(1, 4096) for _ in range(fdp.ConsumeIntInRange(0, 16))]
    data = prefix + fdp.ConsumeBytes(fdp.remaining_bytes())
    expected = run(reference.Analyzer, data, sizes)
    got = run(_scan.Analyzer, data, sizes)
    if got != expected:
        raise AssertionError(f"backends disagree on {data[:120]!r}: {expected} != {got}")
    whole = run(_scan.Analyzer, data, [])
    if whole != got:
        raise AssertionError(f"chunking changed the answer on {data[:120]!r}: {whole} != {got}")
    if _scan.content_operations(data) != pdfcontent.operations(data):
        raise AssertionError(f"content-stream operations differ on {data[:120]!r}")
    if tokens(_scan.ps_tokens, data) != tokens(psscan.tokens, data):
        raise AssertionError(f"PostScript tokens differ on {data[:120]!r}")


def tokens(fn, data):
    try:
        return fn(data)
    except psscan.TokenLimit:
        return "limit"


def seed(corpus_dir, source):
    os.makedirs(corpus_dir, exist_ok=True)
    for name in os.listdir(source):
        path = os.path.join(source, name)
        if os.path.isfile(path) and not name.endswith(".jsonl"):
            with open(path, "rb") as f, open(os.path.join(corpus_dir, "seed-" + name), "wb") as out:
                out.write(b"\x00\x00" + f.read(64 * 1024))


def main():
    argv = list(sys.argv)
    if "--seed-from" in argv:
        i = argv.index("--seed-from")
        source = argv[i + 1]
        del argv[i:i + 2]
        dirs = [a for a in argv[1:] if not a.startswith("-")]
        if dirs:
            seed(dirs[0], source)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
