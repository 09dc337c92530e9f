"""Devices: the printers jobs are released to, with what they can do and the price list
that applies to jobs printed on them."""
from __future__ import annotations

import json

from sqlalchemy import insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import UnknownDevice, UnknownPriceList
from accounting.records import Device
from accounting.schema import devices, price_lists, queues
from accounting.time import utcnow


class DeviceStore:
    def __init__(self, database: Database):
        self.db = database

    def add(self, name: str, *, model: str = "", serial: str = "", mac: str = "", location: str = "",
            device_class: str = "", color: bool = False, duplex: bool = False, media=(), protocol: str = "ipp",
            endpoint: str = "", price_list: str | None = None, queue: str | None = None,
            credential_secret: str | None = None, actor: str = "admin") -> Device:
        with self.db.writer.begin() as conn:
            list_id = self._price_list_id(conn, price_list)
            queue_id = conn.execute(select(queues.c.id).where(queues.c.name == queue)).scalar() if queue else None
            conn.execute(insert(devices).values(
                name=name, model=model, serial=serial, mac=mac, location=location, device_class=device_class,
                color=color, duplex=duplex, media=json.dumps(list(media)), protocol=protocol, endpoint=endpoint,
                price_list_id=list_id, queue_id=queue_id, credential_secret=credential_secret, enabled=True,
                created_at=utcnow()))
            audit(conn, actor=actor, action="device.add", target=name,
                  new={"model": model, "endpoint": endpoint, "price_list": price_list, "class": device_class})
        return self.get(name)

    @staticmethod
    def _price_list_id(conn, name):
        if name is None:
            return None
        found = conn.execute(select(price_lists.c.id).where(price_lists.c.name == name)).scalar()
        if found is None:
            raise UnknownPriceList(name)
        return found

    def set_price_list(self, name: str, price_list: str | None, *, actor: str = "admin") -> Device:
        with self.db.writer.begin() as conn:
            list_id = self._price_list_id(conn, price_list)
            if conn.execute(update(devices).where(devices.c.name == name).values(price_list_id=list_id)).rowcount != 1:
                raise UnknownDevice(name)
            audit(conn, actor=actor, action="device.price-list", target=name, new=price_list)
        return self.get(name)

    #: What ``update`` may change (``printgate devices edit``).
    EDITABLE = ("model", "location", "device_class", "color", "duplex", "protocol", "endpoint", "price_list")

    def update(self, name: str, *, actor: str = "admin", **changes) -> Device:
        """Change what is known about a device (keys from ``EDITABLE``; ``price_list``
        None: the queue's). Its id and panel credential stay."""
        unknown = set(changes) - set(self.EDITABLE)
        if not changes:
            raise ValueError("nothing to change")
        if unknown:
            raise ValueError(f"a device has no editable {', '.join(sorted(unknown))}")
        values = {k: v for k, v in changes.items() if k != "price_list"}
        with self.db.writer.begin() as conn:
            if "price_list" in changes:
                values["price_list_id"] = self._price_list_id(conn, changes["price_list"])
            if conn.execute(update(devices).where(devices.c.name == name).values(**values)).rowcount != 1:
                raise UnknownDevice(name)
            audit(conn, actor=actor, action="device.edit", target=name, new=changes)
        return self.get(name)

    def _select(self):
        return device_select()

    def get(self, name: str) -> Device:
        with self.db.reader.connect() as conn:
            row = conn.execute(self._select().where(devices.c.name == name)).first()
        if row is None:
            raise UnknownDevice(name)
        return _device(row)

    def list(self) -> list[Device]:
        with self.db.reader.connect() as conn:
            return [_device(r) for r in conn.execute(self._select().order_by(devices.c.name))]


def device_select():
    """Devices with the names of their price list and queue (rows for ``_device``)."""
    return (select(devices, price_lists.c.name.label("price_list_name"), queues.c.name.label("queue_name"))
            .outerjoin(price_lists, price_lists.c.id == devices.c.price_list_id)
            .outerjoin(queues, queues.c.id == devices.c.queue_id))


def _device(r) -> Device:
    return Device(id=r.id, name=r.name, model=r.model, serial=r.serial, mac=r.mac, location=r.location,
                  device_class=r.device_class, color=r.color, duplex=r.duplex, media=json.loads(r.media),
                  protocol=r.protocol, endpoint=r.endpoint, price_list=r.price_list_name, queue=r.queue_name,
                  enabled=r.enabled)
