"""The public API picks the Cython backend, and a missing extension is a failure."""
import os
import subprocess
import sys

import spooler.pdl


def test_the_cython_backend_is_loaded_unless_switched_off():
    if spooler.pdl.NO_EXTENSIONS:
        assert spooler.pdl.BACKEND == "reference"
    else:
        assert spooler.pdl.BACKEND == "cython", "spooler.pdl._scan is not built: run setup.py build_ext --inplace"
        assert spooler.pdl.Analyzer.backend == "cython"


def test_printgate_no_extensions_selects_the_reference():
    env = dict(os.environ, PRINTGATE_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, "-c", "import spooler.pdl as p; print(p.BACKEND, p.Analyzer.backend)"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["reference", "reference"]


def test_both_backends_raise_the_same_exception_types():
    from spooler.pdl import AnalyzerError, PrintgateError, reference
    from spooler.pdl.errors import AnalyzerUsageError

    assert issubclass(AnalyzerError, PrintgateError)
    for cls in (reference.Analyzer, spooler.pdl.Analyzer):
        a = cls()
        a.finish()
        try:
            a.feed(b"x")
        except AnalyzerUsageError:
            pass
        else:
            raise AssertionError("feed after finish must raise")


def test_an_internal_failure_is_a_warning_not_a_lost_job(monkeypatch):
    from spooler.pdl import reference

    for cls in (reference.Analyzer, spooler.pdl.Analyzer):
        a = cls()
        monkeypatch.setattr(a, "_read_pjl", lambda *args, **kw: 1 / 0)
        a.feed(b"\x1bEpage\x0c")
        a.feed(b"more")
        facts = a.finish()
        assert facts.pages is None and reference.INTERNAL_FAILURE in facts.warnings[0]
