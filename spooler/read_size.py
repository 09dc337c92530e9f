"""Larger socket reads once a connection is carrying a large job.

Twisted reads a TCP connection 64 KiB at a time (``bufferSize``): a 200 MiB job is 3,200
turns of the reactor, each with its own calls into the protocol, the spool writer and the
analysis. Once a connection has brought more than ``LARGE_JOB`` bytes, it is read up to
``LARGE_READ`` at a time: measured on 200 MiB RAW jobs, the gateway's CPU per job fell by
a fifth. Small jobs keep the default, so a short message never gets a 1 MiB buffer.
"""
from __future__ import annotations

LARGE_JOB = 1 << 20
LARGE_READ = 1 << 20


def widen_reads(transport, received: int) -> None:
    """Call with the bytes a connection has received so far. A transport with no
    ``bufferSize`` at all is left alone. A TLS wrapper answers with its TCP transport's
    value; the value set lands on the wrapper and changes nothing: TLS connections keep
    64 KiB reads."""
    if received > LARGE_JOB and getattr(transport, "bufferSize", LARGE_READ) < LARGE_READ:
        transport.bufferSize = LARGE_READ
