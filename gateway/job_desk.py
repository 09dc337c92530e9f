"""The gateway's ``spooler.job_desk.JobDesk``: what LPD and IPP may ask about recorded
jobs, answered by accounting, with every ending of a job going through ``JobEnding``."""
from __future__ import annotations

from gateway.end_job import JobEnding


class GatewayJobDesk:
    def __init__(self, accounting, ending: JobEnding):
        self.accounting = accounting
        self.ending = ending

    def get_job(self, job_id):
        return self.accounting.get_job(job_id)

    def list_jobs(self, *, queue=None, owner=None, states=("held",), limit=None, newest_first=False):
        return self.accounting.list_jobs(queue=queue, owner=owner, states=states, limit=limit,
                                         newest_first=newest_first)

    def count_jobs(self, *, queue=None, states=("held",)):
        return self.accounting.count_jobs(queue=queue, states=states)

    def end_job(self, job_id, state, *, actor, reason=""):
        return self.ending.end(job_id, state, actor=actor, reason=reason)

    def verify_password(self, username, password, *, device):
        return self.accounting.verify_password(username, password, device=device)
