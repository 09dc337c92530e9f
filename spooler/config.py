"""Gateway configuration: defaults that work with no file, overridden by TOML and flags.

An example with every key is in ``printgate.toml.example``.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

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
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    mail_from: str = "printgate@localhost"
    notify_owner_on_expiry: bool = False


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

    def queue(self, name: str | None) -> QueueConfig | None:
        if not name:
            return self.queues.get(self.default_queue)
        return self.queues.get(name)


def load_config(path: str | Path | None, data_dir: str | Path | None = None) -> GatewayConfig:
    """Build the configuration from defaults and the optional TOML file."""
    config = GatewayConfig()
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        _apply(config, raw)
    if data_dir is not None:
        config.data_dir = Path(data_dir)
    return config


def _apply(config: GatewayConfig, raw: dict) -> None:
    server = raw.get("server", {})
    if "data_dir" in server:
        config.data_dir = Path(server["data_dir"])
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


def _notify(section: dict) -> NotifyConfig:
    notify = NotifyConfig()
    for key in ("smtp_host", "smtp_user", "smtp_password", "mail_from"):
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
