"""Process wiring, the composition root: one reactor, the data directory, the database,
the spool, the use cases and the listeners. ``Gateway.start`` is what ``printgate serve``
runs; nothing imports this module but the CLI (and tests)."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timezone

from twisted.internet.defer import DeferredList, inlineCallbacks, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from twisted.internet.threads import deferToThread, deferToThreadPool
from twisted.python.failure import Failure
from twisted.web.server import Site

from accounting.core import AccountingSettings
from accounting.database import sqlite_url
from accounting.directory import SyncFailed
from accounting.errors import UnknownSecret
from accounting.private_files import private_directory
from accounting.service import AccountingService
from accounting.time import utcnow, zone
from gateway.end_job import JobEnding
from gateway.fleet_export import fleet_export_producer
from gateway.job_desk import GatewayJobDesk
from gateway.mail.notices import Notices
from gateway.mail.sender import MailSender
from gateway.notice_triggers import NoticeTriggers
from gateway.notify import Notifier
from gateway.panel_services import GatewayPanelServices
from gateway.receive_job import JobReception
from gateway.register_device import panel_cookie_key
from gateway.release_job import JobRelease
from gateway.release_journal import ReleaseJournal
from gateway.scheduler import Delivery, Scheduler, backup_producer, report_producer
from gateway.web_reports import GatewayReportDesk
from gateway.web_services import GatewayWebServices
from release_api.panel import DeviceCookies
from release_api.redirect import HttpsRedirect
from release_api.server import listen_release_api
from release_api.web.oidc import OidcClient
from release_api.web.render import WebRenderer
from release_api.web.sessions import WebSessions
from release_api.web.site import WebSite
from spooler.config import DEFAULT_PORTS, ConfigError, GatewayConfig
from spooler.deferred_analysis import FairPool
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
#: How often quotas due are granted: a period's allowance arrives within this many
#: seconds of the period's start (and at once after a start).
QUOTA_GRANT_SECONDS = 60

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
        self.fleet = None  # gateway.fleet.FleetService when [fleet] enabled
        self.device_checks = None  # its release gate and meter watch

    def open_storage(self) -> None:
        """Database, spool, use cases and committer; removes what a crash may have left
        behind and settles the releases a stop interrupted."""
        config = self.config
        private_directory(config.data_dir)  # the database, keys and journal: the owner's only
        self.spool = SpoolStore.open(config.data_dir, key_file=config.spool_key_file, max_job_size=config.max_job_size)
        url = config.database_url or sqlite_url(config.data_dir)
        settings = AccountingSettings(secrets_key_file=config.data_dir / "secrets.key", timezone=config.timezone,
                                      retention_days=config.retention_days, unknown_users=config.users_auto_create,
                                      known_domains=tuple(config.users_known_domains))
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
        self.check_secrets()
        self.notifier = self.build_notifier()
        self.directory = self.attach_directory()
        self.ending = JobEnding(self.accounting, self.spool)
        self.job_desk = GatewayJobDesk(self.accounting, self.ending)
        # Someone is standing at the printer waiting: an unreachable printer is tried 3
        # times within a few seconds, not for a minute.
        self.forwarder = Forwarder(self.reactor, retry=RetryPolicy(max_attempts=3, initial_delay=0.5, max_delay=2.0,
                                                                   deadline=10.0),
                                   timeouts=Timeouts(connect=5.0))
        self.start_fleet()
        self.releases = JobRelease(self.accounting, self.spool, self.forwarder,
                                   ReleaseJournal(config.data_dir / "release-journal"), reactor=self.reactor,
                                   device_checks=self.device_checks, observer=self.notice_triggers)
        self.releases.recover(self.accounting.core, self.spool.spool_names())
        self.analysis_pool = FairPool(self.reactor)
        self.reception = JobReception(self.accounting, self.notifier, notices=self.notice_triggers,
                                      reactor=self.reactor, spool=self.spool, analysis_pool=self.analysis_pool)
        self.reception.analyse_pending_jobs()
        reception = self.reception
        self.committer = GroupCommitter(
            reactor=self.reactor, record_jobs=reception.record_jobs, jobs_dir=self.spool.jobs_dir,
            admit=reception.admit, admission_scope=reception.admission_scope,
            sync_commits=reception.sync_commits, unrecord=reception.unrecord,
        )
        self.intake = IntakePipeline(config=config, spool=self.spool, committer=self.committer,
                                     on_recorded=reception.recorded)

    def build_notifier(self) -> Notifier:
        """The one mail sender (``[mail]``), the notices it carries (``[notices]``), what
        triggers them, and the rule notifier (webhooks, and mail through the sender)."""
        config = self.config
        secrets = self.accounting.core.secrets

        def secret(name):
            try:
                return secrets.reveal(name)
            except UnknownSecret:
                return None

        self.mail = MailSender(self.reactor, config.mail, data_dir=config.data_dir, secret=secret)
        self.notices = Notices(self.reactor, self.mail, self.accounting, config.notices, timezone=config.timezone)
        self.notice_triggers = NoticeTriggers(self.reactor, self.accounting, self.notices, config.notices)
        if self.mail.configured:
            self.mail.start().addErrback(lambda f: log.failure("reading the mail queue failed", f))
        return Notifier(self.reactor, notices=self.notices if self.mail.configured else None)

    def check_secrets(self) -> None:
        """A relay login (``[mail] user``, POP-before-SMTP) or a directory bind DN whose
        password secret is not stored: the gateway refuses to start and says how to store
        it. (They are read at each use, so a changed password counts without a restart.)"""
        mail, directory = self.config.mail, self.config.directory
        named = []
        if mail.host and mail.user:
            named.append(("mail.password_secret", mail.password_secret))
        if mail.host and mail.pop_before_smtp is not None:
            named.append(("mail.pop_before_smtp.password_secret",
                          mail.pop_before_smtp.get("password_secret") or mail.password_secret))
        if directory is not None and directory.bind_dn and directory.bind_method != "gssapi":
            named.append(("directory.password_secret", directory.password_secret))
        stored = set(self.accounting.core.secrets.names())
        for key, name in named:
            if name not in stored:
                raise ConfigError(f"{key} names the secret {name!r}, which is not stored: printgate secrets set {name}",
                                  key=key)

    def attach_directory(self):
        """Users from the directory (``[directory]``), and password logins by LDAP bind."""
        settings = self.config.directory
        if settings is None:
            return None
        directory = self.accounting.core.attach_directory(settings, staging_dir=self.config.data_dir)
        self._directory_running = False
        if settings.plaintext_possible:
            log.warn("directory: allow_plaintext = true: passwords may be sent to {servers} without TLS",
                     servers=", ".join(settings.servers))
        return directory

    def start_lines(self) -> list[str]:
        """What ``printgate serve`` says at start about mail, printer alerts and the directory."""
        lines = []
        mail = self.config.mail
        if mail.host:
            lines.append(f"Mail: via {mail.host}:{mail.smtp_port} ({'implicit TLS' if mail.security == 'tls' else 'STARTTLS'}"
                         f"{', or in clear if the relay has no STARTTLS (allow_plaintext)' if mail.allow_plaintext else ''})")
        else:
            lines.append("Mail: off (no [mail] host)")
        if self.fleet is not None and self.config.notices.admins:
            lines.append(f"Printer alerts: to {', '.join(self.config.notices.admins)}"
                         if self.notices.tells_admins("printer_alert") else
                         "Printer alerts: off ([notices] admins are set, but no [mail] host or printer_alert = false)")
        settings = self.config.directory
        if settings is not None:
            schedule = (f"incremental sync every {settings.sync_minutes:g} min, full every {settings.full_sync_hours:g} h"
                        if settings.sync_minutes else "sync on demand only")
            lines.append(f"Directory: {', '.join(settings.servers)} ({schedule}; password logins "
                         f"{'by LDAP bind' if settings.login else 'local only'})")
            if settings.plaintext_possible:
                lines.append("WARNING: directory allow_plaintext = true: binds to ldap:// servers are sent WITHOUT TLS")
        return lines

    @inlineCallbacks
    def sync_directory(self, *, full: bool = False):
        """One directory sync in the thread pool (never two at once); a failure is logged
        (and recorded) and changes nothing."""
        if self.directory is None or self._directory_running:
            return None
        self._directory_running = True
        pool = self.reactor.getThreadPool()
        try:
            if not full and self.config.directory.full_sync_hours:
                full = yield deferToThreadPool(self.reactor, pool, self._last_full_too_old)
            summary = yield deferToThreadPool(self.reactor, pool, self.directory.sync.run, full=full)
            return summary
        except SyncFailed:
            return None  # logged and recorded by the sync
        except Exception:  # noqa: BLE001 - the schedule goes on
            log.failure("directory sync failed")
            return None
        finally:
            self._directory_running = False

    def _last_full_too_old(self) -> bool:
        for run in self.directory.sync.history(limit=200):
            if run["kind"] == "full" and run["outcome"] == "ok":
                return (utcnow() - run["started_at"]).total_seconds() >= self.config.directory.full_sync_hours * 3600
        return True

    def now(self) -> datetime:
        """The reactor's time: what housekeeping calls now (a test's clock moves it)."""
        return datetime.fromtimestamp(self.reactor.seconds(), timezone.utc)

    def start_housekeeping(self) -> None:
        """Every minute, expire held jobs (deleting their spool bytes) and grant the
        quotas due (each at most once per period, in ``[server] timezone``); every
        ``[release] charge_retry_seconds``, charge jobs that printed but could not be
        charged; once a day, purge history older than ``[retention] days``; every
        ``[directory] sync_minutes``, sync the directory."""
        self._every(60, self.expire_jobs, "expiry")
        self._every(QUOTA_GRANT_SECONDS, self.grant_quotas, "quota grants")
        self._every(self.config.charge_retry_seconds, self.releases.settle_pending_charges, "pending charges")
        self._every(24 * 3600, self.purge_history, "retention")
        if self.directory is not None and self.config.directory.sync_minutes:
            self._every(self.config.directory.sync_minutes * 60, self.sync_directory, "directory sync")
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
    def grant_quotas(self):
        granted = yield self.accounting.grant_quotas(self.now())
        for entry in granted:
            log.info("quota: {amount} minor units to account {account_id} ({reason})", amount=entry.amount,
                     account_id=entry.account_id, reason=entry.reason)

    @inlineCallbacks
    def purge_history(self):
        counts = yield self.accounting.purge_retention(self.now())
        if any(counts.values()):
            log.info("retention ({days} days): purged {counts}", days=self.config.retention_days, counts=counts)

    def start_scheduler(self) -> None:
        """Scheduled reports, backups and (with the fleet on) printer-data exports
        (``printgate schedule``), run on this reactor
        with their work in the thread pool (``gateway.scheduler``)."""
        core = self.accounting.core
        tz = zone(self.config.timezone)
        # Mail goes through the gateway's one sender (gateway.mail): queued on disk and
        # retried there; a schedule's mail delivery is done once the queue has it.
        delivery = Delivery(send=self.mail.send if self.mail.configured else None,
                            secrets=core.secrets, known_hosts=self.config.data_dir / "ssh_known_hosts",
                            mail_from=self.config.mail.mail_from)
        self.scheduler = Scheduler(reactor=self.reactor, threadpool=self.reactor.getThreadPool(), book=core.schedules,
                                   tz=tz, outbox=self.config.data_dir / "schedule-outbox", delivery=delivery)
        self.scheduler.register("report", report_producer(core, tz))
        self.scheduler.register("backup", backup_producer(self.accounting.database))
        if self.fleet is not None:
            self.scheduler.register("fleet-export", fleet_export_producer(self.fleet.fleet.inventory))
        self.scheduler.start()

    @inlineCallbacks
    def expire_jobs(self):
        expired = yield self.ending.expire_due()
        if expired:
            self.notifier.jobs_expired(expired)
        yield self.notice_triggers.check_expiring()

    def build_factories(self) -> dict:
        return {
            "lpd": LpdFactory(intake=self.intake, jobs=self.job_desk, config=self.config),
            "raw": RawFactory(intake=self.intake, config=self.config),
            "ipp": IppFactory(intake=self.intake, jobs=self.job_desk, config=self.config, clock=self.reactor),
        }

    def build_panel_services(self) -> GatewayPanelServices:
        return GatewayPanelServices(self.accounting, self.releases, self.ending, reactor=self.reactor,
                                    device_checks=self.device_checks)

    def build_web_site(self) -> WebSite:
        """The web pages for admins, finance and users (issue 16), beside the panel, with
        finance's reports (issue 15) made in ``<data_dir>/web-reports``."""
        services = GatewayWebServices(self.accounting, self.releases, self.ending, reactor=self.reactor,
                                      config=self.config, fleet=self.fleet.fleet if self.fleet is not None else None)
        reports = GatewayReportDesk(self.accounting.core, reactor=self.reactor,
                                    scratch=self.config.data_dir / "web-reports")
        return WebSite(services, services, services, reports=reports, reactor=self.reactor,
                       oidc=self.build_oidc_client(), renderer=WebRenderer(timezone=self.config.timezone),
                       sessions=self.build_web_sessions())

    def build_web_sessions(self) -> WebSessions:
        """``[web] idle_minutes`` and ``session_hours``."""
        return WebSessions(idle_timeout=self.config.web_idle_minutes * 60,
                           max_age=self.config.web_session_hours * 3600)

    def build_oidc_client(self) -> OidcClient | None:
        """Single sign-on when ``[oidc]`` is configured; the client secret from a stored
        secret (``client_secret_secret``) or the file."""
        oidc = self.config.oidc
        if not oidc:
            return None
        secret = oidc.get("client_secret")
        if oidc.get("client_secret_secret"):
            try:
                secret = self.accounting.core.secrets.reveal(oidc["client_secret_secret"])
            except UnknownSecret:
                raise ConfigError(f"oidc.client_secret_secret names the secret {oidc['client_secret_secret']!r}, "
                                  f"which is not stored: printgate secrets set {oidc['client_secret_secret']}",
                                  key="oidc.client_secret_secret") from None
        if not secret:
            raise ConfigError("[oidc] needs client_secret_secret (or client_secret)", key="oidc.client_secret")
        return OidcClient(issuer=oidc["issuer"], client_id=oidc["client_id"], client_secret=secret,
                          redirect_uri=oidc["redirect_uri"], reactor=self.reactor,
                          username_claim=oidc.get("username_claim", "preferred_username"), ca_file=oidc.get("ca_file"))

    def start(self) -> list[Listener]:
        self.open_storage()
        self.factories = self.build_factories()
        for name, factory in self.factories.items():
            listener = self._listen(name, factory)
            if listener is not None:
                self.listeners.append(listener)
        if self.fleet is not None:
            trap_listener = self._listen_traps()
            if trap_listener is not None:
                self.listeners.append(trap_listener)
        self.listeners.extend(self._listen_release_api())
        self.start_housekeeping()
        if self.fleet is not None:
            self.fleet.start()
        self.start_scheduler()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.stop)
        return self.listeners

    def start_fleet(self) -> None:
        """The fleet (issue 17): SNMP polling, traps, discovery, meter checks, and the
        release gate. pysnmp needs the asyncio reactor, which ``printgate serve``
        installs; its loops start with the housekeeping."""
        if not self.config.fleet.enabled:
            return
        if not hasattr(self.reactor, "_asyncioEventloop"):
            log.warn("fleet monitoring is off: it needs the asyncio reactor")
            return
        from gateway.fleet import FleetService  # pysnmp is imported only when the fleet is on
        from gateway.fleet_release import FleetRelease  # (the same)

        self.fleet = FleetService(self.accounting.core, self.config.fleet, reactor=self.reactor, notices=self.notices)
        self.device_checks = FleetRelease(self.fleet)

    def _listen_traps(self) -> Listener | None:
        listening = self.fleet.listen_traps(self.config.bind)
        if listening is None:
            return None
        number, note = listening
        fleet = self.fleet

        class TrapPort:
            def stopListening(self):
                fleet.stop()

        return Listener("traps", TrapPort(), self.config.bind, number, note="UDP" + (f"; {note}" if note else ""))

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
        self.web_site = self.build_web_site()

        cookies = DeviceCookies(panel_cookie_key(self.accounting.core))

        def listen_https(port):
            outcome = []
            listen_release_api(self.reactor, self.panel_services, data_dir=self.config.data_dir,
                               https_port=port, interface=bind, public_host=public_host,
                               hostnames=hostnames, ipp_factory=ipps, device_cookies=cookies,
                               web=self.web_site.resource()).addBoth(outcome.append)
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
        if self.fleet is not None:
            self.fleet.stop()
        self.mail.stop()
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            yield scheduler.stop()
        self.intake.stop_accepting()
        yield DeferredList([maybeDeferred(listener.port.stopListening) for listener in self.listeners])
        dropped = self.intake.discard_in_flight()
        # Jobs already being committed finish, and their acknowledgements go out, before
        # the connections close (loseConnection flushes what was written).
        yield deferToThread(self.committer.stop)
        self.analysis_pool.stop()
        for factory in self.factories.values():
            for protocol in list(factory.connections):
                protocol.transport.loseConnection()
        if dropped:
            log.info("discarded {count} job(s) still being received", count=dropped)
        self.accounting.close()
