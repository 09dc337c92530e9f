"""What the fleet adds to a release at the panel (issue 17): the ``DeviceChecks`` of
``gateway.release_checks``, three calls the release use case makes:

- ``check_release(device)`` before anything is reserved: a device in error refuses the
  release (``[fleet] release_to_errored_device = "block"``, the default) with a message
  naming the nearest healthy device of the same class, or lets it through
  (``"allow"``). ``panel_note(device)`` says the same on the job list.
- ``release_started(job, device)`` just before the job is sent: reads the page counter
  (the baseline) while the job travels, without delaying it, and returns a watch.
- ``watch.printed()`` once the device took the job: reads the counter until it settles
  (``settle_seconds``, at most ``settle_timeout``), then records expected against counted
  impressions; a shortfall is refunded per configuration through the ledger's
  ``refund_shortfall``. ``watch.abandoned()`` when nothing printed.

Printing is never serialised: two jobs whose watches overlap on one device cannot be
told apart on its counter, so both are recorded as "concurrent" and neither judged; the
same when the device was already printing (a copy, another server's job) at the
baseline."""
from __future__ import annotations

import asyncio
from functools import partial

from twisted.logger import Logger

from accounting.fleet.meters import expected_count
from accounting.fleet.records import Counters
from accounting.pricing import job_shape
from spooler.snmp.client import Agent
from spooler.snmp.errors import SnmpError
from spooler.snmp.reads import read_printer_state
from gateway.fleet import as_deferred

log = Logger()


def refusal_message(block) -> str:
    reason = block.reason or "an error"
    message = f"This printer reports an error ({reason})."
    if block.alternatives:
        nearest = ", ".join(f"{name}" + (f" ({location})" if location else "") for name, location in block.alternatives)
        message += f" Please print at {nearest}."
    return message + (" Nothing was charged." if block.blocked else "")


class FleetRelease:
    def __init__(self, service):
        self.service = service  # gateway.fleet.FleetService
        self.config = service.config
        self.inventory = service.fleet.inventory
        self._active: dict[str, set] = {}

    # -- the gate ---------------------------------------------------------------------------------
    def check_release(self, device_name: str):
        """Deferred[str | None]: the message refusing the release, or None to go on."""
        blocking = self.config.release_to_errored_device == "block"

        def check():
            block = self.inventory.release_block(device_name, block=blocking)
            if block is None:
                return None
            log.info("Release at {device} {what}: {reason}", device=device_name,
                     what="refused" if blocking else "allowed despite an error", reason=block.reason)
            return refusal_message(block) if blocking else None
        return self.service.db_deferred(check)

    def panel_note(self, device_name: str) -> tuple[str, bool] | None:
        """(note, printable) for the job list at ``device_name``; blocking, for a thread."""
        block = self.inventory.release_block(device_name, block=self.config.release_to_errored_device == "block")
        if block is None:
            return None
        return refusal_message(block), not block.blocked

    # -- meter watch --------------------------------------------------------------------------------
    def release_started(self, job, device_name: str):
        """Deferred[MeterWatch], once the counter has been read before the job is sent
        (the baseline): at most ``[fleet] timeout`` seconds, so a printer silent on SNMP
        delays the person at it by that much at worst."""
        watch = MeterWatch(self, job, device_name)
        others = self._active.setdefault(device_name, set())
        if others:
            watch.concurrent = True
            for other in others:
                other.concurrent = True
        others.add(watch)
        return as_deferred(watch.read_baseline())

    def finished(self, watch) -> None:
        watchers = self._active.get(watch.device_name)
        if watchers is not None:
            watchers.discard(watch)
            if not watchers:
                del self._active[watch.device_name]


#: hrPrinterStatus values of a printer at work on something.
BUSY = ("printing", "warmup")


class MeterWatch:
    def __init__(self, owner: FleetRelease, job, device_name: str):
        self.owner = owner
        self.service = owner.service
        self.job = job
        self.device_name = device_name
        self.concurrent = False
        self.device = None
        self.baseline: tuple[str, int | None] | None = None  # (hrPrinterStatus, life count) before sending
        self.note = ""
        self.done = None  # Deferred of the recorded JobMeterCheck (or None)

    async def read_baseline(self) -> "MeterWatch":
        """Never fails: the job is sent whatever happens here (unwatched at worst)."""
        try:
            self.device = await self.service.db(self.owner.inventory.for_device, self.device_name)
        except Exception:  # noqa: BLE001 - the database may fail in any way; the release goes on
            log.failure("Meter watch of job {job_id}: the printer could not be looked up", job_id=self.job.id)
            return self
        if self.device is None or self.device.state != "approved" or self.device.health == "unreachable":
            return self
        try:
            self.baseline = await asyncio.wait_for(self._state(), self.service.config.timeout)
        except asyncio.TimeoutError:
            self.note = "no counter read before the job was sent"
        return self

    async def _state(self):
        if not self.service.credentials:
            await self.service.load_credentials()
        credential = self.service.credential_for(self.device)
        if credential is None:
            return None
        try:
            return await read_printer_state(self.service.client, Agent(self.device.address, self.device.port),
                                            credential, hr_index=self.device.info.hr_index,
                                            marker_index=self.device.info.marker_index)
        except SnmpError:
            return None

    def abandoned(self):
        self.owner.finished(self)

    def printed(self):
        self.done = as_deferred(self._reconcile())
        self.done.addErrback(lambda f: log.failure("Meter check of job {job_id} failed", f, job_id=self.job.id))
        return self.done

    async def _reconcile(self):
        if self.device is None or self.device.state != "approved":
            self.owner.finished(self)
            return None
        before = self.baseline[1] if self.baseline else None
        expected = expected_count(self._shape(), self.device.counter_unit)
        try:
            after, note = await self._settle(before, expected)
        finally:
            self.owner.finished(self)
        if self.baseline and self.baseline[0] in BUSY:
            self.concurrent = True  # something else was printing when the job was sent
        outcome = "concurrent" if self.concurrent else None
        if after is not None:
            await self.service.db(partial(self.service.fleet.meters.record_read, self.device.id,
                                          Counters(after, self.device.counter_unit), reason="release"))
        note = "; ".join(n for n in (self.note, note) if n)
        check = await self.service.db(partial(
            self.service.fleet.meters.record_check, self.job.id, self.device_name, expected=expected, before=before,
            after=after, outcome=outcome, note=note, refund=self.service.core.refund_shortfall,
            refund_shortfalls=self.service.config.refund_shortfalls))
        level = log.warn if check.outcome in ("shortfall", "implausible") else log.info
        level("Job {job_id} at {device}: expected {expected}, counted {counted} ({outcome}){refund}",
              job_id=self.job.id, device=self.device_name, expected=expected, counted=check.counted,
              outcome=check.outcome, refund=f", refunded {check.refunded}" if check.refunded else "")
        return check

    def _shape(self):
        job = self.job
        if not job.facts:
            return None
        return job_shape(job.facts, copies_requested=job.copies_requested, color_mode=job.color_mode, sides=job.sides,
                         changes=job.decision_changes or {}, unknown_pages=1)

    async def _settle(self, before: int | None, expected: int | None):
        """Read the counter every ``settle_seconds`` until two reads agree while the
        printer is neither printing nor warming up — and, when the job should move the
        counter, once it has moved (a printer slow to start is not a shortfall). At most
        ``settle_timeout``: a counter that never moved by then (the job was cancelled at
        the printer) is taken as it stands; one that could not be read is None."""
        config = self.service.config
        loop = asyncio.get_event_loop()
        deadline = loop.time() + config.settle_timeout
        last = None
        must_move = before is not None and bool(expected)
        while loop.time() < deadline:
            await asyncio.sleep(config.settle_interval)
            state = await self._state()
            if state is None:
                continue
            status, count = state
            if count is not None and count == last and status not in BUSY and not (must_move and count == before):
                return count, ""
            last = count
        if must_move and last == before:
            return last, f"the counter did not move within {config.settle_timeout:g} s"
        return None, f"the counter did not settle within {config.settle_timeout:g} s"
