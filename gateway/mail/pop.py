"""POP-before-SMTP, for old relays that accept mail from an address only after it logged
in to their POP3 server: a login (over TLS: POP3S, or STLS) and QUIT, with Twisted's
POP3 client, before the SMTP attempt."""
from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ClientFactory
from twisted.mail.pop3client import POP3Client

from gateway.mail.smtp import tls_options


@dataclass(frozen=True)
class PopTarget:
    host: str
    port: int
    security: str  # "tls" or "starttls"
    user: str
    password: str
    ca_file: str | None = None
    timeout: float = 30.0


class _Connected(ClientFactory):
    def __init__(self):
        self.connected = Deferred()

    def buildProtocol(self, addr):
        protocol = POP3Client()
        protocol.allowInsecureLogin = False
        protocol.timeout = 0  # each step has its own timeout below
        self.protocol_instance = protocol
        original = protocol.serverGreeting

        def greeted(greeting):
            original(greeting)
            if not self.connected.called:
                self.connected.callback(protocol)

        protocol.serverGreeting = greeted
        return protocol

    def clientConnectionFailed(self, connector, reason):
        if not self.connected.called:
            self.connected.errback(reason)

    def clientConnectionLost(self, connector, reason):
        if not self.connected.called:
            self.connected.errback(reason)


@inlineCallbacks
def pop_login(reactor, target: PopTarget):
    """Log in and out; fails when the server refuses the login."""
    context = tls_options(target.host, target.ca_file)
    factory = _Connected()
    if target.security == "tls":
        reactor.connectSSL(target.host, target.port, factory, context, timeout=target.timeout)
    else:
        reactor.connectTCP(target.host, target.port, factory, timeout=target.timeout)
    factory.connected.addTimeout(target.timeout, reactor)
    client = yield factory.connected
    try:
        if target.security == "starttls":
            yield client.startTLS(context).addTimeout(target.timeout, reactor)
        # USER/PASS, never APOP (MD5 of the password); the connection is TLS by now.
        yield client.user(target.user.encode()).addTimeout(target.timeout, reactor)
        yield client.password(target.password.encode()).addTimeout(target.timeout, reactor)
        yield client.quit().addTimeout(target.timeout, reactor)
    finally:
        if client.transport is not None:
            client.transport.loseConnection()
