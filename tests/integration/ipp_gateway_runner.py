"""Runs a gateway with the IPP listener on loopback for the IPP integration tests.

Started as a subprocess by ``tests/integration/test_ipp_*.py``. With ``--panel`` it also
plays the person at the printer: every job held without a client hold is released
(held -> releasing -> released) shortly after it arrives, so clients that wait for their
job to complete (ipptool, the CUPS ipp backend) see it complete.
"""
import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from twisted.internet import reactor, task
from twisted.internet.defer import inlineCallbacks
from twisted.logger import globalLogBeginner, textFileLogObserver

from spooler.config import GatewayConfig
from spooler.ipp.protocol import IppFactory
from gateway.process import Gateway


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--panel", action="store_true")
    parser.add_argument("--max-job-size", type=int, default=None)
    args = parser.parse_args()
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    config = GatewayConfig(data_dir=Path(args.data_dir), bind="127.0.0.1", idle_timeout=30.0)
    if args.max_job_size:
        config.max_job_size = args.max_job_size
    gateway = Gateway(config, reactor=reactor)
    gateway.open_storage()
    factory = IppFactory(intake=gateway.intake, jobs=gateway.job_desk, config=config,
                         clock=reactor)
    reactor.listenTCP(args.port, factory, interface="127.0.0.1")

    busy = []

    @inlineCallbacks
    def panel():
        if busy:
            return
        busy.append(1)
        try:
            jobs = yield gateway.accounting.list_jobs(states=("held",))
            for job in jobs:
                if job.id in factory.service.client_holds:
                    continue
                if (datetime.now(timezone.utc) - job.received_at).total_seconds() < 1.5:
                    continue
                yield gateway.accounting.change_job_state(job.id, "releasing", actor="panel", reason="")
                yield gateway.accounting.change_job_state(job.id, "released", actor="panel", reason="")
        finally:
            busy.clear()

    if args.panel:
        task.LoopingCall(panel).start(0.2, now=False)
    print(f"IPP gateway listening on 127.0.0.1:{args.port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
