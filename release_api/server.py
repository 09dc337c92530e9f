"""Wiring of the HTTPS release service: the panel under ``/panel``, TLS on the HTTPS
port, and a plain-HTTP port that only redirects. ``spooler.service`` (or a test) calls
``listen_release_api`` with the services and the reactor."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web.resource import Resource
from twisted.web.server import Site

from release_api.panel import PanelApp
from release_api.redirect import HttpsRedirect
from release_api.services import PanelServices
from release_api.tls import CertificateFiles, ensure_certificate, server_context_factory


class ReleaseRoot(Resource):
    """``/panel/...`` goes to the panel app; everything else is 404 for now (the Notifier
    API and admin pages will hang here)."""

    def __init__(self, panel: PanelApp):
        super().__init__()
        self.putChild(b"panel", panel)

    def getChild(self, path, request):
        return super().getChild(path, request)


@dataclass
class ReleaseApiListeners:
    https_port: object
    http_port: object | None
    certificate: CertificateFiles
    panel: PanelApp


def build_site(services: PanelServices, *, reactor=None, **panel_options) -> tuple[Site, PanelApp]:
    panel = PanelApp(services, **panel_options)
    site = Site(ReleaseRoot(panel), reactor=reactor)
    site.displayTracebacks = False
    return site, panel


def listen_release_api(reactor, services: PanelServices, *, data_dir: Path, https_port: int,
                       http_port: int | None = None, interface: str = "", public_host: str = "localhost",
                       cert_file: Path | None = None, key_file: Path | None = None, hostnames=None,
                       **panel_options):
    """Start listening; returns a Deferred firing with ``ReleaseApiListeners``."""
    from twisted.internet import defer

    files = ensure_certificate(Path(data_dir), hostnames=hostnames, cert_file=cert_file, key_file=key_file)
    site, panel = build_site(services, reactor=reactor, **panel_options)
    # TLS wrapped here rather than by listenSSL so that every timer (TLS write
    # aggregation, HTTP timeouts) runs on the reactor we were given, not the global one.
    tls_site = TLSMemoryBIOFactory(server_context_factory(files), False, site, clock=reactor)
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
