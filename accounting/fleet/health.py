"""Is a printer fit to print? The rule, in one place: a status poll is judged "error"
when the device is down, reports a condition that stops printing (jam, no paper, no
toner, door open, offline, service requested, a missing tray or supply, output full)
or a critical alert; "warning" for the conditions that do not stop it (low toner, low
paper, warning alerts); else "ok". A device that did not answer is "unreachable",
which says nothing about whether it prints (SNMP may be filtered), so it never blocks a
release."""
from __future__ import annotations

from accounting.fleet.records import PrinterStatus

STOPPING = ("jammed", "noPaper", "noToner", "doorOpen", "offline", "serviceRequested", "inputTrayMissing",
            "outputTrayMissing", "markerSupplyMissing", "outputFull")
BLOCKING_HEALTH = ("error",)
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
