"""Page analysis never runs on the reactor, and before the acknowledgement it only scans:
a PostScript section that ends mid-stream (a driver's PJL wrapper) is scanned in a
committer or analysis thread, never interpreted, and the job is recorded as still to be
counted (``analysis_pending``), which happens once it is stored (``gateway.receive_job``)."""
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

    def factory(**options):
        analyzer = RecordingAnalyzer(**options)
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


def test_a_small_wrapped_postscript_job_is_scanned_in_the_committer_thread_and_counted_later(tmp_path):
    analyzers = []
    intake, committer = pipeline(tmp_path, analyzers)
    receiver, _ = receive(intake, wrapped_postscript(3))
    assert analyzers[0].threads == set()  # nothing analyzed while receiving
    receiver.commit()
    [record] = committer.records
    assert analyzers[0].threads == {"committer"}
    # Without DSC only Ghostscript could count it, and it is not run before the acknowledgement.
    assert record.facts["pages"] is None and record.facts["pdl"] == "postscript"
    assert record.analysis_pending


def test_a_large_wrapped_postscript_job_is_scanned_in_its_own_thread(tmp_path):
    analyzers = []
    intake, committer = pipeline(tmp_path, analyzers)
    data = wrapped_postscript(2, filler=2 * JobReceiver.KEEP_FOR_ANALYSIS)
    receiver, _ = receive(intake, data, piece=65536)
    receiver.commit()
    [record] = committer.records
    assert analyzers[0].threads == {"printgate-analyzer"}
    assert record.facts["pdl"] == "postscript" and record.analysis_pending


def test_a_pcl_job_is_counted_before_its_acknowledgement_and_is_final(tmp_path):
    intake, committer = pipeline(tmp_path, [])
    receiver, _ = receive(intake, b"\x1b%-12345X@PJL ENTER LANGUAGE=PCL\r\n\x1bEhello\x0c\x1bE\x1b%-12345X")
    receiver.commit()
    [record] = committer.records
    assert record.facts["pages"] == 1 and not record.analysis_pending


def test_an_endless_postscript_loop_never_reaches_ghostscript_before_the_acknowledgement(tmp_path):
    intake, committer = pipeline(tmp_path, [])
    receiver, _ = receive(intake, b"%!PS\n{ } loop\n")
    started = time.perf_counter()
    receiver.commit()
    assert time.perf_counter() - started < 5  # a hang guard: Ghostscript would run for its whole budget
    [record] = committer.records
    assert record.analysis_pending and record.facts["pages"] is None


def test_with_no_thread_to_spare_a_large_job_is_not_analysed_until_it_is_stored(tmp_path, monkeypatch):
    from spooler.background import BackgroundWork

    monkeypatch.setattr(BackgroundWork, "_slots", threading.BoundedSemaphore(1))
    assert BackgroundWork._slots.acquire(blocking=False)  # the only slot is taken
    analyzers = []
    intake, committer = pipeline(tmp_path, analyzers)
    data = wrapped_postscript(2, filler=2 * JobReceiver.KEEP_FOR_ANALYSIS)
    receiver, _ = receive(intake, data, piece=65536)
    assert receiver.writer._sealer is None
    assert analyzers[0].threads == set()  # nothing analysed here: this would be the reactor
    receiver.commit()
    [record] = committer.records
    assert record.facts is None and record.analysis_pending
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
