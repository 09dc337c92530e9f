"""Handing work from a thread to the reactor's thread in one turn of its loop.

On the asyncio reactor, Twisted's ``callFromThread(f)`` is ``call_soon_threadsafe`` of a
function that schedules ``callLater(0, f)``: on the loop's next turn that function pushes
a timer and reschedules the loop's wake-up, and ``f`` runs only on the turn after that.
The group committer hands every group of finished jobs back this way, so each
acknowledgement waited for a second turn of a loop that, under load, is busy with every
other connection. Measured with 8 RAW clients, the time from a group's commit to its
acknowledgements on the reactor fell from about 0.95 ms to 0.55 ms when the call was
handed to the asyncio loop directly.

``f`` then runs as a plain asyncio callback, outside Twisted's ``runUntilCurrent``: it
must catch and log its own errors (an escaping exception would only reach asyncio's
exception handler).
"""
from __future__ import annotations


def handoff_to_reactor(reactor):
    """``call(f, *args)``, safe from any thread, that runs ``f(*args)`` on the reactor's
    thread: straight on the asyncio loop under Twisted's asyncio reactor, else through
    ``reactor.callFromThread``."""
    loop = getattr(reactor, "_asyncioEventloop", None)
    if loop is not None and hasattr(loop, "call_soon_threadsafe"):
        return loop.call_soon_threadsafe
    return reactor.callFromThread
