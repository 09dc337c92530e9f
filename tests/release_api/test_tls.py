"""TLS setup: a self-signed pair made once and reused, admin files, minimum TLS 1.2."""
import datetime
import os
import socket
import ssl as stdlib_ssl
import threading

import pytest
from OpenSSL import SSL

from release_api.errors import TlsSetupError
from release_api.tls import MINIMUM_TLS_VERSION, ensure_certificate, generate_self_signed, server_context_factory
from twisted.internet import ssl


def test_a_certificate_is_made_on_first_start_and_reused_after(tmp_path):
    first = ensure_certificate(tmp_path, hostnames=["gw.example", "127.0.0.1"])
    assert first.generated and first.certificate.exists()
    assert os.stat(first.private_key).st_mode & 0o777 == 0o600
    before = first.certificate.read_bytes()
    again = ensure_certificate(tmp_path)
    assert not again.generated and again.certificate.read_bytes() == before


def test_an_expired_self_signed_certificate_is_replaced(tmp_path):
    files = ensure_certificate(tmp_path, hostnames=["gw"])
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=900)
    renewed = ensure_certificate(tmp_path, hostnames=["gw"], now=later)
    assert renewed.generated and renewed.certificate == files.certificate


def test_admin_files_are_used_and_never_replaced(tmp_path):
    cert, key = tmp_path / "admin.crt", tmp_path / "admin.key"
    generate_self_signed(cert, key, ["print.example.org"])
    files = ensure_certificate(tmp_path / "data", cert_file=cert, key_file=key)
    assert (files.certificate, files.generated) == (cert, False)
    assert not (tmp_path / "data" / "tls").exists()


def test_a_key_that_does_not_match_the_certificate_is_refused(tmp_path):
    generate_self_signed(tmp_path / "a.crt", tmp_path / "a.key", ["a"])
    generate_self_signed(tmp_path / "b.crt", tmp_path / "b.key", ["b"])
    with pytest.raises(TlsSetupError):
        ensure_certificate(tmp_path, cert_file=tmp_path / "a.crt", key_file=tmp_path / "b.key")
    with pytest.raises(TlsSetupError):
        ensure_certificate(tmp_path, cert_file=tmp_path / "a.crt")


def test_the_configured_minimum_is_tls_1_2(tmp_path):
    # The OpenSSL in the cryptography wheel refuses 1.0/1.1 anyway (PEERS.md), so assert
    # what we configured, not only what a handshake shows.
    assert MINIMUM_TLS_VERSION == ssl.TLSVersion.TLSv1_2
    options = server_context_factory(ensure_certificate(tmp_path, hostnames=["127.0.0.1"]))
    for flag in (SSL.OP_NO_SSLv3, SSL.OP_NO_TLSv1, SSL.OP_NO_TLSv1_1):
        assert options._options & flag
    assert not options._options & SSL.OP_NO_TLSv1_2


def test_a_tls_1_2_client_completes_a_handshake_with_the_context(tmp_path):
    files = ensure_certificate(tmp_path, hostnames=["127.0.0.1"])
    context = server_context_factory(files).getContext()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        server = SSL.Connection(context, conn)
        server.set_accept_state()
        try:
            server.do_handshake()
            server.sendall(b"ok")
        except SSL.Error:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_context = stdlib_ssl.create_default_context(cafile=str(files.certificate))
    client_context.maximum_version = stdlib_ssl.TLSVersion.TLSv1_2
    with socket.create_connection(listener.getsockname(), timeout=5) as raw:
        with client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"
            assert tls.recv(2) == b"ok"
    thread.join(5)
    listener.close()
