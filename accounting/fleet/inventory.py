"""The printers the fleet knows: discovered ones (until approved), approved ones (linked
to a registered device), their latest status, their events and status history, and
the release gate (is this device in error, and where else could the user print)."""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError, UnknownDevice
from accounting.fleet.health import BLOCKING_HEALTH, judge, location_affinity
from accounting.fleet.records import (
    Alert, Counters, FleetDevice, HealthChange, PrinterInfo, PrinterStatus, Probe, ReleaseBlock, Supply, Tray,
    OutputBin,
)
from accounting.schema import devices, fleet_devices, fleet_events, fleet_status_history
from accounting.time import aware, utcnow


class UnknownFleetDevice(AccountingError):
    def __init__(self, key):
        super().__init__(f"no discovered printer {key!r} (give its id, address, ADDRESS:PORT or device name)")
        self.key = key


def _info(text: str) -> PrinterInfo:
    data = json.loads(text or "{}")
    if not data:
        return PrinterInfo()
    data["trays"] = tuple(Tray(**t) for t in data.get("trays", ()))
    data["bins"] = tuple(OutputBin(**b) for b in data.get("bins", ()))
    data["supplies"] = tuple(Supply(**s) for s in data.get("supplies", ()))
    data["finishers"] = tuple(data.get("finishers", ()))
    data["counters"] = Counters(**data["counters"]) if data.get("counters") else None
    return PrinterInfo(**data)


def _fleet_device(r) -> FleetDevice:
    return FleetDevice(
        id=r.id, address=r.address, port=r.port, state=r.state, device=r.device_name, credential=r.credential,
        info=_info(r.info), health=r.health, health_reason=r.health_reason, printer_status=r.printer_status,
        errors=json.loads(r.errors), alerts=[Alert(**a) for a in json.loads(r.alerts)],
        supplies=[Supply(**s) for s in json.loads(r.supplies)], life_count=r.life_count, counter_unit=r.counter_unit,
        color_count=r.color_count, mono_count=r.mono_count, device_class=getattr(r, "device_class", None) or "",
        discovered_at=aware(r.discovered_at), last_seen_at=aware(r.last_seen_at), status_at=aware(r.status_at),
        counters_at=aware(r.counters_at), info_at=aware(r.info_at))


def _dumps(items) -> str:
    return json.dumps([asdict(item) for item in items], sort_keys=True)


class Inventory:
    def __init__(self, database: Database):
        self.db = database

    def _select(self):
        return (select(fleet_devices, devices.c.device_class, devices.c.location.label("device_location"))
                .outerjoin(devices, devices.c.name == fleet_devices.c.device_name))

    # -- discovery and approval -------------------------------------------------------------
    def record_discovery(self, probe: Probe, info: PrinterInfo | None, *, now: datetime | None = None) -> FleetDevice:
        """Remember a printer discovery found (or found again): a new one is
        "discovered"; one already approved keeps its state and device."""
        now = now or utcnow()
        values = dict(credential=probe.credential, last_seen_at=now)
        if info is not None:
            values.update(self._info_values(info), info_at=now)
        with self.db.writer.begin() as conn:
            found = conn.execute(select(fleet_devices.c.id).where(
                fleet_devices.c.address == probe.address, fleet_devices.c.port == probe.port)).scalar()
            if found is None:
                found = conn.execute(insert(fleet_devices).values(
                    address=probe.address, port=probe.port, state="discovered", discovered_at=now,
                    **{"info": "{}", "vendor_oid": probe.sys_object_id, **values})).inserted_primary_key[0]
            else:
                conn.execute(update(fleet_devices).where(fleet_devices.c.id == found).values(**values))
        return self.get(found)

    @staticmethod
    def _info_values(info: PrinterInfo) -> dict:
        return dict(vendor_oid=info.vendor_oid, vendor=info.vendor, model=info.model, serial=info.serial,
                    mac=info.mac, location=info.location, info=json.dumps(info.to_json(), sort_keys=True))

    def record_info(self, fleet_id: int, info: PrinterInfo, *, now: datetime | None = None) -> None:
        now = now or utcnow()
        with self.db.writer.begin() as conn:
            conn.execute(update(fleet_devices).where(fleet_devices.c.id == fleet_id).values(
                **self._info_values(info), info_at=now, last_seen_at=now))

    def approve(self, key, device_name: str, *, actor: str = "admin") -> FleetDevice:
        """Link a discovered printer to the registered device ``device_name`` (which the
        caller has just registered, as ``devices add`` does)."""
        found = self.find(key)
        with self.db.writer.begin() as conn:
            if conn.execute(select(devices.c.id).where(devices.c.name == device_name)).scalar() is None:
                raise UnknownDevice(device_name)
            conn.execute(update(fleet_devices).where(fleet_devices.c.id == found.id).values(
                state="approved", device_name=device_name))
            audit(conn, actor=actor, action="fleet.approve", target=device_name,
                  new={"address": found.address, "port": found.port, "serial": found.info.serial})
        return self.get(found.id)

    def link(self, device_name: str, address: str, port: int = 161, *, credential: str | None = None,
             actor: str = "admin") -> FleetDevice:
        """Watch a registered device at ``address:port`` (one added by hand, not found by
        a sweep): it is approved at once."""
        now = utcnow()
        with self.db.writer.begin() as conn:
            found = conn.execute(select(fleet_devices.c.id).where(
                fleet_devices.c.address == address, fleet_devices.c.port == port)).scalar()
            values = dict(state="approved", device_name=device_name, credential=credential)
            if found is None:
                found = conn.execute(insert(fleet_devices).values(
                    address=address, port=port, discovered_at=now, info="{}", **values)).inserted_primary_key[0]
            else:
                conn.execute(update(fleet_devices).where(fleet_devices.c.id == found).values(**values))
            audit(conn, actor=actor, action="fleet.link", target=device_name, new={"address": address, "port": port})
        return self.get(found)

    # -- reading ------------------------------------------------------------------------------
    def get(self, fleet_id: int) -> FleetDevice:
        with self.db.reader.connect() as conn:
            row = conn.execute(self._select().where(fleet_devices.c.id == fleet_id)).first()
        if row is None:
            raise UnknownFleetDevice(fleet_id)
        return _fleet_device(row)

    def find(self, key) -> FleetDevice:
        """By id, device name, ``ADDRESS`` (port 161) or ``ADDRESS:PORT``."""
        text = str(key)
        with self.db.reader.connect() as conn:
            query = self._select()
            if text.isdigit():
                row = conn.execute(query.where(fleet_devices.c.id == int(text))).first()
            else:
                row = conn.execute(query.where(fleet_devices.c.device_name == text)).first()
                if row is None:
                    address, _, port = text.partition(":")
                    row = conn.execute(query.where(fleet_devices.c.address == address,
                                                   fleet_devices.c.port == int(port or 161))).first() \
                        if (not port or port.isdigit()) else None
        if row is None:
            raise UnknownFleetDevice(key)
        return _fleet_device(row)

    def for_device(self, device_name: str) -> FleetDevice | None:
        with self.db.reader.connect() as conn:
            row = conn.execute(self._select().where(fleet_devices.c.device_name == device_name)).first()
        return _fleet_device(row) if row is not None else None

    def list(self, states=None) -> list[FleetDevice]:
        with self.db.reader.connect() as conn:
            query = self._select().order_by(fleet_devices.c.state, fleet_devices.c.address, fleet_devices.c.port)
            if states:
                query = query.where(fleet_devices.c.state.in_(states))
            return [_fleet_device(r) for r in conn.execute(query)]

    def due(self, kind: str, intervals: dict, *, now: datetime | None = None, limit: int = 10_000) -> list[FleetDevice]:
        """Approved devices whose ``kind`` poll ("status", "counters", "info") is due:
        ``intervals`` maps a device class ("" for the default) to seconds."""
        now = now or utcnow()
        column = {"status": "status_at", "counters": "counters_at", "info": "info_at"}[kind]
        default = intervals.get("", 600)
        due = []
        for device in self.list(states=("approved",)):
            last = getattr(device, column)
            seconds = intervals.get(device.device_class, default)
            if last is None or last + timedelta(seconds=seconds) <= now:
                due.append(device)
            if len(due) >= limit:
                break
        return due

    # -- status ---------------------------------------------------------------------------------
    def record_status(self, fleet_id: int, status: PrinterStatus, *, now: datetime | None = None) -> HealthChange:
        """Store a status poll (and a history row). A change of health, and every new
        critical or warning alert, becomes an event."""
        now = now or utcnow()
        health, reason = judge(status)
        with self.db.writer.begin() as conn:
            row = conn.execute(select(fleet_devices.c.health, fleet_devices.c.alerts)
                               .where(fleet_devices.c.id == fleet_id)).first()
            if row is None:
                raise UnknownFleetDevice(fleet_id)
            known = {(a["code"], a["description"]) for a in json.loads(row.alerts)}
            values = dict(health=health, health_reason=reason, printer_status=status.printer_status,
                          errors=json.dumps(list(status.errors)), alerts=_dumps(status.alerts),
                          supplies=_dumps(status.supplies), status_at=now, last_seen_at=now)
            if status.counters is not None:
                values.update(life_count=status.counters.life_count, counter_unit=status.counters.unit)
            conn.execute(update(fleet_devices).where(fleet_devices.c.id == fleet_id).values(**values))
            conn.execute(insert(fleet_status_history).values(
                fleet_device_id=fleet_id, at=now, health=health, printer_status=status.printer_status,
                errors=values["errors"], alerts=values["alerts"], supplies=values["supplies"]))
            for alert in status.alerts:
                if (alert.code, alert.description) not in known:
                    conn.execute(insert(fleet_events).values(
                        fleet_device_id=fleet_id, at=now, kind="alert", severity=alert.severity, code=alert.code,
                        description=(alert.description or alert.code_name)[:255], source="poll"))
            if row.health != health:
                conn.execute(insert(fleet_events).values(
                    fleet_device_id=fleet_id, at=now, kind="health", severity=health, code=None,
                    description=f"{row.health} -> {health}" + (f": {reason}" if reason else "")[:200], source="poll"))
        return HealthChange(row.health, health, reason)

    def record_unreachable(self, fleet_id: int, reason: str, *, now: datetime | None = None) -> HealthChange:
        now = now or utcnow()
        with self.db.writer.begin() as conn:
            old = conn.execute(select(fleet_devices.c.health).where(fleet_devices.c.id == fleet_id)).scalar()
            conn.execute(update(fleet_devices).where(fleet_devices.c.id == fleet_id).values(
                health="unreachable", health_reason=reason[:255], status_at=now))
            if old != "unreachable":
                conn.execute(insert(fleet_events).values(
                    fleet_device_id=fleet_id, at=now, kind="health", severity="unreachable",
                    description=f"{old} -> unreachable: {reason}"[:255], source="poll"))
        return HealthChange(old, "unreachable", reason)

    def record_event(self, fleet_id: int, *, kind: str, severity: str = "", code: int | None = None,
                     description: str = "", source: str = "", health: str | None = None,
                     now: datetime | None = None) -> HealthChange | None:
        """An event from outside a poll (a trap): stored at once; ``health`` (if given)
        becomes the device's health until the next status poll says otherwise, and the
        change is returned (None without ``health``)."""
        now = now or utcnow()
        with self.db.writer.begin() as conn:
            conn.execute(insert(fleet_events).values(fleet_device_id=fleet_id, at=now, kind=kind, severity=severity,
                                                     code=code, description=description[:255], source=source[:64]))
            if health is None:
                return None
            old = conn.execute(select(fleet_devices.c.health).where(fleet_devices.c.id == fleet_id)).scalar()
            conn.execute(update(fleet_devices).where(fleet_devices.c.id == fleet_id).values(
                health=health, health_reason=description[:255], last_seen_at=now))
        return HealthChange(old, health, description[:255])

    def events(self, key=None, *, limit: int = 50) -> list[dict]:
        with self.db.reader.connect() as conn:
            query = (select(fleet_events, fleet_devices.c.device_name, fleet_devices.c.address, fleet_devices.c.port)
                     .join(fleet_devices, fleet_devices.c.id == fleet_events.c.fleet_device_id)
                     .order_by(fleet_events.c.id.desc()).limit(limit))
            if key is not None:
                query = query.where(fleet_events.c.fleet_device_id == self.find(key).id)
            return [{"at": aware(r.at).isoformat(), "device": r.device_name or f"{r.address}:{r.port}", "kind": r.kind,
                     "severity": r.severity, "code": r.code, "description": r.description, "source": r.source}
                    for r in conn.execute(query)]

    def by_address(self, address: str) -> list[FleetDevice]:
        with self.db.reader.connect() as conn:
            return [_fleet_device(r) for r in conn.execute(self._select().where(fleet_devices.c.address == address))]

    # -- release gate -----------------------------------------------------------------------------
    def release_block(self, device_name: str, *, block: bool = True, alternatives: int = 3) -> ReleaseBlock | None:
        """None when ``device_name`` may print (unknown to the fleet, or healthy enough);
        else why not, with up to ``alternatives`` healthy devices of the same class,
        nearest first (longest shared location prefix)."""
        here = self.for_device(device_name)
        if here is None or here.health not in BLOCKING_HEALTH:
            return None
        with self.db.reader.connect() as conn:
            mine = conn.execute(select(devices.c.device_class, devices.c.location)
                                .where(devices.c.name == device_name)).first()
            rows = conn.execute(
                select(devices.c.name, devices.c.location, fleet_devices.c.health)
                .outerjoin(fleet_devices, fleet_devices.c.device_name == devices.c.name)
                .where(devices.c.enabled.is_(True), devices.c.name != device_name,
                       devices.c.device_class == (mine.device_class if mine else ""))).all()
        location = (mine.location if mine else "") or here.info.location
        healthy = [(r.name, r.location) for r in rows if r.health in ("ok", "warning")]
        healthy.sort(key=lambda item: (-location_affinity(location, item[1]), item[0]))
        return ReleaseBlock(device=device_name, health=here.health, reason=here.health_reason or here.health,
                            blocked=block, alternatives=tuple(healthy[:alternatives]))

    # -- retention -------------------------------------------------------------------------------
    def purge(self, cutoff: datetime, *, batch: int = 5_000) -> dict:
        counts = {"fleet_events": 0, "fleet_status_history": 0}
        for name, table in (("fleet_events", fleet_events), ("fleet_status_history", fleet_status_history)):
            while True:
                with self.db.writer.begin() as conn:
                    ids = list(conn.execute(select(table.c.id).where(table.c.at < cutoff).limit(batch)).scalars())
                    if not ids:
                        break
                    counts[name] += conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount
        return counts
