"""The object identifiers the fleet reads: SNMPv2-MIB system group, IF-MIB, HOST-RESOURCES
(RFC 2790), Printer-MIB v2 (RFC 3805), Finisher MIB (RFC 3806), ENTITY-MIB, and the
Printer-MIB traps. Columns are given without their index; tables are read by column."""
from __future__ import annotations


def oid(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip(".").split("."))


# SNMPv2-MIB system group (scalars, instance .0)
SYS_DESCR = oid("1.3.6.1.2.1.1.1.0")
SYS_OBJECT_ID = oid("1.3.6.1.2.1.1.2.0")
SYS_UPTIME = oid("1.3.6.1.2.1.1.3.0")
SYS_CONTACT = oid("1.3.6.1.2.1.1.4.0")
SYS_NAME = oid("1.3.6.1.2.1.1.5.0")
SYS_LOCATION = oid("1.3.6.1.2.1.1.6.0")
SNMP_TRAP_OID = oid("1.3.6.1.6.3.1.1.4.1.0")
SNMP_ENGINE_ID = oid("1.3.6.1.6.3.10.2.1.1.0")
ENTERPRISES = oid("1.3.6.1.4.1")

# IF-MIB ifTable
IF_TYPE = oid("1.3.6.1.2.1.2.2.1.3")
IF_PHYS_ADDRESS = oid("1.3.6.1.2.1.2.2.1.6")

# HOST-RESOURCES-MIB
HR_DEVICE_TYPE = oid("1.3.6.1.2.1.25.3.2.1.2")
HR_DEVICE_DESCR = oid("1.3.6.1.2.1.25.3.2.1.3")
HR_DEVICE_STATUS = oid("1.3.6.1.2.1.25.3.2.1.5")
HR_PRINTER_STATUS = oid("1.3.6.1.2.1.25.3.5.1.1")
HR_PRINTER_ERROR_STATE = oid("1.3.6.1.2.1.25.3.5.1.2")
HR_DEVICE_PRINTER = oid("1.3.6.1.2.1.25.3.1.5")

PRINTER_MIB = oid("1.3.6.1.2.1.43")
# prtGeneralTable (indexed by hrDeviceIndex). Columns 16-19 are new in v2 (RFC 3805):
# an agent that has prtGeneralPrinterName speaks Printer-MIB v2.
PRT_GENERAL_PRINTER_NAME = oid("1.3.6.1.2.1.43.5.1.1.16")
PRT_GENERAL_SERIAL_NUMBER = oid("1.3.6.1.2.1.43.5.1.1.17")
PRT_MARKER_DEFAULT_INDEX = oid("1.3.6.1.2.1.43.5.1.1.8")

# prtInputTable
PRT_INPUT = oid("1.3.6.1.2.1.43.8.2.1")
PRT_INPUT_TYPE = PRT_INPUT + (2,)
PRT_INPUT_DIM_UNIT = PRT_INPUT + (3,)
PRT_INPUT_DIM_FEED = PRT_INPUT + (4,)
PRT_INPUT_DIM_XFEED = PRT_INPUT + (5,)
PRT_INPUT_MAX_CAPACITY = PRT_INPUT + (9,)
PRT_INPUT_CURRENT_LEVEL = PRT_INPUT + (10,)
PRT_INPUT_STATUS = PRT_INPUT + (11,)
PRT_INPUT_MEDIA_NAME = PRT_INPUT + (12,)
PRT_INPUT_NAME = PRT_INPUT + (13,)
PRT_INPUT_MEDIA_TYPE = PRT_INPUT + (21,)

# prtOutputTable
PRT_OUTPUT = oid("1.3.6.1.2.1.43.9.2.1")
PRT_OUTPUT_MAX_CAPACITY = PRT_OUTPUT + (4,)
PRT_OUTPUT_REMAINING = PRT_OUTPUT + (5,)
PRT_OUTPUT_STATUS = PRT_OUTPUT + (6,)
PRT_OUTPUT_NAME = PRT_OUTPUT + (7,)

# prtMarkerTable
PRT_MARKER = oid("1.3.6.1.2.1.43.10.2.1")
PRT_MARKER_COUNTER_UNIT = PRT_MARKER + (3,)
PRT_MARKER_LIFE_COUNT = PRT_MARKER + (4,)
PRT_MARKER_PROCESS_COLORANTS = PRT_MARKER + (6,)

# prtMarkerSuppliesTable
PRT_SUPPLIES = oid("1.3.6.1.2.1.43.11.1.1")
PRT_SUPPLY_COLORANT_INDEX = PRT_SUPPLIES + (3,)
PRT_SUPPLY_CLASS = PRT_SUPPLIES + (4,)
PRT_SUPPLY_TYPE = PRT_SUPPLIES + (5,)
PRT_SUPPLY_DESCRIPTION = PRT_SUPPLIES + (6,)
PRT_SUPPLY_UNIT = PRT_SUPPLIES + (7,)
PRT_SUPPLY_MAX_CAPACITY = PRT_SUPPLIES + (8,)
PRT_SUPPLY_LEVEL = PRT_SUPPLIES + (9,)

# prtMarkerColorantTable
PRT_COLORANT_VALUE = oid("1.3.6.1.2.1.43.12.1.1.4")

# prtMediaPathTable: a duplex path means a duplex unit
PRT_MEDIA_PATH_TYPE = oid("1.3.6.1.2.1.43.13.4.1.9")

# prtAlertTable
PRT_ALERT = oid("1.3.6.1.2.1.43.18.1.1")
PRT_ALERT_SEVERITY = PRT_ALERT + (2,)
PRT_ALERT_GROUP = PRT_ALERT + (4,)
PRT_ALERT_GROUP_INDEX = PRT_ALERT + (5,)
PRT_ALERT_LOCATION = PRT_ALERT + (6,)
PRT_ALERT_CODE = PRT_ALERT + (7,)
PRT_ALERT_DESCRIPTION = PRT_ALERT + (8,)

# Finisher MIB (RFC 3806) finDeviceTable
FIN_DEVICE_TYPE = oid("1.3.6.1.2.1.43.30.1.1.2")
FIN_DEVICE_DESCRIPTION = oid("1.3.6.1.2.1.43.30.1.1.10")

# ENTITY-MIB entPhysicalTable
ENT_PHYSICAL_FIRMWARE_REV = oid("1.3.6.1.2.1.47.1.1.1.1.9")
ENT_PHYSICAL_SOFTWARE_REV = oid("1.3.6.1.2.1.47.1.1.1.1.10")

# Traps
PRINTER_V2_ALERT_TRAP = oid("1.3.6.1.2.1.43.0.1")
COLD_START = oid("1.3.6.1.6.3.1.1.5.1")
WARM_START = oid("1.3.6.1.6.3.1.1.5.2")
LINK_DOWN = oid("1.3.6.1.6.3.1.1.5.3")
LINK_UP = oid("1.3.6.1.6.3.1.1.5.4")


def dotted(value: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in value)
