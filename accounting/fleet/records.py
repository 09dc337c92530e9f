"""What the fleet knows about a printer, as plain dataclasses (no ORM row escapes).

The SNMP side decodes replies into ``PrinterInfo`` / ``PrinterStatus`` / ``Counters``;
``accounting.fleet`` stores them and judges them (health, plausibility, shortfalls)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

SNMP_VERSIONS = ("1", "2c", "3")
AUTH_PROTOCOLS = ("sha", "sha224", "sha256", "sha384", "sha512", "md5")
PRIV_PROTOCOLS = ("aes128", "aes192", "aes256", "aes192-reeder", "aes256-reeder", "des")

#: A device's health: what a release and the panel are told.
HEALTH = ("ok", "warning", "error", "unreachable", "unknown")


@dataclass(frozen=True)
class SnmpCredential:
    """An SNMPv1/v2c community or an SNMPv3 user (authNoPriv or authPriv). The keys and
    community are secrets: kept encrypted (``snmp/<name>``), never listed."""

    name: str
    version: str
    community: str = ""
    user: str = ""
    auth_protocol: str = ""
    auth_key: str = ""
    priv_protocol: str = ""
    priv_key: str = ""

    @property
    def security_level(self) -> str:
        if self.version != "3":
            return "community"
        return "authPriv" if self.priv_protocol else "authNoPriv"

    def describe(self) -> str:
        """For lists and logs: never the community or a key."""
        if self.version != "3":
            return f"v{self.version} community"
        return f"v3 user {self.user} ({self.security_level}, {self.auth_protocol.upper()}" + (
            f"/{self.priv_protocol.upper()})" if self.priv_protocol else ")")


@dataclass(frozen=True)
class Tray:
    index: int
    name: str = ""
    kind: str = ""
    media_name: str = ""
    media_type: str = ""
    media_size: str = ""
    capacity: int | None = None
    level: int | None = None
    status: int | None = None


@dataclass(frozen=True)
class OutputBin:
    index: int
    name: str = ""
    capacity: int | None = None
    remaining: int | None = None
    status: int | None = None


@dataclass(frozen=True)
class Supply:
    index: int
    description: str = ""
    kind: str = ""
    colorant: str = ""
    unit: int | None = None
    capacity: int | None = None
    level: int | None = None

    @property
    def percent(self) -> int | None:
        """Level as a percentage when both are real quantities (the MIB uses -1, -2,
        -3 for other / unknown / some remaining)."""
        if self.capacity and self.capacity > 0 and self.level is not None and self.level >= 0:
            return max(0, min(100, round(100 * self.level / self.capacity)))
        return None


@dataclass(frozen=True)
class Alert:
    index: int
    severity: str = ""
    code: int = 0
    code_name: str = ""
    group: str = ""
    location: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Counters:
    """Page counters. ``unit`` is "impressions" or "sheets" (prtMarkerCounterUnit), or
    another unit name we never compare with pages."""

    life_count: int | None
    unit: str = "impressions"
    color_count: int | None = None
    mono_count: int | None = None


@dataclass(frozen=True)
class PrinterStatus:
    """One status poll: what the device says about itself right now."""

    device_status: str = "unknown"
    printer_status: str = "unknown"
    errors: tuple[str, ...] = ()
    alerts: tuple[Alert, ...] = ()
    supplies: tuple[Supply, ...] = ()
    counters: Counters | None = None
    truncated: bool = False


@dataclass(frozen=True)
class PrinterInfo:
    """What discovery and the daily information read find out."""

    vendor_oid: str = ""
    vendor: str = ""
    model: str = ""
    serial: str = ""
    mac: str = ""
    name: str = ""
    location: str = ""
    contact: str = ""
    description: str = ""
    firmware: str = ""
    color: bool = False
    duplex: bool = False
    trays: tuple[Tray, ...] = ()
    bins: tuple[OutputBin, ...] = ()
    finishers: tuple[str, ...] = ()
    supplies: tuple[Supply, ...] = ()
    counters: Counters | None = None
    truncated: bool = False
    #: Where the printer's rows are: its hrDeviceIndex and its default marker.
    hr_index: int = 1
    marker_index: int = 1
    #: snmpEngineID (hex): an SNMPv3 trap from this printer is authenticated with it.
    engine_id: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Probe:
    """What one address answered to the discovery probe. ``printer`` is False for an
    agent without Printer-MIB v2 (it is listed in the summary, never taken in)."""

    address: str
    port: int
    credential: str
    printer: bool
    sys_object_id: str = ""
    sys_descr: str = ""


@dataclass
class FleetDevice:
    """A printer the fleet knows: *discovered* until approved, then linked to the
    registered device (``device``) jobs are released at."""

    id: int
    address: str
    port: int
    state: str
    device: str | None
    credential: str | None
    info: PrinterInfo
    health: str
    health_reason: str
    printer_status: str
    errors: list[str]
    alerts: list[Alert]
    supplies: list[Supply]
    life_count: int | None
    counter_unit: str
    color_count: int | None
    mono_count: int | None
    device_class: str
    discovered_at: datetime
    last_seen_at: datetime | None
    status_at: datetime | None
    counters_at: datetime | None
    info_at: datetime | None

    @property
    def label(self) -> str:
        if self.device:
            return self.device
        return self.address if self.port == 161 else f"{self.address}:{self.port}"

    def to_json(self) -> dict:
        data = asdict(self)
        for key in ("discovered_at", "last_seen_at", "status_at", "counters_at", "info_at"):
            value = data[key]
            data[key] = value.isoformat().replace("+00:00", "Z") if value else None
        return data


@dataclass(frozen=True)
class HealthChange:
    """What a status poll or a trap did to a printer's health: ``old`` and ``new``
    (equal when nothing changed) and why it is ``new`` (``judge``'s reason, the trap's
    description, or why the printer did not answer)."""

    old: str
    new: str
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True)
class MeterRead:
    id: int
    device: str
    at: datetime
    life_count: int | None
    color_count: int | None
    mono_count: int | None
    reason: str
    flag: str | None = None
    period_start: datetime | None = None


@dataclass(frozen=True)
class JobMeterCheck:
    """Expected against counted impressions for one released job."""

    id: int
    job_id: int
    device: str
    expected: int | None
    counted: int | None
    before_count: int | None
    after_count: int | None
    outcome: str
    refunded: int
    at: datetime
    note: str = ""


@dataclass(frozen=True)
class ReleaseBlock:
    """Why a release to a device is refused (or only warned about), and where else the
    user could print."""

    device: str
    health: str
    reason: str
    blocked: bool
    alternatives: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (device, location)
