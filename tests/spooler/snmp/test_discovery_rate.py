"""The discovery rate, measured where it matters: at the agents. Silent agents on many
loopback addresses record each packet's kernel arrival time (SO_TIMESTAMPNS), so a busy
test machine cannot bunch them up; no second of the sweep may hold more packets than
coefficient x (2 x credentials + 1), give or take the bounded catch-up of a late loop."""
from __future__ import annotations

import socket
import struct
import threading

from accounting.fleet.records import SnmpCredential
from spooler.snmp.client import Agent, SnmpClient
from spooler.snmp.discovery import Sweep
from spooler.snmp.rate import discovery_rate
from tests.spooler.snmp.conftest import V2C, run

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Listening:
    def __init__(self, addresses):
        self.socks = []
        for address in addresses:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind((address, 0))
            sock.settimeout(0.1)
            self.socks.append(sock)
        self.arrivals = []
        self.running = True
        self.threads = [threading.Thread(target=self._read, args=(s,), daemon=True) for s in self.socks]
        for thread in self.threads:
            thread.start()

    def _read(self, sock):
        while self.running:
            try:
                _, ancillary, _, _ = sock.recvmsg(65535, 1024)
            except OSError:
                continue
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", data[:16])
                    self.arrivals.append(seconds + nanoseconds / 1e9)

    def close(self):
        self.running = False
        for thread in self.threads:
            thread.join()
        for sock in self.socks:
            sock.close()


def test_a_sweep_never_sends_faster_than_the_configured_rate():
    addresses = [f"127.0.9.{n}" for n in range(1, 21)]
    peers = Listening(addresses)
    credentials = [V2C, SnmpCredential("second", "2c", community="other")]
    rate = discovery_rate(8, len(credentials))  # 40 packets/s
    client = SnmpClient(timeout=0.3, retries=1)
    agents = [Agent(a, s.getsockname()[1]) for a, s in zip(addresses, peers.socks)]
    try:
        result = run(Sweep(client, credentials, rate=rate).run(agents), timeout=120)
    finally:
        peers.close()
    arrivals = sorted(peers.arrivals)
    assert len(arrivals) == client.packets_sent == result.packets == 20 * 2 * 2
    assert result.silent == 20
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    # One second holds rate + 1 packets on schedule, plus what a late loop may make up
    # (0.1 s of the schedule), plus one that left a moment after its turn.
    assert busiest <= rate * 1.1 + 2
