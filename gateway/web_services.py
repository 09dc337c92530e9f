"""The gateway's side of the web pages: ``release_api.web.services``' three interfaces
(``WebLogins``, ``SelfService``, ``Administration``) answered by accounting (run in the
reactor's thread pool), the release use case (``JobRelease``), "end a job"
(``JobEnding``) and device registration (``gateway.register_device``).

- **Passwords** go through accounting's ``LoginGuard`` with the browser's address as the
  "device" (``web:<address>``): failures are counted per account and per address there,
  and locked out after its limits; the web layer answers every failure alike, after the
  same time.
- **Releasing** from a browser is the same use case as at a printer's panel: reserve,
  forward to the printer the person chose, charge only what the printer took. An admin
  releasing or deleting someone's job acts "for" them: the audit rows name both.
"""
from __future__ import annotations

from datetime import datetime, timezone

from twisted.internet import defer, threads

from accounting.errors import AccountingError, JobNotFound as AccountingJobNotFound, LoginFailed as AccountingLoginFailed
from accounting.errors import LoginLocked
from accounting.fleet.credentials import CredentialStore
from accounting.fleet.health import low_supplies
from accounting.fleet.records import SnmpCredential
from accounting.ledger_export import ledger_csv
from accounting.price_explanation import explain, sample_facts
from accounting.pricing import quote_at_device
from accounting.second_factor import BadTotpCode, NotEnrolled
from accounting.time import local_midnight, utcnow, zone
from gateway.edit_device import edit_device
from gateway.end_job import JobEnding
from gateway.register_device import panel_credential, reissue_credential, register_device, revoke_device
from gateway.release_job import JobRelease
from release_api.errors import JobNotFound, LockedOut, LoginFailed
from release_api.web.services import (
    Dashboard, DeviceRow, Enrolment, PrinterChoice, QueueRow, ReleaseAnswer, SecondFactorRejected, SettingsView,
    WebUser,
)

#: Secrets the settings page reports as stored or not (their values never leave).
SETTINGS_SECRETS = ("smtp/password", "directory/bind")


def mask_card(number: str) -> str:
    return number[-4:].rjust(len(number), "•")


class GatewayWebServices:
    def __init__(self, accounting, releases: JobRelease, ending: JobEnding, *, reactor, threadpool=None,
                 config=None, fleet=None):
        """``config``: the ``GatewayConfig`` the settings page shows (None in tests).
        ``fleet``: the ``accounting.fleet.Fleet`` when fleet monitoring is on: printers in
        error and low supplies on the dashboard, each printer's status on its page."""
        self.accounting = accounting
        self.core = accounting.core
        self.releases = releases
        self.ending = ending
        self.reactor = reactor
        self.threadpool = threadpool if threadpool is not None else reactor.getThreadPool()
        self.config = config
        self.fleet = fleet
        #: SNMP credentials are the fleet's, kept whether or not polling is on (as the CLI does).
        self.snmp = fleet.credentials if fleet is not None else CredentialStore(self.core.database,
                                                                                 lambda: self.core.secrets)

    def _run(self, function, *args, **kwargs) -> defer.Deferred:
        return threads.deferToThreadPool(self.reactor, self.threadpool, function, *args, **kwargs)

    # -- WebLogins --------------------------------------------------------------------------
    def _web_user(self, user) -> WebUser:
        return WebUser(username=user.username, display_name=user.full_name or user.username,
                       roles=self.core.roles.roles_of(user.username))

    def _password_checked(self, username: str, password: str, address: str):
        try:
            return self.core.verify_password(username, password, device=f"web:{address}"[:255])
        except LoginLocked as locked:
            seconds = max(1, int((locked.until - utcnow()).total_seconds()) + 1)
            raise LockedOut(str(locked), retry_after=seconds, user=username) from None
        except AccountingLoginFailed:
            raise LoginFailed(user=username) from None

    def verify_password(self, username, password, *, address):
        return self._run(lambda: self._web_user(self._password_checked(username, password, address)))

    def identity(self, username):
        def read():
            try:
                user = self.core.users.get_user(username)
            except AccountingError:
                return None
            if not user.enabled or user.deleted:
                return None
            return self._web_user(user)
        return self._run(read)

    def second_factor_enrolled(self, username):
        return self._run(self.core.second_factors.is_enrolled, username)

    def begin_enrolment(self, username):
        def begin():
            enrolment = self.core.second_factors.begin_enrolment(username)
            return Enrolment(enrolment.username, enrolment.secret, enrolment.uri)
        return self._run(begin)

    def confirm_enrolment(self, username, secret, code):
        def confirm():
            try:
                return self.core.second_factors.confirm_enrolment(username, secret, code, actor=username)
            except BadTotpCode:
                raise SecondFactorRejected(username) from None
        return self._run(confirm)

    def verify_second_factor(self, username, code):
        def verify():
            factors = self.core.second_factors
            try:
                if any(c.isalpha() for c in code or ""):
                    factors.use_recovery_code(username, code)
                else:
                    factors.verify(username, code)
            except (BadTotpCode, NotEnrolled):
                raise SecondFactorRejected(username) from None
        return self._run(verify)

    def record_access(self, username, event, *, address, user_agent, detail=""):
        return self._run(self.core.access_log.record, username, event, address=address, user_agent=user_agent,
                         detail=detail)

    # -- SelfService ------------------------------------------------------------------------
    def held_jobs(self, username):
        return self._run(self.core.jobs.list_jobs, owner=username, states=("held",), limit=500, newest_first=True)

    def printers(self):
        def read():
            return [PrinterChoice(d.name, d.model, d.location, d.color, d.duplex)
                    for d in self.core.devices.list() if d.enabled]
        return self._run(read)

    def _owned(self, username: str | None, job_id: int):
        try:
            job = self.core.jobs.get_job(int(job_id))
        except AccountingJobNotFound:
            raise JobNotFound(str(job_id), user=username) from None
        if username is not None and job.owner != username:
            raise JobNotFound(str(job_id), user=username)
        return job

    @defer.inlineCallbacks
    def release_job(self, username, job_id, printer, *, on_behalf_of=None):
        yield self._run(self._owned, username, job_id)
        actor = f"{on_behalf_of} for {username}" if on_behalf_of else username
        outcome = yield self.releases.release(int(job_id), printer, actor=actor[:255], owner=username)
        return ReleaseAnswer(int(job_id), outcome.printed, outcome.message)

    @defer.inlineCallbacks
    def delete_job(self, username, job_id, *, on_behalf_of=None):
        job = yield self._run(self._owned, username, job_id)
        actor = f"{on_behalf_of} for {username}" if on_behalf_of else username
        yield self.ending.end(job.id, "deleted", actor=actor[:255], reason="deleted in the web pages")

    def history(self, username, *, after=None, before=None):
        return self._run(self.core.lists.jobs, owner=username, after=after, before=before)

    def job_price(self, username, job_id):
        def read():
            job = self._owned(username, job_id)
            device = None
            if job.release_device:
                try:
                    device = self.core.devices.get(job.release_device)
                except AccountingError:
                    device = None
            quote = self.core.release.quote(job, device)
            return job, explain(job, quote, device=device.name if device is not None else None)
        return self._run(read)

    def _currency(self) -> str:
        return self.core.prices.by_id(None).currency

    def money(self, username, *, after=None, before=None):
        def read():
            account = self.core.accounts.personal(username)
            return account, self._currency(), self.core.lists.ledger(account_id=account.id, after=after, before=before)
        return self._run(read)

    def cards(self, username):
        return self._run(lambda: [mask_card(c) for c in self.core.users.get_user(username).cards])

    def link_card(self, username, password, card, *, address):
        def link():
            self._password_checked(username, password, address)
            self.core.users.add_card(username, card, actor=username)
        return self._run(link)

    def change_pin(self, username, password, new_pin, *, address):
        def change():
            self._password_checked(username, password, address)
            self.core.users.set_pin(username, new_pin, actor=username)
        return self._run(change)

    # -- Administration ---------------------------------------------------------------------
    def dashboard(self):
        def read():
            tz = zone(self.core.settings.timezone)
            midnight = local_midnight(datetime.now(timezone.utc).astimezone(tz).date(), tz)
            day = self.core.lists.day(midnight)
            devices = self.core.devices.list()
            revoked = tuple(d.name for d in devices if d.enabled and panel_credential(self.core, d.name) is None)
            in_error = low = None
            if self.fleet is not None:
                watched = self._watched()
                in_error = tuple(f"{name} ({f.health_reason})" if f.health_reason else name
                                 for name, f in watched.items() if f.health == "error")
                low = tuple(f"{name}: {', '.join(low_supplies(f))}" for name, f in watched.items() if low_supplies(f))
            return Dashboard(held_now=day.held_now, pages_today=day.pages, money_today=day.charged,
                             currency=self._currency(), refused_today=day.refused, devices=len(devices),
                             devices_revoked=revoked, devices_in_error=in_error, low_supplies=low)
        return self._run(read)

    def _watched(self, names=None) -> dict:
        """Registered printer name -> its ``FleetDevice`` (approved ones only), by name;
        ``names``: only these printers."""
        if names is not None:
            found = (self.fleet.inventory.for_device(name) for name in names)
            return {f.device: f for f in found if f is not None and f.state == "approved"}
        return {f.device: f for f in sorted(self.fleet.inventory.list(("approved",)), key=lambda f: f.device or "")
                if f.device}

    def users(self, **filters):
        return self._run(self.core.lists.users, **filters)

    def user(self, username):
        def read():
            user = self.core.users.get_user(username)
            return user, sorted(self.core.roles.roles_of(username)), self.core.second_factors.is_enrolled(username)
        return self._run(read)

    def add_user(self, actor, username, *, full_name, email, cost_center, groups, cards):
        return self._run(self.core.users.add_user, username, full_name=full_name, email=email,
                         cost_center=cost_center, groups=tuple(groups), cards=tuple(cards), actor=actor)

    def update_user(self, actor, username, *, full_name, email, cost_center, groups):
        def update():
            self.core.profiles.update(username, full_name=full_name, email=email, cost_center=cost_center, actor=actor)
            self.core.profiles.set_groups(username, groups, actor=actor)
        return self._run(update)

    def set_user_enabled(self, actor, username, enabled):
        return self._run(self.core.users.set_enabled, username, enabled, actor=actor)

    def add_card(self, actor, username, card):
        return self._run(self.core.users.add_card, username, card, actor=actor)

    def remove_card(self, actor, card):
        return self._run(self.core.users.remove_card, card, actor=actor)

    def set_pin(self, actor, username, pin):
        return self._run(self.core.users.set_pin, username, pin, actor=actor)

    def set_password(self, actor, username, password):
        return self._run(self.core.users.set_password, username, password, actor=actor)

    def set_role(self, actor, username, role, granted):
        change = self.core.roles.grant if granted else self.core.roles.revoke
        return self._run(change, username, role, actor=actor)

    def reset_second_factor(self, actor, username):
        return self._run(self.core.second_factors.reset, username, actor=actor)

    def groups(self, **filters):
        return self._run(self.core.lists.groups, **filters)

    def add_group(self, actor, name, description):
        return self._run(self.core.profiles.add_group, name, description=description, actor=actor)

    def accounts(self, kind=None):
        return self._run(self.core.accounts.list, kind=kind)

    def account_list(self, **filters):
        return self._run(self.core.lists.accounts, **filters)

    def account(self, name, *, after=None, before=None):
        def read():
            account = self.core.accounts.get(name)
            parent = self.core.accounts.get(account.parent_id).name if account.parent_id else None
            return account, parent, self.core.lists.account_members(account.id), self.core.lists.ledger(
                account_id=account.id, after=after, before=before)
        return self._run(read)

    def disallow_account(self, actor, account, *, user, group):
        return self._run(self.core.accounts.disallow, account, user=user, group=group, actor=actor)

    def configure_account(self, actor, account, *, restricted, overdraft, enabled):
        return self._run(lambda: self.core.accounts.configure(account, restricted=restricted, overdraft_limit=overdraft,
                                                              enabled=enabled, actor=actor) and None)

    def add_shared_account(self, actor, name, *, parent, restricted, overdraft):
        return self._run(self.core.accounts.create_shared, name, parent=parent, restricted=restricted,
                         overdraft_limit=overdraft, actor=actor)

    def allow_account(self, actor, account, *, user, group):
        return self._run(self.core.accounts.allow, account, user=user, group=group, actor=actor)

    def move_money(self, actor, account, amount, reason, *, kind):
        if not reason:
            return defer.fail(ValueError("a reason is required"))
        if kind == "topup":
            return self._run(self.core.ledger.topup, account, amount, actor=actor, reason=reason)
        if kind == "adjustment":
            return self._run(self.core.ledger.adjust, account, amount, actor=actor, reason=reason)
        return defer.fail(ValueError(f"unknown kind of money movement {kind!r}"))

    def ledger(self, **filters):
        return self._run(self.core.lists.ledger, **filters)

    def ledger_export(self, *, kind, since, until):
        return self._run(ledger_csv, self.core.lists, kind=kind, since=since, until=until)

    def devices(self, **filters):
        def read():
            page = self.core.lists.devices(**filters)
            watched = self._watched(tuple(d.name for d in page.rows)) if self.fleet is not None else {}
            page.rows = [self._device_row(d, watched.get(d.name)) for d in page.rows]
            return page
        return self._run(read)

    def _device_row(self, d, fleet) -> DeviceRow:
        return DeviceRow(name=d.name, model=d.model, location=d.location, protocol=d.protocol, endpoint=d.endpoint,
                         color=d.color, duplex=d.duplex, price_list=d.price_list, queue=d.queue, enabled=d.enabled,
                         credential_active=panel_credential(self.core, d.name) is not None,
                         health=fleet.health if fleet else None, health_reason=fleet.health_reason if fleet else "",
                         low_supplies=tuple(low_supplies(fleet)) if fleet else ())

    def device(self, name):
        def read():
            device = self.core.devices.get(name)
            fleet = self._watched((device.name,)).get(device.name) if self.fleet is not None else None
            return self._device_row(device, fleet)
        return self._run(read)

    def edit_device(self, actor, name, *, protocol, endpoint, screen, color, duplex, price_list, model, location):
        return self._run(lambda: edit_device(self.core, name, protocol=protocol, endpoint=endpoint, screen=screen,
                                             color=color, duplex=duplex, price_list=price_list, model=model,
                                             location=location, actor=actor) and None)

    def register_device(self, actor, name, *, protocol, endpoint, screen, color, duplex, price_list, model, location):
        def register():
            return register_device(self.core, name, protocol=protocol, endpoint=endpoint, screen=screen, color=color,
                                   duplex=duplex, price_list=price_list, model=model, location=location,
                                   actor=actor).secret_text
        return self._run(register)

    def revoke_device(self, actor, name):
        return self._run(lambda: revoke_device(self.core, name, actor=actor) and None)

    def reissue_device(self, actor, name):
        return self._run(lambda: reissue_credential(self.core, name, actor=actor).secret_text)

    def queues(self):
        return self._run(lambda: [QueueRow(q.name, q.price_list, q.expire_minutes, q.held)
                                  for q in self.core.lists.queues()])

    def set_queue_price_list(self, actor, queue, price_list):
        return self._run(self.core.prices.assign_queue, queue, price_list, actor=actor)

    def price_lists(self):
        return self._run(self.core.prices.list)

    def save_price_list(self, actor, price_list):
        return self._run(self.core.prices.save, price_list, actor=actor)

    def preview_price(self, price_list, sample):
        facts = sample_facts(pages=sample["pages"], color_pages=sample["color_pages"], duplex=sample["duplex"],
                             media=sample["media"])
        quote = quote_at_device(price_list, facts=facts, copies_requested=sample["copies"], color_mode="",
                                sides="two-sided-long-edge" if sample["duplex"] else "", changes=None,
                                device_color=True)
        return explain(None, quote)

    def rules(self):
        return self._run(self.core.rules.list)

    def save_rule(self, actor, rule, *, replacing=None):
        if replacing:
            return self._run(self.core.rules.replace, replacing, rule, actor=actor)
        return self._run(self.core.rules.add, rule, actor=actor)

    def set_rule_enabled(self, actor, name, enabled):
        return self._run(self.core.rules.set_enabled, name, enabled, actor=actor)

    def move_rule(self, actor, name, *, before=None, after=None):
        return self._run(self.core.rules.move, name, before=before, after=after, actor=actor)

    def remove_rule(self, actor, name):
        return self._run(self.core.rules.remove, name, actor=actor)

    def test_rule(self, rule, *, since, until=None):
        return self._run(self.core.test_rule, rule, since=since, until=until)

    def quotas(self):
        return self._run(self.core.quotas.list)

    def add_quota(self, actor, name, *, amount, period, user, group, cap, period_days):
        return self._run(self.core.quotas.add, name, amount=amount, period=period, user=user, group=group, cap=cap,
                         period_days=period_days, actor=actor)

    def remove_quota(self, actor, name):
        return self._run(self.core.quotas.remove, name, actor=actor)

    def jobs(self, **filters):
        return self._run(self.core.lists.jobs, **filters)

    def audit(self, **filters):
        return self._run(self.core.lists.audit, **filters)

    def access_log(self, **filters):
        return self._run(self.core.lists.access, **filters)

    def settings(self):
        def read():
            config = self.config
            stored = set(self.core.secrets.names()) if self.core.secrets is not None else set()
            names = list(self.secret_names())
            mail, directory = {}, {}
            if config is not None:
                m = config.mail
                mail = {"SMTP relay": f"{m.host}:{m.smtp_port}" if m.host else "(none: no mail is sent)",
                        "Security": m.security + (" (or in clear)" if m.allow_plaintext else ""),
                        "SMTP user": m.user or "", "From": m.mail_from,
                        "Password": f"the secret {m.password_secret}"}
                d = config.directory
                if d is not None:
                    directory = {"Servers": ", ".join(d.servers), "Kind": d.preset, "Bind": d.bind_dn or d.bind_method,
                                 "Password": f"the secret {d.password_secret}", "Users from": "; ".join(d.user_bases),
                                 "Sync": (f"every {d.sync_minutes:g} min, full every {d.full_sync_hours:g} h"
                                          if d.sync_minutes else "on demand"),
                                 "Password logins": "by LDAP bind" if d.login else "local only"}
            return SettingsView(timezone=self.core.settings.timezone, retention_days=self.core.settings.retention_days,
                                mail=mail, directory=directory, secrets={name: name in stored for name in names},
                                snmp_credentials=tuple((c.name, c.describe()) for c in self.snmp.describe()))
        return self._run(read)

    def secret_names(self) -> tuple[str, ...]:
        """The secrets the settings page may replace: the SMTP and directory passwords under
        the names the configuration gives them."""
        config = self.config
        if config is None:
            return SETTINGS_SECRETS
        names = [config.mail.password_secret]
        if config.directory is not None and config.directory.password_secret:
            names.append(config.directory.password_secret)
        else:
            names.append("directory/bind")
        return tuple(dict.fromkeys(names))

    def set_secret(self, actor, name, value):
        if name not in self.secret_names():
            return defer.fail(ValueError(f"{name!r} is not a setting kept as a secret"))
        if not value:
            return defer.fail(ValueError("an empty secret cannot be stored"))
        return self._run(self.core.secrets.set, name, value, actor=actor)

    def set_snmp_credential(self, actor, name, *, version, community, user, auth_protocol, auth_key, priv_protocol,
                            priv_key):
        credential = SnmpCredential(name, version, community=community, user=user, auth_protocol=auth_protocol,
                                    auth_key=auth_key, priv_protocol=priv_protocol, priv_key=priv_key)
        return self._run(self.snmp.add, credential, actor=actor)

    def move_snmp_credential(self, actor, name, position):
        return self._run(self.snmp.move, name, position, actor=actor)

    def remove_snmp_credential(self, actor, name):
        return self._run(self.snmp.remove, name, actor=actor)
