"""Rules: ordered conditions and actions, evaluated for every job at intake.

A rule is ``{name, position, enabled, conditions, action, params}``. Rules are tried in
``position`` order; the first matching rule with a *final* action (allow, deny,
hold-confirm) decides. Matching rules with a *modifying* action (force-mono,
force-duplex, cap-copies, notify, require-shared-account, route) add their effect and
evaluation goes on, so "force duplex above 10 pages" and "deny above 500 pages" combine.
When no final rule matches, the job is allowed (the balance check comes after rules).

Conditions (all given ones must hold; lists mean "any of"):

==================  =====================================================================
``users``           usernames
``groups``          group names (any of the user's groups)
``queues``          queue names
``device_classes``  device class of the queue/route (``ctx.device_class``)
``pages``, ``copies``, ``impressions``, ``sheets``, ``color_pages``, ``cost``
                    ranges ``{"min": n, "max": n}`` (inclusive; ``cost`` in minor units)
``duplex``          true / false
``color``           true / false (any color side)
``media``           media size names
``document``        shell pattern on the document name, case-insensitive (``*.xlsx``)
``languages``       page description languages (``pdf``, ``pcl5``, ``postscript``, ...)
``source_hosts``    shell patterns on the sending host
``hours``           ``"HH:MM-HH:MM"`` in the configured zone (may wrap past midnight)
``weekdays``        ``mon`` … ``sun`` in the configured zone
``available``       range on the account's available money (balance state)
``quota_left``      range on the personal account's balance (quota state)
==================  =====================================================================

Actions and their ``params``: ``allow``; ``deny`` (``message``); ``hold-confirm``
(``message``); ``force-mono``; ``force-duplex``; ``cap-copies`` (``copies``); ``notify``
(``to``: "owner" / address / webhook URL, ``message``); ``require-shared-account``;
``route`` (``device_class``). Messages may use ``{user}``, ``{pages}``, ``{copies}``,
``{price}``, ``{rule}``, ``{document}``.

The zone is ``[server] timezone`` (``AccountingSettings.timezone``), daylight saving time
included: "09:00-17:00" means office hours in winter and in summer. What people read —
``printgate rules add --help`` and the README's tables, each condition and action with an
example — comes from ``accounting.rule_reference``; a test keeps it in step with these
names.
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import InvalidRule
from accounting.schema import rules as rules_table
from accounting.time import utcnow

FINAL_ACTIONS = ("allow", "deny", "hold-confirm")
MODIFYING_ACTIONS = ("force-mono", "force-duplex", "cap-copies", "notify", "require-shared-account", "route")
ACTIONS = FINAL_ACTIONS + MODIFYING_ACTIONS
RANGE_CONDITIONS = ("pages", "copies", "impressions", "sheets", "color_pages", "cost", "available", "quota_left")
LIST_CONDITIONS = ("users", "groups", "queues", "device_classes", "media", "languages", "source_hosts", "weekdays")
OTHER_CONDITIONS = ("duplex", "color", "document", "hours")
CONDITIONS = RANGE_CONDITIONS + LIST_CONDITIONS + OTHER_CONDITIONS
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_MESSAGES = {
    "deny": "Your print job was refused by rule {rule}.",
    "hold-confirm": "This job costs {price}. Confirm at the printer to print it.",
    "allow": "",
}


@dataclass(frozen=True)
class Rule:
    name: str
    action: str
    conditions: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    position: int = 0
    enabled: bool = True

    def to_json(self) -> dict:
        return {"name": self.name, "position": self.position, "enabled": self.enabled,
                "conditions": self.conditions, "action": self.action, "params": self.params}


@dataclass
class RuleContext:
    """Everything a condition may look at. ``cost`` is the price with changes so far."""

    user: str
    groups: frozenset = frozenset()
    queue: str = ""
    device_class: str = ""
    pages: int = 0
    copies: int = 1
    impressions: int = 0
    sheets: int = 0
    color_pages: int = 0
    duplex: bool = False
    color: bool = False
    media: str = ""
    document: str = ""
    language: str = ""
    source_host: str = ""
    at: datetime | None = None
    cost: int = 0
    available: int | None = None
    quota_left: int | None = None


@dataclass
class RuleOutcome:
    action: str = "allow"
    rule: str = ""
    message: str = ""
    changes: dict = field(default_factory=dict)
    notify: list = field(default_factory=list)
    require_shared_account: bool = False
    route_to: str | None = None
    matched: list = field(default_factory=list)


def validate(rule: Rule) -> Rule:
    if not rule.name or len(rule.name) > 127:
        raise InvalidRule(rule.name, "a rule needs a name of at most 127 characters")
    if rule.action not in ACTIONS:
        raise InvalidRule(rule.name, f"unknown action {rule.action!r} (one of {', '.join(ACTIONS)})")
    for key, value in rule.conditions.items():
        if key not in CONDITIONS:
            raise InvalidRule(rule.name, f"unknown condition {key!r}")
        if key in RANGE_CONDITIONS:
            if not isinstance(value, dict) or not set(value) <= {"min", "max"} or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
                raise InvalidRule(rule.name, f"{key} takes {{\"min\": int, \"max\": int}}")
        elif key in LIST_CONDITIONS:
            if not isinstance(value, list) or not value:
                raise InvalidRule(rule.name, f"{key} takes a non-empty list")
            if key == "weekdays" and not set(v.lower()[:3] for v in value) <= set(WEEKDAYS):
                raise InvalidRule(rule.name, f"weekdays are {', '.join(WEEKDAYS)}")
        elif key in ("duplex", "color") and not isinstance(value, bool):
            raise InvalidRule(rule.name, f"{key} takes true or false")
        elif key == "hours":
            _hours(rule.name, value)
        elif key == "document" and not isinstance(value, str):
            raise InvalidRule(rule.name, "document takes a pattern")
    if rule.action == "cap-copies" and not (isinstance(rule.params.get("copies"), int) and rule.params["copies"] >= 1):
        raise InvalidRule(rule.name, "cap-copies needs params.copies >= 1")
    if rule.action == "route" and not rule.params.get("device_class"):
        raise InvalidRule(rule.name, "route needs params.device_class")
    return rule


def _hours(name, value) -> tuple[time, time]:
    try:
        start, end = value.split("-")
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except (AttributeError, ValueError):
        raise InvalidRule(name, f"hours takes \"HH:MM-HH:MM\", not {value!r}") from None


def _in_range(value, bounds) -> bool:
    if value is None:
        return False
    return bounds.get("min", value) <= value <= bounds.get("max", value)


def matches(rule: Rule, ctx: RuleContext, tz: ZoneInfo) -> bool:
    c = rule.conditions
    for key in RANGE_CONDITIONS:
        if key in c and not _in_range(getattr(ctx, key), c[key]):
            return False
    if "users" in c and ctx.user not in c["users"]:
        return False
    if "groups" in c and not (ctx.groups & set(c["groups"])):
        return False
    if "queues" in c and ctx.queue not in c["queues"]:
        return False
    if "device_classes" in c and ctx.device_class not in c["device_classes"]:
        return False
    if "media" in c and ctx.media not in c["media"]:
        return False
    if "languages" in c and (ctx.language or "").lower() not in [v.lower() for v in c["languages"]]:
        return False
    if "source_hosts" in c and not any(fnmatch.fnmatch(ctx.source_host.lower(), p.lower()) for p in c["source_hosts"]):
        return False
    if "duplex" in c and ctx.duplex != c["duplex"]:
        return False
    if "color" in c and ctx.color != c["color"]:
        return False
    if "document" in c and not fnmatch.fnmatch(ctx.document.lower(), c["document"].lower()):
        return False
    if "hours" in c or "weekdays" in c:
        local = (ctx.at or utcnow()).astimezone(tz)
        if "weekdays" in c and WEEKDAYS[local.weekday()] not in [d.lower()[:3] for d in c["weekdays"]]:
            return False
        if "hours" in c:
            start, end = _hours(rule.name, c["hours"])
            now = local.time().replace(tzinfo=None)
            inside = start <= now < end if start <= end else (now >= start or now < end)
            if not inside:
                return False
    return True


class _Fields(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def render(template: str, **fields) -> str:
    return template.format_map(_Fields(fields))


def evaluate(rules: list[Rule], ctx: RuleContext, *, tz: ZoneInfo, reprice=None, format_price=str) -> RuleOutcome:
    """Run the ordered rules over ``ctx``. ``reprice(changes) -> (ctx fields)`` is called
    after a change so later conditions (cost, color, sheets) see the changed job."""
    outcome = RuleOutcome()
    for rule in rules:
        if not rule.enabled or not matches(rule, ctx, tz):
            continue
        outcome.matched.append(rule.name)
        fields = dict(user=ctx.user, pages=ctx.pages, copies=ctx.copies, price=format_price(ctx.cost),
                      rule=rule.name, document=ctx.document)
        action = rule.action
        if action in FINAL_ACTIONS:
            outcome.action = action
            outcome.rule = rule.name
            outcome.message = render(rule.params.get("message") or DEFAULT_MESSAGES[action], **fields)
            return outcome
        changed = False
        if action == "force-mono" and not outcome.changes.get("mono"):
            outcome.changes["mono"] = changed = True
        elif action == "force-duplex" and not outcome.changes.get("duplex"):
            outcome.changes["duplex"] = changed = True
        elif action == "cap-copies":
            cap = rule.params["copies"]
            if ctx.copies > cap and cap < outcome.changes.get("copies", cap + 1):
                outcome.changes["copies"] = cap
                changed = True
        elif action == "notify":
            outcome.notify.append({"rule": rule.name, "to": rule.params.get("to", "owner"),
                                   "message": render(rule.params.get("message", "Rule {rule} matched your job."),
                                                     **fields)})
        elif action == "require-shared-account":
            outcome.require_shared_account = True
        elif action == "route":
            outcome.route_to = rule.params["device_class"]
        if changed:
            outcome.rule = rule.name
            outcome.message = render(rule.params.get("message") or f"Your job was changed by rule {{rule}}.", **fields)
            if reprice is not None:
                for key, value in reprice(outcome.changes).items():
                    setattr(ctx, key, value)
    return outcome


def _rule(row) -> Rule:
    return Rule(name=row.name, action=row.action, conditions=json.loads(row.conditions), params=json.loads(row.params),
                position=row.position, enabled=row.enabled)


class RuleStore:
    """Rules in the database, cached in memory and reloaded after every change here (and
    at most ``ttl`` seconds late for changes made by another node)."""

    def __init__(self, database: Database, *, ttl: float = 10.0):
        self.db = database
        self.ttl = ttl
        self._cache: list[Rule] | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        self._cache = None

    def active(self) -> list[Rule]:
        import time as _time

        now = _time.monotonic()
        if self._cache is None or now - self._loaded_at > self.ttl:
            self._cache = [r for r in self.list() if r.enabled]
            self._loaded_at = now
        return self._cache

    def list(self) -> list[Rule]:
        with self.db.reader.connect() as conn:
            return [_rule(row) for row in conn.execute(select(rules_table).order_by(rules_table.c.position,
                                                                                     rules_table.c.id))]

    def get(self, name: str) -> Rule:
        for rule in self.list():
            if rule.name == name:
                return rule
        raise InvalidRule(name, "no such rule")

    def add(self, rule: Rule, *, actor: str = "admin") -> Rule:
        """Add a rule; ``position`` 0 means after the last one."""
        validate(rule)
        now = utcnow()
        with self.db.writer.begin() as conn:
            if conn.execute(select(rules_table.c.id).where(rules_table.c.name == rule.name)).first():
                raise InvalidRule(rule.name, "a rule with that name exists")
            position = rule.position or (conn.execute(select(func.max(rules_table.c.position))).scalar() or 0) + 10
            conn.execute(insert(rules_table).values(
                name=rule.name, position=position, enabled=rule.enabled, conditions=json.dumps(rule.conditions),
                action=rule.action, params=json.dumps(rule.params), created_at=now, updated_at=now))
            audit(conn, actor=actor, action="rule.add", target=rule.name, new=replace(rule, position=position).to_json())
        self.invalidate()
        return self.get(rule.name)

    def set_enabled(self, name: str, enabled: bool, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            if conn.execute(update(rules_table).where(rules_table.c.name == name)
                            .values(enabled=enabled, updated_at=utcnow())).rowcount != 1:
                raise InvalidRule(name, "no such rule")
            audit(conn, actor=actor, action="rule.enable" if enabled else "rule.disable", target=name)
        self.invalidate()

    def replace(self, name: str, rule: Rule, *, actor: str = "admin") -> Rule:
        """Change a rule in place (``printgate rules edit``): ``rule`` carries its new
        name, action, conditions, params and enabled state; its position stays."""
        validate(rule)
        with self.db.writer.begin() as conn:
            old = conn.execute(select(rules_table).where(rules_table.c.name == name)).first()
            if old is None:
                raise InvalidRule(name, "no such rule")
            if rule.name != name and conn.execute(select(rules_table.c.id).where(rules_table.c.name == rule.name)).first():
                raise InvalidRule(rule.name, "a rule with that name exists")
            conn.execute(update(rules_table).where(rules_table.c.id == old.id).values(
                name=rule.name, enabled=rule.enabled, conditions=json.dumps(rule.conditions), action=rule.action,
                params=json.dumps(rule.params), updated_at=utcnow()))
            audit(conn, actor=actor, action="rule.edit", target=name, old=_rule(old).to_json(),
                  new=replace(rule, position=old.position).to_json())
        self.invalidate()
        return self.get(rule.name)

    def move(self, name: str, *, before: str | None = None, after: str | None = None, actor: str = "admin") -> list[Rule]:
        """Put a rule just before or after another one (first or last when neither is
        given: ``after=""`` means last); the positions are renumbered 10, 20, 30 ...
        Returns the rules in their new order."""
        with self.db.writer.begin() as conn:
            order = [row.name for row in conn.execute(select(rules_table.c.name)
                                                       .order_by(rules_table.c.position, rules_table.c.id))]
            for wanted in (name, before, after):
                if wanted and wanted not in order:
                    raise InvalidRule(wanted, "no such rule")
            order.remove(name)
            if before:
                order.insert(order.index(before), name)
            elif after:
                order.insert(order.index(after) + 1, name)
            elif after == "":
                order.append(name)
            else:
                order.insert(0, name)
            for index, each in enumerate(order, start=1):
                conn.execute(update(rules_table).where(rules_table.c.name == each).values(position=index * 10))
            audit(conn, actor=actor, action="rule.move", target=name, new=order)
        self.invalidate()
        return self.list()

    def remove(self, name: str, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            old = conn.execute(select(rules_table).where(rules_table.c.name == name)).first()
            if old is None:
                raise InvalidRule(name, "no such rule")
            conn.execute(delete(rules_table).where(rules_table.c.name == name))
            audit(conn, actor=actor, action="rule.remove", target=name, old=_rule(old).to_json())
        self.invalidate()
