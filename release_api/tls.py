"""TLS for every HTTPS endpoint: a self-signed certificate made on first start and reused
after, or the admin's own files; a Twisted context that refuses anything below TLS 1.2.

The generated files live in ``<data_dir>/tls/`` (key mode 0600); an expired generated
certificate is replaced on the next start. Admin-supplied files are only read, never
replaced, and must match each other.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import ssl
from twisted.logger import Logger

from release_api.errors import TlsSetupError

log = Logger()

MINIMUM_TLS_VERSION = ssl.TLSVersion.TLSv1_2
CERT_NAME = "gateway-cert.pem"
KEY_NAME = "gateway-key.pem"
VALIDITY_DAYS = 825


@dataclass(frozen=True)
class CertificateFiles:
    certificate: Path
    private_key: Path
    generated: bool


def _names(hostnames: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    return names


def generate_self_signed(cert_path: Path, key_path: Path, hostnames: list[str], *, now=None) -> None:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0][:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Printgate (self-signed)")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(hostnames)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    _write_atomically(key_path, key_bytes, 0o600)
    _write_atomically(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _load(cert_path: Path, key_path: Path):
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise TlsSetupError(f"cannot load TLS certificate/key {cert_path}, {key_path}: {e}", path=cert_path) from e
    public = lambda k: k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if public(certificate.public_key()) != public(key.public_key()):
        raise TlsSetupError(f"the key {key_path} does not belong to the certificate {cert_path}", path=key_path)
    return certificate, key


def ensure_certificate(data_dir: Path, *, hostnames: list[str] | None = None, cert_file: Path | None = None,
                       key_file: Path | None = None, now=None) -> CertificateFiles:
    """The certificate to serve: the admin's files when both are given, otherwise the
    generated pair in ``<data_dir>/tls/`` (created if missing or expired)."""
    if cert_file or key_file:
        if not (cert_file and key_file):
            raise TlsSetupError("give both a certificate and a key file, or neither", path=cert_file or key_file)
        _load(Path(cert_file), Path(key_file))
        return CertificateFiles(Path(cert_file), Path(key_file), generated=False)
    directory = Path(data_dir) / "tls"
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if cert_path.exists() and key_path.exists():
        certificate, _ = _load(cert_path, key_path)
        if certificate.not_valid_after_utc > now + datetime.timedelta(days=1):
            return CertificateFiles(cert_path, key_path, generated=False)
        log.warn("The self-signed TLS certificate {path} has expired; making a new one", path=str(cert_path))
    hostnames = hostnames or [socket.gethostname(), "localhost", "127.0.0.1", "::1"]
    generate_self_signed(cert_path, key_path, hostnames, now=now)
    log.info("Made a self-signed TLS certificate {path} for {hostnames}", path=str(cert_path), hostnames=hostnames)
    return CertificateFiles(cert_path, key_path, generated=True)


def server_context_factory(files: CertificateFiles, *, maximum_version: ssl.TLSVersion | None = None
                           ) -> ssl.CertificateOptions:
    """Twisted TLS options: the certificate and key, TLS 1.2 at least (and at most
    ``maximum_version`` when given), no compression, Twisted's own cipher selection."""
    certificate, key = _load(files.certificate, files.private_key)
    chain = x509.load_pem_x509_certificates(files.certificate.read_bytes())[1:]
    limits = {"lowerMaximumSecurityTo": maximum_version} if maximum_version is not None else {}
    return ssl.CertificateOptions(
        privateKey=key,
        certificate=certificate,
        raiseMinimumTo=MINIMUM_TLS_VERSION,
        extraCertChain=chain or None,
        **limits,
    )
