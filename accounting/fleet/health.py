"""Is a printer fit to print? The rule, in one place: a status poll is judged "error"
when the device is down, reports a condition that stops printing (jam, no paper, no
toner, door open, offline, service requested, a missing tray or supply, output full)
or a critical alert; "warning" for the conditions that do not stop it (low toner, low
paper, warning alerts); else "ok". A device that did not answer is "unreachable",
which says nothing about whether it prints (SNMP may be filtered), so it never blocks a
release."""
from __future__ import annotations

from accounting.fleet.records import FleetDevice, PrinterStatus

STOPPING = ("jammed", "noPaper", "noToner", "doorOpen", "offline", "serviceRequested", "inputTrayMissing",
            "outputTrayMissing", "markerSupplyMissing", "outputFull")
BLOCKING_HEALTH = ("error",)
#: A supply at or below this share of its capacity is "low" on the admin's dashboard.
LOW_SUPPLY_PERCENT = 10
#: Error-state bits that mean a supply is low (not yet empty, which stops printing).
LOW_SUPPLY_ERRORS = ("lowToner", "lowPaper")
#: What the admins are told about (``[notices] admins``), once per change into it.
ALERTING_HEALTH = ("error", "warning")


def judge(status: PrinterStatus) -> tuple[str, str]:
    """(health, reason) for one status poll; the reason is short enough for a panel."""
    stopping = [name for name in status.errors if name in STOPPING]
    critical = [a for a in status.alerts if a.severity == "critical"]
    if status.device_status == "down" or stopping or critical:
        reasons = stopping + [a.description or a.code_name for a in critical]
        if status.device_status == "down" and not reasons:
            reasons = ["device down"]
        return "error", ", ".join(dict.fromkeys(reasons))[:255]
    warnings = [name for name in status.errors] + [a.description or a.code_name for a in status.alerts
                                                   if a.severity.startswith("warning")]
    if status.device_status == "warning" or warnings:
        return "warning", ", ".join(dict.fromkeys(warnings or ["warning"]))[:255]
    return "ok", ""


def location_affinity(a: str, b: str) -> int:
    """How many leading location parts two locations share ("HQ/Floor 3/East" and
    "HQ/Floor 3/West" share 2): the nearer device shares more."""
    parts_a = [p.strip().lower() for p in a.replace("\\", "/").split("/") if p.strip()]
    parts_b = [p.strip().lower() for p in b.replace("\\", "/").split("/") if p.strip()]
    shared = 0
    for x, y in zip(parts_a, parts_b):
        if x != y:
            break
        shared += 1
    return shared


def low_supplies(device: FleetDevice) -> list[str]:
    """What runs low at ``device`` as of its last status poll, for people to read: each
    supply at or below ``LOW_SUPPLY_PERCENT`` ("black toner 4%"), and the low-toner and
    low-paper bits of its error state when no supply level says so."""
    low = [f"{supply.description or supply.kind or f'supply {supply.index}'} {supply.percent}%"
           for supply in device.supplies if supply.percent is not None and supply.percent <= LOW_SUPPLY_PERCENT]
    if not low:
        low = [name for name in device.errors if name in LOW_SUPPLY_ERRORS]
    return low
