"""What IPP printers support is asked once per printer and kept a while (issue 14.3: the
panel lists jobs against ``document-format-supported`` on every visit)."""
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from spooler.forward.capabilities import PrinterCapabilities
from spooler.forward.errors import PrinterNotTrusted
from spooler.forward.job import PrinterTarget
from spooler.ipp.codec import Attribute, Tag

TARGET = PrinterTarget("ipp", "10.0.0.5", 631)


class Printer:
    """Stands in for ``IppPrinter``: answers Get-Printer-Attributes when told to."""

    asked: list = []

    def __init__(self, target, reactor, **options):
        self.target = target
        self.tls_options = None
        self.answer = defer.Deferred()
        Printer.asked.append(self)

    def get_printer_attributes(self):
        return self.answer


def capabilities(clock):
    Printer.asked = []
    return PrinterCapabilities(clock, ttl=300, printer_for=Printer)


FORMATS = {"document-format-supported": Attribute.of("document-format-supported", Tag.MIME_MEDIA_TYPE,
                                                     "application/pdf")}


def results(d):
    seen = []
    d.addBoth(seen.append)
    return seen


def test_callers_asking_at_once_share_one_request_and_later_ones_the_cached_answer():
    clock = Clock()
    cache = capabilities(clock)
    first, second = results(cache.document_formats(TARGET)), results(cache.document_formats(TARGET))
    assert len(Printer.asked) == 1 and first == second == []
    Printer.asked[0].answer.callback(FORMATS)
    assert first == second == [["application/pdf"]]
    clock.advance(299)
    assert results(cache.document_formats(TARGET)) == [["application/pdf"]] and len(Printer.asked) == 1


def test_an_answer_older_than_the_ttl_is_asked_again():
    clock = Clock()
    cache = capabilities(clock)
    cache.attributes(TARGET)
    Printer.asked[0].answer.callback(FORMATS)
    clock.advance(301)
    cache.attributes(TARGET)
    assert len(Printer.asked) == 2


def test_a_failure_reaches_every_caller_and_is_not_kept():
    clock = Clock()
    cache = capabilities(clock)
    first, second = results(cache.attributes(TARGET)), results(cache.attributes(TARGET))
    Printer.asked[0].answer.errback(ConnectionRefusedError("down"))
    assert all(isinstance(r[0], Failure) for r in (first, second))
    cache.attributes(TARGET)
    assert len(Printer.asked) == 2


def test_a_failed_certificate_check_is_reported_as_such():
    clock = Clock()
    cache = capabilities(clock)
    secure = PrinterTarget("ipp", "10.0.0.5", 631, tls=True)
    seen = results(cache.attributes(secure))

    class Failed:
        failure = "the printer's certificate is not the one pinned"

    Printer.asked[0].tls_options = Failed()
    Printer.asked[0].answer.errback(ConnectionError("handshake failed"))
    assert seen[0].check(PrinterNotTrusted) and "not the one pinned" in str(seen[0].value)
