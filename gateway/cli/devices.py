"""``printgate devices add|list|revoke``: the printers jobs are released at.

``add`` registers a printer (how the gateway reaches it, what its panel's screen is, what
it can print, which price list applies) and prints its panel credentials — the device id
and a new HMAC secret — once; only the encrypted secret is kept. ``revoke`` blanks the
secret: the printer's next panel request is refused.

The fleet (issue 17): ``credentials`` keeps SNMP communities and v3 users (as secrets,
tried in order); ``discover`` sweeps addresses for Printer-MIB v2 agents; ``approve``
registers a discovered printer through the same use case as ``add``; ``status``,
``events``, ``meters``, ``checks`` and ``export`` show what polling found."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import argparse
import json
from pathlib import Path

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("devices", help="printers: register, list, edit, revoke panel credentials")
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
    trust = add.add_mutually_exclusive_group()
    trust.add_argument("--tls-fingerprint", default=None, metavar="SHA256",
                       help="ipps:// only: the SHA-256 fingerprint of the printer's certificate, pinned (hex, colons "
                            "allowed; e.g. from `openssl x509 -noout -fingerprint -sha256`)")
    trust.add_argument("--tls-ca", default=None, metavar="PEM-FILE",
                       help="ipps:// only: the CA certificate(s) the printer's certificate must lead to (its name or "
                            "address is checked too). Without either, the system's trust store is used")
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
    rotate = commands.add_parser("rotate-cookie-key",
                                 help="new key for the panels' device cookies (each panel signs its launch again)")
    rotate.set_defaults(handler=rotate_cookie_key)
    register_edit(commands)
    from gateway.cli.fleet import register_fleet_commands

    register_fleet_commands(commands)


@reports_errors
def add_device(args) -> int:
    from accounting.fleet import Fleet
    from gateway.register_device import register_device
    from spooler.snmp.targets import parse_target

    agent = parse_target(args.snmp)[0] if args.snmp else None
    ca_pem = Path(args.tls_ca).read_text(encoding="ascii") if args.tls_ca else None
    core = open_core(args)
    registered = register_device(core, args.name, protocol=args.protocol, endpoint=args.endpoint, screen=args.screen,
                                 color=args.color, duplex=args.duplex, price_list=args.price_list, model=args.model,
                                 location=args.location, device_class=args.device_class,
                                 tls_fingerprint=args.tls_fingerprint, tls_ca_pem=ca_pem, actor="cli")
    if agent is not None:
        Fleet(core.database, lambda: core.secrets).inventory.link(registered.device.name, agent.address, agent.port,
                                                                  actor="cli")
    print_registration(args, registered)
    return 0


def print_registration(args, registered) -> None:
    """The panel credentials, shown once (``devices add`` and ``devices approve``)."""
    device = registered.device
    if args.json:
        print(json.dumps({"device_id": device.name, "id": device.id, "secret": registered.secret_text,
                          "protocol": device.protocol, "endpoint": device.endpoint, "screen": args.screen}))
        return
    print(f"Registered {device.name} (#{device.id}): {device.protocol} {device.endpoint}, panel {args.screen}, "
          f"{'colour' if device.color else 'mono'}, {'duplex' if device.duplex else 'simplex'}, "
          f"price list {device.price_list or '(the queue’s)'}")
    if device.endpoint.lower().startswith("ipps://"):
        how = checked_against(getattr(args, "tls_fingerprint", None), getattr(args, "tls_ca", None))  # not on approve
        print(f"  TLS: jobs go over TLS only; the printer's certificate is checked against {how}.")
    print(f"  device id: {device.name}")
    print(f"  secret:    {registered.secret_text}")
    print("  The secret is shown only this once: enter it in the printer's panel agent "
          "(it signs requests with HMAC-SHA256; see release_api/device_auth.py).")


def checked_against(fingerprint: str | None, ca_file: str | None) -> str:
    """What an ipps:// printer's certificate is checked against, in words."""
    return ("the pinned certificate fingerprint" if fingerprint else
            f"the CA in {ca_file}" if ca_file else "the system's trust store (and its name)")


@reports_errors
def list_devices(args) -> int:
    from accounting.fleet import Fleet
    from gateway.register_device import panel_credential

    core = open_core(args, create=False)
    watched_printers = Fleet(core.database, lambda: core.secrets).inventory.list()
    fleet = {f.device: f for f in watched_printers if f.device}
    rows = []
    for device in core.devices.list():
        credential = panel_credential(core, device.name)
        watched = fleet.get(device.name)
        rows.append({"device_id": device.name, "protocol": device.protocol, "endpoint": device.endpoint,
                     "color": device.color, "duplex": device.duplex, "price_list": device.price_list,
                     "screen": credential.screen if credential else None,
                     "panel": "active" if credential else "revoked",
                     "health": watched.health if watched else "not watched",
                     "health_reason": watched.health_reason if watched else ""})
    discovered = [{"id": f.id, "address": f.address, "port": f.port, "vendor": f.info.vendor, "model": f.info.model,
                   "serial": f.info.serial, "location": f.info.location, "state": "discovered"}
                  for f in watched_printers if f.state == "discovered"]
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
    from gateway.register_device import revoke_device as revoke

    device = revoke(open_core(args), args.name, actor="cli")
    print(f"Revoked the panel credentials of {device.name}: its panel is refused from now on.")
    return 0


@reports_errors
def rotate_cookie_key(args) -> int:
    from gateway.register_device import rotate_panel_cookie_key

    rotate_panel_cookie_key(open_core(args), actor="cli")
    print("The panels' device cookie key was replaced. A running gateway uses it within a minute; each panel "
          "then goes through its signed launch once more (no one is logged out of anything else).")
    return 0


# -- edit (issue 14): change a registered printer, keeping its id and panel secret ------
def register_edit(commands) -> None:
    edit = commands.add_parser("edit", help="change a printer's endpoint, protocol, abilities, price list, screen "
                                            "or the certificate its ipps:// endpoint must show")
    edit.add_argument("name")
    edit.add_argument("--protocol", choices=("ipp", "lpd", "raw"), default=None)
    edit.add_argument("--endpoint", default=None, help="as for add")
    edit.add_argument("--screen", default=None, help="panel size: 480x272, 800x480 or 1024x600")
    for flag, what in (("color", "prints colour"), ("duplex", "prints two-sided")):
        edit.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None, help=what)
    edit.add_argument("--price-list", default=None, help="price list for jobs printed here ('' for the queue's)")
    edit.add_argument("--model", default=None)
    edit.add_argument("--location", default=None)
    trust = edit.add_mutually_exclusive_group()
    trust.add_argument("--tls-fingerprint", default=None, metavar="SHA256",
                       help="ipps:// only: pin this SHA-256 certificate fingerprint instead of what was registered")
    trust.add_argument("--tls-ca", default=None, metavar="PEM-FILE",
                       help="ipps:// only: check the printer's certificate against these CA certificate(s) instead")
    trust.add_argument("--tls-system-trust", action="store_true",
                       help="ipps:// only: drop the pinned fingerprint or CA; use the system's trust store and the "
                            "printer's name")
    edit.set_defaults(handler=edit_device)


@reports_errors
def edit_device(args) -> int:
    from gateway.edit_device import UNCHANGED, edit_device as edit

    price_list = UNCHANGED if args.price_list is None else (args.price_list or None)
    ca_pem = Path(args.tls_ca).read_text(encoding="ascii") if args.tls_ca else None
    device = edit(open_core(args), args.name, protocol=args.protocol, endpoint=args.endpoint, screen=args.screen,
                  color=args.color, duplex=args.duplex, price_list=price_list, model=args.model,
                  location=args.location, tls_fingerprint=args.tls_fingerprint, tls_ca_pem=ca_pem,
                  tls_system_trust=args.tls_system_trust, actor="cli")
    print(f"{device.name}: {device.protocol} {device.endpoint}, {'colour' if device.color else 'mono'}, "
          f"{'duplex' if device.duplex else 'simplex'}, price list {device.price_list or '(the queue’s)'}"
          + (f", panel {args.screen}" if args.screen else ""))
    if args.tls_fingerprint or args.tls_ca or args.tls_system_trust:
        how = checked_against(args.tls_fingerprint, args.tls_ca)
        print(f"  TLS: from the next release, the printer's certificate is checked against {how}.")
    return 0
