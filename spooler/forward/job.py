"""What a release hands the forwarder, and what it gets back.

``PrinterTarget`` describes the device (as the devices table will store it), ``ForwardJob``
the held job (a way to read its plaintext again, and what the control file or IPP request
says about it), ``ForcedChanges`` what a rule imposed, and ``ForwardOutcome`` the honest
answer: accepted only when the device acknowledged every byte.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from spooler.forward.errors import BadTarget, ForwardError

PROTOCOLS = ("ipp", "lpd", "raw")
DEFAULT_PORTS = {"ipp": 631, "lpd": 515, "raw": 9100}
_HOST = re.compile(r"^[A-Za-z0-9_.:\-\[\]]{1,253}$")
_QUEUE = re.compile(r"^[^\x00-\x20\x7f/]{1,127}$")


@dataclass(frozen=True)
class PrinterTrust:
    """How an ``ipps://`` printer's certificate is checked: its SHA-256 ``fingerprint``
    (hex, of the DER certificate) pinned at registration, or the PEM certificates of the CA
    that signed it (``ca_pem``, the printer's name or address checked too). Neither: the
    system's trust store and the name, as a browser would."""

    fingerprint: str = ""
    ca_pem: str = ""

    def __post_init__(self):
        if self.fingerprint and not re.fullmatch(r"[0-9a-f]{64}", self.fingerprint):
            raise BadTarget("a pinned fingerprint is 64 hex digits (SHA-256)", target=self.fingerprint[:80])


def normalize_fingerprint(text: str) -> str:
    """``AB:CD:...`` or ``abcd...`` (as openssl and browsers show it) as 64 lower-case hex digits."""
    digits = re.sub(r"[\s:]", "", text or "").lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digits):
        raise BadTarget("a SHA-256 fingerprint is 32 bytes in hex (64 digits, colons allowed)", target=text[:80])
    return digits


@dataclass(frozen=True)
class PrinterTarget:
    """A device as the forwarder needs it: protocol ``lpd``, ``raw`` or ``ipp``; ``queue``
    is the LPD queue name; ``resource`` the IPP path (``/ipp/print``); ``tls`` for
    ``ipps://`` (never downgraded to plain IPP), checked per ``trust``."""

    protocol: str
    host: str
    port: int | None = None
    queue: str = "lp"
    resource: str = "/ipp/print"
    name: str = ""
    tls: bool = False
    trust: PrinterTrust | None = None

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise BadTarget(f"unknown protocol {self.protocol!r}", target=self.host)
        if not _HOST.match(self.host or ""):
            raise BadTarget(f"bad printer host {self.host!r}", target=self.host)
        if self.port is not None and not 0 < self.port < 65536:
            raise BadTarget(f"bad printer port {self.port!r}", target=self.host)
        if self.protocol == "lpd" and not _QUEUE.match(self.queue or ""):
            raise BadTarget(f"bad LPD queue name {self.queue!r}", target=self.host)
        if self.tls and self.protocol != "ipp":
            raise BadTarget("only IPP printers are reached over TLS (ipps://)", target=self.host)
        if self.trust is not None and not self.tls:
            raise BadTarget("a certificate fingerprint or CA needs an ipps:// endpoint", target=self.host)

    @classmethod
    def from_endpoint(cls, protocol: str, endpoint: str, *, queue: str | None = None, name: str = "",
                      trust: PrinterTrust | None = None) -> "PrinterTarget":
        """From a devices-table style endpoint: ``host``, ``host:port``, ``[v6]:port`` or a
        URI (``lpd://host:515/queue``, ``socket://host:9100``, ``ipp://host:631/ipp/print``,
        ``ipps://host:631/ipp/print`` over TLS)."""
        from urllib.parse import urlsplit

        text = (endpoint or "").strip()
        path = ""
        tls = False
        if "://" in text:
            parts = urlsplit(text)
            tls = parts.scheme in ("ipps", "https")
            scheme = {"socket": "raw", "ipps": "ipp", "http": "ipp", "https": "ipp"}.get(parts.scheme, parts.scheme)
            if scheme != protocol:
                raise BadTarget(f"endpoint {endpoint!r} does not speak {protocol}", target=endpoint)
            try:
                host, port = parts.hostname or "", parts.port
            except ValueError:
                raise BadTarget(f"bad port in {endpoint!r}", target=endpoint) from None
            path = parts.path
        else:
            host, _, port_text = text.rpartition(":") if text.count(":") == 1 or text.startswith("[") else (text, "", "")
            host = host.strip("[]")
            if port_text and not port_text.isdigit():
                raise BadTarget(f"bad port in {endpoint!r}", target=endpoint)
            port = int(port_text) if port_text else None
        fields = dict(protocol=protocol, host=host, port=port, name=name, tls=tls, trust=trust)
        if protocol == "lpd":
            fields["queue"] = queue or path.strip("/") or "lp"
        if protocol == "ipp" and path:
            fields["resource"] = path
        return cls(**fields)

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.protocol]

    def describe(self) -> str:
        where = f"{self.host}:{self.effective_port}"
        if self.protocol == "lpd":
            return f"lpd://{where}/{self.queue}"
        if self.protocol == "ipp":
            return f"{'ipps' if self.tls else 'ipp'}://{where}{self.resource}"
        return f"socket://{where}"


@dataclass(frozen=True)
class ForcedChanges:
    """What the printer must do that the job's bytes do not say already: print in grey,
    print two-sided (``binding`` is PJL's ``LONGEDGE`` or ``SHORTEDGE``), make ``copies``
    collated copies. A rule may impose them, or the charge assumed them (a client's
    ``sides`` or ``print-color-mode``). Over LPD/RAW they are written into the job (PJL or
    PostScript); over IPP they are job attributes, and a printer that does not support
    one gets nothing."""

    mono: bool = False
    duplex: bool = False
    binding: str = "LONGEDGE"
    #: Written into the job as PJL ``QTY`` / PostScript ``NumCopies`` (RAW); LPD asks with
    #: its control file and IPP with the ``copies`` attribute instead.
    copies: int = 1

    def __post_init__(self):
        if self.binding not in ("LONGEDGE", "SHORTEDGE"):
            raise ValueError(f"binding must be LONGEDGE or SHORTEDGE, not {self.binding!r}")
        if not 1 <= self.copies <= 999:
            raise ValueError(f"copies must be 1..999, not {self.copies}")

    @property
    def any(self) -> bool:
        return self.mono or self.duplex or self.copies > 1


@dataclass(frozen=True)
class ForwardJob:
    """A held job to send. ``open_chunks`` returns a fresh iterator over the job's plaintext
    each time it is called (``lambda: store.read_chunks(spool_name)``): copies in the data
    and the sizing pass for LPD read the spool more than once. ``size`` is the plaintext
    length when known (the job store records it)."""

    job_id: str
    open_chunks: Callable[[], Iterable[bytes]]
    size: int | None = None
    title: str = ""
    user: str = ""
    copies: int = 1
    forced: ForcedChanges = field(default_factory=ForcedChanges)
    #: LPD only: ``True`` puts N copies into the data file, ``False`` writes N ``l`` lines.
    copies_in_data: bool = False
    #: IPP only: the MIME type intake recorded; empty or ``application/octet-stream`` lets
    #: the IPP sender recognise PDF and PostScript from the first bytes.
    document_format: str = ""
    #: The page description language the analyzer found (``pdf``, ``pcl5``, ...) and all
    #: the languages in the job (``pjl`` when it has a PJL header): the IPP
    #: ``document-format`` is chosen from them (``spooler.forward.formats``).
    pdl: str = ""
    languages: tuple = ()
    #: Send only the first ``copy_length`` bytes: the job is one document repeated, and
    #: ``copies`` already asks the printer for every repetition.
    copy_length: int | None = None
    #: IPP only, what the charge assumed, sent when the printer supports it: ``sides``
    #: (``one-sided``, ``two-sided-long-edge``, ``two-sided-short-edge``),
    #: ``color_mode`` (``color``, ``monochrome``), ``media`` (the analyzer's size name).
    sides: str = ""
    color_mode: str = ""
    media: str = ""

    def __post_init__(self):
        if not 1 <= self.copies <= 999:
            raise ValueError(f"copies must be 1..999, not {self.copies}")
        if self.copy_length is not None and self.copy_length < 1:
            raise ValueError(f"copy_length must be positive, not {self.copy_length}")

    def chunks(self) -> Iterable[bytes]:
        """A fresh pass over the bytes to send: the plaintext, or its first copy."""
        if self.copy_length is None:
            yield from self.open_chunks()
            return
        left = self.copy_length
        for chunk in self.open_chunks():
            if len(chunk) >= left:
                yield chunk[:left]
                return
            left -= len(chunk)
            yield chunk

    @property
    def length(self) -> int | None:
        """The byte length ``chunks`` yields, when known."""
        if self.copy_length is not None:
            return self.copy_length if self.size is None else min(self.copy_length, self.size)
        return self.size


#: What a person at the panel is told for each kind of failure (``reason`` is for logs).
FAILURE_MESSAGES = {
    "refused": "The printer could not be reached.",
    "rejected": "The printer refused the job.",
    "connection-lost": "The printer stopped receiving the job part way through.",
    "timeout": "The printer did not answer in time.",
    "source-error": "The stored job could not be read.",
    "injection-error": "The job could not be changed as the print rules require.",
    "unsupported-protocol": "This printer's connection type is not supported yet.",
    "bad-target": "This printer is not set up correctly.",
    "untrusted": "The printer's certificate could not be verified, so nothing was sent to it.",
    "unsupported-format": "This printer cannot print this kind of document.",
}


@dataclass(frozen=True)
class ForwardOutcome:
    """The result of a release. ``accepted`` means the device acknowledged every byte
    (``confirmed_by`` says how: ``lpd-ack``, ``peer-close`` or ``grace``). On failure,
    ``kind`` is one of ``refused``, ``rejected``, ``connection-lost``, ``timeout``,
    ``source-error``, ``injection-error``, ``unsupported-protocol``, ``bad-target`` and
    ``reason`` the sentence to show at the panel."""

    job_id: str
    target: str
    accepted: bool
    attempts: int
    bytes_sent: int
    total_bytes: int | None = None
    sha256: str | None = None
    confirmed_by: str | None = None
    kind: str | None = None
    reason: str | None = None
    error: ForwardError | None = field(default=None, compare=False, repr=False)

    @property
    def message(self) -> str:
        """A sentence for the panel: empty when accepted."""
        if self.accepted:
            return ""
        return FAILURE_MESSAGES.get(self.kind or "", "The job could not be sent to the printer.")


@dataclass(frozen=True)
class AttemptResult:
    """One successful attempt as a sender reports it."""

    bytes_sent: int
    sha256: str
    confirmed_by: str
