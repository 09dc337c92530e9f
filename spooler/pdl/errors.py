"""The analyzer's errors (the root ``PrintgateError`` is in ``printgate_errors``)."""
from printgate_errors import PrintgateError

__all__ = ["PrintgateError", "AnalyzerError", "AnalyzerUsageError"]


class AnalyzerError(PrintgateError):
    """The page analyzer could not make sense of a job's bytes."""


class AnalyzerUsageError(AnalyzerError):
    """The analyzer was used out of order (``feed`` after ``finish``)."""
