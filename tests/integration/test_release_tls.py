"""``ipps://`` printers are sent jobs over TLS, their certificate checked against a
fingerprint pinned at registration or a configured CA, never silently over plain IPP
(issue 14.18). A real gateway process, ``printgate devices add --tls-fingerprint /
--tls-ca`` (and ``devices edit`` when a printer's certificate changes), ``ippeveprinter`` serving TLS with a certificate a test CA signed."""
from __future__ import annotations

import datetime
import hashlib
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.release_api.release_peers import (
    CARD, HttpsPanelClient, ippeveprinter, make_pdf, print_with_cups_lpd, release_gateway,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca_and_printer_certificate(directory):
    """A CA, and the printer's certificate it signed (for localhost and 127.0.0.1),
    written where ippeveprinter looks (``keys/localhost.crt`` and ``.key``). Returns
    (CA PEM path, SHA-256 fingerprint of the printer's certificate)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Printgate test CA")).issuer_name(_name("Printgate test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(ca_key, hashes.SHA256()))
    keys = directory / "keys"
    keys.mkdir(parents=True)
    (keys / "localhost.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (keys / "localhost.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                                           serialization.NoEncryption()))
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ca_path, fingerprint


def release_all(gateway) -> str:
    panel = HttpsPanelClient(gateway.panel_url, gateway.signer())
    panel.card_login(CARD)
    _, _, jobs = panel.request("GET", "/panel/jobs")
    panel.request("POST", "/panel/jobs", {"csrf": panel.csrf(jobs), "action": "release_all"})
    return panel.request("GET", "/panel/result")[2]


def tls_sessions(printer_dir) -> int:
    return (printer_dir / "ippeveprinter.log").read_text(errors="replace").count("Connection now encrypted")


def colon_separated(fingerprint: str) -> str:
    return ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()


@pytest.mark.parametrize("trust", ["fingerprint", "ca"])
def test_a_job_goes_to_an_ipps_printer_over_tls_when_its_certificate_checks_out(tmp_path, trust):
    printer_dir = tmp_path / "printer"
    ca_path, fingerprint = make_ca_and_printer_certificate(printer_dir)
    option = ("--tls-fingerprint", colon_separated(fingerprint)) if trust == "fingerprint" else ("--tls-ca",
                                                                                                str(ca_path))
    make_pdf(tmp_path / "memo.pdf", pages=1)
    with ippeveprinter(printer_dir, keys=printer_dir / "keys") as printer, \
            release_gateway(tmp_path, protocol="ipp", endpoint=printer.secure_endpoint,
                            device_options=option) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "memo.pdf", title="Memo")
        [job] = gateway.wait_for_held()
        assert "sent to the printer" in release_all(gateway)
        assert len(printer.job_environments()) == 1
        assert tls_sessions(printer_dir) >= 2  # Get-Printer-Attributes and the job, both over TLS
        assert len(gateway.charges()) == 1 and gateway.job(job["id"])["state"] == "released"


def test_a_printer_whose_certificate_is_not_the_pinned_one_gets_nothing_until_the_pin_is_edited(tmp_path):
    printer_dir = tmp_path / "printer"
    _, fingerprint = make_ca_and_printer_certificate(printer_dir)
    make_pdf(tmp_path / "memo.pdf", pages=1)
    with ippeveprinter(printer_dir, keys=printer_dir / "keys") as printer, \
            release_gateway(tmp_path, protocol="ipp", endpoint=printer.secure_endpoint,
                            device_options=("--tls-fingerprint", "ab" * 32)) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "memo.pdf", title="Memo")
        [job] = gateway.wait_for_held()
        result = release_all(gateway)
        assert "certificate could not be verified" in result and "Nothing was charged" in result
        assert printer.job_environments() == [] and printer.documents() == []
        assert gateway.charges() == [] and gateway.job(job["id"])["state"] == "held"
        assert "is not the one pinned" in gateway.process.log()

        # The printer got a new certificate: the admin pins it, the panel keeps its secret.
        gateway.process.cli("devices", "edit", "mfp-3f", "--tls-fingerprint", colon_separated(fingerprint))
        assert "sent to the printer" in release_all(gateway)
        assert len(printer.job_environments()) == 1 and tls_sessions(printer_dir) >= 2
        assert len(gateway.charges()) == 1 and gateway.job(job["id"])["state"] == "released"


def test_a_printer_whose_certificate_no_configured_ca_signed_gets_nothing(tmp_path):
    printer_dir = tmp_path / "printer"
    make_ca_and_printer_certificate(printer_dir)
    other_ca, _ = make_ca_and_printer_certificate(tmp_path / "elsewhere")
    make_pdf(tmp_path / "memo.pdf", pages=1)
    with ippeveprinter(printer_dir, keys=printer_dir / "keys") as printer, \
            release_gateway(tmp_path, protocol="ipp", endpoint=printer.secure_endpoint,
                            device_options=("--tls-ca", str(other_ca))) as gateway:
        print_with_cups_lpd(gateway.lpd_port, tmp_path / "memo.pdf", title="Memo")
        gateway.wait_for_held()
        assert "certificate could not be verified" in release_all(gateway)
        assert printer.job_environments() == [] and gateway.charges() == []


def test_a_fingerprint_or_ca_is_refused_for_a_printer_reached_without_tls(tmp_path):
    with release_gateway(tmp_path, protocol="lpd", endpoint="127.0.0.1:9/floor3") as gateway:
        done = gateway.process.cli("devices", "add", "mfp-plain", "--protocol", "ipp", "--endpoint",
                                   "ipp://127.0.0.1:631/ipp/print", "--tls-fingerprint", "ab" * 32, check=False)
        assert done.returncode != 0 and "ipps://" in done.stderr
