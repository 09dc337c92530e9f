"""Use case: change a registered printer — how the gateway reaches it, what it can
print, its price list, its panel's screen size, the certificate an ``ipps://`` printer
must show — keeping its device id and panel secret (the printer's panel agent needs no
new credentials).

A printer that moved or got a new certificate is edited, not registered again: a new
registration would mean a new panel secret typed into the printer's panel agent.

Synchronous (on an ``AccountingCore``), like registering: the CLI calls it directly.
"""
from __future__ import annotations

from gateway.register_device import (
    TLS_PREFIX, BadRegistration, device_secret_name, device_trust, encode_panel_credential, panel_credential,
    stored_endpoint, store_trust, tls_trust,
)
from panel_menus.menus import SCREEN_SIZES

#: ``price_list`` left as it is (None means: the queue's price list).
UNCHANGED = object()


def edit_device(core, name: str, *, protocol: str | None = None, endpoint: str | None = None,
                screen: str | None = None, color: bool | None = None, duplex: bool | None = None,
                price_list=UNCHANGED, model: str | None = None, location: str | None = None,
                tls_fingerprint: str | None = None, tls_ca_pem: str | None = None, tls_system_trust: bool = False,
                actor: str):
    """Returns the changed ``Device``. An endpoint is checked the way a release will read
    it; a new protocol re-reads the stored endpoint with it. ``tls_fingerprint`` or
    ``tls_ca_pem`` replaces what an ``ipps://`` printer's certificate is checked against;
    ``tls_system_trust`` drops a pin or CA (the system's trust store and the printer's
    name are checked instead). Every option is checked before anything is stored."""
    device = core.devices.get(name)
    if tls_system_trust and (tls_fingerprint or tls_ca_pem):
        raise BadRegistration("give a new fingerprint or CA, or go back to the system's trust store, not both")
    changes = {key: value for key, value in (("model", model), ("location", location), ("color", color),
                                             ("duplex", duplex), ("protocol", protocol)) if value is not None}
    if protocol is not None or endpoint is not None:
        changes["endpoint"] = stored_endpoint(protocol or device.protocol, endpoint or device.endpoint)
    if price_list is not UNCHANGED:
        changes["price_list"] = price_list
    if screen is not None:
        if screen not in SCREEN_SIZES:
            raise BadRegistration(f"the panel screen must be one of {', '.join(SCREEN_SIZES)}, not {screen!r}")
        credential = panel_credential(core, device.name)
        if credential is None:
            raise BadRegistration(f"{device.name}'s panel credentials are revoked: register it again to set its screen")
    new_endpoint = changes.get("endpoint", device.endpoint)
    trust = tls_trust(new_endpoint, changes.get("protocol", device.protocol), fingerprint=tls_fingerprint,
                      ca_pem=tls_ca_pem)
    if tls_system_trust and device_trust(core, device.name) is None:
        raise BadRegistration(f"{device.name} has no pinned certificate or CA: it already uses the system's trust store")
    trust_changes = trust is not None or tls_system_trust
    if not changes and screen is None and not trust_changes:
        raise ValueError("nothing to change: give at least one option")
    # The device row first: its transaction checks the price list. Should a secret write
    # fail after it, a moved ipps:// printer keeps its old pin, and is refused (safe).
    edited = core.devices.update(device.name, actor=actor, **changes) if changes else device
    if screen is not None:
        core.secrets.set(device_secret_name(device.name), encode_panel_credential(credential.secret, screen),
                         actor=actor)
    if trust is not None:
        store_trust(core, device.name, trust, actor=actor)
    elif tls_system_trust:
        core.secrets.remove(TLS_PREFIX + device.name, actor=actor)
    return edited
