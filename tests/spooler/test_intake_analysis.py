"""Page analysis never runs on the reactor: a PostScript section that ends mid-stream (a
driver's PJL wrapper) is interpreted by Ghostscript in a committer or analysis thread."""
import threading

import pytest
import time

from spooler.config import GatewayConfig
from spooler.intake import IntakePipeline, JobMetadata, JobReceiver
from spooler.pdl import Analyzer
from spooler.spool import SpoolStore

PS_PAGE = b"1 0 0 setrgbcolor 100 100 50 50 rectfill showpage\n"


def wrapped_postscript(pages: int, filler: int = 0) -> bytes:
    body = b"%!PS\n" + b"%" + b"x" * filler + b"\n" + PS_PAGE * pages  # no DSC: Ghostscript must count
    return (b"\x1b%-12345X@PJL JOB\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + body
            + b"\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X")


class RecordingAnalyzer(Analyzer):
    """Notes the threads its feed() calls run in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads = set()

    def feed(self, chunk):
        self.threads.add(threading.current_thread().name)
        super().feed(chunk)


class HandsOver:
    """A committer that runs make_record in a thread of its own, as the real one does."""

    busy = True  # as if other jobs were under way, so that every job is judged

    def __init__(self):
        self.records = []
        self.quick = []

    def submit(self, files, quick=False):
        from twisted.internet.defer import Deferred

        self.quick.append(quick)

        def work():
            for writer, make_record in files:
                writer.make_durable()
                self.records.append(make_record())

        thread = threading.Thread(target=work, name="committer")
        thread.start()
        thread.join()
        return Deferred()


def pipeline(tmp_path, analyzers):
    store = SpoolStore.open(tmp_path, max_job_size=1 << 30)
    store.attach_database(lambda name: None, set)

    def factory():
        analyzer = RecordingAnalyzer()
        analyzers.append(analyzer)
        return analyzer

    committer = HandsOver()
    return IntakePipeline(config=GatewayConfig(data_dir=tmp_path), spool=store, committer=committer,
                          analyzer_factory=factory), committer


def receive(intake, data, piece=4096):
    receiver = intake.begin(JobMetadata(protocol="raw", host="127.0.0.1", user="alice"))
    started = time.perf_counter()
    for i in range(0, len(data), piece):
        receiver.write(data[i:i + piece])
    return receiver, time.perf_counter() - started


def test_a_small_wrapped_postscript_job_is_interpreted_in_the_committer_thread(tmp_path):
    analyzers = []
    intake, committer = pipeline(tmp_path, analyzers)
    receiver, _ = receive(intake, wrapped_postscript(3))
    assert analyzers[0].threads == set()  # nothing analyzed while receiving
    receiver.commit()
    [record] = committer.records
    assert record.facts["pages"] == 3 and record.facts["method"] == "interpreted"
    assert analyzers[0].threads == {"committer"}


def test_a_large_wrapped_postscript_job_is_analyzed_in_its_own_thread(tmp_path):
    analyzers = []
    intake, committer = pipeline(tmp_path, analyzers)
    data = wrapped_postscript(2, filler=2 * JobReceiver.KEEP_FOR_ANALYSIS)
    receiver, _ = receive(intake, data, piece=65536)
    receiver.commit()
    [record] = committer.records
    assert record.facts["pages"] == 2
    assert analyzers[0].threads == {"printgate-analyzer"}


def test_an_aborted_large_job_does_not_wait_for_its_analysis(tmp_path, monkeypatch):
    from spooler.pdl import postscript

    monkeypatch.setattr(postscript, "GS_JOB_BUDGET", 3.0)  # the loop below ends with the budget
    analyzers = []
    intake, _ = pipeline(tmp_path, analyzers)
    endless = b"%!PS\n{ } loop\n"
    data = (b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + endless + b"\x1b%-12345X"
            + b"\x1b%-12345X@PJL ENTER LANGUAGE=PCL\r\n" + b"x" * (2 * JobReceiver.KEEP_FOR_ANALYSIS))
    receiver, _ = receive(intake, data, piece=65536)
    time.sleep(0.3)  # Ghostscript is looping in the analysis thread by now
    started = time.perf_counter()
    receiver.abort("client went away")
    assert time.perf_counter() - started < 1.0


def test_with_no_thread_to_spare_a_large_job_is_scanned_inline_without_ghostscript(tmp_path, monkeypatch):
    from spooler.background import BackgroundWork

    monkeypatch.setattr(BackgroundWork, "_slots", threading.BoundedSemaphore(1))
    assert BackgroundWork._slots.acquire(blocking=False)  # the only slot is taken
    analyzers = []
    intake, committer = pipeline(tmp_path, analyzers)
    data = wrapped_postscript(2, filler=2 * JobReceiver.KEEP_FOR_ANALYSIS)
    receiver, _ = receive(intake, data, piece=65536)
    assert receiver.writer._sealer is None
    assert analyzers[0].threads == {"MainThread"}  # inline: the receiving thread
    receiver.commit()
    [record] = committer.records
    # No Ghostscript where the reactor would wait for it: the DSC-less pages are unknown.
    assert record.facts["pages"] is None
    assert any("Ghostscript not run: too many large jobs" in w for w in record.facts["warnings"])
    assert b"".join(intake.spool.read_chunks(record.spool_name)) == data


def test_only_small_jobs_that_only_scan_may_be_recorded_in_the_committers_own_thread(tmp_path):
    intake, committer = pipeline(tmp_path, [])
    pcl = b"\x1b%-12345X@PJL ENTER LANGUAGE=PCL\r\n\x1bEhello\x0c\x1bE\x1b%-12345X"
    for data in (pcl, wrapped_postscript(1), b"%PDF-1.4\n", pcl * (JobReceiver.KEEP_FOR_ANALYSIS // len(pcl) + 1)):
        receiver, _ = receive(intake, data)
        receiver.commit()
    assert committer.quick == [True, False, False, False]


def test_an_idle_committer_is_not_asked_to_take_jobs_quickly(tmp_path, monkeypatch):
    intake, committer = pipeline(tmp_path, [])
    committer.busy = False
    monkeypatch.setattr(JobReceiver, "quick_to_record", property(lambda self: pytest.fail("judged for nothing")))
    receiver, _ = receive(intake, b"\x1bEhello\x0c")
    receiver.commit()
    assert committer.quick == [False]
