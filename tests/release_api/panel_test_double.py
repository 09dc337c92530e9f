"""A TEST DOUBLE of ``PanelServices``, in memory, for tests of the web layer only.

The real implementation is backed by accounting (users, cards, PINs, ledger, devices);
this one exists so the panel's HTTP flow and its rendering can be tested before that
lands. It is deliberately simple: no hashing, no lockout counting beyond a fixed limit.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

from release_api.errors import AccountRefused, JobNotFound, LockedOut, LoginFailed, UnknownCard
from release_api.services import (
    AccountChoice, Balance, DeleteResult, ForcedChangeView, HeldJobView, JobReleaseResult, PanelDevice, PanelUser,
)

ALICE = PanelUser("u1", "alice", "Alice Example")
BOB = PanelUser("u2", "bob", "Bob Mono")
RECEIVED = datetime.datetime(2026, 11, 21, 9, 41, tzinfo=datetime.timezone.utc)


def sample_jobs() -> list[HeldJobView]:
    return [
        HeldJobView("j1", "Quarterly report Q3 2026 – final version for the board.pdf", 12, 1, True, True, 240,
                    "EUR", RECEIVED),
        HeldJobView("j2", "Boarding pass", 1, 2, False, False, 10, "EUR", RECEIVED - datetime.timedelta(hours=1),
                    forced_changes=(ForcedChangeView("duplex", "rule 'Save paper': jobs over 10 pages"),)),
        HeldJobView("j3", "Poster <A3> & friends", 1, 1, True, False, 150, "EUR",
                    RECEIVED - datetime.timedelta(days=1), printable_here=False,
                    device_note="Cannot print here: A3 colour needs a colour A3 printer"),
        HeldJobView("j4", "Photos from the trip", 6, 1, True, False, 60, "EUR", RECEIVED,
                    forced_changes=(ForcedChangeView("mono", "this printer is mono; priced as mono"),),
                    device_note="Prints in mono here"),
    ]


@dataclass
class InMemoryPanelServicesTestDouble:
    devices: dict = field(default_factory=lambda: {
        "mfp-small": (b"secret-small-0123456789", PanelDevice("mfp-small", "2F Copy room", "480x272", False, True)),
        "mfp-regular": (b"secret-regular-0123456789", PanelDevice("mfp-regular", "3F Finance MFP", "800x480")),
        "mfp-roomy": (b"secret-roomy-0123456789", PanelDevice("mfp-roomy", "Lobby colour MFP", "1024x600")),
    })
    cards: dict = field(default_factory=lambda: {"04A1B2C3": ALICE})
    pins: dict = field(default_factory=lambda: {("7", "2468"): ALICE, ("8", "1357"): BOB})
    passwords: dict = field(default_factory=lambda: {("alice", "correct horse"): ALICE, ("bob", "pw"): BOB})
    jobs: dict = field(default_factory=lambda: {"u1": sample_jobs(), "u2": []})
    balances: dict = field(default_factory=lambda: {"u1": Balance(1250, "EUR"), "u2": Balance(-30, "EUR")})
    failing_jobs: dict = field(default_factory=dict)  # job id -> message
    locked: set = field(default_factory=set)
    revoked: set = field(default_factory=set)
    released: list = field(default_factory=list)
    linked: list = field(default_factory=list)
    deferred_release: object = None  # a Deferred to hold release() open (double-tap tests)
    unclaimed: list = field(default_factory=list)  # HeldJobViews anyone may take
    accounts: dict = field(default_factory=dict)  # user id -> [(AccountChoice, pin or None)]
    charged_to: list = field(default_factory=list)  # (job id, account) for releases to a shared account
    confirmed: list = field(default_factory=list)

    def device_secret(self, device_id):
        if device_id in self.revoked or device_id not in self.devices:
            return None
        return self.devices[device_id][0]

    def describe_device(self, device_id):
        if device_id in self.revoked or device_id not in self.devices:
            return None
        return self.devices[device_id][1]

    def _check_lock(self, key):
        if key in self.locked:
            raise LockedOut(retry_after=120)

    def authenticate_card(self, card_number, device):
        self._check_lock(device.device_id)
        if card_number not in self.cards:
            raise UnknownCard(card_number)
        return self.cards[card_number]

    def authenticate_pin(self, user_number, pin, device):
        self._check_lock(device.device_id)
        if (user_number, pin) not in self.pins:
            raise LoginFailed("wrong PIN")
        return self.pins[(user_number, pin)]

    def verify_password(self, username, password, device):
        self._check_lock(device.device_id)
        user = self.passwords.get((username, password))
        if user is None:
            raise LoginFailed("wrong password", user=username)
        return user

    def link_card(self, card_number, user, device):
        self.cards[card_number] = user
        self.linked.append((card_number, user.username, device.device_id))

    def list_held_jobs(self, user, device):
        return list(self.jobs.get(user.user_id, []))

    def _find(self, user, job_id):
        for job in self.jobs.get(user.user_id, []):
            if job.job_id == job_id:
                return job
        raise JobNotFound(job_id, user=user.username)

    def release(self, job_ids, device, user, account=None, account_pin=None):
        if account is not None:
            choices = {choice.name: pin for choice, pin in self.accounts.get(user.user_id, [])}
            if account not in choices or (choices[account] is not None and choices[account] != account_pin):
                raise AccountRefused(account, user=user.username)

        def finish(_=None):
            results = []
            for job_id in job_ids:
                job = self._find(user, job_id)
                if job.needs_confirmation:
                    results.append(JobReleaseResult(job_id, False, "Confirm this job first.", job.title))
                    continue
                if job.needs_shared_account and account is None:
                    results.append(JobReleaseResult(job_id, False, "This job must be charged to a shared account.",
                                                    job.title))
                    continue
                if account is not None:
                    self.charged_to.append((job_id, account))
                if job_id in self.failing_jobs:
                    results.append(JobReleaseResult(job_id, False, self.failing_jobs[job_id], job.title))
                    continue
                self.jobs[user.user_id] = [j for j in self.jobs[user.user_id] if j.job_id != job_id]
                self.released.append((job_id, device.device_id))
                balance = self.balances[user.user_id]
                self.balances[user.user_id] = replace(balance, amount_minor=balance.amount_minor - job.price_minor)
                results.append(JobReleaseResult(job_id, True, "", job.title))
            return results

        if self.deferred_release is not None:
            return self.deferred_release.addCallback(finish)
        return finish()

    def confirm(self, job_ids, user):
        confirmed = []
        for job_id in job_ids:
            job = self._find(user, job_id)
            if job.needs_confirmation:
                self.jobs[user.user_id] = [replace(j, needs_confirmation="") if j.job_id == job_id else j
                                           for j in self.jobs[user.user_id]]
                self.confirmed.append(job_id)
                confirmed.append(job_id)
        return confirmed

    def shared_accounts(self, user):
        return [choice for choice, _ in self.accounts.get(user.user_id, [])]

    def unclaimed_jobs(self, user, device):
        return list(self.unclaimed)

    def claim(self, job_ids, user, device):
        taken = [job for job in self.unclaimed if job.job_id in job_ids]
        self.unclaimed = [job for job in self.unclaimed if job.job_id not in job_ids]
        self.jobs.setdefault(user.user_id, []).extend(replace(job, origin="") for job in taken)
        return [job.job_id for job in taken]

    def delete(self, job_ids, user):
        for job_id in job_ids:
            self._find(user, job_id)
        self.jobs[user.user_id] = [j for j in self.jobs[user.user_id] if j.job_id not in job_ids]
        return DeleteResult(tuple(job_ids))

    def balance(self, user):
        return self.balances.get(user.user_id)
