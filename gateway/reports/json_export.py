"""JSON, streamed: a header object, then the rows one by one, then the totals; memory
stays flat at any length. Money is integer minor units of ``currency`` (exact, as the
ledger keeps it), times are ISO 8601 with their offset, ratios are numbers 0..1."""
from __future__ import annotations

import json
from datetime import date, datetime


def _value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _keys(table) -> list[str]:
    return [column.name.lower().replace(" ", "_") for column in table.columns]


def write_json(table, stream, *, progress=None) -> int:
    keys = _keys(table)
    head = {"report": table.report, "title": table.title, "from": table.period.first_day.isoformat(),
            "to": table.period.last_day.isoformat(), "timezone": table.period.timezone, "currency": table.currency,
            "money": "minor units", "notes": table.notes,
            "columns": [{"key": key, "name": column.name, "kind": column.kind}
                        for key, column in zip(keys, table.columns)]}
    opening = json.dumps(head, ensure_ascii=False, sort_keys=True)
    stream.write(opening[:-1] + ', "rows": [')
    count = 0
    dumps = json.dumps
    for row in table.rows:
        stream.write(("\n" if not count else ",\n") + dumps(dict(zip(keys, map(_value, row))), ensure_ascii=False))
        count += 1
        if progress is not None and not count % 4096:
            progress(count)
    totals = table.totals()
    closing = dumps(None if totals is None else dict(zip(keys, map(_value, totals))), ensure_ascii=False)
    stream.write(f"\n], \"totals\": {closing}}}\n")
    if progress is not None:
        progress(count)
    return count
