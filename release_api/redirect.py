"""Plain HTTP: every request is sent to the same path on HTTPS.

The target host is taken from the ``Host`` header only when it is a plain host name or
address (nothing that could inject a header or point elsewhere oddly); otherwise the
configured public name is used. GET/HEAD get 301, other methods 308 so a POST stays a POST.
"""
from __future__ import annotations

import re

from twisted.web.resource import Resource

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]{1,253})(:\d{1,5})?$")


class HttpsRedirect(Resource):
    isLeaf = True

    def __init__(self, *, https_port: int, public_host: str):
        super().__init__()
        self.https_port = https_port
        self.public_host = public_host

    def location(self, host_header: bytes | None, uri: bytes) -> bytes:
        host = (host_header or b"").decode("latin-1")
        match = _HOST.match(host)
        name = match.group(1) if match else self.public_host
        port = "" if self.https_port == 443 else f":{self.https_port}"
        path = uri.decode("latin-1") if uri.startswith(b"/") else "/"
        path = path.replace("\r", "").replace("\n", "")
        return f"https://{name}{port}{path}".encode("latin-1")

    def render(self, request):
        target = self.location(request.getHeader(b"host"), request.uri)
        request.setResponseCode(301 if request.method in (b"GET", b"HEAD") else 308)
        request.setHeader(b"location", target)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"This service is served over HTTPS: " + target + b"\n"
