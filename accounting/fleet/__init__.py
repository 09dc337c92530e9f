"""The fleet: printers found and watched over SNMP (issue 17).

``records`` holds the plain dataclasses that cross the boundary (the SNMP side in
``spooler.snmp`` produces them; nothing here touches a socket). The stores keep SNMP
credentials (secrets), discovered and approved printers, their status history and
events, meter reads, and the per-job reconciliation of expected against counted pages.
"""
