"""``printgate devices ...``: the printers jobs are released at, and the fleet watched
over SNMP.

``add`` registers a printer (how the gateway reaches it, what its panel's screen is, what
it can print, which price list applies) and prints its panel credentials — the device id
and a new HMAC secret — once; only the encrypted secret is kept. ``revoke`` blanks the
secret: the printer's next panel request is refused.

The fleet (issue 17): ``credentials`` keeps SNMP communities and v3 users (as secrets,
tried in order); ``discover`` sweeps addresses for Printer-MIB v2 agents; ``approve``
registers a discovered printer as ``add`` does; ``status``, ``events``, ``meters``,
``checks`` and ``export`` show what polling found."""
from __future__ import annotations

import base64
import json

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("devices", help="printers: register, list, revoke panel credentials")
    commands = parser.add_subparsers(dest="devices_command", required=True)
    add = commands.add_parser("add", help="register a printer and print its panel credentials once")
    add.add_argument("name", help="device id: letters, digits, . _ - (up to 64)")
    add.add_argument("--protocol", choices=("ipp", "lpd", "raw"), default="ipp",
                     help="how the gateway sends released jobs to it (default ipp)")
    add.add_argument("--endpoint", required=True,
                     help="HOST[:PORT][/queue-or-path] or a URI "
                          "(ipp://h:631/ipp/print, lpd://h/queue, socket://h:9100)")
    add.add_argument("--screen", default="800x480", help="panel size: 480x272, 800x480 or 1024x600")
    add.add_argument("--color", action="store_true", help="prints colour")
    add.add_argument("--duplex", action="store_true", help="prints two-sided")
    add.add_argument("--price-list", default=None, help="price list for jobs printed here (default: the queue's)")
    add.add_argument("--model", default="", help="shown on the panel (default: the name)")
    add.add_argument("--location", default="")
    add.add_argument("--class", dest="device_class", default="",
                     help="device class: its polling schedule ([fleet.classes.X]) and its stand-ins when in error")
    add.add_argument("--snmp", default=None, metavar="ADDRESS[:PORT]",
                     help="watch it over SNMP at this address (default port 161)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=add_device)
    listing = commands.add_parser("list", help="registered printers with their health, and discovered ones")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_devices)
    revoke = commands.add_parser("revoke", help="refuse this printer's panel from now on")
    revoke.add_argument("name")
    revoke.set_defaults(handler=revoke_device)
    from gateway.cli.fleet import register_fleet_commands

    register_fleet_commands(commands)


def _endpoint(protocol: str, text: str) -> str:
    """Check the endpoint the way a release will read it; store it as typed (a bare
    ``host:port/queue`` for LPD becomes an ``lpd://`` URI so the queue survives)."""
    from spooler.forward import PrinterTarget

    scheme = {"raw": "socket"}.get(protocol, protocol)
    stored = text if "://" in text or "/" not in text else f"{scheme}://{text}"
    PrinterTarget.from_endpoint(protocol, stored)
    return stored


def register_device(core, name: str, *, protocol: str, endpoint_text: str, screen: str, **details):
    """Register a printer and its panel credentials (``devices add`` and ``devices
    approve``); returns (device, secret)."""
    from panel_menus.menus import SCREEN_SIZES
    from gateway.panel_services import (
        DEVICE_NAME, device_secret_name, encode_panel_credential, new_device_secret,
    )
    from spooler.forward.errors import BadTarget

    if not DEVICE_NAME.match(name):
        raise ValueError(f"a device id is 1-64 letters, digits, '.', '_' or '-', not {name!r}")
    if screen not in SCREEN_SIZES:
        raise ValueError(f"--screen must be one of {', '.join(SCREEN_SIZES)}")
    try:
        endpoint = _endpoint(protocol, endpoint_text)
    except BadTarget as exc:
        raise ValueError(str(exc)) from None
    secret = new_device_secret()
    core.secrets.set(device_secret_name(name), encode_panel_credential(secret, screen), actor="cli")
    device = core.devices.add(name, protocol=protocol, endpoint=endpoint, credential_secret=device_secret_name(name),
                              actor="cli", **details)
    return device, secret


def print_registration(args, device, secret) -> None:
    encoded = base64.urlsafe_b64encode(secret).decode("ascii")
    if args.json:
        print(json.dumps({"device_id": device.name, "id": device.id, "secret": encoded, "protocol": device.protocol,
                          "endpoint": device.endpoint, "screen": args.screen}))
        return
    print(f"Registered {device.name} (#{device.id}): {device.protocol} {device.endpoint}, panel {args.screen}, "
          f"{'colour' if device.color else 'mono'}, {'duplex' if device.duplex else 'simplex'}, "
          f"price list {device.price_list or '(the queue’s)'}")
    print(f"  device id: {device.name}")
    print(f"  secret:    {encoded}")
    print("  The secret is shown only this once: enter it in the printer's panel agent "
          "(it signs requests with HMAC-SHA256; see release_api/device_auth.py).")


@reports_errors
def add_device(args) -> int:
    from accounting.fleet import Fleet
    from spooler.snmp.targets import parse_target

    agent = parse_target(args.snmp)[0] if args.snmp else None
    core = open_core(args)
    device, secret = register_device(core, args.name, protocol=args.protocol, endpoint_text=args.endpoint,
                                     screen=args.screen, model=args.model, location=args.location, color=args.color,
                                     duplex=args.duplex, price_list=args.price_list, device_class=args.device_class)
    if agent is not None:
        Fleet(core.database, lambda: core.secrets).inventory.link(device.name, agent.address, agent.port, actor="cli")
    print_registration(args, device, secret)
    return 0


@reports_errors
def list_devices(args) -> int:
    from accounting.fleet import Fleet
    from gateway.panel_services import decode_panel_credential, device_secret_name

    core = open_core(args)
    fleet = {f.device: f for f in Fleet(core.database, lambda: core.secrets).inventory.list()}
    rows = []
    for device in core.devices.list():
        try:
            credential = decode_panel_credential(core.secrets.reveal(device_secret_name(device.name)))
        except Exception:
            credential = None
        rows.append({"device_id": device.name, "protocol": device.protocol, "endpoint": device.endpoint,
                     "color": device.color, "duplex": device.duplex, "price_list": device.price_list,
                     "screen": credential[1] if credential else None,
                     "panel": "active" if credential and device.enabled else "revoked",
                     "health": watched.health if (watched := fleet.get(device.name)) else "not watched",
                     "health_reason": watched.health_reason if watched else ""})
    discovered = [{"id": f.id, "address": f.address, "port": f.port, "vendor": f.info.vendor, "model": f.info.model,
                   "serial": f.info.serial, "location": f.info.location, "state": "discovered"}
                  for f in fleet.values() if f.state == "discovered"]
    if args.json:
        print(json.dumps(rows + discovered, indent=2))
        return 0
    for r in rows:
        health = r["health"] + (f" ({r['health_reason']})" if r["health_reason"] else "")
        print(f"{r['device_id']:<20} {r['protocol']:<4} {r['endpoint']:<36} {'colour' if r['color'] else 'mono':<6} "
              f"{'duplex' if r['duplex'] else 'simplex':<7} {r['screen'] or '-':<8} {r['price_list'] or '-':<12} "
              f"{r['panel']:<8} {health}")
    if discovered:
        print("Discovered, not approved (`printgate devices approve ID --name NAME ...`):")
        for d in discovered:
            where = d["address"] if d["port"] == 161 else f"{d['address']}:{d['port']}"
            print(f"  #{d['id']:<4} {where:<22} {d['vendor']} {d['model']}, serial {d['serial'] or '?'}, "
                  f"{d['location'] or 'no location'}")
    return 0


@reports_errors
def revoke_device(args) -> int:
    from gateway.panel_services import device_secret_name

    core = open_core(args)
    device = core.devices.get(args.name)
    core.secrets.set(device_secret_name(device.name), "", actor="cli")
    print(f"Revoked the panel credentials of {device.name}: its panel is refused from now on.")
    return 0
