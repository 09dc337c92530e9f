"""Fixtures of the analyzer tests: both backends, and the generated corpus (once per session)."""
import os
import shutil

import pytest

import spooler.pdl
from spooler.pdl import reference

from tests.spooler.pdl import corpus as corpus_module

BACKENDS = ["reference", "cython"]


def analyzer_classes():
    """The analyzer classes to test: both, unless PRINTGATE_NO_EXTENSIONS says the reference only."""
    classes = {"reference": reference.Analyzer}
    if not spooler.pdl.NO_EXTENSIONS:
        from spooler.pdl import _scan  # a missing extension fails here, loudly

        classes["cython"] = _scan.Analyzer
    return classes


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The analyzer class of one backend; the Cython one is skipped only when switched off."""
    if request.param == "cython" and spooler.pdl.NO_EXTENSIONS:
        pytest.skip("PRINTGATE_NO_EXTENSIONS=1: reference only")
    return analyzer_classes()[request.param]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """The generated corpus: (directory, [Job]). Needs Ghostscript and qpdf."""
    if not shutil.which("gs"):
        pytest.fail("Ghostscript (gs) is required to build the analyzer test corpus")
    directory = str(tmp_path_factory.mktemp("pdl-corpus"))
    jobs = corpus_module.build(directory)
    return directory, jobs


def analyze_bytes(cls, data: bytes, chunks=None, **kw):
    """Feed ``data`` to a fresh analyzer of ``cls`` at the given chunk boundaries."""
    a = cls(**kw)
    if chunks is None:
        a.feed(data)
    else:
        pos = 0
        for size in chunks:
            a.feed(data[pos:pos + size])
            pos += size
        a.feed(data[pos:])
    return a.finish()


#: ``../shared`` from the project root: the team's tools and corpus (CI has it beside the clone).
SHARED = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared"))

#: The shared corpus with known answers: ``../shared/corpus-dev``.
CORPUS_DEV = os.environ.get("PRINTGATE_CORPUS_DEV") or os.path.join(SHARED, "corpus-dev")

#: GhostPCL, the oracle for PCL 5 and PCL XL page counts: ``../shared/tools/gpcl6`` (Debian
#: does not package GhostPCL).
GPCL6 = os.path.join(SHARED, "tools", "gpcl6")


_ORACLE: dict = {}


def oracle(kind: str, data: bytes, compute):
    """What an oracle (GhostPCL, Ghostscript) says of ``data``, computed once per session:
    both backends are compared with the same answer."""
    key = (kind, data)
    if key not in _ORACLE:
        _ORACLE[key] = compute()
    return _ORACLE[key]


def gpcl6_pages(data: bytes, tmp_path) -> int:
    """Pages GhostPCL prints for the job ``data`` (one output file per page printed, every copy
    included; GhostPCL does not apply PJL ``QTY``)."""
    return oracle("gpcl6", data, lambda: _gpcl6_pages(data, tmp_path))


def _gpcl6_pages(data: bytes, tmp_path) -> int:
    import subprocess

    if not os.access(GPCL6, os.X_OK):
        pytest.fail(f"GhostPCL (gpcl6) is required at {GPCL6} (../shared/tools/gpcl6 from the project root)")
    job = tmp_path / "gpcl6-job"
    out = tmp_path / "gpcl6-pages"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    job.write_bytes(data)
    subprocess.run([GPCL6, "-dNOPAUSE", "-dBATCH", "-dSAFER", "-q", "-sDEVICE=pgmraw", "-r10",
                    f"-sOutputFile={out}/p%06d.pgm", str(job)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
    return len(os.listdir(out))
