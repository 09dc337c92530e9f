"""The page analyzer's public API.

``Analyzer`` is fed a job's bytes in chunks of any size as they arrive and returns
``JobFacts`` from ``finish()``; ``analyze_path`` does the same for a file. The pure-Python
reference implementation (``spooler.pdl.reference``) is the specification; the Cython
module ``spooler.pdl._scan`` (built from ``ext/``) exposes the same names and is the speed.
``PRINTGATE_NO_EXTENSIONS=1`` selects the reference. When the extension is not built the
reference is used and ``BACKEND`` says so (the test suite fails in that case unless
``PRINTGATE_NO_EXTENSIONS`` is set: a missing extension is a bug, not a slowdown).

Where things are: ``policy`` (what counts: copies rule, sheets, colour), ``reference``
(PJL framing and sections), ``pcl5`` (with ``hpgl``), ``pclxl``, ``postscript`` (DSC and
Ghostscript), ``psscan`` (PostScript colour and pages from a plain program), ``pdf``,
``pdfcolour`` (PDF colour from page content), ``pdfcontent`` (content-stream operations),
``pdfobjects`` (our own reading of plain PDF files), ``raster``, ``detect``;
``ext/_scan.pyx`` (the Cython byte loops, content streams and PostScript tokens included). Tests: ``tests/spooler/pdl`` (both
backends; corpus generated with Ghostscript by ``tests/spooler/pdl/corpus.py``). By hand:
``benchmarks/pagecount.py`` and the fuzz target ``tests/fuzz/fuzz_analyzer.py``.
"""
import os

from spooler.pdl.errors import AnalyzerError, PrintgateError
from spooler.pdl.facts import JobFacts

NO_EXTENSIONS = bool(os.environ.get("PRINTGATE_NO_EXTENSIONS"))

if not NO_EXTENSIONS:
    try:
        from spooler.pdl._scan import Analyzer, analyze_path  # noqa: F401
        BACKEND = "cython"
    except ImportError:
        from spooler.pdl.reference import Analyzer, analyze_path  # noqa: F401
        BACKEND = "reference"
else:
    from spooler.pdl.reference import Analyzer, analyze_path  # noqa: F401
    BACKEND = "reference"

__all__ = ["Analyzer", "AnalyzerError", "JobFacts", "PrintgateError", "analyze_path", "BACKEND"]
