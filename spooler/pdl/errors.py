"""The root of Printgate's exceptions, and the analyzer's own.

The root lives here because ``spooler.pdl`` is the one package every other package of ours
may import (``accounting`` may import nothing of ours but the facts type), so each package's
base error can derive from it without breaking the import rules in DESIGN.md.
"""


class PrintgateError(Exception):
    """Root of every error Printgate raises on purpose."""


class AnalyzerError(PrintgateError):
    """The page analyzer could not make sense of a job's bytes."""


class AnalyzerUsageError(AnalyzerError):
    """The analyzer was used out of order (``feed`` after ``finish``)."""
