"""The discovery use case, shared by ``printgate devices discover`` and the scheduled
sweep: sweep the targets with the stored credentials at the configured rate, then record
what was found (unless it is a dry run). Recording a printer found again keeps it
approved; one found at a new address is a new discovered printer."""
from __future__ import annotations

from dataclasses import dataclass, field

from spooler.snmp.client import SnmpClient
from spooler.snmp.discovery import Sweep, SweepResult
from spooler.snmp.rate import discovery_rate
from spooler.snmp.targets import parse_targets


@dataclass
class DiscoverySummary:
    result: SweepResult
    rate: float
    recorded: list = field(default_factory=list)  # FleetDevice
    new: int = 0

    def lines(self) -> list[str]:
        r = self.result
        bound = r.packets / self.rate if self.rate else 0.0
        lines = [f"Swept {r.swept} address(es) in {r.elapsed:.1f} s: {len(r.printers)} printer(s), "
                 f"{len(r.not_printers)} other SNMP agent(s) (no Printer-MIB v2, left out), {r.silent} silent.",
                 f"{r.packets} packet(s) at up to {self.rate:g}/s (the rate allows {bound:.1f} s)."]
        for found in r.printers:
            info = found.info
            what = (f"{info.vendor} {info.model}, serial {info.serial or '?'}, {info.location or 'no location'}"
                    if info else f"(information not read: {found.error})")
            lines.append(f"  printer {found.probe.address}:{found.probe.port} via {found.probe.credential}: {what}")
        for probe in r.not_printers:
            lines.append(f"  not a printer {probe.address}:{probe.port}: {probe.sys_descr[:60]}")
        if self.recorded:
            lines.append(f"Recorded {len(self.recorded)} printer(s), {self.new} new: approve them with "
                         "`printgate devices approve ADDRESS --name NAME --endpoint ...`.")
        return lines


async def discover(targets, *, credentials, coefficient: float, timeout: float, retries: int, port: int = 161,
                   max_rows: int = 256, client: SnmpClient | None = None, on_progress=None, known=None,
                   record=None) -> DiscoverySummary:
    """``record(probe, info) -> (FleetDevice, new)`` stores a printer (awaitable or
    not); None is a dry run. ``known`` maps an Agent to the credential it answered last."""
    agents = parse_targets(targets, default_port=port)
    client = client or SnmpClient(timeout=timeout, retries=retries)
    rate = discovery_rate(coefficient, len(credentials))
    sweep = Sweep(client, credentials, rate=rate, max_rows=max_rows, on_progress=on_progress)
    result = await sweep.run(agents, preferred=known or {})
    summary = DiscoverySummary(result, rate)
    if record is not None:
        for found in result.printers:
            outcome = record(found.probe, found.info)
            if hasattr(outcome, "__await__"):
                outcome = await outcome
            device, new = outcome
            summary.recorded.append(device)
            summary.new += int(new)
    return summary
