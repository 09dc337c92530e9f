"""A discovery sweep: probe every address with each credential in turn, at the
configured packet rate, and read what the Printer-MIB v2 agents among them are.

The probe is one GETNEXT (sysObjectID, sysDescr, prtGeneralPrinterName's column). An
agent that answers but has no Printer-MIB v2 is counted and left out; a silent one (a
dead host, or a community it does not know) costs each credential's attempts. Every
packet of the sweep — probes, retries, the information reads — first takes its turn
from the ``PacketPacer``; enough addresses are in flight at once that the rate, not
the timeouts, sets the pace."""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

from accounting.fleet.records import PrinterInfo, Probe, SnmpCredential
from spooler.snmp import printer_mib
from spooler.snmp.client import Agent, SnmpClient
from spooler.snmp.errors import SnmpAuthError, SnmpError, SnmpTimeout
from spooler.snmp.rate import PacketPacer
from spooler.snmp.reads import DEFAULT_MAX_ROWS, read_info

MAX_IN_FLIGHT = 2048


@dataclass
class Found:
    probe: Probe
    info: PrinterInfo | None = None
    error: str = ""


@dataclass
class SweepResult:
    printers: list[Found] = field(default_factory=list)
    not_printers: list[Probe] = field(default_factory=list)
    silent: int = 0
    swept: int = 0
    packets: int = 0
    elapsed: float = 0.0


class Sweep:
    def __init__(self, client: SnmpClient, credentials: list[SnmpCredential], *, rate: float,
                 read_information: bool = True, max_rows: int = DEFAULT_MAX_ROWS, on_progress=None):
        if not credentials:
            raise ValueError("discovery needs at least one SNMP credential")
        self.client = client
        self.credentials = list(credentials)
        self.pacer = PacketPacer(rate)
        self.read_information = read_information
        self.max_rows = max_rows
        self.on_progress = on_progress or (lambda agent, outcome: None)

    def in_flight(self) -> int:
        """Addresses probed at once: a silent address holds its slot for every attempt of
        every credential, and the pacer must never wait for a free slot."""
        per_address = len(self.credentials) * (self.client.retries + 1) * self.client.timeout + 1.0
        return max(8, min(MAX_IN_FLIGHT, math.ceil(self.pacer.rate * per_address)))

    async def probe(self, agent: Agent, preferred: str | None = None) -> Probe | None:
        ordered = sorted(self.credentials, key=lambda c: c.name != preferred) if preferred else self.credentials
        for credential in ordered:
            try:
                answer = await self.client.next(agent, credential, printer_mib.PROBE_OIDS, limiter=self.pacer)
            except (SnmpTimeout, SnmpAuthError):
                continue
            except SnmpError:
                return None
            object_id, descr = printer_mib.probe_identity(answer)
            return Probe(agent.address, agent.port, credential.name, printer_mib.is_printer_mib_v2(answer),
                         object_id, descr)
        return None

    async def run(self, agents, *, preferred: dict | None = None) -> SweepResult:
        preferred = preferred or {}
        result = SweepResult()
        by_name = {c.name: c for c in self.credentials}
        queue = iter(agents)
        started = time.monotonic()
        sent_before = self.client.packets_sent

        async def worker():
            for agent in queue:
                probe = await self.probe(agent, preferred.get(agent))
                result.swept += 1
                if probe is None:
                    result.silent += 1
                    self.on_progress(agent, "silent")
                    continue
                if not probe.printer:
                    result.not_printers.append(probe)
                    self.on_progress(agent, "not a printer")
                    continue
                found = Found(probe)
                if self.read_information:
                    try:
                        found.info = await read_info(self.client, agent, by_name[probe.credential],
                                                     limiter=self.pacer, max_rows=self.max_rows)
                    except SnmpError as exc:
                        found.error = str(exc)
                result.printers.append(found)
                self.on_progress(agent, "printer")

        await asyncio.gather(*(worker() for _ in range(self.in_flight())))
        result.elapsed = time.monotonic() - started
        result.packets = self.client.packets_sent - sent_before
        return result
