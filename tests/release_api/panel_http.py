"""Drive a twisted.web Site over an in-memory transport, like a panel browser would:
keeps cookies, signs requests as a device when asked. No sockets, no reactor."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport


@dataclass
class Response:
    status: int
    headers: dict
    body: str

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


class InMemoryPanelBrowser:
    def __init__(self, site, signer=None):
        self.site = site
        self.signer = signer
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form=None, *, sign: bool = True, authorization: str | None = None,
                raw_body: bytes | None = None) -> Response:
        body = raw_body if raw_body is not None else (urlencode(form, doseq=True).encode() if form is not None else b"")
        lines = [f"{method} {path} HTTP/1.0", "Host: gateway.test", f"Content-Length: {len(body)}"]
        if form is not None:
            lines.append("Content-Type: application/x-www-form-urlencoded")
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if authorization is None and sign and self.signer is not None:
            authorization = self.signer.authorization(method, path, body)
        if authorization:
            lines.append(f"Authorization: {authorization}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.last_authorization = authorization
        protocol = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        protocol.makeConnection(transport)
        protocol.dataReceived(raw)
        return self._parse(transport.value())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, **kw):
        return self.request("POST", path, form, **kw)

    def _parse(self, raw: bytes) -> Response:
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        for cookie in headers.get("set-cookie", []):
            pair = cookie.split(";")[0]
            name, _, value = pair.partition("=")
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return Response(int(status_line.split()[1]), headers, body.decode("utf-8"))
