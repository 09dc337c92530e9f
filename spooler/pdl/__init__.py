"""The page analyzer's public API.

``Analyzer`` is fed a job's bytes in chunks of any size as they arrive and returns
``JobFacts`` from ``finish()``; ``analyze_path`` does the same for a file. The pure-Python
reference implementation is the specification; the Cython module ``spooler.pdl._scan``
(built from ``ext/``) is the speed. ``PRINTGATE_NO_EXTENSIONS=1`` selects the reference.
"""
from spooler.pdl.errors import AnalyzerError, PrintgateError
from spooler.pdl.facts import JobFacts
from spooler.pdl.reference import Analyzer, analyze_path

BACKEND = "reference"

__all__ = ["Analyzer", "AnalyzerError", "JobFacts", "PrintgateError", "analyze_path", "BACKEND"]
