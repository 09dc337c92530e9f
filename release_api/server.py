"""Wiring of the HTTPS release service: the panel under ``/panel``, TLS on the HTTPS
port, and a plain-HTTP port that only redirects. ``gateway.process`` (or a test) calls
``listen_release_api`` with the services and the reactor.

The HTTPS port also serves ``ipps://host:<port>/printers/<queue>`` when given an IPP
factory: after TLS, ``SharedHttpsPort`` reads the head of a connection's first request
and hands the connection to the IPP server when it is a ``POST`` of ``application/ipp``
to ``/``, ``/printers/...`` or ``/ipp/...``, else to the web site. The choice is made once per
connection (an IPP client keeps its connection for IPP; a browser for pages)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import TLSVersion
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web.resource import Resource
from twisted.web.server import Site
from zope.interface import implementer

from release_api.about import AboutPage
from release_api.http_channel import guarded_channel
from release_api.panel import PanelApp
from release_api.redirect import HttpsRedirect
from release_api.request_guard import BODY_SECONDS, GuardedSite, HeadRefusal, RequestHead, body_length_refusal
from release_api.services import PanelServices
from release_api.web.app import MAX_BODY as WEB_MAX_BODY
from release_api.tls import CertificateFiles, ensure_certificate, server_context_factory
from spooler.connection_caps import ConnectionCaps


log = Logger()

#: The first request head must be complete within this many bytes and seconds (the TLS
#: handshake included); past that the connection is closed.
MAX_FIRST_HEAD = 16 * 1024
FIRST_HEAD_TIMEOUT = 20.0
IPP_PATH_PREFIXES = (b"/printers/", b"/ipp/")
#: A web connection with no byte in either direction for this long is closed.
IDLE_SECONDS = 120
#: With ipps:// on the port, TLS stops at 1.2. CUPS 2.4 clients built on GnuTLS (the
#: ``ipp``/``ipps`` backends, ipptool, lp on Debian) fail every request when an OpenSSL
#: server sends TLS 1.3 session tickets after the handshake, and pyOpenSSL offers no way
#: to send none (SSL_CTX_set_num_tickets). TLS 1.2 with Twisted's ciphers (ECDHE, AEAD)
#: is within the design's "TLS 1.2+"; pass ``ipps_maximum_tls=None`` to keep TLS 1.3.
IPPS_MAXIMUM_TLS = TLSVersion.TLSv1_2


def is_ipp_request(head: bytes) -> bool:
    """True for the head of a ``POST`` of ``application/ipp`` to an IPP path."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"POST":
        return False
    path = parts[1].split(b"?", 1)[0]
    if not (path.startswith(IPP_PATH_PREFIXES) or path in (b"/", b"/ipp")):
        return False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/ipp"
    return False


class SharedHttpsPort(Protocol):
    """Holds the first bytes of a (decrypted) connection until the head of its first
    request is in, then builds the IPP or the web protocol on the same transport and
    forwards everything to it."""

    def __init__(self, factory: "SharedHttpsPortFactory", addr):
        self.factory = factory
        self.addr = addr
        self.buffer = b""
        self.inner: Protocol | None = None
        self.timer = None
        self.host = None
        self.counted = False

    def connectionMade(self):
        self.host = getattr(self.transport.getPeer(), "host", None)
        if not self.factory.admit(self.host):
            self.counted = False
            self.transport.abortConnection()
            return
        self.counted = True
        self.timer = self.factory.clock.callLater(self.factory.head_timeout, self._too_slow)

    def _too_slow(self):
        self.timer = None
        peer = getattr(self.transport.getPeer(), "host", "?")
        log.info("HTTPS connection from {host} sent no request head in {seconds} s: closed",
                 host=peer, seconds=self.factory.head_timeout)
        self.transport.abortConnection()

    def dataReceived(self, data):
        if self.inner is not None:
            self.inner.dataReceived(data)
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 and len(self.buffer) <= MAX_FIRST_HEAD:
            return
        self._choose(self.buffer[:end] if end >= 0 else b"")

    def _choose(self, head: bytes) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        ipp = self.factory.ipp is not None and is_ipp_request(head)
        inner = (self.factory.ipp if ipp else self.factory.web).buildProtocol(self.addr)
        if inner is None:
            self.transport.loseConnection()
            return
        self.inner = inner
        inner.makeConnection(self.transport)
        data, self.buffer = self.buffer, b""
        if data:
            inner.dataReceived(data)

    def connectionLost(self, reason):
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if getattr(self, "counted", False):
            self.counted = False
            self.factory.release(self.host)
        if self.inner is not None:
            self.inner.connectionLost(reason)


@implementer(IProtocolNegotiationFactory)
class SharedHttpsPortFactory(Factory):
    """ALPN is the web site's (IPP clients offer none; an HTTP/2 preface is not IPP and goes
    to the site, which speaks it)."""

    def __init__(self, web: Factory, ipp: Factory | None, *, clock, head_timeout: float = FIRST_HEAD_TIMEOUT,
                 max_connections: int = 1024, max_per_address: int = 64):
        """``max_connections`` / ``max_per_address`` bound the whole port (panel and
        ipps alike): beyond them a new connection is closed at once, so one address that
        opens connections and dribbles bytes cannot starve the printers' panels."""
        self.web = web
        self.ipp = ipp
        self.clock = clock
        self.head_timeout = head_timeout
        self.caps = ConnectionCaps(max_connections, max_per_address, what="HTTPS connections")

    def admit(self, host) -> bool:
        refusal = self.caps.admit(host)
        if refusal is not None:
            log.warn("HTTPS connection from {host} refused: {reason}", host=host, reason=refusal)
        return refusal is None

    def release(self, host) -> None:
        self.caps.release(host)

    def buildProtocol(self, addr):
        return SharedHttpsPort(self, addr)

    def acceptableProtocols(self):
        web = IProtocolNegotiationFactory(self.web, None)
        return list(web.acceptableProtocols()) if web is not None else [b"http/1.1"]

    def doStart(self):
        self.web.doStart()
        if self.ipp is not None:
            self.ipp.doStart()

    def doStop(self):
        self.web.doStop()
        if self.ipp is not None:
            self.ipp.doStop()


class ReleaseRoot(Resource):
    """``/panel/...`` goes to the panel app; with the web pages (``release_api.web``) every
    other path is theirs (``/`` included: a visitor gets their plain start page saying what
    this server is); without them ``/`` is ``AboutPage`` and anything else 404."""

    def __init__(self, panel: PanelApp, web: Resource | None = None):
        super().__init__()
        self.putChild(b"panel", panel)
        self.web = web
        if web is None:
            self.putChild(b"", AboutPage())

    def getChild(self, path, request):
        if self.web is None:
            return super().getChild(path, request)
        # The web pages route the whole path themselves (Klein): give the segment back.
        request.postpath.insert(0, request.prepath.pop())
        return self.web


@dataclass
class ReleaseApiListeners:
    https_port: object
    http_port: object | None
    certificate: CertificateFiles
    panel: PanelApp


def is_panel_path(path: bytes) -> bool:
    return path == b"/panel" or path.startswith(b"/panel/")


def site_judge(panel: PanelApp, *, web_pages: bool):
    """Bodies judged before they are read, by who will read them: the panel's routes by
    the panel (16 KiB, and a device's proof), the web pages' by their own cap (64 KiB: a
    price list or a rule is a larger form than a panel's); without web pages, the panel
    judges every path."""
    def judge(head: RequestHead) -> HeadRefusal | None:
        if web_pages and not is_panel_path(head.path):
            return body_length_refusal(head, WEB_MAX_BODY)
        return panel.judge_head(head)
    return judge


def build_site(services: PanelServices, *, reactor=None, body_seconds: float = BODY_SECONDS,
               web: Resource | None = None, **panel_options) -> tuple[Site, PanelApp]:
    """The HTTPS site: bodies judged before they are read (``request_guard``, ``site_judge``)."""
    panel = PanelApp(services, **panel_options)
    site = GuardedSite(ReleaseRoot(panel, web), judge=site_judge(panel, web_pages=web is not None),
                       body_seconds=body_seconds, reactor=reactor, timeout=IDLE_SECONDS)
    site.protocol = guarded_channel  # a malformed request is answered 400, never a traceback
    site.displayTracebacks = False
    return site, panel


def listen_release_api(reactor, services: PanelServices, *, data_dir: Path, https_port: int,
                       http_port: int | None = None, interface: str = "", public_host: str = "localhost",
                       cert_file: Path | None = None, key_file: Path | None = None, hostnames=None,
                       ipp_factory: Factory | None = None, ipps_maximum_tls=IPPS_MAXIMUM_TLS,
                       connection_limits: dict | None = None, web: Resource | None = None, **panel_options):
    """Start listening; returns a Deferred firing with ``ReleaseApiListeners``. With
    ``ipp_factory`` the HTTPS port also serves IPP (``ipps://``), see ``SharedHttpsPort``.
    ``web``: the web pages' resource (``release_api.web.site.WebSite(...).resource()``)."""
    from twisted.internet import defer

    files = ensure_certificate(Path(data_dir), hostnames=hostnames, cert_file=cert_file, key_file=key_file)
    site, panel = build_site(services, reactor=reactor, web=web, **panel_options)
    # TLS wrapped here rather than by listenSSL so that every timer (TLS write
    # aggregation, HTTP timeouts) runs on the reactor we were given, not the global one.
    served = SharedHttpsPortFactory(site, ipp_factory, clock=reactor, **(connection_limits or {}))
    maximum = ipps_maximum_tls if ipp_factory is not None else None
    tls_site = TLSMemoryBIOFactory(server_context_factory(files, maximum_version=maximum), False, served,
                                   clock=reactor)
    https = TCP4ServerEndpoint(reactor, https_port, interface=interface)

    @defer.inlineCallbacks
    def start():
        https_listener = yield https.listen(tls_site)
        actual_https = https_listener.getHost().port
        http_listener = None
        if http_port is not None:
            redirect = Site(HttpsRedirect(https_port=actual_https, public_host=public_host), reactor=reactor)
            http_listener = yield TCP4ServerEndpoint(reactor, http_port, interface=interface).listen(redirect)
        return ReleaseApiListeners(https_listener, http_listener, files, panel)

    return start()
