"""Discovery targets as an admin types them: an address, ``ADDRESS:PORT``, a CIDR range
(``10.0.3.0/24``) or a range ``A-B`` (``10.0.3.10-10.0.3.50``, or ``10.0.3.10-50``).
Network and broadcast addresses of a CIDR range wider than /31 are left out; a sweep
is bounded (``MAX_ADDRESSES``) so a typo like ``10.0.0.0/8`` is refused, not run."""
from __future__ import annotations

import ipaddress

from spooler.snmp.client import Agent
from spooler.snmp.errors import BadTarget

MAX_ADDRESSES = 65_536
SNMP_PORT = 161


def parse_target(text: str, *, default_port: int = SNMP_PORT) -> list[Agent]:
    text = text.strip()
    if not text:
        raise BadTarget(text, "empty")
    port = default_port
    host = text
    if text.count(":") == 1 and "/" not in text and "-" not in text.split(":")[1]:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise BadTarget(text, "the port is 1-65535")
        port = int(port_text)
    try:
        if "/" in host:
            network = ipaddress.IPv4Network(host, strict=False)
            if network.num_addresses > MAX_ADDRESSES:
                raise BadTarget(text, f"more than {MAX_ADDRESSES} addresses")
            hosts = network.hosts() if network.prefixlen < 31 else iter(network)
            return [Agent(str(address), port) for address in hosts]
        if "-" in host:
            first_text, _, last_text = host.partition("-")
            first = ipaddress.IPv4Address(first_text)
            if "." not in last_text:
                last_text = ".".join(first_text.split(".")[:3] + [last_text])
            last = ipaddress.IPv4Address(last_text)
            if last < first:
                raise BadTarget(text, "the range ends before it starts")
            if int(last) - int(first) + 1 > MAX_ADDRESSES:
                raise BadTarget(text, f"more than {MAX_ADDRESSES} addresses")
            return [Agent(str(ipaddress.IPv4Address(n)), port) for n in range(int(first), int(last) + 1)]
        return [Agent(str(ipaddress.IPv4Address(host)), port)]
    except ValueError as exc:
        raise BadTarget(text, str(exc)) from None


def parse_targets(texts, *, default_port: int = SNMP_PORT) -> list[Agent]:
    """Every agent of every target, each once, in the order given."""
    seen = set()
    agents = []
    for text in texts:
        for agent in parse_target(text, default_port=default_port):
            if agent not in seen:
                seen.add(agent)
                agents.append(agent)
    if len(agents) > MAX_ADDRESSES:
        raise BadTarget(" ".join(texts), f"more than {MAX_ADDRESSES} addresses in all")
    return agents
