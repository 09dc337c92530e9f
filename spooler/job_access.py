"""Who may act on a recorded job (cancel, hold, release it, remove it over LPD), and who
may see its title, over the print protocols.

Submitting under a name the client states stays the default (that is how LPD and most
IPP clients work), but a stated name alone never reaches someone else's job. A request
acts on a job when it comes from an admin host (``[server] admin_hosts``, empty by
default); or from its owner authenticated over ipps://; or, for a job with a PIN (IPP
``job-password``), with that PIN; or, for a job without one, from its owner by name *and*
from the address the job came from (a workstation's own CUPS cancelling its own job).
The same requesters see a job's private attributes (its title, its owner's name) in IPP
Get-Jobs and LPD queue listings; everyone else sees that the job exists.
"""
from __future__ import annotations

from dataclasses import dataclass

#: A job's attribute (IPP ``job-password``, hashed) that makes its PIN necessary.
PIN_HASH = "job-password-hash"


@dataclass(frozen=True)
class Requester:
    host: str
    user: str | None  # as stated by the client, or as authenticated
    authenticated: bool = False
    admin: bool = False


def requester(host: str, user: str | None, *, authenticated: bool = False, admin_hosts=()) -> Requester:
    return Requester(host=host, user=user, authenticated=authenticated, admin=host in admin_hosts)


def is_owner_here(who: Requester, owner: str | None, source_host: str | None) -> bool:
    """The job's owner, by authentication or by name from the job's own address."""
    if who.user is None or who.user != owner:
        return False
    return who.authenticated or who.host == source_host


def may_see(who: Requester, owner: str | None, source_host: str | None) -> bool:
    """Whether ``who`` sees the job's title and owner name."""
    return who.admin or is_owner_here(who, owner, source_host)


def may_act(who: Requester, owner: str | None, source_host: str | None, *, has_pin: bool) -> bool:
    """Whether ``who`` may act on the job without giving its PIN (a PIN job's PIN, checked
    by the protocol that carries one, is enough on its own)."""
    if who.admin or (who.authenticated and who.user is not None and who.user == owner):
        return True
    return not has_pin and is_owner_here(who, owner, source_host)


def has_pin(attributes) -> bool:
    return bool((attributes or {}).get(PIN_HASH))
