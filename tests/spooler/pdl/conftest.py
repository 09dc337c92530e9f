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


CORPUS_DEV = os.environ.get("PRINTGATE_CORPUS_DEV", "/work/shared/corpus-dev")
