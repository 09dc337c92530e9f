"""Errors of the accounting side. Each carries the data a reply or a log line needs."""
from printgate_errors import PrintgateError


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


class UnknownUser(AccountingError):
    def __init__(self, user):
        super().__init__(f"unknown user {user!r}")
        self.user = user


class DuplicateUser(AccountingError):
    def __init__(self, user):
        super().__init__(f"user {user!r} already exists")
        self.user = user


class DuplicateCard(AccountingError):
    def __init__(self, card, owner=None):
        super().__init__(f"card {card!r} is already registered" + (f" to {owner}" if owner else ""))
        self.card = card
        self.owner = owner


class UnknownAccount(AccountingError):
    def __init__(self, account):
        super().__init__(f"unknown account {account!r}")
        self.account = account


class UnknownLedgerEntry(AccountingError):
    def __init__(self, entry_id):
        super().__init__(f"no ledger entry {entry_id}")
        self.entry_id = entry_id


class UnknownDevice(AccountingError):
    def __init__(self, device):
        super().__init__(f"unknown device {device!r}")
        self.device = device


class UnknownPriceList(AccountingError):
    def __init__(self, price_list):
        super().__init__(f"unknown price list {price_list!r}")
        self.price_list = price_list


class InsufficientFunds(AccountingError):
    """A debit would take an account below what it may spend; nothing was written."""

    def __init__(self, account_id, amount, available):
        super().__init__(f"account {account_id} cannot pay {amount} (available {available})")
        self.account_id = account_id
        self.amount = amount
        self.available = available


class AccountNotAllowed(AccountingError):
    def __init__(self, account, user):
        super().__init__(f"{user} may not charge account {account!r}")
        self.account = account
        self.user = user


class InvalidRule(AccountingError):
    def __init__(self, rule, problem):
        super().__init__(f"rule {rule!r}: {problem}")
        self.rule = rule
        self.problem = problem


class CsvImportError(AccountingError):
    """A row of a user import is malformed; nothing of the file was imported."""

    def __init__(self, line, problem):
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


class LoginFailed(AccountingError):
    """Card, PIN or password not accepted. Deliberately says nothing about which part."""

    def __init__(self, who, device=None):
        super().__init__("login failed")
        self.who = who
        self.device = device


class LoginLocked(AccountingError):
    def __init__(self, scope, key, until):
        super().__init__(f"too many failed logins for {scope} {key}; locked until {until:%H:%M:%S} UTC")
        self.scope = scope
        self.key = key
        self.until = until


class UnknownSecret(AccountingError):
    def __init__(self, name):
        super().__init__(f"no secret named {name!r}")
        self.name = name


class ReleaseRefused(AccountingError):
    """A rule refuses the job at release (rules are re-checked then: time of day, a rule
    added since the job arrived). ``message`` is what the user sees at the panel."""

    def __init__(self, job_id, rule, message):
        super().__init__(message)
        self.job_id = job_id
        self.rule = rule
        self.message = message


class SharedAccountRequired(AccountingError):
    """A rule says this job must be charged to a shared account; none was chosen."""

    def __init__(self, job_id, rule=None):
        super().__init__(f"job {job_id} must be charged to a shared account")
        self.job_id = job_id
        self.rule = rule


class ConfirmationRequired(AccountingError):
    """A ``hold-confirm`` rule held the job: it is released only once its owner confirmed
    it (at the panel). ``message`` is the rule's, for the person at the printer."""

    def __init__(self, job_id, message=""):
        super().__init__(f"job {job_id} waits for its owner's confirmation")
        self.job_id = job_id
        self.message = message


class NotClaimable(AccountingError):
    """Only a held job whose owner could not be told (``unknown@<host>``) can be claimed."""

    def __init__(self, job_id, owner):
        super().__init__(f"job {job_id} of {owner} cannot be claimed")
        self.job_id = job_id
        self.owner = owner


class UnknownCard(AccountingError):
    def __init__(self, card):
        super().__init__(f"no user has card {card!r}")
        self.card = card


class DeletedUser(AccountingError):
    """The user was deleted (``printgate users delete``): only their history remains."""

    def __init__(self, user):
        super().__init__(f"user {user!r} was deleted; only their history is kept")
        self.user = user
