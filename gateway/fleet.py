"""The fleet in the running gateway: polls approved printers on their schedules (status,
counters, information; per device class), receives traps (with the credentials stored
now, read again at every tick), tells the admins of printers falling into error or
warning (``gateway.fleet_alerts``), sweeps the configured targets, reads meters per
billing period, exports printer data, and purges fleet history past retention.

SNMP runs on the asyncio loop under the reactor (``asyncioreactor``); database work runs
in the reactor's thread pool (``db``). One ``LoopingCall`` ticks every ``TICK`` seconds (more
often when a status schedule is shorter than two minutes) and polls what is due, at most ``max_concurrent_polls`` devices at once, so a fleet of
thousands never floods the reactor nor the network."""
from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from accounting.fleet import Fleet
from gateway.fleet_alerts import PrinterAlerts
from gateway.fleet_discovery import discover
from gateway.fleet_export import export_name, write_printer_export
from spooler.config import FleetConfig
from spooler.snmp import printer_mib
from spooler.snmp.client import Agent, SnmpClient
from spooler.snmp.errors import SnmpError
from spooler.snmp.reads import read_counters, read_info, read_status
from spooler.snmp.traps import TrapReceiver, bind_udp

log = Logger()

TICK = 30.0
#: (standard, fallback) trap ports, as the other listeners have.
TRAP_PORTS = (162, 10162)


def as_deferred(coroutine) -> Deferred:
    return Deferred.fromFuture(asyncio.ensure_future(coroutine))


def period_start(now: datetime, period: str, zone: str = "UTC") -> datetime:
    """The start (UTC) of the billing period holding ``now``, in the zone ``zone``."""
    local = now.astimezone(ZoneInfo(zone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "weekly":
        day -= timedelta(days=day.weekday())
    elif period == "monthly":
        day = day.replace(day=1)
    return day.astimezone(timezone.utc)


class FleetService:
    def __init__(self, core, config: FleetConfig, *, reactor=None, threadpool=None, db=None, zone: str = "UTC",
                 retention_days: int | None = None, notices=None):
        """``db(function, *args)`` runs blocking work and returns an awaitable; by
        default the reactor's thread pool. ``notices`` (``gateway.mail.notices.Notices``)
        tells the admins of printers falling into error or warning; without it, nobody."""
        self.core = core
        self.config = config
        self.reactor = reactor
        self.zone = zone
        self.retention_days = retention_days or core.settings.retention_days
        self.fleet = Fleet(core.database, lambda: core.secrets)
        if db is None:
            pool = threadpool if threadpool is not None else reactor.getThreadPool()

            def db(function, *args, **kwargs):
                return deferToThreadPool(reactor, pool, function, *args, **kwargs).asFuture(
                    asyncio.get_event_loop())
        self.db = db
        self.alerts = PrinterAlerts(notices, core.notices, db)
        self.client = SnmpClient(timeout=config.timeout, retries=config.retries)
        self.credentials: list = []
        self.traps: TrapReceiver | None = None
        self.trap_counts = {"accepted": 0, "unknown_sender": 0, "wrong_credentials": 0}
        self._loops: list = []
        self._semaphore = None
        self._busy: set = set()
        self._export_call = None  # the jittered start of the next export

    # -- plumbing -----------------------------------------------------------------------------
    def db_deferred(self, function, *args, **kwargs) -> Deferred:
        """Blocking ``function`` in the thread pool, as a Deferred (for Twisted callers)."""
        return as_deferred(self._awaited(function, *args, **kwargs))

    async def _awaited(self, function, *args, **kwargs):
        return await self.db(function, *args, **kwargs)

    def vendor_counters(self, vendor_oid: str) -> dict | None:
        _, number = printer_mib.vendor_of(vendor_oid)
        if number is None:
            return None
        return self.config.vendor_counters.get(str(number)) or printer_mib.DEFAULT_VENDOR_COUNTERS.get(number)

    def credential_for(self, device):
        by_name = {c.name: c for c in self.credentials}
        return by_name.get(device.credential) or (self.credentials[0] if self.credentials else None)

    def intervals(self, kind: str) -> dict:
        found = {"": getattr(self.config.schedule, kind)}
        for name, schedule in self.config.classes.items():
            found[name] = getattr(schedule, kind)
        return found

    async def load_credentials(self):
        """The stored credentials, read again at every poll tick (and sweep) for the
        polls, and handed to the trap receiver: one added, changed or removed with
        ``printgate devices credentials`` while the gateway runs counts for traps within
        a tick, without a restart. (Reading them is a few rows; unchanged, the receiver
        touches nothing.)"""
        self.credentials = await self.db(self.fleet.credentials.load)
        if self.traps is not None:
            added, removed = self.traps.use_credentials(self.credentials)
            if added or removed:
                log.info("Traps now accepted with credential(s) {added}; no longer with {removed}",
                         added=", ".join(added) or "-", removed=", ".join(removed) or "-")
        return self.credentials

    # -- polls ----------------------------------------------------------------------------------
    async def _limited(self, coroutine):
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.config.max_concurrent_polls)
        async with self._semaphore:
            return await coroutine

    async def poll_status(self, device) -> str | None:
        credential = self.credential_for(device)
        if credential is None:
            return None
        agent = Agent(device.address, device.port)
        try:
            status = await read_status(self.client, agent, credential, hr_index=device.info.hr_index,
                                       marker_index=device.info.marker_index, max_rows=self.config.max_rows)
        except SnmpError as exc:
            change = await self.db(self.fleet.inventory.record_unreachable, device.id, str(exc))
        else:
            change = await self.db(self.fleet.inventory.record_status, device.id, status)
        if change.changed:
            log.info("Printer {device} is now {health} (was {old})", device=device.label, health=change.new,
                     old=change.old)
            await self.alerts.health_changed(device, change)
        return change.new

    async def poll_counters(self, device, *, reason: str = "poll", period=None):
        credential = self.credential_for(device)
        if credential is None:
            return None
        try:
            counters = await read_counters(self.client, Agent(device.address, device.port), credential,
                                           hr_index=device.info.hr_index, marker_index=device.info.marker_index,
                                           vendor=self.vendor_counters(device.info.vendor_oid))
        except SnmpError as exc:
            log.info("Counters of {device} not read: {reason}", device=device.label, reason=str(exc))
            return None
        read = await self.db(self.fleet.meters.record_read, device.id, counters, reason=reason, period_start=period)
        if read.flag:
            log.warn("Counter of {device} flagged ({flag}): {count}", device=device.label, flag=read.flag,
                     count=counters.life_count)
        return read

    async def poll_info(self, device):
        credential = self.credential_for(device)
        if credential is None:
            return None
        try:
            info = await read_info(self.client, Agent(device.address, device.port), credential,
                                   max_rows=self.config.max_rows)
        except SnmpError as exc:
            log.info("Information of {device} not read: {reason}", device=device.label, reason=str(exc))
            return None
        await self.db(self.fleet.inventory.record_info, device.id, info)
        if self.traps is not None:
            self.traps.trust_engine(info.engine_id)
        return info

    async def run_due(self, now: datetime | None = None) -> dict:
        """Poll everything due now; returns how many polls of each kind ran."""
        await self.load_credentials()
        done = {}
        for kind, poll in (("info", self.poll_info), ("status", self.poll_status),
                           ("counters", self.poll_counters)):
            due = await self.db(self.fleet.inventory.due, kind, self.intervals(kind), now=now)
            due = [d for d in due if (kind, d.id) not in self._busy]
            for device in due:
                self._busy.add((kind, device.id))

            async def one(device, poll=poll, kind=kind):
                try:
                    await self._limited(poll(device))
                finally:
                    self._busy.discard((kind, device.id))
            await asyncio.gather(*(one(d) for d in due))
            done[kind] = len(due)
        if self.config.meter_read_period != "off":
            done["period"] = await self.period_reads(now)
        if any(done.values()):
            log.info("Fleet poll: {info} information, {status} status, {counters} counter read(s), {period} "
                     "period meter read(s)", info=done["info"], status=done["status"], counters=done["counters"],
                     period=done.get("period", 0))
        self._count_refused_traps()
        return done

    def _count_refused_traps(self) -> None:
        """Traps pysnmp refused (wrong community, user, key or engine; undecodable) are
        counted there; say so at the next trap that passes, or poll tick, when the count
        grew."""
        if self.traps is None:
            return
        refused = self.traps.dropped_credentials()
        if refused > self.trap_counts["wrong_credentials"]:
            log.warn("{new} trap(s) with wrong credentials or undecodable dropped ({count} so far)",
                     new=refused - self.trap_counts["wrong_credentials"], count=refused)
            self.trap_counts["wrong_credentials"] = refused

    async def period_reads(self, now: datetime | None = None) -> int:
        """The automated meter read: one per approved device and billing period."""
        start = period_start(now or datetime.now(timezone.utc), self.config.meter_read_period, self.zone)
        devices = await self.db(self.fleet.inventory.list, ("approved",))
        missing = [d for d in devices if await self.db(self.fleet.meters.period_read_missing, d.id, start)]
        await asyncio.gather(*(self._limited(self.poll_counters(d, reason="period", period=start)) for d in missing))
        return len(missing)

    # -- traps ----------------------------------------------------------------------------------
    def on_trap(self, trap) -> None:
        self._count_refused_traps()
        as_deferred(self._handle_trap(trap)).addErrback(lambda f: log.failure("Handling a trap failed", f))

    async def _handle_trap(self, trap):
        devices = await self.db(self.fleet.inventory.by_address, trap.address)
        if not devices:
            self.trap_counts["unknown_sender"] += 1
            log.warn("Trap from unknown sender {address} dropped ({count} so far)", address=trap.address,
                     count=self.trap_counts["unknown_sender"])
            return
        self.trap_counts["accepted"] += 1
        device = devices[0]
        health = None
        if trap.kind == "printer-alert" and trap.severity == "critical":
            health = "error"
        change = await self.db(partial(self.fleet.inventory.record_event, device.id, kind=f"trap:{trap.kind}",
                                       severity=trap.severity, code=trap.code, description=trap.description,
                                       source=f"trap {trap.address}", health=health))
        log.info("Trap from {device}: {kind} {severity} {description}", device=device.label, kind=trap.kind,
                 severity=trap.severity, description=trap.description)
        await self.alerts.health_changed(device, change)
        if trap.kind in ("printer-alert", "link-up", "cold-start") and device.state == "approved":
            fresh = await self.db(self.fleet.inventory.get, device.id)
            await self._limited(self.poll_status(fresh))

    def listen_traps(self, bind: str = ""):
        """Bind the trap port (configured, else 162, else 10162); returns (port, note) or
        None when traps are off."""
        configured = self.config.trap_port
        if configured == 0:
            return None
        address = bind or "0.0.0.0"
        if configured is not None:
            sock, note = bind_udp(address, configured), ""
        else:
            try:
                sock, note = bind_udp(address, TRAP_PORTS[0]), ""
            except OSError as exc:
                sock = bind_udp(address, TRAP_PORTS[1])
                note = f"port {TRAP_PORTS[0]} unavailable ({exc.strerror or exc}), using {TRAP_PORTS[1]}"
        credentials = self.fleet.credentials.load()
        self.credentials = credentials
        self.traps = TrapReceiver(credentials, self.on_trap)
        for device in self.fleet.inventory.list():
            self.traps.trust_engine(device.info.engine_id)
        self.traps.listen(sock)
        return sock.getsockname()[1], note

    # -- scheduled discovery and export --------------------------------------------------------
    async def sweep(self):
        credentials = await self.load_credentials()
        if not credentials or not self.config.discovery_targets:
            return None

        async def record(probe, info):
            device = await self.db(self.fleet.inventory.record_discovery, probe, info)
            return device, device.discovered_at == device.last_seen_at

        summary = await discover(self.config.discovery_targets, credentials=credentials,
                                 coefficient=self.config.discovery_coefficient, timeout=self.config.timeout,
                                 retries=self.config.retries, port=self.config.discovery_port,
                                 max_rows=self.config.max_rows, record=record)
        for line in summary.lines():
            log.info("Discovery: {line}", line=line)
        return summary

    def export_now(self) -> Path:
        """Write the export file atomically into the export directory (blocking)."""
        fmt = self.config.export_format
        target = Path(self.config.export_directory) / export_name("printers", fmt, datetime.now(timezone.utc))
        return write_printer_export(self.fleet.inventory, fmt, target)

    def _scheduled_export(self):
        """Each run waits a random part of the jitter window first, so gateways that
        share an export server do not all arrive at once."""
        delay = random.uniform(0, self.config.export_jitter_minutes * 60)
        log.info("Printer export starts in {delay:.0f} s (jitter)", delay=delay)

        def run():
            self._export_call = None
            d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self.export_now)
            d.addCallbacks(lambda path: log.info("Printer data exported to {path}", path=str(path)),
                           lambda f: log.failure("Printer export failed", f))
        self._export_call = self.reactor.callLater(delay, run)

    def _purge(self):
        cutoff = datetime.now(timezone.utc) - timedelta(days=self.retention_days)
        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self.fleet.purge, cutoff)

    # -- life -------------------------------------------------------------------------------------
    def start(self) -> None:
        def loop(interval, function, what, now=True):
            call = LoopingCall(function)
            call.clock = self.reactor
            call.start(interval, now=now).addErrback(lambda f: log.failure(f"{what} stopped", f))
            self._loops.append(call)

        first_poll = Deferred()

        def tick():
            polled = as_deferred(self.run_due()).addErrback(lambda f: log.failure("Fleet poll failed", f))
            if not first_poll.called:
                polled.addBoth(lambda result: first_poll.callback(None) or result)
            return polled

        shortest = min([self.config.schedule.status] + [c.status for c in self.config.classes.values()])
        loop(max(1.0, min(TICK, shortest / 4)), tick, "fleet polling")
        loop(24 * 3600, self._purge, "fleet retention")
        if self.config.discovery_targets:
            loop(self.config.discovery_every_hours * 3600,
                 lambda: as_deferred(self.sweep()).addErrback(lambda f: log.failure("Discovery failed", f)),
                 "discovery")
        if self.config.export_directory:
            # The first export carries what the first poll found, not what was known before it.
            first_poll.addCallback(lambda _: loop(self.config.export_every_hours * 3600, self._scheduled_export,
                                                  "printer export"))

    def stop(self) -> None:
        for call in self._loops:
            if call.running:
                call.stop()
        self._loops.clear()
        if self._export_call is not None and self._export_call.active():
            self._export_call.cancel()
        self.client.close()
        if self.traps is not None:
            self.traps.close()
