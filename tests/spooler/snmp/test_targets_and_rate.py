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


def test_late_wake_ups_do_not_slow_the_pacer_and_idling_earns_no_burst():
    import asyncio

    now = [100.0]
    sent = []

    async def sleep(seconds):
        now[0] += seconds + 0.05  # every wake-up is late

    async def main():
        pacer = PacketPacer(10, clock=lambda: now[0], sleep=sleep)  # 0.1 s apart, 0.1 s of catch-up
        for packets in (1, 1, 2, 1, 1, 1):
            await pacer.take(packets)
            sent.append(now[0])
        now[0] += 100  # long idle: no credit saved up
        await pacer.take()
        sent.append(now[0])
        await pacer.take()
        sent.append(now[0])
        return pacer.taken

    assert asyncio.run(main()) == 9
    gaps = [round(b - a, 3) for a, b in zip(sent, sent[1:])]
    # On schedule (100.0, 100.1, 100.2, 100.4, 100.5, 100.6), each sent 0.05 s late, not
    # later and later; after the idle the next packet waits its full turn.
    assert [round(t - 100, 3) for t in sent[:6]] == [0.0, 0.15, 0.25, 0.45, 0.55, 0.65]
    assert gaps[-2:] == [100.0, 0.15]


def test_a_loop_far_behind_makes_up_at_most_its_credit_at_once():
    import asyncio

    now = [0.0]
    sent = []

    async def sleep(seconds):
        now[0] += seconds + 1.0  # a wake-up a whole second late

    async def main():
        pacer = PacketPacer(100, clock=lambda: now[0], sleep=sleep)  # credit: 10 packets
        for _ in range(40):
            await pacer.take()
            sent.append(now[0])

    asyncio.run(main())
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert busiest <= 100 * 1.1 + 1
