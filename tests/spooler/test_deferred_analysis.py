"""The analysis that waits until a job is stored: a pool fair between senders, and the
full analysis of stored bytes (Ghostscript included, one copy of a repeated document)."""
from __future__ import annotations

import threading

from spooler.deferred_analysis import FairPool, analyse_stored
from spooler.spool import SpoolStore
from tests.spooler.pdl.test_repeats import PAGES_PS


class InlineReactor:
    def callFromThread(self, function, *args):
        function(*args)


def blocked_work(gate: threading.Event, started: list, name: str):
    def work():
        started.append(name)
        assert gate.wait(30), "the test never let the work finish"
        return name
    return work


def test_one_senders_jobs_cannot_keep_another_senders_job_waiting():
    pool = FairPool(InlineReactor(), threads=3, per_sender=2)
    gate, started, done = threading.Event(), [], threading.Event()
    try:
        for n in range(10):
            pool.submit("10.0.0.66", blocked_work(gate, started, f"flood-{n}"))
        pool.submit("10.0.0.7", lambda: "honest").addCallback(lambda _: done.set())
        assert done.wait(30), f"the honest job waited behind the flood: {started}"
        assert sorted(started) == ["flood-0", "flood-1"]  # at most per_sender at once for one sender
    finally:
        gate.set()
        pool.stop()


def test_senders_are_served_in_turn():
    pool = FairPool(InlineReactor(), threads=1, per_sender=1)
    gate, order, finished = threading.Event(), [], threading.Event()
    try:
        pool.submit("blocker", lambda: gate.wait(30))  # holds the only thread while the queue fills
        results = []
        for n in range(3):
            for sender in ("a", "b"):
                pool.submit(sender, lambda s=sender, n=n: order.append(f"{s}{n}")).addCallback(results.append)
        pool.submit("last", finished.set)
        gate.set()
        assert finished.wait(30)
        assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]
    finally:
        pool.stop()


def test_a_failing_analysis_reaches_its_caller_and_the_pool_goes_on():
    pool = FairPool(InlineReactor(), threads=1)
    failures, done = [], threading.Event()
    try:
        pool.submit("a", lambda: 1 / 0).addErrback(failures.append)
        pool.submit("a", done.set)
        assert done.wait(30)
        assert failures[0].check(ZeroDivisionError)
    finally:
        pool.stop()


def stored(tmp_path, data: bytes):
    store = SpoolStore.open(tmp_path, max_job_size=1 << 30)  # no database: the job is a file
    writer = store.create()
    writer.write(data)
    writer.finish()
    writer.make_durable()
    return store, writer.name


def test_a_stored_postscript_job_without_comments_is_counted_by_ghostscript(tmp_path):
    body = b"%!PS\n" + b"72 700 moveto showpage\n" * 4
    store, name = stored(tmp_path, body)
    facts = analyse_stored(store, name)
    assert (facts["pages"], facts["method"], facts["copy_length"]) == (4, "interpreted", None)


def test_a_stored_document_sent_twice_is_two_copies_with_the_length_of_one(tmp_path):
    store, name = stored(tmp_path, PAGES_PS * 2)
    facts = analyse_stored(store, name)
    assert (facts["pages"], facts["copies"], facts["copy_length"]) == (3, 2, len(PAGES_PS))
