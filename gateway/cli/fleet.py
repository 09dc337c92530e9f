"""The fleet subcommands of ``printgate devices``: SNMP credentials, discovery, approval,
status, events, meter reads, per-job meter checks and the printer-data export.

Secrets (communities, v3 keys) are read from standard input, one per line, or asked for
on a terminal without echo — never taken from the command line, where ``ps`` shows them."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses (pysnmp and accounting
# take most of a second to import), as in gateway/cli/devices.py.

import asyncio
import getpass
import json
import sys

from gateway.cli.accounts import gateway_config, open_core, reports_errors


def register_fleet_commands(commands) -> None:
    credentials = commands.add_parser("credentials", help="SNMP communities and v3 users, tried in order")
    sub = credentials.add_subparsers(dest="credentials_command", required=True)
    add = sub.add_parser("add", help="add (or replace) a credential; its secret is read from stdin")
    add.add_argument("name")
    add.add_argument("--version", choices=("1", "2c", "3"), required=True)
    add.add_argument("--user", default="", help="SNMPv3 user")
    add.add_argument("--auth", default="", help="SNMPv3 authentication: sha, sha224, sha256, sha384, sha512, md5")
    add.add_argument("--priv", default="", help="SNMPv3 privacy (authPriv): aes128, aes192, aes256, "
                                                 "aes192-reeder, aes256-reeder, des")
    add.add_argument("--position", type=int, default=None, help="1 = tried first (default: last)")
    add.set_defaults(handler=add_credential)
    listing = sub.add_parser("list", help="credentials in the order they are tried (never their secrets)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_credentials)
    remove = sub.add_parser("remove")
    remove.add_argument("name")
    remove.set_defaults(handler=remove_credential)
    move = sub.add_parser("move", help="change the order")
    move.add_argument("name")
    move.add_argument("position", type=int)
    move.set_defaults(handler=move_credential)

    discover = commands.add_parser("discover", help="find Printer-MIB v2 printers over SNMP")
    discover.add_argument("targets", nargs="+", metavar="TARGET",
                          help="ADDRESS, ADDRESS:PORT, CIDR (10.0.3.0/24) or range A-B (10.0.3.10-10.0.3.50)")
    discover.add_argument("--dry-run", action="store_true", help="show what answers; record nothing")
    discover.add_argument("--coefficient", type=float, default=None,
                          help="rate = coefficient x (2 x credentials + 1) packets/s (default [fleet.discovery])")
    discover.add_argument("--timeout", type=float, default=None, help="seconds per request (default [fleet])")
    discover.add_argument("--retries", type=int, default=None)
    discover.add_argument("--port", type=int, default=None, help="SNMP port when a target has none (161)")
    discover.add_argument("--json", action="store_true")
    discover.set_defaults(handler=discover_printers)

    approve = commands.add_parser("approve", help="register a discovered printer (prints its panel credentials)")
    approve.add_argument("key", metavar="ID|ADDRESS[:PORT]")
    approve.add_argument("--name", required=True, help="device id")
    approve.add_argument("--protocol", choices=("ipp", "lpd", "raw"), default="ipp")
    approve.add_argument("--endpoint", default=None, help="default: ipp://ADDRESS:631/ipp/print")
    approve.add_argument("--screen", default="800x480")
    approve.add_argument("--price-list", default=None)
    approve.add_argument("--class", dest="device_class", default="")
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(handler=approve_printer)

    status = commands.add_parser("status", help="what polling found: health, supplies, alerts, counters")
    status.add_argument("key", metavar="NAME|ID|ADDRESS[:PORT]")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=show_status)
    events = commands.add_parser("events", help="alerts, traps, health changes, flagged counters")
    events.add_argument("key", nargs="?", default=None)
    events.add_argument("--limit", type=int, default=50)
    events.add_argument("--json", action="store_true")
    events.set_defaults(handler=show_events)
    meters = commands.add_parser("meters", help="meter reads (--period: the automated reads for billing)")
    meters.add_argument("key", nargs="?", default=None)
    meters.add_argument("--period", action="store_true")
    meters.add_argument("--json", action="store_true")
    meters.set_defaults(handler=show_meters)
    checks = commands.add_parser("checks", help="expected against counted impressions per released job")
    checks.add_argument("--device", default=None)
    checks.add_argument("--json", action="store_true")
    checks.set_defaults(handler=show_checks)
    export = commands.add_parser("export", help="printer data as JSON, XML or CSV")
    export.add_argument("--format", choices=("json", "xml", "csv"), default="json")
    export.add_argument("--output", default=None, help="file (default: standard output)")
    export.set_defaults(handler=export_printers_command)


def _fleet(args, *, create: bool = True):
    """``create=False`` for commands that only read (no database is created for them)."""
    from accounting.fleet import Fleet

    core = open_core(args, create=create)
    return core, Fleet(core.database, lambda: core.secrets), gateway_config(args).fleet


def _secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    line = sys.stdin.readline()
    if not line:
        raise ValueError(f"expected a secret on standard input ({prompt.strip(': ')})")
    return line.rstrip("\n")


@reports_errors
def add_credential(args) -> int:
    from accounting.fleet.records import SnmpCredential

    if args.version == "3":
        auth_key = _secret("authentication key: ")
        priv_key = _secret("privacy key: ") if args.priv else ""
        credential = SnmpCredential(args.name, "3", user=args.user, auth_protocol=args.auth.lower(), auth_key=auth_key,
                                    priv_protocol=args.priv.lower(), priv_key=priv_key)
    else:
        credential = SnmpCredential(args.name, args.version, community=_secret("community: "))
    _, fleet, _ = _fleet(args)
    fleet.credentials.add(credential, position=args.position, actor="cli")
    print(f"SNMP credential {credential.name}: {credential.describe()}")
    return 0


@reports_errors
def list_credentials(args) -> int:
    _, fleet, _ = _fleet(args, create=False)
    described = fleet.credentials.describe()
    if args.json:
        print(json.dumps([{"position": n, "name": c.name, "version": c.version, "user": c.user,
                           "auth": c.auth_protocol, "priv": c.priv_protocol} for n, c in enumerate(described, 1)],
                         indent=2))
        return 0
    for number, credential in enumerate(described, 1):
        print(f"{number:>2}. {credential.name:<20} {credential.describe()}")
    return 0


@reports_errors
def remove_credential(args) -> int:
    _, fleet, _ = _fleet(args)
    fleet.credentials.remove(args.name, actor="cli")
    print(f"removed SNMP credential {args.name}")
    return 0


@reports_errors
def move_credential(args) -> int:
    _, fleet, _ = _fleet(args)
    fleet.credentials.move(args.name, args.position, actor="cli")
    print(f"{args.name} is now tried at position {args.position}")
    return 0


@reports_errors
def discover_printers(args) -> int:
    from gateway.fleet_discovery import discover
    from spooler.snmp.client import Agent
    from spooler.snmp.targets import parse_targets

    core, fleet, config = _fleet(args)
    credentials = fleet.credentials.load()
    if not credentials:
        raise ValueError("no SNMP credentials: add one with `printgate devices credentials add`")
    port = args.port or config.discovery_port
    total = len(parse_targets(args.targets, default_port=port))
    known = {Agent(d.address, d.port): d.credential for d in fleet.inventory.list() if d.credential}
    bar = None
    if sys.stderr.isatty() and not args.json:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="addr", file=sys.stderr, desc="discovery")

    def progress(agent, outcome):
        if bar is not None:
            bar.update(1)
            if outcome == "printer":
                bar.set_postfix_str(f"printer at {agent}")

    def record(probe, info):
        device = fleet.inventory.record_discovery(probe, info)
        return device, device.discovered_at == device.last_seen_at

    try:
        summary = asyncio.run(discover(
            args.targets, credentials=credentials,
            coefficient=args.coefficient or config.discovery_coefficient, timeout=args.timeout or config.timeout,
            retries=config.retries if args.retries is None else args.retries, port=port, max_rows=config.max_rows,
            on_progress=progress, known=known, record=None if args.dry_run else record))
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps({
            "swept": summary.result.swept, "silent": summary.result.silent, "packets": summary.result.packets,
            "elapsed": summary.result.elapsed, "rate": summary.rate, "dry_run": args.dry_run,
            "printers": [{"address": f.probe.address, "port": f.probe.port, "credential": f.probe.credential,
                          "info": f.info.to_json() if f.info else None, "error": f.error}
                         for f in summary.result.printers],
            "not_printers": [{"address": p.address, "port": p.port, "sys_descr": p.sys_descr}
                             for p in summary.result.not_printers]}, indent=2))
        return 0
    for line in summary.lines():
        print(line)
    if args.dry_run:
        print("Dry run: nothing was recorded.")
    return 0


@reports_errors
def approve_printer(args) -> int:
    from gateway.cli.devices import print_registration
    from gateway.register_device import register_device

    core, fleet, _ = _fleet(args)
    found = fleet.inventory.find(args.key)
    info = found.info
    endpoint = args.endpoint or f"ipp://{found.address}:631/ipp/print"
    registered = register_device(
        core, args.name, protocol=args.protocol, endpoint=endpoint, screen=args.screen, color=info.color,
        duplex=info.duplex, price_list=args.price_list, model=info.model, location=info.location,
        device_class=args.device_class, serial=info.serial, mac=info.mac,
        media=sorted({t.media_size for t in info.trays if t.media_size}), actor="cli")
    fleet.inventory.approve(found.id, registered.device.name, actor="cli")
    print_registration(args, registered)
    return 0


def _supplies_text(supplies) -> str:
    return ", ".join(f"{s.description or s.kind} {s.percent}%" if s.percent is not None else
                     f"{s.description or s.kind} ({'some left' if s.level == -3 else 'unknown'})" for s in supplies)


@reports_errors
def show_status(args) -> int:
    _, fleet, _ = _fleet(args, create=False)
    d = fleet.inventory.find(args.key)
    if args.json:
        print(json.dumps(d.to_json(), indent=2, default=str))
        return 0
    info = d.info
    print(f"{d.label} ({d.state}) at {d.address}:{d.port} via {d.credential or '-'}")
    print(f"  {info.vendor} {info.model}, serial {info.serial or '?'}, MAC {info.mac or '?'}, firmware "
          f"{info.firmware or '?'}")
    print(f"  {info.location or 'no location'}; contact {info.contact or '-'}; "
          f"{'colour' if info.color else 'mono'}, {'duplex' if info.duplex else 'simplex'}"
          + (f", finisher: {', '.join(info.finishers)}" if info.finishers else ""))
    print(f"  health: {d.health}" + (f" ({d.health_reason})" if d.health_reason else "")
          + f"; printer {d.printer_status}; errors: {', '.join(d.errors) or 'none'}")
    print(f"  counter: {d.life_count if d.life_count is not None else '?'} {d.counter_unit}"
          + (f" (colour {d.color_count}, mono {d.mono_count})" if d.color_count is not None else ""))
    print(f"  supplies: {_supplies_text(d.supplies or info.supplies) or '-'}")
    for tray in info.trays:
        level = {-3: "some", -2: "?"}.get(tray.level, tray.level)  # Printer-MIB: -3 at least one, -2 unknown
        print(f"  tray {tray.name or tray.index}: {tray.media_size or '?'} {tray.media_type}, {level}/{tray.capacity}")
    for output in info.bins:
        print(f"  output {output.name or output.index}: {output.remaining}/{output.capacity}")
    for alert in d.alerts:
        print(f"  alert {alert.severity}: {alert.description or alert.code_name} ({alert.group})")
    return 0


def _show(args, records, as_json, as_line) -> int:
    """``records`` as a JSON list (``--json``) or one line each."""
    if args.json:
        print(json.dumps([as_json(r) for r in records], indent=2))
    else:
        for record in records:
            print(as_line(record))
    return 0


@reports_errors
def show_events(args) -> int:
    _, fleet, _ = _fleet(args, create=False)
    return _show(args, fleet.inventory.events(args.key, limit=args.limit), lambda e: e,
                 lambda e: f"{e['at'][:19]} {e['device']:<20} {e['kind']:<20} {e['severity']:<10} {e['description']}")


@reports_errors
def show_meters(args) -> int:
    _, fleet, _ = _fleet(args, create=False)
    key_id = fleet.inventory.find(args.key).id if args.key else None
    return _show(args, fleet.meters.reads(key_id, reason="period" if args.period else None),
                 lambda r: {"device": r.device, "at": r.at.isoformat(), "life_count": r.life_count,
                            "color_count": r.color_count, "mono_count": r.mono_count, "reason": r.reason,
                            "flag": r.flag, "period_start": r.period_start.isoformat() if r.period_start else None},
                 lambda r: f"{r.at:%Y-%m-%d %H:%M} {r.device:<20} {r.life_count!s:>10} {r.reason:<8} {r.flag or ''}")


@reports_errors
def show_checks(args) -> int:
    _, fleet, _ = _fleet(args, create=False)
    return _show(args, fleet.meters.checks(device_name=args.device),
                 lambda c: {"job_id": c.job_id, "device": c.device, "expected": c.expected, "counted": c.counted,
                            "outcome": c.outcome, "refunded": c.refunded, "note": c.note, "at": c.at.isoformat()},
                 lambda c: f"job {c.job_id:<6} {c.device:<20} expected {c.expected!s:>5} counted {c.counted!s:>5} "
                           f"{c.outcome:<11} refunded {c.refunded} {c.note}")


@reports_errors
def export_printers_command(args) -> int:
    from accounting.fleet.export import export_printers

    _, fleet, _ = _fleet(args, create=False)
    body = export_printers(fleet.inventory.list(), args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(body)
        print(f"exported {body.count(chr(10))} line(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(body)
    return 0
