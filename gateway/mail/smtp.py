"""One delivery attempt over SMTP with Twisted's mail client, on the reactor.

Security is the configured one and nothing less: ``starttls`` refuses a server that does
not offer STARTTLS (unless ``allow_plaintext``), ``tls`` speaks TLS from the first byte
(SMTPS); the server's certificate is verified against the configured CA (or the system
store) and its name. AUTH uses only the configured mechanisms (PLAIN, LOGIN) and never
sends a password over a connection that is not encrypted.
"""
from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from twisted.internet.defer import Deferred
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.mail.smtp import ESMTPSender, ESMTPSenderFactory, LOGINAuthenticator, PLAINAuthenticator, SMTPClientError

AUTHENTICATORS = {"PLAIN": PLAINAuthenticator, "LOGIN": LOGINAuthenticator}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str = "starttls"  # or "tls"
    allow_plaintext: bool = False
    ca_file: str | None = None
    user: str | None = None
    password: str | None = None
    mechanisms: tuple = ("PLAIN", "LOGIN")
    timeout: float = 30.0


class ClearAuthRefused(SMTPClientError):
    def __init__(self):
        super().__init__(530, "refusing to send a password over a connection without TLS")


class _Sender(ESMTPSender):
    def _registerAuthenticators(self):
        for name in getattr(self, "factory_mechanisms", ()):
            self.registerAuthenticator(AUTHENTICATORS[name](self.username))

    def authenticate(self, code, resp, items):
        if self.secret and not self._tlsMode:
            self.sendError(ClearAuthRefused())
            return
        return super().authenticate(code, resp, items)


class _SenderFactory(ESMTPSenderFactory):
    protocol = _Sender

    def __init__(self, *args, mechanisms=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.mechanisms = tuple(mechanisms)

    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.authenticators = []
        protocol.factory_mechanisms = self.mechanisms
        protocol._registerAuthenticators()
        return protocol


def tls_options(host: str, ca_file: str | None):
    trust = None
    if ca_file:
        with open(ca_file, "rb") as handle:
            trust = Certificate.loadPEM(handle.read())
    return optionsForClientTLS(host, trustRoot=trust)


def deliver(reactor, target: SmtpTarget, sender: str, recipients: list, message: bytes) -> Deferred:
    """Fires when the server accepted the message for every recipient; fails with the
    server's answer (``SMTPClientError`` carries its code) or the connection's error."""
    result = Deferred()
    context = tls_options(target.host, target.ca_file)
    user = target.user.encode() if target.user else None
    password = target.password.encode() if target.user and target.password is not None else None
    factory = _SenderFactory(
        user, password, sender, recipients, BytesIO(message), result, retries=0, timeout=target.timeout,
        contextFactory=context, heloFallback=False, requireAuthentication=bool(target.user),
        requireTransportSecurity=not target.allow_plaintext, hostname=target.host, mechanisms=target.mechanisms)
    if target.security == "tls":
        connector = reactor.connectSSL(target.host, target.port, factory, context, timeout=target.timeout)
    else:
        connector = reactor.connectTCP(target.host, target.port, factory, timeout=target.timeout)

    def give_up(outcome, timeout):
        factory.sendFinished = True
        if factory.currentProtocol is not None and factory.currentProtocol.transport is not None:
            factory.currentProtocol.transport.abortConnection()
        else:
            connector.disconnect()
        raise TimeoutError(f"{target.host}:{target.port} did not take the message within {timeout:.0f} s")

    # Each answer times out after target.timeout; this bounds the whole exchange.
    result.addTimeout(3 * target.timeout, reactor, onTimeoutCancel=give_up)
    return result
