"""handoff_to_reactor: a call from a thread runs on the reactor's thread, one loop turn later."""
import asyncio
import threading

import pytest
from twisted.internet.asyncioreactor import AsyncioSelectorReactor

from spooler.reactor_handoff import handoff_to_reactor


@pytest.fixture
def asyncio_reactor():
    loop = asyncio.new_event_loop()
    reactor = AsyncioSelectorReactor(loop)  # not installed: only its loop is used here
    yield reactor, loop
    loop.close()


def turns_until(loop, done, limit=10):
    """Run the loop one turn at a time until ``done()``; how many turns it took."""
    for turn in range(1, limit + 1):
        loop.call_soon(loop.stop)
        loop.run_forever()
        if done():
            return turn
    return None


def test_a_call_from_another_thread_runs_on_the_loop_thread_in_one_turn(asyncio_reactor):
    reactor, loop = asyncio_reactor
    ran = []
    call = handoff_to_reactor(reactor)
    thread = threading.Thread(target=call, args=(lambda value: ran.append((value, threading.get_ident())), 7))
    thread.start()
    thread.join()

    assert turns_until(loop, lambda: ran) == 1
    assert ran == [(7, threading.get_ident())]


def test_twisted_call_from_thread_takes_two_turns_which_is_what_is_avoided(asyncio_reactor):
    """The measurement behind the module: if Twisted ever runs callFromThread in one turn,
    the hand-off can go back to it."""
    reactor, loop = asyncio_reactor
    ran = []
    thread = threading.Thread(target=reactor.callFromThread, args=(ran.append, 1))
    thread.start()
    thread.join()

    assert turns_until(loop, lambda: ran) == 2


def test_other_reactors_get_call_from_thread():
    class PlainReactor:
        def __init__(self):
            self.calls = []

        def callFromThread(self, f, *args):
            self.calls.append((f, args))

    reactor = PlainReactor()
    handoff_to_reactor(reactor)(print, "x")
    assert reactor.calls == [(print, ("x",))]
