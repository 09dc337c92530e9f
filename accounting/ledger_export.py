"""The ledger as a CSV file for finance (the web pages' "Export CSV"): every entry of a
period, oldest first, with the account, the amount and the balance after it in the
currency's units, and who made it and why.

Read by keyset pages (``accounting.browse.ledger_page``), so an export costs the rows it
returns and never an OFFSET. Bounded: more than ``MAX_EXPORT_ROWS`` entries is refused
(``ExportTooLarge``) rather than cut short, so a file never silently misses entries.
Text cells that a spreadsheet would run as a formula are made text
(``accounting.spreadsheet_cells``)."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from accounting.browse import MAX_PAGE_SIZE
from accounting.errors import AccountingError
from accounting.money import format_amount
from accounting.spreadsheet_cells import spreadsheet_cell

MAX_EXPORT_ROWS = 200_000
COLUMNS = ("entry", "time_utc", "account", "kind", "amount", "balance_after", "job", "reason", "by")


class ExportTooLarge(AccountingError):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit:,} ledger entries: choose a shorter period or one kind")
        self.limit = limit


def ledger_csv(lists, *, kind: str | None = None, since: datetime | None = None, until: datetime | None = None,
               max_rows: int = MAX_EXPORT_ROWS) -> bytes:
    """``lists``: ``accounting.browse.Lists``. UTF-8 with a byte order mark, which
    spreadsheets need to read anything but ASCII right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    cursor, count = None, 0
    while True:
        page = lists.ledger(kind=kind, since=since, until=until, after=cursor, limit=MAX_PAGE_SIZE, descending=False)
        for line in page.rows:
            count += 1
            if count > max_rows:
                raise ExportTooLarge(max_rows)
            entry = line.entry
            at = entry.created_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow([entry.id, at, spreadsheet_cell(line.account), spreadsheet_cell(entry.kind),
                             format_amount(entry.amount),
                             format_amount(entry.balance_after), entry.job_id or "", spreadsheet_cell(entry.reason),
                             spreadsheet_cell(entry.actor)])
        cursor = page.next_cursor
        if not cursor:
            return out.getvalue().encode("utf-8-sig")
