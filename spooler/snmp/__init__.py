"""SNMP I/O for the fleet: a client over pysnmp 7's asyncio API (run on the gateway's
asyncio reactor), Printer-MIB (RFC 3805) decoding into ``accounting.fleet.records``
dataclasses, discovery sweeps and the trap receiver.

Nothing here touches the database: the gateway hands what is read here to
``accounting.fleet``. Every reply is hostile input: values are converted to plain Python
at the boundary (``values.plain``), strings are bounded, tables are read up to a row cap.
"""
