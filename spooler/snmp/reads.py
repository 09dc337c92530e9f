"""What one poll asks an agent, and the decoded answer: the information read (daily and
at discovery), the status poll (every few minutes) and the counter read (meters).
Each is a few requests sent together; the decoding is ``printer_mib``'s."""
from __future__ import annotations

import asyncio

from accounting.fleet.records import Counters, PrinterInfo, PrinterStatus, SnmpCredential
from spooler.snmp import printer_mib
from spooler.snmp.client import Agent, SnmpClient, Table

#: Rows kept per table column: alerts and supplies of a real printer number a few dozen
#: at most; an agent with more is cut off here (and the read says ``truncated``).
DEFAULT_MAX_ROWS = 256


async def read_info(client: SnmpClient, agent: Agent, credential: SnmpCredential, *, limiter=None,
                    max_rows: int = DEFAULT_MAX_ROWS) -> PrinterInfo:
    scalars, *tables = await asyncio.gather(
        client.get(agent, credential, printer_mib.INFO_SCALARS, limiter=limiter),
        *(client.walk(agent, credential, group, max_rows=max_rows, limiter=limiter)
          for group in printer_mib.INFO_GROUPS))
    merged = {}
    for table in tables:
        merged.update(table.columns)
    return printer_mib.decode_info(scalars, Table(merged, any(t.truncated for t in tables)))


async def read_status(client: SnmpClient, agent: Agent, credential: SnmpCredential, *, hr_index: int = 1,
                      marker_index: int = 1, max_rows: int = DEFAULT_MAX_ROWS) -> PrinterStatus:
    values, table = await asyncio.gather(
        client.get(agent, credential, printer_mib.status_oids(hr_index, marker_index)),
        client.walk(agent, credential, printer_mib.STATUS_COLUMNS, max_rows=max_rows))
    return printer_mib.decode_status(values, table, hr_index, marker_index)


async def read_counters(client: SnmpClient, agent: Agent, credential: SnmpCredential, *, hr_index: int = 1,
                        marker_index: int = 1, vendor: dict | None = None) -> Counters:
    values = await client.get(agent, credential, printer_mib.counter_oids(hr_index, marker_index, vendor))
    return printer_mib.decode_counters(values, hr_index, marker_index, vendor)


async def read_printer_state(client: SnmpClient, agent: Agent, credential: SnmpCredential, *, hr_index: int = 1,
                             marker_index: int = 1) -> tuple[str, int | None]:
    """(hrPrinterStatus, life count) in one GET: what the meter read after a release
    watches while the job prints."""
    values = await client.get(agent, credential, printer_mib.status_oids(hr_index, marker_index))
    status = printer_mib.decode_status(values, Table({}), hr_index, marker_index)
    return status.printer_status, status.counters.life_count if status.counters else None
