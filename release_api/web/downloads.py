"""A file sent as it is read: the body of a large download (a finance report) never sits
in memory. ``FilePusher`` writes 64 KiB per reactor turn while the connection takes
them, stops when the connection says it is full (a push producer: TLS and HTTP pass the
pause down to the socket) and goes on when it has drained; it closes the file when done
or when the client goes away, and the file being nameless on disk, closing it frees it.

(Twisted's own ``static.NoRangeStaticProducer`` and ``basic.FileSender`` are pull
producers, which the TLS layer drives through the global reactor's cooperator; this
site's reactor is the one it was given, so the pushing is done here, on it.)"""
from __future__ import annotations

import os

from twisted.internet.interfaces import IPushProducer
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

CHUNK = 64 * 1024


@implementer(IPushProducer)
class FilePusher:
    def __init__(self, request, handle, reactor):
        self.request = request
        self.handle = handle
        self.reactor = reactor
        self.paused = False
        self.pending = None

    def start(self) -> None:
        self.request.registerProducer(self, True)
        self.request.notifyFinish().addBoth(lambda _: self.stopProducing())
        self._schedule()

    def _schedule(self) -> None:
        if self.pending is None and not self.paused and self.handle is not None:
            self.pending = self.reactor.callLater(0, self._send)

    def _send(self) -> None:
        self.pending = None
        if self.handle is None or self.paused:
            return
        data = self.handle.read(CHUNK)
        if not data:
            self._close()
            self.request.unregisterProducer()
            self.request.finish()
            return
        self.request.write(data)
        self._schedule()

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._schedule()

    def stopProducing(self) -> None:
        if self.pending is not None and self.pending.active():
            self.pending.cancel()
        self.pending = None
        self._close()

    def _close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class StreamedFile(Resource):
    """A leaf resource for one response: Klein renders a resource a handler returns."""

    isLeaf = True

    def __init__(self, handle, content_type: str, filename: str, *, reactor):
        super().__init__()
        self.handle = handle
        self.content_type = content_type
        self.filename = filename
        self.reactor = reactor

    def render(self, request):
        request.setHeader(b"content-type", self.content_type.encode("ascii"))
        request.setHeader(b"content-disposition", f'attachment; filename="{self.filename}"'.encode("ascii"))
        request.setHeader(b"content-length", b"%d" % (os.fstat(self.handle.fileno()).st_size - self.handle.tell()))
        if request.method == b"HEAD":
            self.handle.close()
            return b""
        FilePusher(request, self.handle, self.reactor).start()
        return NOT_DONE_YET
