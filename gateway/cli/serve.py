"""``printgate serve``: run the gateway in the foreground until SIGTERM/SIGINT."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the gateway")
    parser.add_argument("--bind", default=None, help="address to listen on (default: all)")
    for name in ("lpd", "raw", "ipp", "https"):
        parser.add_argument(f"--{name}-port", type=int, default=None,
                            help=f"{name.upper()} port (0 disables; default: standard, else fallback)")
    parser.add_argument("--http-port", type=int, default=None,
                        help="plain-HTTP port that redirects to HTTPS (0 disables; default: 80, else 10080, "
                             "and none when --https-port is given)")
    parser.add_argument("--trap-port", type=int, default=None,
                        help="UDP port of the SNMP trap receiver when [fleet] is enabled (0 disables; default: "
                             "[fleet] trap_port, else 162, else 10162)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warn", "error"),
                        help="least important log lines shown (default: info; debug shows every IPP request)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    # The asyncio reactor must be installed before anything imports twisted.internet.reactor.
    from twisted.internet import asyncioreactor

    asyncioreactor.install()
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner

    from spooler.config import ConfigError, load_config
    from spooler.logs import gateway_log_observer
    from gateway.process import Gateway

    try:
        config = load_config(args.config, args.data_dir)
    except ConfigError as exc:
        print(f"printgate: {exc}", file=sys.stderr)
        return 2
    if args.bind is not None:
        config.bind = args.bind
    for name in ("lpd", "raw", "ipp", "https", "http"):
        value = getattr(args, f"{name}_port")
        if value is not None:
            config.ports[name] = value
    if args.trap_port is not None:
        if not 0 <= args.trap_port <= 65535:
            print("printgate: --trap-port must be between 0 and 65535", file=sys.stderr)
            return 2
        config.fleet.trap_port = args.trap_port
    globalLogBeginner.beginLoggingTo([gateway_log_observer(sys.stdout, args.log_level)], redirectStandardIO=False)
    gateway = Gateway(config, reactor=reactor)
    try:
        gateway.start()
    except ConfigError as exc:  # e.g. a secret the configuration names is not stored
        print(f"printgate: {exc}", file=sys.stderr)
        return 2
    print(f"Printgate is running. Data directory: {config.data_dir.resolve()} (from {config.data_dir_source})",
          flush=True)
    for line in banner_lines(gateway, config):
        print(line, flush=True)
    for line in gateway.start_lines():
        print(f"  {line}", flush=True)
    print("  Stop with Ctrl-C or SIGTERM.", flush=True)
    reactor.run()
    return 0


#: What each listener is for, as the start-up lines say it (``{host}``, ``{port}``, ``{queue}``).
LISTENER_PURPOSES = {
    "lpd": "workstations print here: lpd://{host}:{port}/{queue}",
    "raw": "workstations print here: socket://{host}:{port}",
    "ipp": "workstations print here: ipp://{host}:{port}/printers/{queue}",
    "https": "printer panels, and IPP over TLS: ipps://{host}:{port}/printers/{queue}",
    "http": "redirects to HTTPS",
}


def banner_lines(gateway, config) -> list[str]:
    """The start-up lines: each listener with what it is for, then the URLs a person may
    be tempted to open, with who each one is for."""
    host = gateway.public_host
    lines = []
    for listener in gateway.listeners:
        where = listener.address or "all addresses"
        purpose = LISTENER_PURPOSES.get(listener.name, "").format(host=host, port=listener.number,
                                                                   queue=config.default_queue)
        if listener.name == "http":
            purpose = ""  # its note says it redirects
        elif listener.name == "https" and "ipp" not in gateway.factories:
            purpose = "printer panels"
        notes = "; ".join(part for part in (purpose, listener.note) if part)
        lines.append(f"  {listener.name.upper():<5} listening on {where} port {listener.number}"
                     + (f"  ({notes})" if notes else ""))
    lines.append(f"  Queues: {', '.join(config.queues)} (default {config.default_queue})")
    if gateway.panel_url:
        base = gateway.panel_url[:-len("/panel/")]
        lines.append(f"  Printer panels: {base}/panel/launch — opened by a registered printer's panel, which signs it "
                     "with the credentials from `printgate devices add`; it does not work in a normal browser.")
        lines.append(f"  Web pages: {base}/ (users, finance and admins; make the first admin with `printgate users "
                     "grant USER admin`). Administration also with the `printgate` command (printgate --help).")
    return lines
