"""Process wiring: one reactor, the data directory, the database, the spool and the
listeners. ``Gateway.start`` is what ``printgate serve`` runs."""
from __future__ import annotations

import socket
from dataclasses import dataclass

from twisted.internet.defer import DeferredList, inlineCallbacks, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from accounting.database import sqlite_url
from accounting.core import AccountingSettings
from accounting.errors import AccountingError
from accounting.service import AccountingService
from spooler.config import DEFAULT_PORTS, GatewayConfig
from spooler.group_commit import GroupCommitter
from spooler.intake import IntakePipeline, admission
from spooler.lpd.protocol import LpdFactory
from gateway.notify import Notifier, SmtpSettings
from spooler.raw.protocol import RawFactory
from spooler.spool import SpoolStore

#: Plain-HTTP port that only redirects to HTTPS: (standard, fallback). It listens only
#: when HTTPS is on its standard/fallback port and ``ports["http"]`` is not 0; a
#: deployment (or test) that chooses its HTTPS port chooses the HTTP one too, or none.
HTTP_REDIRECT_PORTS = (80, 10080)

log = Logger()


@dataclass
class Listener:
    name: str
    port: object  # IListeningPort
    address: str
    number: int
    note: str = ""


class Gateway:
    def __init__(self, config: GatewayConfig, *, reactor):
        self.config = config
        self.reactor = reactor
        self.listeners: list[Listener] = []
        self.factories = {}
        self._pending_notifications: dict[int, list] = {}
        self._sync_commits = None

    def open_storage(self) -> None:
        """Database, spool and committer; removes what a crash may have left behind."""
        config = self.config
        self.spool = SpoolStore.open(config.data_dir, key_file=config.spool_key_file, max_job_size=config.max_job_size)
        url = config.database_url or sqlite_url(config.data_dir)
        settings = AccountingSettings(secrets_key_file=config.data_dir / "secrets.key", timezone=config.timezone)
        self.accounting = AccountingService.open(
            url, reactor=self.reactor, threadpool=self.reactor.getThreadPool(), queues=list(config.queues),
            settings=settings,
        )
        self.accounting.jobs.ensure_queues(
            list(config.queues), expire_minutes={name: round(q.expire_hours * 60) for name, q in config.queues.items()}
        )
        jobs, node = self.accounting.jobs, self.spool.node
        self.spool.attach_database(lambda name: jobs.spool_blob(name, node), lambda: jobs.spool_blob_names(node))
        temporaries = self.spool.clean_temporaries()
        orphans = self.spool.remove_orphans(self.accounting.jobs.live_spool_names())
        if temporaries or orphans:
            log.info("removed {temporaries} unfinished receive(s) and {orphans} unrecorded spool file(s) left by a crash",
                     temporaries=temporaries, orphans=orphans)
        self.recover_interrupted_releases()
        self.notifier = self.build_notifier()
        # On SQLite, a group's commit does not wait for the disk; the committer's sync
        # thread makes it durable before anyone is told (``SerializedWriter``).
        self._sync_commits = getattr(self.accounting.database.writer, "sync_commits", None)
        self.committer = GroupCommitter(
            reactor=self.reactor, record_jobs=self._record_jobs, jobs_dir=self.spool.jobs_dir,
            admit=admission(self.accounting.core.decide), admission_scope=self.accounting.core.owners_read_once,
            sync_commits=self._sync_commits, unrecord=self._unrecord,
        )
        self.intake = IntakePipeline(config=config, spool=self.spool, committer=self.committer,
                                     on_recorded=self._jobs_recorded)

    def build_notifier(self) -> Notifier:
        notify = self.config.notify
        smtp = None
        if notify.smtp_host:
            smtp = SmtpSettings(host=notify.smtp_host, port=notify.smtp_port, starttls=notify.smtp_starttls,
                                user=notify.smtp_user, password=notify.smtp_password, mail_from=notify.mail_from,
                                ca_file=str(notify.smtp_ca_file) if notify.smtp_ca_file else None)

        def email_of(username):
            def unknown(failure):
                failure.trap(AccountingError)
                return None

            return self.accounting.get_user(username).addCallbacks(lambda user: user.email or None, unknown)

        return Notifier(self.reactor, smtp=smtp, notify_owner_on_expiry=notify.notify_owner_on_expiry,
                        lookup_email=email_of)

    def _record_jobs(self, new_jobs):
        """In the committing thread: record, and keep what each job's decision asked to be
        notified until the job has been acknowledged (``_jobs_recorded``)."""
        held = self.accounting.jobs.record_jobs(new_jobs, sync=self._sync_commits is None)
        for new_job, job in zip(new_jobs, held):
            if new_job.decision is not None and new_job.decision.notify:
                self._pending_notifications[job.id] = list(new_job.decision.notify)
        return held

    def _unrecord(self, jobs) -> None:
        """Jobs recorded whose commit could not be made durable: their senders are told
        they failed, so they must not stay held (and be printed, or charged)."""
        for job in jobs:
            self._pending_notifications.pop(job.id, None)
            self.accounting.jobs.change_state(job.id, "deleted", actor="gateway", expect=("held",),
                                              reason="not stored: the database could not be made durable")

    def _jobs_recorded(self, jobs) -> None:
        for job in jobs:
            entries = self._pending_notifications.pop(job.id, None)
            if entries:
                self.notifier.job_recorded(job, entries)

    def recover_interrupted_releases(self) -> None:
        """Jobs this node was releasing when it stopped go back on hold, uncharged: the
        printer's acceptance was never confirmed, and money is only taken for that."""
        ours = self.spool.spool_names()
        for job in self.accounting.jobs.list_jobs(states=("releasing",)):
            if job.spool_name in ours:
                self.accounting.core.fail_release(
                    job.id, "the gateway stopped during the release; nothing was charged", actor="gateway-start")
                log.warn("job {job_id} of {owner} was being released when the gateway stopped: held again, "
                         "nothing charged", job_id=job.id, owner=job.owner)

    def start_housekeeping(self) -> None:
        """Expire held jobs (deleting their spool files) every minute, and purge history
        past its retention once a day."""
        self._expiry = LoopingCall(self.expire_jobs)
        self._expiry.clock = self.reactor
        self._expiry.start(60, now=True).addErrback(lambda f: log.failure("expiry stopped", f))
        self._retention = LoopingCall(self.accounting.purge_retention)
        self._retention.clock = self.reactor
        self._retention.start(24 * 3600, now=True).addErrback(lambda f: log.failure("retention stopped", f))

    def start_scheduler(self) -> None:
        """Scheduled reports and backups (``printgate schedule``), run on this reactor
        with their work in the thread pool (``gateway.scheduler``)."""
        from accounting.time import zone
        from gateway.scheduler import Delivery, Scheduler, backup_producer, report_producer

        core = self.accounting.core
        tz = zone(self.config.timezone)
        delivery = Delivery(send=self.notifier.send_message if self.notifier.smtp is not None else None,
                            secrets=core.secrets, known_hosts=self.config.data_dir / "ssh_known_hosts",
                            mail_from=self.config.notify.mail_from)
        self.scheduler = Scheduler(reactor=self.reactor, threadpool=self.reactor.getThreadPool(), book=core.schedules,
                                   tz=tz, outbox=self.config.data_dir / "schedule-outbox", delivery=delivery)
        self.scheduler.register("report", report_producer(core, tz))
        self.scheduler.register("backup", backup_producer(self.accounting.database))
        self.scheduler.start()

    @inlineCallbacks
    def expire_jobs(self):
        expired = yield self.accounting.expire_jobs()
        for job in expired:
            if job.spool_name:
                self.spool.remove(job.spool_name)
            log.info("job {job_id} of {owner} expired after {hours} h held", job_id=job.id, owner=job.owner,
                     hours=self.config.queues[job.queue].expire_hours if job.queue in self.config.queues else "?")
        if expired:
            self.notifier.jobs_expired(expired)

    def build_factories(self) -> dict:
        from spooler.ipp.protocol import IppFactory

        return {
            "lpd": LpdFactory(intake=self.intake, accounting=self.accounting, spool=self.spool, config=self.config),
            "raw": RawFactory(intake=self.intake, config=self.config),
            "ipp": IppFactory(intake=self.intake, accounting=self.accounting, config=self.config, clock=self.reactor),
        }

    def build_panel_services(self):
        """The accounting-backed services of the printer panels, releasing through a
        ``Forwarder`` on this reactor. Someone is standing at the printer waiting: an
        unreachable printer is tried 3 times within a few seconds, not for a minute."""
        from gateway.panel_services import GatewayPanelServices
        from spooler.forward import Forwarder, RetryPolicy, Timeouts

        self.forwarder = Forwarder(self.reactor, retry=RetryPolicy(max_attempts=3, initial_delay=0.5, max_delay=2.0,
                                                                   deadline=10.0),
                                   timeouts=Timeouts(connect=5.0))
        return GatewayPanelServices(self.accounting, self.spool, self.forwarder, reactor=self.reactor)

    def start(self) -> list[Listener]:
        self.open_storage()
        self.factories = self.build_factories()
        for name, factory in self.factories.items():
            listener = self._listen(name, factory)
            if listener is not None:
                self.listeners.append(listener)
        self.listeners.extend(self._listen_release_api())
        self.start_housekeeping()
        self.start_scheduler()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.stop)
        return self.listeners

    def _listen(self, name, factory) -> Listener | None:
        configured = self.config.ports.get(name)
        bind = self.config.bind
        if configured == 0:
            return None
        if configured is not None:
            port = self.reactor.listenTCP(configured, factory, interface=bind)
            return Listener(name, port, bind, port.getHost().port)
        standard, fallback = DEFAULT_PORTS[name]
        try:
            port = self.reactor.listenTCP(standard, factory, interface=bind)
            return Listener(name, port, bind, standard)
        except CannotListenError as exc:
            port = self.reactor.listenTCP(fallback, factory, interface=bind)
            reason = getattr(exc.socketError, "strerror", None) or str(exc.socketError)
            return Listener(name, port, bind, fallback, note=f"port {standard} unavailable ({reason}), using {fallback}")

    def _listen_release_api(self) -> list[Listener]:
        """HTTPS (panel) on ``ports["https"]`` (443, else 10443) and the plain-HTTP
        redirect (see ``HTTP_REDIRECT_PORTS``). Listening on TCP is synchronous, so the
        Deferred ``listen_release_api`` returns has fired when it returns."""
        from twisted.python.failure import Failure

        from twisted.web.server import Site

        from release_api.redirect import HttpsRedirect
        from release_api.server import listen_release_api

        configured = self.config.ports.get("https")
        if configured == 0:
            return []
        self.panel_services = self.build_panel_services()
        bind = self.config.bind
        public_host = bind if bind not in ("", "0.0.0.0", "::") else socket.getfqdn()
        hostnames = sorted({public_host, "localhost", "127.0.0.1"} | ({bind} if bind else set()))
        http_setting = self.config.ports.get("http")
        ipp = self.factories.get("ipp")  # ipps:// shares the HTTPS port (release_api.server)
        ipps = ipp.tls_sibling() if ipp is not None else None

        def listen_https(port):
            outcome = []
            listen_release_api(self.reactor, self.panel_services, data_dir=self.config.data_dir,
                               https_port=port, interface=bind, public_host=public_host,
                               hostnames=hostnames, ipp_factory=ipps).addBoth(outcome.append)
            if isinstance(outcome[0], Failure):
                outcome[0].raiseException()
            return outcome[0]

        def unavailable(port, exc):
            reason = getattr(exc.socketError, "strerror", None) or str(exc.socketError)
            return f"port {port} unavailable ({reason}), using the fallback"

        listeners = []
        if configured is not None:
            api = listen_https(configured)
            listeners.append(Listener("https", api.https_port, bind, api.https_port.getHost().port))
        else:
            standard, fallback = DEFAULT_PORTS["https"]
            try:
                api = listen_https(standard)
                listeners.append(Listener("https", api.https_port, bind, standard))
            except CannotListenError as exc:
                api = listen_https(fallback)
                listeners.append(Listener("https", api.https_port, bind, fallback, note=unavailable(standard, exc)))
        self.release_api = api
        https_number = listeners[0].number
        if ipp is not None:
            ipp.service.ipps_port = https_number
            ipp.service.ipp_port = next((l.number for l in self.listeners if l.name == "ipp"), None)
        self.panel_url = f"https://{public_host}{'' if https_number == 443 else f':{https_number}'}/panel/"
        if http_setting == 0 or (configured is not None and http_setting is None):
            return listeners
        redirect = Site(HttpsRedirect(https_port=https_number, public_host=public_host), reactor=self.reactor)
        candidates = [http_setting] if http_setting is not None else list(HTTP_REDIRECT_PORTS)
        notes = []
        for port in candidates:
            try:
                listening = self.reactor.listenTCP(port, redirect, interface=bind)
            except CannotListenError as exc:
                if http_setting is not None:
                    raise
                notes.append(unavailable(port, exc))
                continue
            notes.append("redirects to HTTPS")
            listeners.append(Listener("http", listening, bind, listening.getHost().port, note="; ".join(notes)))
            return listeners
        log.warn("no plain-HTTP redirect: {notes}", notes="; ".join(notes))
        return listeners

    @inlineCallbacks
    def stop(self):
        """Stop accepting, drop receives in progress, finish the ones being committed."""
        log.info("shutting down: no new jobs")
        for loop in (getattr(self, "_expiry", None), getattr(self, "_retention", None)):
            if loop is not None and loop.running:
                loop.stop()
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            yield scheduler.stop()
        self.intake.stop_accepting()
        yield DeferredList([maybeDeferred(listener.port.stopListening) for listener in self.listeners])
        dropped = self.intake.discard_in_flight()
        # Jobs already being committed finish, and their acknowledgements go out, before
        # the connections close (loseConnection flushes what was written).
        yield self._threads(self.committer.stop)
        for factory in self.factories.values():
            for protocol in list(getattr(factory, "connections", ())):
                protocol.transport.loseConnection()
        if dropped:
            log.info("discarded {count} job(s) still being received", count=dropped)
        self.accounting.close()

    def _threads(self, function, *args):
        from twisted.internet.threads import deferToThread

        return deferToThread(function, *args)
