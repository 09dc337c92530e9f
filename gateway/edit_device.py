"""Use case: change a registered printer — how the gateway reaches it, what it can
print, its price list, its panel's screen size — keeping its device id and panel secret
(the printer's panel agent needs no new credentials).

Synchronous (on an ``AccountingCore``), like registering: the CLI calls it directly.
"""
from __future__ import annotations

from gateway.register_device import (
    BadRegistration, device_secret_name, encode_panel_credential, panel_credential, stored_endpoint,
)
from panel_menus.menus import SCREEN_SIZES

#: ``price_list`` left as it is (None means: the queue's price list).
UNCHANGED = object()


def edit_device(core, name: str, *, protocol: str | None = None, endpoint: str | None = None,
                screen: str | None = None, color: bool | None = None, duplex: bool | None = None,
                price_list=UNCHANGED, model: str | None = None, location: str | None = None, actor: str):
    """Returns the changed ``Device``. An endpoint is checked the way a release will read
    it; a new protocol re-reads the stored endpoint with it."""
    device = core.devices.get(name)
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
        core.secrets.set(device_secret_name(device.name), encode_panel_credential(credential.secret, screen), actor=actor)
    if not changes and screen is None:
        raise ValueError("nothing to change: give at least one option")
    return core.devices.update(device.name, actor=actor, **changes) if changes else device
