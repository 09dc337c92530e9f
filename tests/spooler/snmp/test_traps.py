"""The trap receiver against real senders: net-snmp's snmptrap (v1, v2c, v3) and pysnmp's
notification originator; wrong communities, keys and unknown engines are counted and
dropped."""
from __future__ import annotations

import asyncio
import subprocess

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData, ContextData, NotificationType, ObjectIdentity, ObjectType, SnmpEngine, UdpTransportTarget,
    send_notification,
)
from pysnmp.proto.rfc1902 import Integer32, ObjectName

from accounting.fleet.records import SnmpCredential
from spooler.snmp.traps import TrapReceiver, bind_udp
from tests.fixtures.peers import require
from tests.spooler.snmp.conftest import run

ENGINE = "8000000001020304"
CREDENTIALS = [SnmpCredential("office", "2c", community="public"),
               SnmpCredential("v3", "3", user="trapper", auth_protocol="sha256", auth_key="authkey-trap",
                              priv_protocol="aes128", priv_key="privkey-trap")]
ALERT = ["1.3.6.1.2.1.43.18.1.1.2.1.5", "i", "3", "1.3.6.1.2.1.43.18.1.1.4.1.5", "i", "13",
         "1.3.6.1.2.1.43.18.1.1.7.1.5", "i", "8"]


async def receive(senders):
    got = []
    receiver = TrapReceiver(CREDENTIALS, got.append)
    receiver.trust_engine(ENGINE)
    sock = bind_udp("127.0.0.1", 0)
    port = sock.getsockname()[1]
    receiver.listen(sock)
    await asyncio.sleep(0.1)
    for sender in senders:
        await sender(port)
    for _ in range(50):
        await asyncio.sleep(0.1)
    receiver.close()
    return got, receiver.dropped_credentials()


def snmptrap(*args):
    binary = require("snmptrap", "snmp")

    async def send(port):
        await asyncio.to_thread(subprocess.run, [binary, *[a.replace("PORT", str(port)) for a in args]],
                                check=True, capture_output=True, timeout=20)
    return send


V3 = ["-v3", "-e", f"0x{ENGINE}", "-u", "trapper", "-l", "authPriv", "-a", "SHA-256", "-A", "authkey-trap", "-x",
      "AES", "-X", "privkey-trap"]


def test_v1_v2c_and_v3_traps_from_snmptrap_are_received_as_printer_alerts():
    got, dropped = run(receive([
        snmptrap("-v2c", "-c", "public", "127.0.0.1:PORT", "", "1.3.6.1.2.1.43.0.1", *ALERT),
        snmptrap("-v1", "-c", "public", "127.0.0.1:PORT", "1.3.6.1.2.1.43", "127.0.0.1", "6", "1", "", *ALERT),
        snmptrap(*V3, "127.0.0.1:PORT", "", "1.3.6.1.2.1.43.0.1", *ALERT),
    ]))
    assert [(t.kind, t.severity, t.code) for t in got] == [("printer-alert", "critical", 8)] * 3
    assert dropped == 0


def test_traps_with_wrong_credentials_or_from_unknown_engines_are_counted_and_dropped():
    wrong_key = [a if a != "authkey-trap" else "wrong-key-1" for a in V3]
    other_engine = [a if a != f"0x{ENGINE}" else "0x8000000009090909" for a in V3]
    got, dropped = run(receive([
        snmptrap("-v2c", "-c", "nope", "127.0.0.1:PORT", "", "1.3.6.1.6.3.1.1.5.3"),
        snmptrap(*wrong_key, "127.0.0.1:PORT", "", "1.3.6.1.6.3.1.1.5.3"),
        snmptrap(*other_engine, "127.0.0.1:PORT", "", "1.3.6.1.6.3.1.1.5.3"),
        snmptrap("-v2c", "-c", "public", "127.0.0.1:PORT", "", "1.3.6.1.6.3.1.1.5.4"),
    ]))
    assert [t.kind for t in got] == ["link-up"]
    assert dropped == 3


def test_a_trap_sent_by_pysnmp_is_received():
    async def pysnmp_sender(port):
        engine = SnmpEngine()
        target = await UdpTransportTarget.create(("127.0.0.1", port))
        await send_notification(engine, CommunityData("public"), target, ContextData(), "trap",
                                NotificationType(ObjectIdentity(ObjectName("1.3.6.1.2.1.43.0.1"))).add_varbinds(
                                    ObjectType(ObjectIdentity(ObjectName("1.3.6.1.2.1.43.18.1.1.7.1.9")),
                                               Integer32(1101))))
        engine.close_dispatcher()
    got, _ = run(receive([pysnmp_sender]))
    assert [(t.kind, t.code) for t in got] == [("printer-alert", 1101)]


LATE_COMMUNITY = SnmpCredential("late", "2c", community="added-later")
LATE_USER = SnmpCredential("v3-late", "3", user="latecomer", auth_protocol="sha256", auth_key="authkey-late",
                           priv_protocol="aes128", priv_key="privkey-late")
LINK_UP = ["", "1.3.6.1.6.3.1.1.5.4"]


def v3_as(credential: SnmpCredential) -> list[str]:
    return ["-v3", "-e", f"0x{ENGINE}", "-u", credential.user, "-l", "authPriv", "-a", "SHA-256", "-A",
            credential.auth_key, "-x", "AES", "-X", credential.priv_key]


async def until(condition, what: str, timeout: float = 20.0):
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s")


async def listening(credentials):
    got = []
    receiver = TrapReceiver(credentials, got.append)
    receiver.trust_engine(ENGINE)
    sock = bind_udp("127.0.0.1", 0)
    receiver.listen(sock)
    port = sock.getsockname()[1]

    async def send(*options):
        await snmptrap(*options, "127.0.0.1:PORT", *LINK_UP)(port)
    return receiver, got, send


def test_credentials_stored_while_receiving_are_accepted_from_then_on_and_removed_ones_refused():
    async def scenario():
        receiver, got, send = await listening(CREDENTIALS[:1])
        try:
            await send("-v2c", "-c", "added-later")
            await send(*v3_as(LATE_USER))
            await until(lambda: receiver.dropped_credentials() == 2, "both refused before they are stored")
            stored = CREDENTIALS[:1] + [LATE_COMMUNITY, LATE_USER]
            assert receiver.use_credentials(stored) == (["late", "v3-late"], [])
            assert receiver.use_credentials(stored) == ([], []), "nothing changed, nothing touched"
            await send("-v2c", "-c", "added-later")
            await send(*v3_as(LATE_USER))
            await until(lambda: len(got) == 2, "both accepted once stored")
            assert receiver.use_credentials(CREDENTIALS[:1]) == ([], ["late", "v3-late"])
            await send("-v2c", "-c", "added-later")
            await send(*v3_as(LATE_USER))
            await send("-v2c", "-c", "public")
            await until(lambda: len(got) == 3, "the trap with a credential still stored")
            await until(lambda: receiver.dropped_credentials() == 4, "both refused once removed")
        finally:
            receiver.close()
    run(scenario())


def test_a_changed_community_or_key_replaces_the_old_one():
    async def scenario():
        receiver, got, send = await listening([LATE_COMMUNITY, LATE_USER])
        try:
            changed_user = SnmpCredential("v3-late", "3", user="latecomer", auth_protocol="sha256",
                                          auth_key="authkey-changed", priv_protocol="aes128", priv_key="privkey-late")
            changed = [SnmpCredential("late", "2c", community="changed-later"), changed_user]
            assert receiver.use_credentials(changed) == (["late", "v3-late"], [])
            await send("-v2c", "-c", "added-later")
            await send(*v3_as(LATE_USER))
            await until(lambda: receiver.dropped_credentials() == 2, "the old community and key refused")
            await send("-v2c", "-c", "changed-later")
            await send(*v3_as(changed_user))
            await until(lambda: len(got) == 2, "the new ones accepted")
        finally:
            receiver.close()
    run(scenario())
