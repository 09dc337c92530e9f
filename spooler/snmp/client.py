"""An SNMP command generator for the fleet over pysnmp 7's asyncio API.

SNMPv1/v2c requests are encoded and decoded by ``spooler.snmp.ber`` and go over one UDP
socket (``spooler.snmp.community``): measured, pysnmp's generic machinery cost a status
poll 10-25 ms of CPU per printer, this path well under the 2 ms goal (see
``benchmarks/fleet.py``). SNMPv3 needs USM (keys, engine discovery, time windows): one
pysnmp ``SnmpEngine`` serves those requests, asked for single attempts (``retries=0``).
Both run on the asyncio loop (on the gateway, under the Twisted reactor), and the client
retries itself so that every packet it sends can first take a token from a rate limiter
(discovery), and so it can count what it sent. Replies become plain Python at once
(``values.plain`` for pysnmp's objects); tables are read by column, up to a row cap, with
GETBULK (v2c, v3) or GETNEXT (v1), so a 100,000-row table costs at most ``max_rows`` rows
of memory.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pysnmp.entity.engine import SnmpEngine
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData, ContextData, UdpTransportTarget, UsmUserData, bulk_cmd, get_cmd, next_cmd,
)
from pysnmp.entity import config as snmp_config
from pysnmp.proto import errind
from pysnmp.proto.rfc1902 import ObjectName
from pysnmp.smi.rfc1902 import ObjectIdentity, ObjectType

from accounting.fleet.records import SnmpCredential
from spooler.snmp import ber
from spooler.snmp.community import CommunityChannel
from spooler.snmp.errors import SnmpAuthError, SnmpError, SnmpReplyError, SnmpTimeout
from spooler.snmp.values import plain

AUTH = {
    "md5": snmp_config.USM_AUTH_HMAC96_MD5,
    "sha": snmp_config.USM_AUTH_HMAC96_SHA,
    "sha224": snmp_config.USM_AUTH_HMAC128_SHA224,
    "sha256": snmp_config.USM_AUTH_HMAC192_SHA256,
    "sha384": snmp_config.USM_AUTH_HMAC256_SHA384,
    "sha512": snmp_config.USM_AUTH_HMAC384_SHA512,
}
PRIV = {
    "des": snmp_config.USM_PRIV_CBC56_DES,
    "aes128": snmp_config.USM_PRIV_CFB128_AES,
    # AES-192/256 as net-snmp and most printers do them (Blumenthal key extension);
    # the "-reeder" names are the Cisco variant.
    "aes192": snmp_config.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256": snmp_config.USM_PRIV_CFB256_AES_BLUMENTHAL,
    "aes192-reeder": snmp_config.USM_PRIV_CFB192_AES,
    "aes256-reeder": snmp_config.USM_PRIV_CFB256_AES,
}
#: Answers meaning "this credential is wrong here" (SNMPv3); for v1/v2c a wrong
#: community gets no answer at all.
AUTH_FAILURES = (errind.UnknownUserName, errind.WrongDigest, errind.AuthenticationFailure,
                 errind.AuthenticationError, errind.DecryptionError, errind.UnknownEngineID,
                 errind.UnsupportedSecurityLevel, errind.UnknownSecurityName, errind.NotInTimeWindow)
#: v1 error-status noSuchName (2): the varbind at error-index does not exist.
NO_SUCH_NAME = 2
TOO_BIG = 1
#: Varbinds asked of one GETBULK reply (columns x repetitions): agents cap a reply at a few
#: dozen (snmpsim at 64) and answer more with tooBig, which costs a second request.
MAX_VARBINDS = 64
_PDU = {"get": ber.GET, "next": ber.GETNEXT, "bulk": ber.GETBULK}


@dataclass(frozen=True)
class Agent:
    address: str
    port: int = 161

    def __str__(self) -> str:
        return self.address if self.port == 161 else f"{self.address}:{self.port}"


class NoLimit:
    """The limiter of requests that are not rate-limited (monitoring has a concurrency
    cap instead)."""

    async def take(self, packets: int = 1) -> None:
        return None


@dataclass(frozen=True)
class Table:
    """Columns read from one agent: ``columns[column][index] = value``."""

    columns: dict
    truncated: bool = False

    def column(self, oid) -> dict:
        return self.columns.get(tuple(oid), {})


class SnmpClient:
    def __init__(self, *, timeout: float = 1.0, retries: int = 1, max_repetitions: int = 10,
                 engine: SnmpEngine | None = None):
        self.engine = engine or SnmpEngine()
        self.timeout = timeout
        self.retries = retries
        self.max_repetitions = max_repetitions
        #: SNMP messages sent (requests and retries; an SNMPv3 engine discovery counts 2).
        self.packets_sent = 0
        self._auth: dict = {}
        self._targets: dict = {}
        self._v3_engines_known: set = set()
        self.channel = CommunityChannel()

    # -- pysnmp objects, built once per credential / agent ------------------------------------
    def _auth_data(self, credential: SnmpCredential):
        key = (credential.name, credential.version, credential.user, credential.community)
        found = self._auth.get(key)
        if found is None:
            if credential.version == "3":
                found = UsmUserData(
                    credential.user, authKey=credential.auth_key or None, privKey=credential.priv_key or None,
                    authProtocol=AUTH.get(credential.auth_protocol or "", snmp_config.USM_AUTH_NONE),
                    privProtocol=PRIV.get(credential.priv_protocol or "", snmp_config.USM_PRIV_NONE))
            else:
                found = CommunityData(credential.community, mpModel=0 if credential.version == "1" else 1)
            self._auth[key] = found
        return found

    async def _target(self, agent: Agent) -> UdpTransportTarget:
        found = self._targets.get(agent)
        if found is None:
            try:
                ipaddress.IPv4Address(agent.address)
            except ValueError:
                found = await UdpTransportTarget.create((agent.address, agent.port), timeout=self.timeout, retries=0)
            else:
                # A numeric address needs no resolver (which would cost a thread hop per
                # target): set what ``create`` would have found.
                found = UdpTransportTarget.__new__(UdpTransportTarget)
                found.transport_address = (agent.address, agent.port)
                found.__init__(timeout=self.timeout, retries=0)
            self._targets[agent] = found
        return found

    def close(self) -> None:
        """Close the v1/v2c socket(s); the client opens them again if used."""
        self.channel.close()

    def forget(self, agent: Agent) -> None:
        self._targets.pop(agent, None)

    # -- one request, with our own retries ------------------------------------------------
    async def _request(self, kind: str, agent: Agent, credential: SnmpCredential, oids, *, limiter=None,
                       non_repeaters: int = 0, max_repetitions: int = 0):
        """(error-status, error-index, [(oid, plain value)])."""
        limiter = limiter or NoLimit()
        if credential.version != "3":
            return await self._community_request(kind, agent, credential, oids, limiter, non_repeaters,
                                                 max_repetitions)
        auth = self._auth_data(credential)
        target = await self._target(agent)
        var_binds = [ObjectType(ObjectIdentity(ObjectName(oid))) for oid in oids]
        for _attempt in range(self.retries + 1):
            packets = 1
            if credential.version == "3" and agent not in self._v3_engines_known:
                packets = 2  # the engine-id discovery exchange goes first
            await limiter.take(packets)
            self.packets_sent += packets
            if kind == "get":
                call = get_cmd(self.engine, auth, target, ContextData(), *var_binds, lookupMib=False)
            elif kind == "next":
                call = next_cmd(self.engine, auth, target, ContextData(), *var_binds, lookupMib=False)
            else:
                call = bulk_cmd(self.engine, auth, target, ContextData(), non_repeaters, max_repetitions,
                                *var_binds, lookupMib=False)
            try:
                indication, status, index, answer = await call
            except SnmpError:
                raise
            except Exception as exc:  # noqa: BLE001 - pysnmp raises its own types for hostile replies
                raise SnmpReplyError(f"{agent}: {exc}", address=agent.address, port=agent.port) from None
            if indication is None:
                if credential.version == "3":
                    self._v3_engines_known.add(agent)
                return int(status), int(index), [(tuple(name), plain(value)) for name, value in answer]
            if isinstance(indication, errind.RequestTimedOut):
                continue
            if isinstance(indication, AUTH_FAILURES):
                raise SnmpAuthError(f"{agent}: {indication}", address=agent.address, port=agent.port)
            raise SnmpReplyError(f"{agent}: {indication}", address=agent.address, port=agent.port)
        raise SnmpTimeout(f"{agent}: no answer after {self.retries + 1} attempt(s) of {self.timeout:g} s",
                          address=agent.address, port=agent.port)

    async def _community_request(self, kind, agent, credential, oids, limiter, non_repeaters, max_repetitions):
        request_id = self.channel.request_id()
        message = ber.encode_request(ber.VERSIONS[credential.version], credential.community.encode("utf-8"),
                                     _PDU[kind], request_id, oids, non_repeaters=non_repeaters,
                                     max_repetitions=max_repetitions)
        for _attempt in range(self.retries + 1):
            await limiter.take(1)
            self.packets_sent += 1
            try:
                answer = await self.channel.exchange(agent.address, agent.port, request_id, message, self.timeout)
            except OSError as exc:  # a name that does not resolve, a socket the kernel refuses
                raise SnmpReplyError(f"{agent}: {exc}", address=agent.address, port=agent.port) from None
            if answer is not None:
                return answer.error_status, answer.error_index, answer.var_binds
        raise SnmpTimeout(f"{agent}: no answer after {self.retries + 1} attempt(s) of {self.timeout:g} s",
                          address=agent.address, port=agent.port)

    async def _checked(self, kind, agent, credential, oids, **options):
        """A request whose v1 noSuchName names one varbind: that one is dropped (answered
        as None) and the rest asked again; at most once per varbind."""
        oids = list(oids)
        missing = {}
        while oids:
            status, index, answer = await self._request(kind, agent, credential, oids, **options)
            if status == NO_SUCH_NAME and 1 <= index <= len(oids):
                missing[oids.pop(index - 1)] = None
                continue
            if status:
                raise SnmpReplyError(f"{agent}: error-status {status} at varbind {index}",
                                     address=agent.address, port=agent.port)
            return answer, missing
        return [], missing

    async def get(self, agent: Agent, credential: SnmpCredential, oids, *, limiter=None) -> dict:
        """``{oid: value}`` for each of ``oids`` (None where the agent has no such object)."""
        answer, missing = await self._checked("get", agent, credential, [tuple(o) for o in oids], limiter=limiter)
        values = dict(missing)
        values.update(answer)
        return values

    async def next(self, agent: Agent, credential: SnmpCredential, oids, *, limiter=None) -> list:
        """GETNEXT: ``[(requested, (found_oid, value))]``; ``found_oid`` None at the end
        of the agent's MIB."""
        oids = [tuple(o) for o in oids]
        answer, missing = await self._checked("next", agent, credential, oids, limiter=limiter)
        found = iter(answer)
        return [(oid, (None, None) if oid in missing else next(found, (None, None))) for oid in oids]

    async def walk(self, agent: Agent, credential: SnmpCredential, columns, *, max_rows: int = 256,
                   limiter=None) -> Table:
        """Read whole table columns (each given without index), at most ``max_rows`` rows
        per column. Rows come back keyed by their index tuple."""
        columns = [tuple(c) for c in columns]
        result = {column: {} for column in columns}
        cursor = {column: column for column in columns}
        truncated = False
        repetitions = self.max_repetitions
        while cursor:
            pending = list(cursor)
            if credential.version == "1":
                flat, missing = await self._checked("next", agent, credential, [cursor[c] for c in pending],
                                                    limiter=limiter)
                ended = [c for c in pending if cursor[c] in missing]
                for column in ended:
                    del cursor[column]
                pending = [c for c in pending if c in cursor]
                rows = [flat]
            else:
                status, index, flat = await self._request(
                    "bulk", agent, credential, [cursor[c] for c in pending], limiter=limiter,
                    max_repetitions=max(1, min(repetitions, max_rows, MAX_VARBINDS // len(pending))))
                if status == TOO_BIG and repetitions > 1:
                    repetitions = max(1, repetitions // 2)  # the agent could not fit the reply: ask for less
                    continue
                if status:
                    raise SnmpReplyError(f"{agent}: error-status {status} at varbind {index}",
                                         address=agent.address, port=agent.port)
                width = len(pending)
                rows = [flat[i:i + width] for i in range(0, len(flat), width)]
            progressed = False
            for row in rows:
                for column, (name, value) in zip(pending, row):
                    if column not in cursor:
                        continue
                    if name is None or name[:len(column)] != column or name <= cursor[column]:
                        del cursor[column]  # past the column, at the end of the MIB, or not increasing
                        continue
                    if value is None:
                        del cursor[column]
                        continue
                    result[column][name[len(column):]] = value
                    cursor[column] = name
                    progressed = True
                    if len(result[column]) >= max_rows:
                        truncated = True
                        del cursor[column]
            if not progressed:
                break
        return Table(result, truncated)
