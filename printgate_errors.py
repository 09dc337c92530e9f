"""The root of every error Printgate raises on purpose.

It sits in a module of its own, outside every package, so that each layer's base error
(``AccountingError``, ``SpoolerError``, ``AnalyzerError``, ``ReleaseApiError``,
``GatewayError``) can derive from it without any layer importing another one upward.
"""


class PrintgateError(Exception):
    """Root of every error Printgate raises on purpose."""
