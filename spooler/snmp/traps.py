"""The trap receiver: SNMPv1/v2c traps and SNMPv3 notifications on one UDP socket,
through pysnmp's notification receiver on the asyncio loop.

Credentials are the fleet's: a v1/v2c trap must carry one of the stored communities; a
v3 notification must come from a known printer's engine (its snmpEngineID, learned by
the information read) as one of the stored v3 users. pysnmp drops the rest and counts
them in its own MIB counters (``dropped_credentials`` sums them). The credentials can
change while the receiver runs (``use_credentials``). What passes is handed on decoded
(``Trap``); the gateway drops, and counts, traps from senders it does not know."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config as snmp_config
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import ntfrcv

from accounting.fleet.records import SnmpCredential
from spooler.snmp import oids as O
from spooler.snmp.client import AUTH, PRIV
from spooler.snmp.printer_mib import ALERT_CODE, ALERT_GROUP, ALERT_SEVERITY
from spooler.snmp.values import integer, plain, text

#: pysnmp's counters of messages it refused for their credentials.
CREDENTIAL_COUNTERS = (("__SNMPv2-MIB", "snmpInBadCommunityNames"),
                       ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames"),
                       ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests"),
                       ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors"),
                       ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownEngineIDs"),
                       ("__SNMP-USER-BASED-SM-MIB", "usmStatsNotInTimeWindows"),
                       ("__SNMPv2-MIB", "snmpInASNParseErrs"))
MAX_VARBINDS = 64


@dataclass(frozen=True)
class Trap:
    """A notification that passed the credential check."""

    address: str
    port: int
    trap_oid: str
    kind: str  # "printer-alert", "link-down", "link-up", "cold-start", "warm-start", "other"
    severity: str = ""
    code: int | None = None
    description: str = ""
    values: dict = field(default_factory=dict)


def decode_trap(address: str, port: int, var_binds) -> Trap:
    """``var_binds``: ``[(oid tuple, plain value)]`` of a v2c-form notification (pysnmp
    turns v1 traps into that form)."""
    values = {}
    for name, value in var_binds[:MAX_VARBINDS]:
        values[tuple(name)] = value
    trap_oid = values.get(O.SNMP_TRAP_OID) or ""
    trap_tuple = O.oid(trap_oid) if trap_oid else ()
    column = lambda col: next((v for k, v in values.items() if k[:len(col)] == col and len(k) > len(col)), None)  # noqa: E731
    if trap_tuple == O.PRINTER_V2_ALERT_TRAP:
        code = integer(column(O.PRT_ALERT_CODE)) or 0
        severity = ALERT_SEVERITY.get(integer(column(O.PRT_ALERT_SEVERITY)), "other")
        group = ALERT_GROUP.get(integer(column(O.PRT_ALERT_GROUP)), "other")
        description = text(column(O.PRT_ALERT_DESCRIPTION)) or f"{ALERT_CODE.get(code, f'code {code}')} ({group})"
        return Trap(address, port, trap_oid, "printer-alert", severity, code, description)
    kinds = {O.LINK_DOWN: ("link-down", "warning"), O.LINK_UP: ("link-up", ""),
             O.COLD_START: ("cold-start", ""), O.WARM_START: ("warm-start", "")}
    kind, severity = kinds.get(trap_tuple, ("other", ""))
    return Trap(address, port, trap_oid, kind, severity, None, kind if kind != "other" else f"trap {trap_oid}")


def bind_udp(address: str, port: int) -> socket.socket:
    """A bound UDP socket (raises OSError when the port is taken or privileged)."""
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class TrapReceiver:
    def __init__(self, credentials: list[SnmpCredential], on_trap):
        self.engine = SnmpEngine()
        self.on_trap = on_trap
        self.received = 0
        self._communities: dict[str, SnmpCredential] = {}  # pysnmp's community index -> credential
        self._users: dict[str, SnmpCredential] = {}  # v3 user name -> its credential (the last stored wins)
        self._engines: set[str] = set()
        self.use_credentials(credentials)
        ntfrcv.NotificationReceiver(self.engine, self._received)
        self.transport = None

    def use_credentials(self, credentials: list[SnmpCredential]) -> tuple[list[str], list[str]]:
        """Accept traps with ``credentials`` from now on, and with no others: the stored
        credentials, read again while the gateway runs. Only what changed is touched in
        pysnmp's tables (a v3 user once per trusted engine). Returns the names of the
        credentials (re)added and of those no longer accepted; both empty when nothing
        changed."""
        communities = {f"c-{c.name}"[:32]: c for c in credentials if c.version != "3"}
        users = {c.user: c for c in credentials if c.version == "3"}
        added, removed = [], []
        for index in self._communities.keys() - communities.keys():
            snmp_config.delete_v1_system(self.engine, index)
            removed.append(self._communities[index].name)
        for index, credential in communities.items():
            if self._communities.get(index) != credential:
                snmp_config.add_v1_system(self.engine, index, credential.community)
                added.append(credential.name)
        self._communities = communities
        for user in self._users.keys() - users.keys():
            for engine_id in self._engines:
                snmp_config.delete_v3_user(self.engine, user, securityEngineId=univ.OctetString(hexValue=engine_id))
            removed.append(self._users[user].name)
        for user, credential in users.items():
            if self._users.get(user) != credential:
                for engine_id in self._engines:
                    self._add_user(credential, engine_id)
                added.append(credential.name)
        self._users = users
        return added, removed

    def trust_engine(self, engine_id_hex: str) -> None:
        """Accept v3 notifications from the engine ``engine_id_hex`` (a known printer) as
        any stored v3 user."""
        if not engine_id_hex or engine_id_hex in self._engines:
            return
        self._engines.add(engine_id_hex)
        for credential in self._users.values():
            self._add_user(credential, engine_id_hex)

    def _add_user(self, credential: SnmpCredential, engine_id_hex: str) -> None:
        snmp_config.add_v3_user(
            self.engine, credential.user, AUTH.get(credential.auth_protocol, snmp_config.USM_AUTH_NONE),
            credential.auth_key or None, PRIV.get(credential.priv_protocol or "", snmp_config.USM_PRIV_NONE),
            credential.priv_key or None, securityEngineId=univ.OctetString(hexValue=engine_id_hex))

    def listen(self, sock: socket.socket) -> None:
        self.transport = udp.UdpAsyncioTransport().open_server_mode(sock=sock)
        snmp_config.add_transport(self.engine, udp.DOMAIN_NAME, self.transport)

    def close(self) -> None:
        if self.transport is not None:
            self.engine.close_dispatcher()
            self.transport = None

    def dropped_credentials(self) -> int:
        builder = self.engine.get_mib_builder()
        total = 0
        for module, name in CREDENTIAL_COUNTERS:
            (counter,) = builder.import_symbols(module, name)
            total += int(counter.syntax)
        return total

    def _received(self, engine, state_reference, context_engine_id, context_name, var_binds, context):
        self.received += 1
        try:
            _domain, (address, port) = engine.message_dispatcher.get_transport_info(state_reference)
        except Exception:  # noqa: BLE001 - no sender, nothing to attribute the trap to
            address, port = "", 0
        trap = decode_trap(str(address), int(port), [(tuple(n), plain(v)) for n, v in var_binds])
        self.on_trap(trap)
