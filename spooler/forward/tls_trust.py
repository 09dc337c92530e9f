"""TLS for ``ipps://`` printers: the printer's certificate is checked, never skipped, and a
failed check never falls back to plain IPP.

Three ways, per printer (``PrinterTrust``): a SHA-256 fingerprint pinned at registration
(``printgate devices add --tls-fingerprint``: the certificate must be exactly that one,
which is what a printer's self-signed certificate needs), a CA's certificates
(``--tls-ca``: the chain must lead to them and the certificate must name the printer's
host or address), or, with neither, the system's trust store and the name, as a browser
checks a web site. Why a check failed is kept (``CheckedTls.failure``) so a release can say
"the printer's certificate is not the one trusted" rather than "unreachable".
"""
from __future__ import annotations

import hashlib
import ipaddress

from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL, crypto
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import verify_certificate_hostname, verify_certificate_ip_address
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from zope.interface import implementer

from spooler.forward.job import PrinterTarget


#: OpenSSL's X509_V_ERR_* numbers a printer's certificate most often fails with.
VERIFY_ERRORS = {9: "not yet valid", 10: "expired", 18: "self-signed", 19: "self-signed CA in the chain",
                 20: "issued by an unknown CA", 21: "issued by an unknown CA", 2: "issued by an unknown CA"}


def certificate_fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _pem_blocks(text: str) -> list[bytes]:
    end = "-----END CERTIFICATE-----"
    return [(block + end + "\n").encode("ascii") for block in text.split(end) if "-----BEGIN CERTIFICATE-----" in block]


@implementer(IOpenSSLClientConnectionCreator)
class CheckedTls:
    """The client side of TLS to one printer (TLS 1.2 at least), checking its certificate
    by ``fingerprint`` when given, else against ``ca_pem`` (or the system's trust store)
    and ``host``."""

    def __init__(self, host: str, *, fingerprint: str = "", ca_pem: str = ""):
        self.host = host
        self.fingerprint = fingerprint
        self.failure: str | None = None
        context = SSL.Context(SSL.TLS_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.set_options(SSL.OP_NO_COMPRESSION)
        if not fingerprint:
            if ca_pem:
                store = context.get_cert_store()
                for block in _pem_blocks(ca_pem):
                    store.add_cert(crypto.load_certificate(crypto.FILETYPE_PEM, block))
            else:
                context.set_default_verify_paths()
        context.set_verify(SSL.VERIFY_PEER, self._verify)
        self._context = context

    def _verify(self, connection, certificate, error_number, depth, ok) -> bool:
        if self.fingerprint:
            if depth != 0:
                return True  # the pin decides, at the printer's own certificate
            presented = certificate_fingerprint(certificate.to_cryptography().public_bytes(Encoding.DER))
            if presented != self.fingerprint:
                self.failure = (f"the printer's certificate (SHA-256 {presented}) is not the one pinned "
                                f"({self.fingerprint})")
                return False
            return True
        if not ok:
            why = VERIFY_ERRORS.get(error_number, f"OpenSSL verify error {error_number}")
            self.failure = f"the printer's certificate is not trusted ({why}, depth {depth})"
            return False
        if depth == 0:
            try:
                if _is_address(self.host):
                    verify_certificate_ip_address(certificate.to_cryptography(), self.host)
                else:
                    verify_certificate_hostname(certificate.to_cryptography(), self.host)
            except (CertificateError, VerificationError) as error:
                self.failure = f"the printer's certificate does not name {self.host} ({error})"
                return False
        return True

    def clientConnectionForTLS(self, tlsProtocol):
        self.failure = None
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        if not _is_address(self.host):
            connection.set_tlsext_host_name(self.host.encode("idna"))
        connection.set_connect_state()
        return connection


def client_tls_options(target: PrinterTarget) -> CheckedTls:
    """How to check ``target``'s certificate (see the module docstring)."""
    trust = target.trust
    return CheckedTls(target.host, fingerprint=trust.fingerprint if trust else "",
                      ca_pem=trust.ca_pem if trust else "")
