"""Errors of the accounting side. Each carries the data a reply or a log line needs."""
from spooler.pdl.errors import PrintgateError


class AccountingError(PrintgateError):
    """Base of the accounting errors."""


class JobNotFound(AccountingError):
    def __init__(self, job_id):
        super().__init__(f"no job {job_id}")
        self.job_id = job_id


class InvalidStateChange(AccountingError):
    """A job was asked to move to a state it cannot reach from where it is."""

    def __init__(self, job_id, old_state, new_state):
        super().__init__(f"job {job_id} cannot go from {old_state} to {new_state}")
        self.job_id = job_id
        self.old_state = old_state
        self.new_state = new_state


class NotJobOwner(AccountingError):
    def __init__(self, job_id, user):
        super().__init__(f"{user} does not own job {job_id}")
        self.job_id = job_id
        self.user = user
