"""Simulated printers for the SNMP tests: one snmpsim process per module, each device on
its own loopback address (127.0.0.2, 127.0.0.3, ...) and a free port."""
from __future__ import annotations

import asyncio

import pytest

from accounting.fleet.records import SnmpCredential
from tests.fixtures.snmp_agents import (
    PrinterSpec, SimulatedDevice, SnmpSimulator, free_udp_port, host_records, printer_records, require_snmpsim,
)

V3_USERS = [("printgate", "SHA", "authkey-sha1", "", ""),
            ("secure", "SHA256", "authkey-sha256", "AES", "privkey-aes128"),
            ("strong", "SHA512", "authkey-sha512", "AES256BLMT", "privkey-aes256")]
V2C = SnmpCredential("office", "2c", community="public")
V1 = SnmpCredential("old", "1", community="public")
V3_AUTH = SnmpCredential("v3-auth", "3", user="printgate", auth_protocol="sha", auth_key="authkey-sha1")
V3_PRIV = SnmpCredential("v3-priv", "3", user="secure", auth_protocol="sha256", auth_key="authkey-sha256",
                         priv_protocol="aes128", priv_key="privkey-aes128")
V3_PRIV256 = SnmpCredential("v3-priv256", "3", user="strong", auth_protocol="sha512", auth_key="authkey-sha512",
                            priv_protocol="aes256", priv_key="privkey-aes256")


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    """{"colour", "mono", "error", "host", "big", "huge-text"}: (address, port)."""
    require_snmpsim()
    port = free_udp_port()
    layout = {
        "colour": ("127.0.0.2", printer_records(PrinterSpec(finisher="Staple finisher"))),
        "mono": ("127.0.0.3", printer_records(PrinterSpec(color=False, model="ECOSYS M3655idn", serial="SIM0002"))),
        "error": ("127.0.0.4", printer_records(PrinterSpec(serial="SIM0003", error_state=b"\x04\x00",
                                                          alerts=[(3, 13, 8, "Paper jam in tray 2")]))),
        "host": ("127.0.0.5", host_records()),
        "big": ("127.0.0.6", printer_records(PrinterSpec(serial="SIM0004", extra_alert_rows=100_000))),
        "huge-text": ("127.0.0.7", printer_records(PrinterSpec(serial="SIM0005", model="M" * 20_000))),
    }
    devices = [SimulatedDevice(records, [(address, port)], v3_users=V3_USERS) for address, records in layout.values()]
    simulator = SnmpSimulator(tmp_path_factory.mktemp("snmpsim"), devices).start(timeout=120)
    yield {name: (address, port) for name, (address, _) in layout.items()}
    simulator.stop()


def run(coroutine, timeout: float = 60):
    """Run on a fresh asyncio loop, with a hang guard."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))
