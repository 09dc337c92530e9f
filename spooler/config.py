"""Gateway configuration: defaults that work with no file, overridden by TOML and flags.

An example with every key is in ``printgate.toml.example``.
"""
from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

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
class NotifyConfig:
    """``[notify]``: the mail relay for notifications (webhooks need nothing here)."""

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    #: The name of a stored secret holding the SMTP password (``printgate secrets set
    #: smtp/password``), so that the password need not sit in this file.
    smtp_password_secret: str | None = None
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    mail_from: str = "printgate@localhost"
    notify_owner_on_expiry: bool = False


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
    #: Hosts allowed to remove any job over LPD (command 05) — an "admin host".
    lpd_admin_hosts: list = field(default_factory=lambda: ["127.0.0.1", "::1"])
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
    #: ``[ipp]``: connection limits of the IPP listeners, read by ``spooler.ipp.limits``.
    ipp: dict = field(default_factory=dict)
    #: ``[server] timezone``: the IANA zone that report periods, schedules, quota periods
    #: and rule hours are read in (default: the machine's, from TZ or /etc/localtime).
    timezone: str = field(default_factory=machine_zone_name)
    #: ``[release] charge_retry_seconds``: how often a job that printed but could not be
    #: charged (the database failed) is charged again.
    charge_retry_seconds: float = 30.0
    #: Where ``data_dir`` came from, for messages that say where the CLI looked.
    data_dir_source: str = "the install's default"
    #: ``[retention] days``: finished jobs, policy records and audit entries older than
    #: this are purged once a day (money records are kept for good).
    retention_days: int = DEFAULT_RETENTION_DAYS
    fleet: FleetConfig = field(default_factory=FleetConfig)

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
    config.lpd_admin_hosts = list(lpd.get("admin_hosts", config.lpd_admin_hosts))
    rawcfg = raw.get("raw", {})
    for name, section in (("lpd", lpd), ("raw", rawcfg)):
        for key in ("max_connections", "max_per_address"):
            if key in section:
                setattr(config, f"{name}_{key}", _int(section[key], f"{name}.{key}", 1, 1 << 20))
    config.raw_queue = rawcfg.get("queue", config.default_queue)
    config.raw_address_users = dict(rawcfg.get("address_users", {}))
    config.notify = _notify(raw.get("notify", {}))
    config.ipp = dict(raw.get("ipp", {}))
    release = raw.get("release", {})
    if "charge_retry_seconds" in release:
        value = release["charge_retry_seconds"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.5 <= value <= 3600:
            raise ConfigError("release.charge_retry_seconds must be a number of seconds between 0.5 and 3600",
                              key="release.charge_retry_seconds")
        config.charge_retry_seconds = float(value)
    retention = raw.get("retention", {})
    if "days" in retention:
        try:
            config.retention_days = check_retention_days(retention["days"])
        except ValueError as exc:
            raise ConfigError(f"retention.days: {exc}", key="retention.days") from None
    config.fleet = _fleet(raw.get("fleet", {}))


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
    notify = NotifyConfig()
    for key in ("smtp_host", "smtp_user", "smtp_password", "smtp_password_secret", "mail_from"):
        if key in section:
            if not isinstance(section[key], str):
                raise ConfigError(f"notify.{key} must be a string", key=f"notify.{key}")
            setattr(notify, key, section[key])
    if "smtp_port" in section:
        notify.smtp_port = _int(section["smtp_port"], "notify.smtp_port", 1, 65535)
    for key in ("smtp_starttls", "notify_owner_on_expiry"):
        if key in section:
            if not isinstance(section[key], bool):
                raise ConfigError(f"notify.{key} must be true or false", key=f"notify.{key}")
            setattr(notify, key, section[key])
    if "smtp_ca_file" in section:
        notify.smtp_ca_file = Path(section["smtp_ca_file"])
    return notify


def _int(value, key, low, high) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{key} must be an integer between {low} and {high}", key=key)
    return value
