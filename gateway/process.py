"""Process wiring, the composition root: one reactor, the data directory, the database,
the spool, the use cases and the listeners. ``Gateway.start`` is what ``printgate serve``
runs; nothing imports this module but the CLI (and tests)."""
from __future__ import annotations

import socket
from dataclasses import dataclass

from twisted.internet.defer import DeferredList, inlineCallbacks, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from twisted.internet.threads import deferToThread, deferToThreadPool
from twisted.python.failure import Failure
from twisted.web.server import Site

from accounting.core import AccountingSettings
from accounting.database import sqlite_url
from accounting.errors import AccountingError
from accounting.service import AccountingService
from gateway.end_job import JobEnding
from gateway.job_desk import GatewayJobDesk
from gateway.notify import Notifier, SmtpSettings
from gateway.panel_services import GatewayPanelServices
from gateway.receive_job import JobReception
from gateway.register_device import panel_cookie_key
from gateway.release_job import JobRelease
from gateway.release_journal import ReleaseJournal
from release_api.panel import DeviceCookies
from release_api.redirect import HttpsRedirect
from release_api.server import listen_release_api
from spooler.config import DEFAULT_PORTS, GatewayConfig
from spooler.forward import Forwarder, RetryPolicy, Timeouts
from spooler.group_commit import GroupCommitter
from spooler.intake import IntakePipeline
from spooler.ipp.protocol import IppFactory
from spooler.lpd.protocol import LpdFactory
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
        self._loops: list[LoopingCall] = []
        self.panel_url: str | None = None  # once HTTPS listens
        self.release_api = None  # ReleaseApiListeners, once HTTPS listens
        bind = config.bind
        #: The name clients reach this gateway by: the bound address, else this host's name.
        self.public_host = bind if bind not in ("", "0.0.0.0", "::") else socket.getfqdn()

    def open_storage(self) -> None:
        """Database, spool, use cases and committer; removes what a crash may have left
        behind and settles the releases a stop interrupted."""
        config = self.config
        self.spool = SpoolStore.open(config.data_dir, key_file=config.spool_key_file, max_job_size=config.max_job_size)
        url = config.database_url or sqlite_url(config.data_dir)
        settings = AccountingSettings(secrets_key_file=config.data_dir / "secrets.key")
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
        self.notifier = self.build_notifier()
        self.ending = JobEnding(self.accounting, self.spool)
        self.job_desk = GatewayJobDesk(self.accounting, self.ending)
        # Someone is standing at the printer waiting: an unreachable printer is tried 3
        # times within a few seconds, not for a minute.
        self.forwarder = Forwarder(self.reactor, retry=RetryPolicy(max_attempts=3, initial_delay=0.5, max_delay=2.0,
                                                                   deadline=10.0),
                                   timeouts=Timeouts(connect=5.0))
        self.releases = JobRelease(self.accounting, self.spool, self.forwarder,
                                   ReleaseJournal(config.data_dir / "release-journal"), reactor=self.reactor)
        self.releases.recover(self.accounting.core, self.spool.spool_names())
        self.reception = JobReception(self.accounting, self.notifier)
        reception = self.reception
        self.committer = GroupCommitter(
            reactor=self.reactor, record_jobs=reception.record_jobs, jobs_dir=self.spool.jobs_dir,
            admit=reception.admit, admission_scope=reception.admission_scope,
            sync_commits=reception.sync_commits, unrecord=reception.unrecord,
        )
        self.intake = IntakePipeline(config=config, spool=self.spool, committer=self.committer,
                                     on_recorded=reception.recorded)

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

    def start_housekeeping(self) -> None:
        """Every minute, expire held jobs (deleting their spool bytes); every
        ``[release] charge_retry_seconds``, charge jobs that printed but could not be
        charged; once a day, purge history past its retention."""
        self._every(60, self.expire_jobs, "expiry")
        self._every(self.config.charge_retry_seconds, self.releases.settle_pending_charges, "pending charges")
        self._every(24 * 3600, self.accounting.purge_retention, "retention")
        if self.release_api is not None:
            self._every(60, self.reload_panel_cookie_key, "panel cookie key")

    def reload_panel_cookie_key(self):
        """A key rotated with ``printgate devices rotate-cookie-key`` (here or on another
        node) takes effect within a minute."""
        cookies = self.release_api.panel.device_cookies
        reading = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), panel_cookie_key,
                                    self.accounting.core)

        def use(key):
            if key != cookies.key:
                log.info("panel device cookie key replaced: panels sign their launch again")
                cookies.key = key

        return reading.addCallback(use)

    def _every(self, seconds: float, work, name: str) -> None:
        """Run ``work`` every ``seconds``; a run that fails (the database is away) is
        logged and the next one comes as planned — housekeeping never stops for good."""
        def run():
            def failed(failure):
                log.warn("{name} failed, tried again in {seconds} s: {error}", name=name, seconds=seconds,
                         error=failure.getErrorMessage())
            return maybeDeferred(work).addErrback(failed)

        loop = LoopingCall(run)
        loop.clock = self.reactor
        loop.start(seconds, now=True).addErrback(lambda f: log.failure("{name} stopped", f, name=name))
        self._loops.append(loop)

    @inlineCallbacks
    def expire_jobs(self):
        expired = yield self.ending.expire_due()
        if expired:
            self.notifier.jobs_expired(expired)

    def build_factories(self) -> dict:
        return {
            "lpd": LpdFactory(intake=self.intake, jobs=self.job_desk, config=self.config),
            "raw": RawFactory(intake=self.intake, config=self.config),
            "ipp": IppFactory(intake=self.intake, jobs=self.job_desk, config=self.config, clock=self.reactor),
        }

    def build_panel_services(self) -> GatewayPanelServices:
        return GatewayPanelServices(self.accounting, self.releases, self.ending, reactor=self.reactor)

    def start(self) -> list[Listener]:
        self.open_storage()
        self.factories = self.build_factories()
        for name, factory in self.factories.items():
            listener = self._listen(name, factory)
            if listener is not None:
                self.listeners.append(listener)
        self.listeners.extend(self._listen_release_api())
        self.start_housekeeping()
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
        configured = self.config.ports.get("https")
        if configured == 0:
            return []
        self.panel_services = self.build_panel_services()
        bind = self.config.bind
        public_host = self.public_host
        hostnames = sorted({public_host, "localhost", "127.0.0.1"} | ({bind} if bind else set()))
        http_setting = self.config.ports.get("http")
        ipp = self.factories.get("ipp")  # ipps:// shares the HTTPS port (release_api.server)
        ipps = ipp.tls_sibling() if ipp is not None else None

        cookies = DeviceCookies(panel_cookie_key(self.accounting.core))

        def listen_https(port):
            outcome = []
            listen_release_api(self.reactor, self.panel_services, data_dir=self.config.data_dir,
                               https_port=port, interface=bind, public_host=public_host,
                               hostnames=hostnames, ipp_factory=ipps, device_cookies=cookies).addBoth(outcome.append)
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
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self.intake.stop_accepting()
        yield DeferredList([maybeDeferred(listener.port.stopListening) for listener in self.listeners])
        dropped = self.intake.discard_in_flight()
        # Jobs already being committed finish, and their acknowledgements go out, before
        # the connections close (loseConnection flushes what was written).
        yield deferToThread(self.committer.stop)
        for factory in self.factories.values():
            for protocol in list(factory.connections):
                protocol.transport.loseConnection()
        if dropped:
            log.info("discarded {count} job(s) still being received", count=dropped)
        self.accounting.close()
