"""Gateway configuration: defaults that work with no file, overridden by TOML and flags.

An example with every key is in ``printgate.toml.example``.
"""
from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from accounting.money import parse_amount
from accounting.retention_period import DEFAULT_RETENTION_DAYS, check_retention_days
from accounting.time import UnknownTimeZone, machine_zone_name, zone
from spooler.errors import SpoolerError

GiB = 1 << 30

#: (standard port, fallback used when the standard one cannot be bound)
DEFAULT_PORTS = {
    "lpd": (515, 10515),
    "raw": (9100, 19100),
    "ipp": (631, 10631),
    "https": (443, 10443),
}


class ConfigError(SpoolerError):
    def __init__(self, message, *, key=None):
        super().__init__(message)
        self.key = key


@dataclass
class QueueConfig:
    name: str
    description: str = ""
    #: Trust the user name the client states (LPD P line, IPP requesting-user-name).
    trust_client_user: bool = True
    #: What to do with a job whose owner cannot be told: "hold" as unknown@host, or "refuse".
    unclaimed: str = "hold"
    expire_hours: float = 4.0
    #: IPP jobs need HTTP Basic credentials of a local user, which are accepted over TLS
    #: only (ipps://); plain ipp:// is then refused with a message naming the ipps URI.
    require_authentication: bool = False


@dataclass
class MailConfig:
    """``[mail]``: the one mail sender of the gateway (``gateway.mail``). The password is
    the stored secret ``password_secret`` names (``printgate secrets set smtp/password``),
    never a line of this file."""

    host: str | None = None
    port: int | None = None  # None: 587 with STARTTLS, 465 with implicit TLS
    #: "starttls" (required: nothing is sent unless the server offers it) or "tls" (SMTPS).
    security: str = "starttls"
    #: A relay without STARTTLS is used in clear (never with a password).
    allow_plaintext: bool = False
    ca_file: Path | None = None
    user: str | None = None
    password_secret: str = "smtp/password"
    auth_mechanisms: tuple = ("PLAIN", "LOGIN")
    mail_from: str = "printgate@localhost"
    timeout: float = 30.0
    retry_initial: float = 60.0
    retry_max: float = 3600.0
    give_up_hours: float = 48.0
    max_queue: int = 10_000
    #: POP-before-SMTP for old relays: {host, port, security ("tls"/"starttls"), user, password_secret}.
    pop_before_smtp: dict | None = None

    @property
    def smtp_port(self) -> int:
        return self.port or (465 if self.security == "tls" else 587)


#: Every notice the gateway mails, and whether it is on unless a user turns it off.
NOTICE_DEFAULTS = {
    "job_held": False, "job_refused": True, "job_changed": True, "job_expiring": True, "job_expired": True,
    "balance_low": True, "quota_nearly_used": True, "release_failed": True, "printer_alert": True,
    "scheduled_report": True, "rule": True,
}


@dataclass
class NoticesConfig:
    """``[notices]``: which notices are mailed, in which language, and their thresholds."""

    language: str = "en"
    enabled: dict = field(default_factory=lambda: dict(NOTICE_DEFAULTS))
    #: Addresses told about printer errors and supplies running low.
    admins: list = field(default_factory=list)
    expiring_minutes: int = 30
    #: Minor units; an account's own threshold wins.
    low_balance_threshold: int = 200
    quota_warning_percent: int = 10


@dataclass
class NotifyConfig:
    """``[notify]``: webhooks need nothing here; mail is ``[mail]``."""


@dataclass
class FleetSchedule:
    """How often a class of devices is polled, in seconds."""

    status: float = 10 * 60
    counters: float = 4 * 3600
    info: float = 24 * 3600


@dataclass
class FleetConfig:
    """``[fleet]``: printers watched over SNMP (issue 17). See printgate.toml.example."""

    enabled: bool = True
    schedule: FleetSchedule = field(default_factory=FleetSchedule)
    #: Per device class (``devices.device_class``): overrides of ``schedule``.
    classes: dict = field(default_factory=dict)
    max_concurrent_polls: int = 64
    timeout: float = 1.0
    retries: int = 1
    max_rows: int = 256
    #: "block": no release to a device in error (the panel offers another); "allow": warn only.
    release_to_errored_device: str = "block"
    refund_shortfalls: bool = False
    settle_interval: float = 5.0
    settle_timeout: float = 300.0
    #: Automated meter reads for billing: "daily", "weekly", "monthly" or "off".
    meter_read_period: str = "monthly"
    #: Trap listener port; None: 162, else 10162; 0: no trap receiver.
    trap_port: int | None = None
    discovery_targets: list = field(default_factory=list)
    discovery_every_hours: float = 24.0
    discovery_coefficient: float = 30.0
    discovery_port: int = 161
    export_directory: Path | None = None
    export_format: str = "csv"
    export_every_hours: float = 24.0
    export_jitter_minutes: float = 30.0
    #: enterprise number (str) -> {"mono": OID, "color": OID}
    vendor_counters: dict = field(default_factory=dict)


@dataclass
class GatewayConfig:
    data_dir: Path = Path("./printgate-data")
    bind: str = ""
    ports: dict = field(default_factory=dict)  # name -> int or None (None: standard with fallback)
    idle_timeout: float = 60.0
    max_job_size: int = 2 * GiB
    default_queue: str = "secure"
    queues: dict = field(default_factory=lambda: {"secure": QueueConfig("secure")})
    #: ``[server] admin_hosts``: addresses whose requests may act on anyone's job and see
    #: every job's title (IPP job operations and Get-Jobs, LPD removal — as ``root`` — and
    #: queue listings). Empty by default: on a stated name alone nobody acts on another's
    #: job. (``[lpd] admin_hosts``, the older key, adds to it.)
    admin_hosts: list = field(default_factory=list)
    #: RAW/JetDirect: source address -> user, for jobs without PJL naming the owner.
    raw_address_users: dict = field(default_factory=dict)
    raw_queue: str = "secure"
    #: Connections open at once on the LPD and RAW listeners, in all and from one
    #: address. Per address this is higher than IPP's 64: a print server relaying its
    #: users' jobs holds a connection per job, and an LPD client opens its next job's
    #: connection while the last one is still closing.
    lpd_max_connections: int = 1024
    lpd_max_per_address: int = 256
    raw_max_connections: int = 1024
    raw_max_per_address: int = 256
    database_url: str | None = None
    spool_key_file: Path | None = None
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    notices: NoticesConfig = field(default_factory=NoticesConfig)
    #: ``[directory]`` (``accounting.directory.settings``); None: no directory.
    directory: object | None = None
    #: ``[ipp]``: connection limits of the IPP listeners, read by ``spooler.ipp.limits``.
    ipp: dict = field(default_factory=dict)
    #: ``[server] timezone``: the IANA zone that report periods, schedules, quota periods
    #: and rule hours are read in (default: the machine's, from TZ or /etc/localtime).
    timezone: str = field(default_factory=machine_zone_name)
    #: ``[release] charge_retry_seconds``: how often a job that printed but could not be
    #: charged (the database failed) is charged again.
    charge_retry_seconds: float = 30.0
    #: ``[users] auto_create``: whom the name a job states makes a user (with an empty
    #: account): "always", "known-domains" (``name@domain`` for the domains in
    #: ``[users] known_domains``) or "never" (a job of a name that is no user is refused).
    users_auto_create: str = "always"
    users_known_domains: list = field(default_factory=list)
    #: Where ``data_dir`` came from, for messages that say where the CLI looked.
    data_dir_source: str = "the install's default"
    #: ``[retention] days``: finished jobs, policy records and audit entries older than
    #: this are purged once a day (money records are kept for good).
    retention_days: int = DEFAULT_RETENTION_DAYS
    fleet: FleetConfig = field(default_factory=FleetConfig)
    #: ``[oidc]``: single sign-on to the web pages (issue 16); empty: none. Keys: issuer,
    #: client_id, client_secret_secret (a stored secret's name) or client_secret,
    #: redirect_uri, username_claim, ca_file.
    oidc: dict = field(default_factory=dict)
    #: ``[web] idle_minutes``: a web session ends after this long without a request.
    web_idle_minutes: int = 15
    #: ``[web] session_hours``: a web session ends this long after its login, however busy.
    web_session_hours: int = 8

    def queue(self, name: str | None) -> QueueConfig | None:
        if not name:
            return self.queues.get(self.default_queue)
        return self.queues.get(name)


#: Environment variables the command line reads when no flag says otherwise.
DATA_DIR_VARIABLE = "PRINTGATE_DATA_DIR"
CONFIG_VARIABLE = "PRINTGATE_CONFIG"


def install_data_dir() -> Path:
    """Where an install keeps its data unless told otherwise: ``printgate-data`` beside
    the virtual environment Printgate runs from (README command 1 makes ``.venv`` in the
    clone, so the clone's ``printgate-data``), else ``/var/lib/printgate``. Never the
    current directory: a command run from elsewhere must find the same database."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix).resolve().parent / "printgate-data"
    return Path("/var/lib/printgate")


def load_config(path: str | Path | None, data_dir: str | Path | None = None, *, environ=None) -> GatewayConfig:
    """Build the configuration from defaults and the optional TOML file (``path``, else
    ``$PRINTGATE_CONFIG``). The data directory is ``data_dir`` (the ``--data-dir``
    flag), else ``$PRINTGATE_DATA_DIR``, else ``[server] data_dir`` (relative to the
    file's directory), else ``install_data_dir()``; ``data_dir_source`` says which."""
    environ = os.environ if environ is None else environ
    config = GatewayConfig(data_dir=install_data_dir())
    if path is None and environ.get(CONFIG_VARIABLE):
        path = environ[CONFIG_VARIABLE]
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        _apply(config, raw)
        if "data_dir" in raw.get("server", {}):
            config.data_dir = Path(os.path.normpath(Path(path).resolve().parent / raw["server"]["data_dir"]))
            config.data_dir_source = f"[server] data_dir in {path}"
    if environ.get(DATA_DIR_VARIABLE):
        config.data_dir, config.data_dir_source = Path(environ[DATA_DIR_VARIABLE]), DATA_DIR_VARIABLE
    if data_dir is not None:
        config.data_dir, config.data_dir_source = Path(data_dir), "--data-dir"
    return config


def _apply(config: GatewayConfig, raw: dict) -> None:
    server = raw.get("server", {})
    if "data_dir" in server and not isinstance(server["data_dir"], str):
        raise ConfigError("server.data_dir must be a path", key="server.data_dir")
    config.bind = str(server.get("bind", config.bind))
    for name in DEFAULT_PORTS:
        key = f"{name}_port"
        if key in server:
            config.ports[name] = _int(server[key], key, 0, 65535)
    config.idle_timeout = float(server.get("idle_timeout", config.idle_timeout))
    if "max_job_size" in server:
        config.max_job_size = _int(server["max_job_size"], "max_job_size", 1, 1 << 50)
    config.database_url = server.get("database_url", config.database_url)
    if "timezone" in server:
        name = server["timezone"]
        try:
            if not isinstance(name, str):
                raise UnknownTimeZone(name)
            zone(name)
        except UnknownTimeZone as exc:
            raise ConfigError(f"server.timezone: {exc}", key="server.timezone") from None
        config.timezone = name
    spool = raw.get("spool", {})
    if "key_file" in spool:
        config.spool_key_file = Path(spool["key_file"])
    queues = raw.get("queues")
    if queues:
        config.queues = {}
        for name, options in queues.items():
            unclaimed = options.get("unclaimed", "hold")
            if unclaimed not in ("hold", "refuse"):
                raise ConfigError(f"queues.{name}.unclaimed must be 'hold' or 'refuse'", key=f"queues.{name}")
            config.queues[name] = QueueConfig(
                name=name,
                description=options.get("description", ""),
                trust_client_user=bool(options.get("trust_client_user", True)),
                unclaimed=unclaimed,
                expire_hours=float(options.get("expire_hours", 4.0)),
                require_authentication=bool(options.get("require_authentication", False)),
            )
    config.default_queue = raw.get("default_queue", next(iter(config.queues)))
    if config.default_queue not in config.queues:
        raise ConfigError(f"default_queue {config.default_queue!r} is not a configured queue", key="default_queue")
    lpd = raw.get("lpd", {})
    for key, section in (("server.admin_hosts", server), ("lpd.admin_hosts", lpd)):
        hosts = section.get("admin_hosts", [])
        if not isinstance(hosts, list) or not all(isinstance(host, str) and host for host in hosts):
            raise ConfigError(f"{key} must be a list of addresses", key=key)
        config.admin_hosts += [host for host in hosts if host not in config.admin_hosts]
    rawcfg = raw.get("raw", {})
    for name, section in (("lpd", lpd), ("raw", rawcfg)):
        for key in ("max_connections", "max_per_address"):
            if key in section:
                setattr(config, f"{name}_{key}", _int(section[key], f"{name}.{key}", 1, 1 << 20))
    config.raw_queue = rawcfg.get("queue", config.default_queue)
    config.raw_address_users = dict(rawcfg.get("address_users", {}))
    config.notify = _notify(raw.get("notify", {}))
    config.mail = _mail(raw.get("mail", {}))
    config.notices = _notices(raw.get("notices", {}))
    config.ipp = dict(raw.get("ipp", {}))
    users = raw.get("users", {})
    if "auto_create" in users:
        if users["auto_create"] not in ("never", "known-domains", "always"):
            raise ConfigError("users.auto_create must be 'never', 'known-domains' or 'always'", key="users.auto_create")
        config.users_auto_create = users["auto_create"]
    if "known_domains" in users:
        domains = users["known_domains"]
        if not isinstance(domains, list) or not all(isinstance(d, str) and d.strip() for d in domains):
            raise ConfigError("users.known_domains must be a list of domain names", key="users.known_domains")
        config.users_known_domains = [d.strip().lstrip("@").lower() for d in domains]
    release = raw.get("release", {})
    if "charge_retry_seconds" in release:
        value = release["charge_retry_seconds"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.5 <= value <= 3600:
            raise ConfigError("release.charge_retry_seconds must be a number of seconds between 0.5 and 3600",
                              key="release.charge_retry_seconds")
        config.charge_retry_seconds = float(value)
    oidc = raw.get("oidc", {})
    if oidc:
        known = {"issuer", "client_id", "client_secret", "client_secret_secret", "redirect_uri", "username_claim",
                 "ca_file"}
        for key, value in oidc.items():
            if key not in known or not isinstance(value, str):
                raise ConfigError(f"oidc.{key}: unknown key, or not a string", key=f"oidc.{key}")
        for key in ("issuer", "client_id", "redirect_uri"):
            if not oidc.get(key):
                raise ConfigError(f"oidc.{key} is required for single sign-on", key=f"oidc.{key}")
        if not oidc["redirect_uri"].startswith("https://") or not oidc["redirect_uri"].endswith("/login/sso/callback"):
            raise ConfigError("oidc.redirect_uri is https://<this gateway>[:port]/login/sso/callback",
                              key="oidc.redirect_uri")
        config.oidc = dict(oidc)
    web = raw.get("web", {})
    for key in web:
        if key not in ("idle_minutes", "session_hours"):
            raise ConfigError(f"web.{key}: unknown key (idle_minutes, session_hours)", key=f"web.{key}")
    if "idle_minutes" in web:
        config.web_idle_minutes = _int(web["idle_minutes"], "web.idle_minutes", 1, 24 * 60)
    if "session_hours" in web:
        config.web_session_hours = _int(web["session_hours"], "web.session_hours", 1, 7 * 24)
    if config.web_idle_minutes > config.web_session_hours * 60:
        raise ConfigError("web.idle_minutes is longer than web.session_hours", key="web.idle_minutes")
    retention = raw.get("retention", {})
    if "days" in retention:
        try:
            config.retention_days = check_retention_days(retention["days"])
        except ValueError as exc:
            raise ConfigError(f"retention.days: {exc}", key="retention.days") from None
    config.fleet = _fleet(raw.get("fleet", {}))
    config.directory = _directory(raw.get("directory"))


def _number(section: dict, key: str, name: str, low: float, high: float, default):
    if key not in section:
        return default
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{name} must be a number between {low:g} and {high:g}", key=name)
    return value


def _schedule(section: dict, prefix: str, base: FleetSchedule) -> FleetSchedule:
    return FleetSchedule(
        status=60 * _number(section, "status_minutes", f"{prefix}.status_minutes", 0.1, 7 * 24 * 60, base.status / 60),
        counters=3600 * _number(section, "counters_hours", f"{prefix}.counters_hours", 0.01, 24 * 31,
                                base.counters / 3600),
        info=3600 * _number(section, "info_hours", f"{prefix}.info_hours", 0.01, 24 * 366, base.info / 3600))


def _fleet(section: dict) -> FleetConfig:
    fleet = FleetConfig()
    if "enabled" in section:
        if not isinstance(section["enabled"], bool):
            raise ConfigError("fleet.enabled must be true or false", key="fleet.enabled")
        fleet.enabled = section["enabled"]
    fleet.schedule = _schedule(section, "fleet", fleet.schedule)
    for name, options in section.get("classes", {}).items():
        fleet.classes[name] = _schedule(options, f"fleet.classes.{name}", fleet.schedule)
    fleet.max_concurrent_polls = int(_number(section, "max_concurrent_polls", "fleet.max_concurrent_polls", 1, 4096,
                                             fleet.max_concurrent_polls))
    fleet.timeout = float(_number(section, "timeout", "fleet.timeout", 0.05, 60, fleet.timeout))
    fleet.retries = int(_number(section, "retries", "fleet.retries", 0, 10, fleet.retries))
    fleet.max_rows = int(_number(section, "max_rows", "fleet.max_rows", 1, 100_000, fleet.max_rows))
    policy = section.get("release_to_errored_device", fleet.release_to_errored_device)
    if policy not in ("block", "allow"):
        raise ConfigError("fleet.release_to_errored_device must be 'block' or 'allow'",
                          key="fleet.release_to_errored_device")
    fleet.release_to_errored_device = policy
    if "refund_shortfalls" in section:
        if not isinstance(section["refund_shortfalls"], bool):
            raise ConfigError("fleet.refund_shortfalls must be true or false", key="fleet.refund_shortfalls")
        fleet.refund_shortfalls = section["refund_shortfalls"]
    fleet.settle_interval = float(_number(section, "settle_seconds", "fleet.settle_seconds", 0.05, 600,
                                          fleet.settle_interval))
    fleet.settle_timeout = float(_number(section, "settle_timeout", "fleet.settle_timeout", 1, 24 * 3600,
                                         fleet.settle_timeout))
    period = section.get("meter_read_period", fleet.meter_read_period)
    if period not in ("daily", "weekly", "monthly", "off"):
        raise ConfigError("fleet.meter_read_period must be daily, weekly, monthly or off",
                          key="fleet.meter_read_period")
    fleet.meter_read_period = period
    if "trap_port" in section:
        fleet.trap_port = _int(section["trap_port"], "fleet.trap_port", 0, 65535)
    discovery = section.get("discovery", {})
    targets = discovery.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise ConfigError("fleet.discovery.targets must be a list of strings", key="fleet.discovery.targets")
    fleet.discovery_targets = list(targets)
    fleet.discovery_every_hours = float(_number(discovery, "every_hours", "fleet.discovery.every_hours", 0.01,
                                                24 * 366, fleet.discovery_every_hours))
    fleet.discovery_coefficient = float(_number(discovery, "coefficient", "fleet.discovery.coefficient", 0.1,
                                                100_000, fleet.discovery_coefficient))
    if "port" in discovery:
        fleet.discovery_port = _int(discovery["port"], "fleet.discovery.port", 1, 65535)
    export = section.get("export", {})
    if "directory" in export:
        fleet.export_directory = Path(export["directory"])
    fleet.export_format = export.get("format", fleet.export_format)
    if fleet.export_format not in ("json", "xml", "csv"):
        raise ConfigError("fleet.export.format must be json, xml or csv", key="fleet.export.format")
    fleet.export_every_hours = float(_number(export, "every_hours", "fleet.export.every_hours", 0.01, 24 * 366,
                                             fleet.export_every_hours))
    fleet.export_jitter_minutes = float(_number(export, "jitter_minutes", "fleet.export.jitter_minutes", 0,
                                                24 * 60, fleet.export_jitter_minutes))
    for enterprise, counters in section.get("vendor_counters", {}).items():
        if not str(enterprise).isdigit() or not isinstance(counters, dict):
            raise ConfigError("fleet.vendor_counters keys are enterprise numbers, each a table of mono/color OIDs",
                              key="fleet.vendor_counters")
        fleet.vendor_counters[str(enterprise)] = {k: str(v) for k, v in counters.items() if k in ("mono", "color")}
    return fleet


def _notify(section: dict) -> NotifyConfig:
    moved = [key for key in section if key.startswith("smtp_") or key in ("mail_from", "notify_owner_on_expiry")]
    if moved:
        raise ConfigError(f"notify.{moved[0]} has moved: mail is configured in [mail] (host, port, security, user, "
                          "from, password_secret; the password itself with `printgate secrets set smtp/password`) "
                          "and expiry notices in [notices] (job_expired)", key=f"notify.{moved[0]}")
    return NotifyConfig()


def _string(section, key, prefix) -> str:
    if not isinstance(section[key], str):
        raise ConfigError(f"{prefix}{key} must be a string", key=prefix + key)
    return section[key]


def _bool(section, key, prefix) -> bool:
    if not isinstance(section[key], bool):
        raise ConfigError(f"{prefix}{key} must be true or false", key=prefix + key)
    return section[key]


def _mail(section: dict) -> MailConfig:
    mail = MailConfig()
    for key in ("host", "user", "password_secret"):
        if key in section:
            setattr(mail, key, _string(section, key, "mail."))
    if "from" in section:
        mail.mail_from = _string(section, "from", "mail.")
    if "password" in section:
        raise ConfigError("mail.password is not read from the file: store it with `printgate secrets set "
                          "smtp/password` (the secret [mail] password_secret names)", key="mail.password")
    if "port" in section:
        mail.port = _int(section["port"], "mail.port", 1, 65535)
    if "security" in section:
        mail.security = _string(section, "security", "mail.")
        if mail.security not in ("starttls", "tls"):
            raise ConfigError("mail.security must be 'starttls' or 'tls'", key="mail.security")
    if "allow_plaintext" in section:
        mail.allow_plaintext = _bool(section, "allow_plaintext", "mail.")
    if "ca_file" in section:
        mail.ca_file = Path(_string(section, "ca_file", "mail."))
    if "auth_mechanisms" in section:
        mechanisms = section["auth_mechanisms"]
        if not isinstance(mechanisms, list) or not mechanisms or any(m not in ("PLAIN", "LOGIN") for m in mechanisms):
            raise ConfigError("mail.auth_mechanisms must list PLAIN and/or LOGIN", key="mail.auth_mechanisms")
        mail.auth_mechanisms = tuple(mechanisms)
    for key, low, high in (("timeout", 1, 600), ("retry_initial", 0.1, 86_400), ("retry_max", 0.1, 86_400),
                           ("give_up_hours", 0.01, 720)):
        if key in section:
            setattr(mail, key, float(_number(section, key, f"mail.{key}", low, high, None)))
    if "max_queue" in section:
        mail.max_queue = _int(section["max_queue"], "mail.max_queue", 1, 1_000_000)
    pop = section.get("pop_before_smtp")
    if pop is not None:
        if not isinstance(pop, dict) or not isinstance(pop.get("host"), str):
            raise ConfigError("mail.pop_before_smtp needs a host", key="mail.pop_before_smtp")
        security = pop.get("security", "tls")
        if security not in ("tls", "starttls"):
            raise ConfigError("mail.pop_before_smtp.security must be 'tls' or 'starttls'",
                              key="mail.pop_before_smtp.security")
        mail.pop_before_smtp = {"host": pop["host"], "security": security,
                                "port": _int(pop.get("port", 995 if security == "tls" else 110),
                                             "mail.pop_before_smtp.port", 1, 65535),
                                "user": pop.get("user"), "password_secret": pop.get("password_secret")}
    return mail


def _notices(section: dict) -> NoticesConfig:
    notices = NoticesConfig()
    if "language" in section:
        notices.language = _string(section, "language", "notices.")
    for name in NOTICE_DEFAULTS:
        if name in section:
            notices.enabled[name] = _bool(section, name, "notices.")
    if "admins" in section:
        admins = section["admins"]
        if not isinstance(admins, list) or not all(isinstance(a, str) and "@" in a for a in admins):
            raise ConfigError("notices.admins must list email addresses", key="notices.admins")
        notices.admins = list(admins)
    if "expiring_minutes" in section:
        notices.expiring_minutes = _int(section["expiring_minutes"], "notices.expiring_minutes", 1, 100_000)
    if "quota_warning_percent" in section:
        notices.quota_warning_percent = _int(section["quota_warning_percent"], "notices.quota_warning_percent", 1, 99)
    if "low_balance_threshold" in section:
        try:
            notices.low_balance_threshold = parse_amount(str(section["low_balance_threshold"]))
        except ValueError as exc:
            raise ConfigError(f"notices.low_balance_threshold: {exc}", key="notices.low_balance_threshold") from None
    unknown = set(section) - set(NOTICE_DEFAULTS) - {"language", "admins", "expiring_minutes",
                                                     "quota_warning_percent", "low_balance_threshold"}
    if unknown:
        raise ConfigError(f"notices.{sorted(unknown)[0]} is not a setting", key=f"notices.{sorted(unknown)[0]}")
    return notices


def _directory(section):
    # Only with a [directory]: accounting.directory loads ldap3 (slow to import).
    from accounting.directory.errors import DirectoryConfigError
    from accounting.directory.settings import settings_from_section  # (same reason)

    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError("[directory] must be a table", key="directory")
    try:
        return settings_from_section(section)
    except DirectoryConfigError as exc:
        raise ConfigError(str(exc), key=f"directory.{exc.key}") from None


def _int(value, key, low, high) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{key} must be an integer between {low} and {high}", key=key)
    return value
