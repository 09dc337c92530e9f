"""Discovery targets and the packet pacer (sans-IO)."""
import pytest

from spooler.snmp.client import Agent
from spooler.snmp.errors import BadTarget
from spooler.snmp.rate import PacketPacer, discovery_rate
from spooler.snmp.targets import parse_target, parse_targets


def test_every_target_form_is_understood():
    assert parse_target("10.0.3.7") == [Agent("10.0.3.7", 161)]
    assert parse_target("10.0.3.7:1161") == [Agent("10.0.3.7", 1161)]
    assert len(parse_target("10.0.3.0/24")) == 254
    assert parse_target("10.0.3.10-12") == [Agent(f"10.0.3.{n}") for n in (10, 11, 12)]
    assert parse_target("10.0.3.254-10.0.4.1:200") == [Agent(a, 200) for a in
                                                        ("10.0.3.254", "10.0.3.255", "10.0.4.0", "10.0.4.1")]


@pytest.mark.parametrize("text", ["", "printer.example.org", "10.0.3.9-10.0.3.1", "10.0.0.0/8", "10.0.3.7:0",
                                  "10.0.3.7:x", "300.1.1.1"])
def test_a_bad_or_huge_target_is_refused(text):
    with pytest.raises(BadTarget):
        parse_target(text)


def test_targets_are_swept_once_each():
    assert parse_targets(["10.0.3.1-2", "10.0.3.2"]) == [Agent("10.0.3.1"), Agent("10.0.3.2")]


def test_the_rate_is_the_coefficient_times_twice_the_credentials_plus_one():
    assert discovery_rate(30, 1) == 90
    assert discovery_rate(30, 3) == 210
    with pytest.raises(ValueError):
        discovery_rate(0, 1)


def test_the_pacer_spaces_packets_from_the_actual_previous_turn_and_never_bursts_after_idling():
    import asyncio

    now = [100.0]
    sent = []

    async def sleep(seconds):
        now[0] += seconds + 0.05  # every wake-up is late

    async def main():
        pacer = PacketPacer(10, clock=lambda: now[0], sleep=sleep)
        for packets in (1, 1, 2, 1):
            await pacer.take(packets)
            sent.append(now[0])
        now[0] += 100  # long idle: no credit saved up
        await pacer.take()
        sent.append(now[0])
        await pacer.take()
        sent.append(now[0])
        return pacer.taken

    assert asyncio.run(main()) == 7
    gaps = [round(b - a, 3) for a, b in zip(sent, sent[1:])]
    assert gaps == [0.15, 0.15, 0.25, 100.0, 0.15]
