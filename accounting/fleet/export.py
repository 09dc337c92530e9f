"""Printer data export (as PrintMonitor Plug exports it): every known printer with its
identity, health, counters, supplies and trays, as JSON, XML or CSV. One row (CSV) or
element (XML) per printer; lists are nested in JSON and XML and joined in CSV."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree

from accounting.fleet.records import FleetDevice
from accounting.spreadsheet_cells import spreadsheet_cell

FORMATS = ("json", "xml", "csv")
FIELDS = ("device", "state", "address", "port", "vendor", "model", "serial", "mac", "name", "location", "contact",
          "firmware", "color", "duplex", "health", "health_reason", "printer_status", "counter_unit", "life_count",
          "color_count", "mono_count", "status_at", "counters_at", "discovered_at")


def printer_row(d: FleetDevice) -> dict:
    info = d.info
    iso = lambda t: t.isoformat().replace("+00:00", "Z") if t else None  # noqa: E731
    return {
        "device": d.device or "", "state": d.state, "address": d.address, "port": d.port, "vendor": info.vendor,
        "model": info.model, "serial": info.serial, "mac": info.mac, "name": info.name, "location": info.location,
        "contact": info.contact, "firmware": info.firmware, "color": info.color, "duplex": info.duplex,
        "health": d.health, "health_reason": d.health_reason, "printer_status": d.printer_status,
        "counter_unit": d.counter_unit, "life_count": d.life_count, "color_count": d.color_count,
        "mono_count": d.mono_count, "status_at": iso(d.status_at), "counters_at": iso(d.counters_at),
        "discovered_at": iso(d.discovered_at),
        "supplies": [{"description": s.description, "kind": s.kind, "colorant": s.colorant, "level": s.level,
                      "capacity": s.capacity, "percent": s.percent} for s in (d.supplies or info.supplies)],
        "trays": [{"name": t.name, "media_size": t.media_size, "media_type": t.media_type, "level": t.level,
                   "capacity": t.capacity} for t in info.trays],
        "bins": [{"name": b.name, "capacity": b.capacity, "remaining": b.remaining} for b in info.bins],
        "finishers": list(info.finishers),
        "alerts": [{"severity": a.severity, "code": a.code_name, "description": a.description} for a in d.alerts],
    }


def export_printers(devices: list[FleetDevice], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"export format is one of {', '.join(FORMATS)}")
    rows = [printer_row(d) for d in devices]
    if fmt == "json":
        return json.dumps({"printers": rows}, indent=2, sort_keys=False) + "\n"
    if fmt == "xml":
        root = ElementTree.Element("printers")
        for row in rows:
            element = ElementTree.SubElement(root, "printer")
            for key in FIELDS:
                ElementTree.SubElement(element, key).text = "" if row[key] is None else str(row[key]).lower() \
                    if isinstance(row[key], bool) else str(row[key])
            for group, item in (("supplies", "supply"), ("trays", "tray"), ("bins", "bin"), ("alerts", "alert")):
                holder = ElementTree.SubElement(element, group)
                for entry in row[group]:
                    ElementTree.SubElement(holder, item, {k: "" if v is None else str(v) for k, v in entry.items()})
            finishers = ElementTree.SubElement(element, "finishers")
            for name in row["finishers"]:
                ElementTree.SubElement(finishers, "finisher").text = name
        ElementTree.indent(root)
        return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS + ("supplies", "trays", "bins", "finishers"))
    for row in rows:
        supplies = "; ".join(f"{s['description']}={s['percent'] if s['percent'] is not None else s['level']}"
                             + ("%" if s["percent"] is not None else "") for s in row["supplies"])
        trays = "; ".join(f"{t['name']} {t['media_size']} {t['level']}/{t['capacity']}" for t in row["trays"])
        bins = "; ".join(f"{b['name']} {b['remaining']}/{b['capacity']}" for b in row["bins"])
        writer.writerow([spreadsheet_cell(value) for value in [row[key] for key in FIELDS]
                         + [supplies, trays, bins, "; ".join(row["finishers"])]])
    return out.getvalue()


