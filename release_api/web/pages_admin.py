"""The admin pages: dashboard, users, groups, devices, queues, price lists (with a preview
of a sample job), rules (ordered, enable/disable, edit, test against past jobs), quotas,
every job (search, delete, release on the owner's behalf), the access log and settings.
Finance may read every page here except the access log and settings; only admins change
anything. Every list is paged by keyset and filtered in the database."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from twisted.internet import defer

from accounting.fleet.records import AUTH_PROTOCOLS, PRIV_PROTOCOLS
from accounting.money import SIDE_PRICE_DIGITS, parse_amount
from accounting.pricing import PriceList
from accounting.rule_reference import ACTIONS
from accounting.rules import Rule
from release_api.web.app import BadFilter, Call, Redirect
from release_api.web.pages_self import job_number
from release_api.web.routing import ADMIN, FINANCE, route


def parse_day(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (or a full ISO time) as a UTC instant; None when empty."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"not a date: {text[:40]!r} (YYYY-MM-DD)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def list_options(call: Call, names) -> dict:
    """The filters of a list page, as typed (bounded), for the query and the page links."""
    return {name: call.arg(name, limit=255) for name in names}


def paging(call: Call) -> dict:
    order = call.arg("order")
    return {"after": call.arg("after", limit=512), "before": call.arg("before", limit=512),
            "descending": None if order not in ("asc", "desc") else order == "desc"}


class AdminPages:
    @route("/admin/", access=FINANCE)
    @defer.inlineCallbacks
    def dashboard(self, call: Call):
        board = yield defer.maybeDeferred(self.administration.dashboard)
        return self.page(call, "admin_dashboard.html", board=board)

    # -- users -----------------------------------------------------------------------------
    @route("/admin/users", access=FINANCE)
    @defer.inlineCallbacks
    def users(self, call: Call):
        filters = list_options(call, ("search", "role", "sort", "order"))
        if filters["role"] not in (None, "admin", "finance"):
            filters["role"] = None
        page = yield defer.maybeDeferred(self.administration.users, search=filters["search"], role=filters["role"],
                                         sort=filters["sort"] or "username", **paging(call))
        return self.page(call, "admin_users.html", page=page, filters=filters)

    @route("/admin/users", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def add_user(self, call: Call):
        username = call.field("username")
        yield defer.maybeDeferred(self.administration.add_user, call.actor, username,
                                  full_name=call.field("full_name", required=False),
                                  email=call.field("email", required=False, limit=320),
                                  cost_center=call.field("cost_center", required=False, limit=64),
                                  groups=_split(call.field("groups", required=False, limit=2000)),
                                  cards=_split(call.field("cards", required=False, limit=2000)))
        password = call.field("password", required=False, limit=1024, strip=False)
        if password:
            yield defer.maybeDeferred(self.administration.set_password, call.actor, username, password)
        call.session.flash = f"User {username} added."
        return Redirect(f"/admin/users/{_quote(username)}")

    @route("/admin/users/<username>", access=FINANCE)
    @defer.inlineCallbacks
    def user(self, call: Call, username: str):
        user, roles, enrolled = yield defer.maybeDeferred(self.administration.user, username)
        return self.page(call, "admin_user.html", person=user, roles=roles, enrolled=enrolled)

    @route("/admin/users/<username>", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def change_user(self, call: Call, username: str):
        action = call.field("action", limit=32)
        admin = self.administration
        done = {
            "profile": lambda: admin.update_user(call.actor, username, full_name=call.field("full_name", required=False),
                                                 email=call.field("email", required=False, limit=320),
                                                 cost_center=call.field("cost_center", required=False, limit=64),
                                                 groups=_split(call.field("groups", required=False, limit=2000))),
            "disable": lambda: admin.set_user_enabled(call.actor, username, False),
            "enable": lambda: admin.set_user_enabled(call.actor, username, True),
            "add-card": lambda: admin.add_card(call.actor, username, call.field("card", limit=64)),
            "remove-card": lambda: admin.remove_card(call.actor, call.field("card", limit=64)),
            "pin": lambda: admin.set_pin(call.actor, username, call.field("pin", limit=12)),
            "password": lambda: admin.set_password(call.actor, username,
                                                   call.field("password", limit=1024, strip=False)),
            "grant": lambda: admin.set_role(call.actor, username, call.field("role", limit=16), True),
            "revoke": lambda: admin.set_role(call.actor, username, call.field("role", limit=16), False),
            "reset-second-factor": lambda: admin.reset_second_factor(call.actor, username),
        }.get(action)
        if done is None:
            raise ValueError(f"unknown action {action!r}")
        yield defer.maybeDeferred(done)
        if action in ("disable", "grant", "revoke", "reset-second-factor"):
            ended = self.sessions.end_user(username)
            if ended:
                yield self.record(call, "session-ended", f"{action} of {username}: {ended} session(s)",
                                  username=username)
        call.session.flash = "Saved."
        return Redirect(f"/admin/users/{_quote(username)}")

    # -- groups ----------------------------------------------------------------------------
    @route("/admin/groups", access=FINANCE)
    @defer.inlineCallbacks
    def groups(self, call: Call):
        filters = list_options(call, ("search",))
        page = yield defer.maybeDeferred(self.administration.groups, search=filters["search"],
                                         after=call.arg("after", limit=512), before=call.arg("before", limit=512))
        return self.page(call, "admin_groups.html", page=page, filters=filters)

    @route("/admin/groups", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def add_group(self, call: Call):
        yield defer.maybeDeferred(self.administration.add_group, call.actor, call.field("name"),
                                  call.field("description", required=False))
        call.session.flash = "Group added."
        return Redirect("/admin/groups")

    # -- devices ---------------------------------------------------------------------------
    @route("/admin/devices", access=FINANCE)
    def devices(self, call: Call):
        return self._devices_page(call, issued=None)

    @defer.inlineCallbacks
    def _devices_page(self, call: Call, *, issued):
        filters = list_options(call, ("search",))
        page = yield defer.maybeDeferred(self.administration.devices, search=filters["search"],
                                         after=call.arg("after", limit=512), before=call.arg("before", limit=512))
        price_lists = yield defer.maybeDeferred(self.administration.price_lists)
        return self.page(call, "admin_devices.html", page=page, filters=filters, price_lists=list(price_lists),
                         issued=issued)

    @route("/admin/devices", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def device_action(self, call: Call):
        action = call.field("action", limit=16)
        name = call.field("name", limit=64)
        admin = self.administration
        if action == "register":
            secret = yield defer.maybeDeferred(
                admin.register_device, call.actor, name, protocol=call.field("protocol", limit=8),
                endpoint=call.field("endpoint", limit=1024), screen=call.field("screen", limit=16),
                color=call.checked("color"), duplex=call.checked("duplex"),
                price_list=call.field("price_list", required=False, limit=127) or None,
                model=call.field("model", required=False), location=call.field("location", required=False))
        elif action == "reissue":
            secret = yield defer.maybeDeferred(admin.reissue_device, call.actor, name)
        elif action == "revoke":
            yield defer.maybeDeferred(admin.revoke_device, call.actor, name)
            call.session.flash = f"{name}'s panel credential is revoked: its panel is refused from its next request."
            return Redirect("/admin/devices")
        else:
            raise ValueError(f"unknown action {action!r}")
        # The secret is shown once, on this answer to the POST; it is not kept anywhere readable.
        page = yield self._devices_page(call, issued={"name": name, "secret": secret})
        return page

    @route("/admin/devices/<name>", access=FINANCE)
    @defer.inlineCallbacks
    def device(self, call: Call, name: str):
        device = yield defer.maybeDeferred(self.administration.device, name)
        price_lists = yield defer.maybeDeferred(self.administration.price_lists)
        return self.page(call, "admin_device.html", device=device, price_lists=list(price_lists))

    @route("/admin/devices/<name>", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def edit_device(self, call: Call, name: str):
        yield defer.maybeDeferred(
            self.administration.edit_device, call.actor, name, protocol=call.field("protocol", limit=8),
            endpoint=call.field("endpoint", limit=1024), screen=call.field("screen", required=False, limit=16) or None,
            color=call.checked("color"), duplex=call.checked("duplex"),
            price_list=call.field("price_list", required=False, limit=127) or None,
            model=call.field("model", required=False), location=call.field("location", required=False))
        call.session.flash = f"{name} saved (its device id and panel secret are unchanged)."
        return Redirect(f"/admin/devices/{_quote(name)}")

    # -- queues ----------------------------------------------------------------------------
    @route("/admin/queues", access=FINANCE)
    @defer.inlineCallbacks
    def queues(self, call: Call):
        queues = yield defer.maybeDeferred(self.administration.queues)
        price_lists = yield defer.maybeDeferred(self.administration.price_lists)
        return self.page(call, "admin_queues.html", queues=list(queues), price_lists=list(price_lists))

    @route("/admin/queues", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def set_queue_prices(self, call: Call):
        yield defer.maybeDeferred(self.administration.set_queue_price_list, call.actor, call.field("queue", limit=127),
                                  call.field("price_list", required=False, limit=127) or None)
        call.session.flash = "Saved."
        return Redirect("/admin/queues")

    # -- price lists -----------------------------------------------------------------------
    @route("/admin/prices", access=FINANCE)
    @defer.inlineCallbacks
    def price_lists(self, call: Call):
        lists = yield defer.maybeDeferred(self.administration.price_lists)
        return self.page(call, "admin_prices.html", lists=list(lists))

    @route("/admin/prices/edit", access=FINANCE)
    @defer.inlineCallbacks
    def price_list(self, call: Call):
        name = call.arg("name", limit=127)
        lists = {p.name: p for p in (yield defer.maybeDeferred(self.administration.price_lists))}
        current = lists.get(name) if name else None
        form = price_list_form(current)
        return self.page(call, "admin_price_edit.html", form=form, preview=None, sample=SAMPLE_JOB, new=current is None)

    @route("/admin/prices/edit", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def save_price_list(self, call: Call):
        price_list = price_list_from(call)
        sample = sample_from(call)
        if call.field("action", limit=16) == "preview":
            preview = yield defer.maybeDeferred(self.administration.preview_price, price_list, sample)
            return self.page(call, "admin_price_edit.html", form=price_list_form(price_list), preview=preview,
                             sample=sample, new=False)
        yield defer.maybeDeferred(self.administration.save_price_list, call.actor, price_list)
        call.session.flash = f"Price list {price_list.name} saved."
        return Redirect("/admin/prices")

    # -- rules -----------------------------------------------------------------------------
    @route("/admin/rules", access=FINANCE)
    @defer.inlineCallbacks
    def rules(self, call: Call):
        rules = yield defer.maybeDeferred(self.administration.rules)
        return self.page(call, "admin_rules.html", rules=list(rules))

    @route("/admin/rules", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def rule_action(self, call: Call):
        action, name = call.field("action", limit=16), call.field("name", limit=127)
        admin = self.administration
        if action in ("enable", "disable"):
            yield defer.maybeDeferred(admin.set_rule_enabled, call.actor, name, action == "enable")
        elif action == "up":
            yield defer.maybeDeferred(admin.move_rule, call.actor, name, before=call.field("other", limit=127))
        elif action == "down":
            yield defer.maybeDeferred(admin.move_rule, call.actor, name, after=call.field("other", limit=127))
        elif action == "remove":
            yield defer.maybeDeferred(admin.remove_rule, call.actor, name)
        else:
            raise ValueError(f"unknown action {action!r}")
        call.session.flash = "Saved."
        return Redirect("/admin/rules")

    @route("/admin/rules/edit", access=FINANCE)
    @defer.inlineCallbacks
    def rule(self, call: Call):
        name = call.arg("name", limit=127)
        rules = {r.name: r for r in (yield defer.maybeDeferred(self.administration.rules))}
        current = rules.get(name) if name else None
        return self.page(call, "admin_rule_edit.html", form=rule_form(current), original=name if current else "",
                         actions=ACTIONS, trial=None, since=_days_ago(30), until="")

    @route("/admin/rules/edit", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def save_rule(self, call: Call):
        rule = rule_from(call)
        original = call.field("original", required=False, limit=127) or None
        if call.field("action", limit=16) == "test":
            since = parse_day(call.field("since", limit=32))
            until = parse_day(call.field("until", required=False, limit=32))
            trial = yield defer.maybeDeferred(self.administration.test_rule, rule, since=since, until=until)
            return self.page(call, "admin_rule_edit.html", form=rule_form(rule), original=original or "",
                             actions=ACTIONS, trial=trial, since=call.field("since", limit=32),
                             until=call.field("until", required=False, limit=32))
        yield defer.maybeDeferred(self.administration.save_rule, call.actor, rule, replacing=original)
        call.session.flash = f"Rule {rule.name} saved."
        return Redirect("/admin/rules")

    # -- quotas ----------------------------------------------------------------------------
    @route("/admin/quotas", access=FINANCE)
    @defer.inlineCallbacks
    def quotas(self, call: Call):
        quotas = yield defer.maybeDeferred(self.administration.quotas)
        return self.page(call, "admin_quotas.html", quotas=list(quotas))

    @route("/admin/quotas", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def quota_action(self, call: Call):
        if call.field("action", limit=16) == "remove":
            yield defer.maybeDeferred(self.administration.remove_quota, call.actor, call.field("name"))
        else:
            target = call.field("target", limit=255)
            kind, _, who = target.partition(":")
            if kind not in ("user", "group") or not who:
                raise ValueError("the quota is for user:NAME or group:NAME")
            cap = call.field("cap", required=False, limit=32)
            days = call.field("period_days", required=False, limit=6)
            yield defer.maybeDeferred(
                self.administration.add_quota, call.actor, call.field("name"),
                amount=parse_amount(call.field("amount", limit=32)), period=call.field("period", limit=16),
                user=who if kind == "user" else None, group=who if kind == "group" else None,
                cap=parse_amount(cap) if cap else None, period_days=int(days) if days.isdigit() else None)
        call.session.flash = "Saved."
        return Redirect("/admin/quotas")

    # -- jobs ------------------------------------------------------------------------------
    @route("/admin/jobs", access=FINANCE)
    @defer.inlineCallbacks
    def jobs(self, call: Call):
        filters = list_options(call, ("owner", "state", "title", "since", "until", "sort", "order"))
        if filters["state"] not in (None, "held", "printed", "releasing", "ended"):
            filters["state"] = None
        page = yield defer.maybeDeferred(
            self.administration.jobs, owner=filters["owner"], state=filters["state"], title=filters["title"],
            since=parse_day(filters["since"]), until=day_after(parse_day(filters["until"])),
            sort=filters["sort"] or "received", **paging(call))
        printers = yield defer.maybeDeferred(self.self_service.printers)
        return self.page(call, "admin_jobs.html", page=page, filters=filters, printers=list(printers))

    @route("/admin/jobs/<job_id>", access=FINANCE)
    @defer.inlineCallbacks
    def job(self, call: Call, job_id: str):
        job, explanation = yield defer.maybeDeferred(self.self_service.job_price, None, job_number(job_id))
        return self.page(call, "job_price.html", job=job, why=explanation, back="/admin/jobs")

    @route("/admin/jobs/<int:job_id>", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def job_action(self, call: Call, job_id: int):
        action, owner = call.field("action", limit=16), call.field("owner", limit=255)
        if action == "release":
            answer = yield defer.maybeDeferred(self.self_service.release_job, owner, job_id,
                                               call.field("printer", limit=127), on_behalf_of=call.actor)
            call.session.flash = f"Job {job_id}: " + ("sent to the printer." if answer.printed else answer.message)
        elif action == "delete":
            yield defer.maybeDeferred(self.self_service.delete_job, owner, job_id, on_behalf_of=call.actor)
            call.session.flash = f"Job {job_id} deleted."
        else:
            raise ValueError(f"unknown action {action!r}")
        return Redirect(self.back(call))

    # -- logs and settings -----------------------------------------------------------------
    @route("/admin/access-log", access=ADMIN)
    @defer.inlineCallbacks
    def access_log(self, call: Call):
        filters = list_options(call, ("username", "event"))
        page = yield defer.maybeDeferred(self.administration.access_log, username=filters["username"],
                                         event=filters["event"], after=call.arg("after", limit=512),
                                         before=call.arg("before", limit=512))
        return self.page(call, "admin_access_log.html", page=page, filters=filters)

    @route("/admin/settings", access=ADMIN)
    @defer.inlineCallbacks
    def settings(self, call: Call):
        settings = yield defer.maybeDeferred(self.administration.settings)
        return self.page(call, "admin_settings.html", settings=settings, snmp_auth=AUTH_PROTOCOLS,
                         snmp_priv=PRIV_PROTOCOLS)

    @route("/admin/settings", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def set_secret(self, call: Call):
        name = call.field("name", limit=127)
        if name.startswith("snmp/"):
            raise ValueError(f"{name!r} is not a setting kept as a secret: SNMP credentials have their own form")
        yield defer.maybeDeferred(self.administration.set_secret, call.actor, name,
                                  call.field("value", limit=4096, strip=False))
        call.session.flash = f"{name} stored (encrypted; it is never shown again)."
        return Redirect("/admin/settings")

    @route("/admin/settings/snmp", "POST", access=ADMIN)
    @defer.inlineCallbacks
    def snmp_credential(self, call: Call):
        """The fleet's SNMP credentials: add or replace (the community or keys are
        written, never shown), move in the order they are tried, remove."""
        action, name = call.field("action", limit=16), call.field("name", limit=64)
        admin = self.administration
        if action == "set":
            version = call.field("version", limit=2)
            secret = dict(limit=255, required=False, strip=False)
            yield defer.maybeDeferred(
                admin.set_snmp_credential, call.actor, name, version=version,
                community=call.field("community", **secret) if version != "3" else "",
                user=call.field("user", required=False, limit=255) if version == "3" else "",
                auth_protocol=call.field("auth_protocol", required=False, limit=16) if version == "3" else "",
                auth_key=call.field("auth_key", **secret) if version == "3" else "",
                priv_protocol=call.field("priv_protocol", required=False, limit=16) if version == "3" else "",
                priv_key=call.field("priv_key", **secret) if version == "3" else "")
            call.session.flash = f"SNMP credential {name} stored (its community or keys are never shown again)."
        elif action == "move":
            position = call.field("position", limit=4)
            if not position.isdigit() or int(position) < 1:
                raise ValueError("the position is a whole number from 1")
            yield defer.maybeDeferred(admin.move_snmp_credential, call.actor, name, int(position))
            call.session.flash = f"SNMP credential {name} is now tried at position {int(position)}."
        elif action == "remove":
            yield defer.maybeDeferred(admin.remove_snmp_credential, call.actor, name)
            call.session.flash = f"SNMP credential {name} removed."
        else:
            raise ValueError(f"unknown action {action!r}")
        return Redirect("/admin/settings")


# -- forms ---------------------------------------------------------------------------------
SAMPLE_JOB = {"pages": 10, "copies": 1, "color_pages": 2, "duplex": False, "media": "A4"}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _quote(text: str) -> str:
    return quote(text, safe="")


def _days_ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%d")


def day_after(value: datetime | None) -> datetime | None:
    """An "until" date includes that day."""
    return value + timedelta(days=1) if value is not None and value.hour == value.minute == 0 else value


def _money(milli: int) -> str:
    return f"{milli / 1000:.3f}".rstrip("0").rstrip(".")


def price_list_form(price_list: PriceList | None) -> dict:
    p = price_list or PriceList(name="")
    media = sorted({m for m, _ in p.items} | {"*"})
    return {"name": p.name, "currency": p.currency, "job_fee": _money(p.job_fee * 1000),
            "sheet_fee": _money(p.sheet_fee * 1000), "duplex_discount": p.duplex_discount_permille,
            "unknown_pages": p.unknown_pages, "is_default": p.is_default,
            "items": [{"media": m, "mono": _money(p.items.get((m, False), 0)), "colour": _money(p.items.get((m, True), 0))}
                      for m in media] + [{"media": "", "mono": "", "colour": ""}]}


def price_list_from(call: Call) -> PriceList:
    """Cents as typed ("0.5" = half a cent a side); side prices kept in thousandths."""
    items = {}
    for media, mono, colour in zip(call.form.get("media", []), call.form.get("mono", []), call.form.get("colour", [])):
        media = media.strip()[:32]
        if not media:
            continue
        for is_colour, text in ((False, mono), (True, colour)):
            if text.strip():
                items[(media, is_colour)] = parse_amount(text, SIDE_PRICE_DIGITS - 2)
    unknown = call.field("unknown_pages", required=False, limit=6) or "1"
    if not unknown.isdigit() or int(unknown) < 1:
        raise ValueError("pages assumed for an uncounted job is a whole number of at least 1")
    discount = call.field("duplex_discount", required=False, limit=4) or "0"
    if not discount.isdigit():
        raise ValueError("the two-sided discount is a whole number of permille (0 to 1000)")
    currency = call.field("currency", limit=3).upper()
    if not (len(currency) == 3 and currency.isalpha()):
        raise ValueError("a currency is three letters (EUR)")
    return PriceList(name=call.field("name", limit=127), currency=currency,
                     job_fee=parse_amount(call.field("job_fee", required=False, limit=32) or "0", 0),
                     sheet_fee=parse_amount(call.field("sheet_fee", required=False, limit=32) or "0", 0),
                     duplex_discount_permille=int(discount), unknown_pages=int(unknown),
                     items=items, is_default=call.checked("is_default"))


def sample_from(call: Call) -> dict:
    def number(name, default, low, high):
        text = call.field(f"sample_{name}", required=False, limit=6) or str(default)
        if not text.isdigit() or not low <= int(text) <= high:
            raise ValueError(f"sample {name.replace('_', ' ')} is a whole number from {low} to {high}")
        return int(text)
    pages = number("pages", 10, 1, 100_000)
    return {"pages": pages, "copies": number("copies", 1, 1, 999), "color_pages": min(pages, number("color_pages", 0, 0, 100_000)),
            "duplex": call.checked("sample_duplex"), "media": call.field("sample_media", required=False, limit=32) or "A4"}


def rule_form(rule: Rule | None) -> dict:
    r = rule or Rule(name="", action="allow")
    return {"name": r.name, "action": r.action, "enabled": r.enabled,
            "conditions": json.dumps(r.conditions, indent=1, sort_keys=True) if r.conditions else "{}",
            "message": r.params.get("message", ""), "copies": r.params.get("copies", ""), "to": r.params.get("to", ""),
            "device_class": r.params.get("device_class", "")}


def rule_from(call: Call) -> Rule:
    try:
        conditions = json.loads(call.field("conditions", required=False, limit=8000) or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"the conditions are not JSON: {error}") from None
    if not isinstance(conditions, dict):
        raise ValueError("the conditions are a JSON object, e.g. {\"pages\": {\"min\": 50}}")
    params = {}
    for key in ("message", "to", "device_class"):
        value = call.field(key, required=False, limit=1024)
        if value:
            params[key] = value
    copies = call.field("copies", required=False, limit=4)
    if copies:
        if not copies.isdigit():
            raise ValueError("copies is a whole number")
        params["copies"] = int(copies)
    return Rule(name=call.field("name", limit=127), action=call.field("rule_action", limit=32), conditions=conditions,
                params=params, enabled=call.checked("enabled"))
