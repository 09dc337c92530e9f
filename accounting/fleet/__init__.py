"""The fleet: printers found and watched over SNMP (issue 17).

``records`` holds the plain dataclasses that cross the boundary (the SNMP side in
``spooler.snmp`` produces them; nothing here touches a socket). The stores keep SNMP
credentials (secrets), discovered and approved printers, their status history and
events, meter reads, and the per-job reconciliation of expected against counted pages.
"""
from __future__ import annotations

from accounting.database import Database
from accounting.fleet.credentials import CredentialStore
from accounting.fleet.inventory import Inventory
from accounting.fleet.meters import MeterBook


class Fleet:
    """The fleet's components over one database. ``secrets`` is the ``SecretStore``, or a
    callable that returns it (``lambda: core.secrets``)."""

    def __init__(self, database: Database, secrets, *, max_pages_per_minute: int | None = None):
        self.database = database
        self.credentials = CredentialStore(database, secrets)
        self.inventory = Inventory(database)
        self.meters = MeterBook(database, **({"max_pages_per_minute": max_pages_per_minute}
                                             if max_pages_per_minute else {}))

    def purge(self, cutoff) -> dict:
        return {**self.inventory.purge(cutoff), **self.meters.purge(cutoff)}
