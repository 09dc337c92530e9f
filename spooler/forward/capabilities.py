"""What each IPP printer supports (its Get-Printer-Attributes answer), asked once and
kept for a while per printer: the panel's job list needs ``document-format-supported``
for every listing, and a release needs it again moments later.

``attributes(target)`` fires with the printer's attributes (``{name: codec.Attribute}``),
from the cache when fresh (``ttl`` seconds), else asked; a failure is not cached.
``forget(target)`` drops an entry (a printer that refused what it claimed to support).
"""
from __future__ import annotations

from typing import Callable

from twisted.internet import defer
from twisted.python.failure import Failure

from spooler.forward.errors import PrinterNotTrusted
from spooler.forward.job import PrinterTarget
from spooler.forward.tls_trust import client_tls_options
from spooler.ipp.client import IppPrinter


def ipp_uri(target: PrinterTarget) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{'ipps' if target.tls else 'ipp'}://{host}:{target.effective_port}{target.resource}"


def printer_for(target: PrinterTarget, reactor, *, user: str = "printgate", timeout: float = 5.0,
                **options) -> IppPrinter:
    """An ``IppPrinter`` for ``target``, over TLS (checked per its trust) for ipps://."""
    return IppPrinter(ipp_uri(target), reactor=reactor, user=user or "printgate", timeout=timeout,
                      tls_options=client_tls_options(target) if target.tls else None, **options)


class PrinterCapabilities:
    def __init__(self, reactor, *, ttl: float = 300.0, timeout: float = 5.0,
                 printer_for: Callable[..., IppPrinter] = printer_for):
        self.reactor = reactor
        self.ttl = ttl
        self.timeout = timeout
        self._printer_for = printer_for
        self._cache: dict[tuple, tuple[float, dict]] = {}
        self._asking: dict[tuple, list[defer.Deferred]] = {}

    @staticmethod
    def _key(target: PrinterTarget) -> tuple:
        return target.describe(), target.trust

    def cached(self, target: PrinterTarget) -> dict | None:
        found = self._cache.get(self._key(target))
        if found is None or self.reactor.seconds() - found[0] > self.ttl:
            return None
        return found[1]

    def attributes(self, target: PrinterTarget) -> defer.Deferred:
        found = self.cached(target)
        if found is not None:
            return defer.succeed(found)
        key = self._key(target)
        waiting: defer.Deferred = defer.Deferred()
        waiters = self._asking.get(key)
        if waiters is not None:  # asked already: one request, every caller answered
            waiters.append(waiting)
            return waiting
        self._asking[key] = [waiting]
        printer = self._printer_for(target, self.reactor, timeout=self.timeout, busy_retries=1, busy_delay=0.5)
        printer.get_printer_attributes().addBoth(self._answered, key, printer, target)
        return waiting

    def _answered(self, result, key, printer, target) -> None:
        if isinstance(result, Failure) and printer.tls_options is not None and printer.tls_options.failure:
            where = target.describe()
            result = Failure(PrinterNotTrusted(f"{where}: {printer.tls_options.failure}", target=where))
        if not isinstance(result, Failure):
            self._cache[key] = (self.reactor.seconds(), result)
        for waiting in self._asking.pop(key):
            if isinstance(result, Failure):
                waiting.errback(result)
            else:
                waiting.callback(result)

    def document_formats(self, target: PrinterTarget) -> defer.Deferred:
        """Deferred[list[str]]: ``document-format-supported`` (empty when not listed)."""
        def formats(attributes):
            found = attributes.get("document-format-supported")
            return list(found.python_values()) if found is not None else []
        return self.attributes(target).addCallback(formats)

    def forget(self, target: PrinterTarget) -> None:
        self._cache.pop(self._key(target), None)
