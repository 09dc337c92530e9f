"""The SNMP client against real agents on loopback: snmpsim printers (v1, v2c, v3 auth
and priv), Debian's snmpd, an agent that never answers, and hostile replies."""
from __future__ import annotations

import socket
import threading

import pytest

from accounting.fleet.records import SnmpCredential
from spooler.snmp import oids as O
from spooler.snmp.client import Agent, SnmpClient
from spooler.snmp.errors import SnmpAuthError, SnmpTimeout
from spooler.snmp.reads import read_counters, read_info, read_status
from tests.fixtures.snmp_agents import Snmpd, free_udp_port
from tests.spooler.snmp.conftest import V1, V2C, V3_AUTH, V3_PRIV, V3_PRIV256, run


@pytest.mark.parametrize("credential", [V1, V2C, V3_AUTH, V3_PRIV, V3_PRIV256], ids=lambda c: c.name)
def test_the_information_read_finds_what_the_printer_mib_says(agents, credential):
    info = run(read_info(SnmpClient(timeout=2), Agent(*agents["colour"]), credential))
    assert (info.vendor, info.model, info.serial, info.mac) == ("Kyocera", "TASKalfa 2553ci", "SIM0001",
                                                                "00:17:c8:a1:b2:c3")
    assert (info.location, info.contact, info.firmware) == ("HQ/Floor 3/East", "facilities@example.org",
                                                            "2VL_S000.002.301")
    assert info.color and info.duplex and info.finishers == ("Staple finisher",)
    assert [(t.name, t.media_size, t.media_type, t.level, t.capacity) for t in info.trays] == [
        ("Tray 1", "A4", "stationery", 350, 500), ("Bypass", "Letter", "stationery", -3, 100)]
    assert [(b.name, b.remaining, b.capacity) for b in info.bins] == [("Main tray", 200, 250)]
    assert [(s.colorant, s.percent) for s in info.supplies][:4] == [("black", 90), ("cyan", 70), ("magenta", 50),
                                                                     ("yellow", 30)]
    assert info.counters.life_count == 12000 and info.counters.unit == "impressions"


def test_a_mono_printer_is_mono(agents):
    info = run(read_info(SnmpClient(timeout=2), Agent(*agents["mono"]), V2C))
    assert not info.color and info.model == "ECOSYS M3655idn"


def test_a_jammed_printer_reports_its_error_and_critical_alert(agents):
    status = run(read_status(SnmpClient(timeout=2), Agent(*agents["error"]), V3_PRIV))
    assert status.errors == ("jammed",)
    assert [(a.severity, a.description) for a in status.alerts] == [("critical", "Paper jam in tray 2")]
    assert status.device_status == "running" and status.counters.life_count == 12000


def test_a_wrong_v3_key_is_an_authentication_error(agents):
    wrong = SnmpCredential("bad", "3", user="secure", auth_protocol="sha256", auth_key="not-the-key",
                           priv_protocol="aes128", priv_key="privkey-aes128")
    with pytest.raises(SnmpAuthError):
        run(read_counters(SnmpClient(timeout=2), Agent(*agents["colour"]), wrong))


def test_a_wrong_community_gets_no_answer_at_all(agents):
    client = SnmpClient(timeout=0.3, retries=1)
    with pytest.raises(SnmpTimeout):
        run(read_counters(client, Agent(*agents["colour"]), SnmpCredential("x", "2c", community="nope")))
    assert client.packets_sent == 2


def test_a_table_of_100000_rows_is_read_up_to_the_row_cap(agents):
    status = run(read_status(SnmpClient(timeout=10), Agent(*agents["big"]), V2C, max_rows=100), timeout=240)
    assert len(status.alerts) == 100 and status.truncated


def test_an_oversized_value_is_cut_to_a_bounded_text(agents):
    from spooler.snmp.printer_mib import INFO_SCALARS, decode_info
    from spooler.snmp.client import Table

    values = run(SnmpClient(timeout=5).get(Agent(*agents["huge-text"]), V2C, INFO_SCALARS))
    assert len(values[O.SYS_DESCR]) > 20_000
    assert decode_info(values, Table({})).model == "M" * 255


class Silent:
    """A UDP socket that reads every datagram and never answers (or answers garbage)."""

    def __init__(self, address="127.0.0.1", reply: bytes | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.2)
        self.address, self.port = self.sock.getsockname()
        self.reply = reply
        self.received = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                continue
            self.received += 1
            if self.reply is not None:
                self.sock.sendto(self.reply, peer)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.mark.parametrize("reply", [None, b"\x30\x82\xff\xff garbage", b"\x00" * 60_000], ids=["never", "malformed",
                                                                                               "oversized-garbage"])
def test_an_agent_that_never_answers_sensibly_times_out_after_its_retries(reply):
    peer = Silent(reply=reply)
    client = SnmpClient(timeout=0.3, retries=2)
    try:
        with pytest.raises(SnmpTimeout):
            run(client.get(Agent(peer.address, peer.port), V2C, [O.SYS_DESCR]))
    finally:
        peer.close()
    assert peer.received == 3 == client.packets_sent


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory):
    port = free_udp_port("127.0.0.8")
    overrides = [("1.3.6.1.2.1.43.5.1.1.16.1", "octet_str", "snmpd-printer"),
                 ("1.3.6.1.2.1.43.5.1.1.17.1", "octet_str", "NETSNMP01"),
                 ("1.3.6.1.2.1.43.10.2.1.3.1.1", "integer", "7"),
                 ("1.3.6.1.2.1.43.10.2.1.4.1.1", "counter", "4242"),
                 ("1.3.6.1.2.1.25.3.5.1.1.1", "integer", "3"),
                 ("1.3.6.1.2.1.25.3.5.1.2.1", "octet_str", '"\\x00"')]
    agent = Snmpd(tmp_path_factory.mktemp("snmpd"), "127.0.0.8", port,
                  v3_user=("netsnmp", "SHA-256", "authkey-netsnmp", "AES", "privkey-netsnmp"),
                  overrides=overrides).start()
    yield agent
    agent.stop()


def test_snmpd_answers_v2c_and_v3_authpriv_as_a_second_agent(snmpd):
    agent = Agent(snmpd.address, snmpd.port)
    v3 = SnmpCredential("n", "3", user="netsnmp", auth_protocol="sha256", auth_key="authkey-netsnmp",
                        priv_protocol="aes128", priv_key="privkey-netsnmp")
    for credential in (V2C, v3):
        # A client lives on one event loop: each run gets its own.
        values = run(SnmpClient(timeout=2).get(agent, credential, [O.SYS_NAME, O.PRT_MARKER_LIFE_COUNT + (1, 1)]))
        assert values[O.SYS_NAME] == b"snmpd-host"
        assert values[O.PRT_MARKER_LIFE_COUNT + (1, 1)] == 4242
