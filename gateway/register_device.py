"""Use case: register a printer people release jobs at, and its panel's credentials.

A device is a row of accounting's devices table, keyed by name (the panel's device id).
Its panel credential is a secret in accounting's encrypted secret store named
``device/<name>``: JSON with the HMAC secret the panel agent signs requests with and the
panel's screen size. Registering prints the secret once; only its encrypted form is kept.
Revoking blanks it, which makes the device unknown at once (both lookups run on every
panel request).

An ``ipps://`` printer's TLS trust (a pinned SHA-256 certificate fingerprint, or the PEM
of the CA that signed its certificate) is kept in the same store as ``device-tls/<name>``:
encrypted with an integrity check, so no one who can write the database alone can swap
the certificate a release trusts.

Synchronous (on an ``AccountingCore``): the CLI calls it directly, the reactor in a
thread.
"""
from __future__ import annotations

import base64
import json
import re
import secrets as random_secrets
from dataclasses import dataclass

from accounting.errors import AccountingError, UnknownDevice, UnknownSecret
from panel_menus.menus import SCREEN_SIZES
from printgate_errors import PrintgateError
from spooler.forward import PrinterTarget, PrinterTrust, normalize_fingerprint
from spooler.forward.errors import BadTarget

SECRET_PREFIX = "device/"
TLS_PREFIX = "device-tls/"
#: The key device cookies are signed with (``release_api.panel.DeviceCookies``).
COOKIE_KEY_SECRET = "panel/cookie-key"
COOKIE_KEY_BYTES = 32
DEVICE_NAME = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class BadRegistration(PrintgateError, ValueError):
    """What an admin typed cannot describe a device (name, endpoint, screen)."""


@dataclass(frozen=True)
class PanelCredential:
    secret: bytes
    screen: str


@dataclass(frozen=True)
class Registered:
    device: object  # accounting.records.Device
    secret: bytes

    @property
    def secret_text(self) -> str:
        """The secret as the panel agent is given it (base64url)."""
        return base64.urlsafe_b64encode(self.secret).decode("ascii")


def device_secret_name(device_name: str) -> str:
    return SECRET_PREFIX + device_name


def encode_panel_credential(secret: bytes, screen: str) -> str:
    return json.dumps({"hmac": base64.urlsafe_b64encode(secret).decode("ascii"), "screen": screen})


def decode_panel_credential(text: str | None) -> PanelCredential | None:
    """``None`` when revoked (blank) or unreadable."""
    if not text:
        return None
    try:
        data = json.loads(text)
        secret = base64.urlsafe_b64decode(data["hmac"])
    except (ValueError, KeyError, TypeError):
        return None
    if not secret:
        return None
    screen = data.get("screen") if data.get("screen") in SCREEN_SIZES else "800x480"
    return PanelCredential(secret, screen)


def stored_endpoint(protocol: str, text: str) -> str:
    """Check an endpoint the way a release will read it; store it as typed (a bare
    ``host:port/queue`` becomes a URI of the protocol's scheme so the queue survives)."""
    scheme = {"raw": "socket"}.get(protocol, protocol)
    stored = text if "://" in text or "/" not in text else f"{scheme}://{text}"
    try:
        PrinterTarget.from_endpoint(protocol, stored)
    except BadTarget as error:
        raise BadRegistration(str(error)) from None
    return stored


def tls_trust(endpoint: str, protocol: str, *, fingerprint: str | None = None,
              ca_pem: str | None = None) -> PrinterTrust | None:
    """Check what an admin gave for an ``ipps://`` printer's certificate."""
    if not fingerprint and not ca_pem:
        return None
    if fingerprint and ca_pem:
        raise BadRegistration("give a pinned fingerprint or a CA, not both")
    if protocol != "ipp" or not endpoint.lower().startswith(("ipps://", "https://")):
        raise BadRegistration("a certificate fingerprint or CA is for an ipps:// endpoint "
                              "(the gateway never sends to it without TLS)")
    try:
        if fingerprint:
            return PrinterTrust(fingerprint=normalize_fingerprint(fingerprint))
    except BadTarget as error:
        raise BadRegistration(str(error)) from None
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(ca_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise BadRegistration(f"the CA file holds no PEM certificate ({error})") from None
    if not certificates:
        raise BadRegistration("the CA file holds no PEM certificate")
    return PrinterTrust(ca_pem=ca_pem)


def store_trust(core, name: str, trust: PrinterTrust, *, actor: str) -> None:
    """Keep (or replace) what ``name``'s certificate is checked against; encrypted like
    every secret, so a pinned CA or fingerprint cannot be swapped in the database alone."""
    core.secrets.set(TLS_PREFIX + name, json.dumps({"fingerprint": trust.fingerprint, "ca_pem": trust.ca_pem}),
                     actor=actor)


def device_trust(core, name: str) -> PrinterTrust | None:
    """The TLS trust registered for ``name`` (None: none registered)."""
    if core.secrets is None:
        return None
    try:
        data = json.loads(core.secrets.reveal(TLS_PREFIX + name) or "null")
    except UnknownSecret:
        return None
    if not data:
        return None
    return PrinterTrust(fingerprint=data.get("fingerprint", ""), ca_pem=data.get("ca_pem", ""))


def register_device(core, name: str, *, protocol: str, endpoint: str, screen: str = "800x480", color: bool = False,
                    duplex: bool = False, price_list: str | None = None, model: str = "", location: str = "",
                    device_class: str = "", serial: str = "", mac: str = "", media=(),
                    tls_fingerprint: str | None = None, tls_ca_pem: str | None = None, actor: str) -> Registered:
    """Add the device and issue its panel credential. ``device_class``, ``serial``,
    ``mac`` and ``media`` come from SNMP discovery when a discovered printer is approved
    (``devices approve``); the class also picks the printer's polling schedule and its
    stand-ins when it is in error. Keep the TLS trust of an ``ipps://`` printer
    (``tls_fingerprint`` or ``tls_ca_pem``)."""
    if not DEVICE_NAME.match(name or ""):
        raise BadRegistration(f"a device id is 1-64 letters, digits, '.', '_' or '-', not {name!r}")
    if screen not in SCREEN_SIZES:
        raise BadRegistration(f"the panel screen must be one of {', '.join(SCREEN_SIZES)}, not {screen!r}")
    endpoint = stored_endpoint(protocol, endpoint)
    trust = tls_trust(endpoint, protocol, fingerprint=tls_fingerprint, ca_pem=tls_ca_pem)
    secret = random_secrets.token_bytes(32)
    if trust is not None:
        store_trust(core, name, trust, actor=actor)
    core.secrets.set(device_secret_name(name), encode_panel_credential(secret, screen), actor=actor)
    device = core.devices.add(name, model=model, location=location, color=color, duplex=duplex, protocol=protocol,
                              endpoint=endpoint, price_list=price_list, credential_secret=device_secret_name(name),
                              device_class=device_class, serial=serial, mac=mac, media=media, actor=actor)
    return Registered(device, secret)


def revoke_device(core, name: str, *, actor: str):
    """Blank the panel credential: the panel is refused from its next request."""
    device = core.devices.get(name)
    core.secrets.set(device_secret_name(device.name), "", actor=actor)
    return device


def reissue_credential(core, name: str, *, actor: str) -> Registered:
    """A new panel secret for a registered device (the old one stops working at once);
    its screen size stays, or becomes the default when it was revoked."""
    device = core.devices.get(name)
    credential = panel_credential(core, device.name)
    secret = random_secrets.token_bytes(32)
    core.secrets.set(device_secret_name(device.name),
                     encode_panel_credential(secret, credential.screen if credential else "800x480"), actor=actor)
    return Registered(device, secret)


def panel_credential(core, name: str) -> PanelCredential | None:
    """The credential of an enabled, registered device; ``None`` when unknown, disabled
    or revoked."""
    if not DEVICE_NAME.match(name or ""):
        return None
    try:
        device = core.devices.get(name)
    except UnknownDevice:
        return None
    if not device.enabled or core.secrets is None:
        return None
    try:
        return decode_panel_credential(core.secrets.reveal(device_secret_name(device.name)))
    except (UnknownSecret, AccountingError):
        return None


def panel_cookie_key(core, *, actor: str = "gateway") -> bytes:
    """The key the panel's device cookies are signed with. Kept encrypted in the secret
    store (so it survives a restart, and every node of a shared database accepts the same
    cookies); made on first use. ``rotate_panel_cookie_key`` replaces it."""
    if core.secrets is None:
        raise BadRegistration("the secret store is not configured (no secrets key file)")
    try:
        key = base64.urlsafe_b64decode(core.secrets.reveal(COOKIE_KEY_SECRET))
    except UnknownSecret:
        key = b""
    except ValueError:
        key = b""
    if len(key) >= COOKIE_KEY_BYTES:
        return key
    return rotate_panel_cookie_key(core, actor=actor)


def rotate_panel_cookie_key(core, *, actor: str) -> bytes:
    """A new cookie key: every device cookie made with the old one stops being accepted
    (the gateway reads the key again every minute); panels fall back to their signed
    launch, which hands out a new cookie."""
    key = random_secrets.token_bytes(COOKIE_KEY_BYTES)
    core.secrets.set(COOKIE_KEY_SECRET, base64.urlsafe_b64encode(key).decode("ascii"), actor=actor)
    return key
