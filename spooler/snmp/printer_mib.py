"""Printer-MIB v2 (RFC 3805), HOST-RESOURCES and friends: which objects a poll reads, and
what the answers mean, as ``accounting.fleet.records`` dataclasses. Sans-IO: the inputs
are the plain values ``SnmpClient`` returns, so every decision here is unit-tested
without an agent."""
from __future__ import annotations

from spooler.snmp import oids as O
from spooler.snmp.values import integer, mac_address, text

from accounting.fleet.records import Alert, Counters, OutputBin, PrinterInfo, PrinterStatus, Supply, Tray

DEVICE_STATUS = {1: "unknown", 2: "running", 3: "warning", 4: "testing", 5: "down"}
PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}
#: hrPrinterDetectedErrorState: bit 0 is the high bit of the first octet (RFC 2790).
ERROR_BITS = ("lowPaper", "noPaper", "lowToner", "noToner", "doorOpen", "jammed", "offline", "serviceRequested",
              "inputTrayMissing", "outputTrayMissing", "markerSupplyMissing", "outputNearFull", "outputFull",
              "inputTrayEmpty", "overduePreventMaint")
ALERT_SEVERITY = {1: "other", 3: "critical", 4: "warning", 5: "warningBinaryChangeEvent"}
ALERT_GROUP = {1: "other", 3: "hostResourcesStorage", 4: "hostResourcesDevice", 5: "generalPrinter", 6: "cover",
               7: "localization", 8: "input", 9: "output", 10: "marker", 11: "markerSupplies",
               12: "markerColorant", 13: "mediaPath", 14: "channel", 15: "interpreter",
               16: "consoleDisplayBuffer", 17: "consoleLights", 18: "alert", 30: "finDevice"}
ALERT_CODE = {1: "other", 2: "unknown", 3: "coverOpen", 4: "coverClosed", 5: "interlockOpen", 6: "interlockClosed",
              7: "configurationChange", 8: "jam", 9: "subunitMissing", 10: "subunitLifeAlmostOver",
              11: "subunitLifeOver", 12: "subunitAlmostEmpty", 13: "subunitEmpty", 14: "subunitAlmostFull",
              15: "subunitFull", 16: "subunitNearLimit", 17: "subunitAtLimit", 18: "subunitOpened",
              19: "subunitClosed", 20: "subunitTurnedOn", 21: "subunitTurnedOff", 22: "subunitOffline",
              23: "subunitPowerSaver", 24: "subunitWarmingUp", 25: "subunitAdded", 26: "subunitRemoved",
              29: "subunitRecoverableFailure", 30: "subunitUnrecoverableFailure", 33: "subunitMotorFailure",
              34: "subunitMemoryExhausted", 501: "doorOpen", 502: "doorClosed", 503: "poweredUp",
              504: "poweredDown", 505: "printerNMSReset", 506: "printerManualReset", 507: "printerReadyToPrint",
              801: "inputMediaTrayMissing", 807: "inputMediaSupplyLow", 808: "inputMediaSupplyEmpty",
              901: "outputMediaTrayMissing", 902: "outputMediaTrayAlmostFull", 903: "outputMediaTrayFull",
              1101: "markerTonerEmpty", 1102: "markerInkEmpty", 1104: "markerTonerAlmostEmpty",
              1105: "markerInkAlmostEmpty", 1301: "mediaPathMediaTrayMissing", 1302: "mediaPathMediaTrayAlmostFull",
              1303: "mediaPathMediaTrayFull"}
SUPPLY_TYPE = {3: "toner", 4: "wasteToner", 5: "ink", 6: "inkCartridge", 7: "inkRibbon", 8: "wasteInk", 9: "opc",
               10: "developer", 11: "fuserOil", 15: "fuser", 18: "cleanerUnit", 20: "transferUnit",
               21: "tonerCartridge", 32: "staples"}
INPUT_TYPE = {1: "other", 2: "unknown", 3: "sheetFeedAutoRemovableTray", 4: "sheetFeedAutoNonRemovableTray",
              5: "sheetFeedManual", 6: "continuousRoll", 7: "continuousFanFold"}
COUNTER_UNIT = {3: "tenThousandthsOfInches", 4: "micrometers", 5: "characters", 6: "lines", 7: "impressions",
                8: "sheets", 9: "dotRow", 11: "hours", 16: "feet", 17: "meters"}
#: Enterprise numbers (IANA) of printer makers, for a readable vendor name.
VENDORS = {11: "HP", 236: "Samsung", 253: "Xerox", 367: "Ricoh", 641: "Lexmark", 1129: "Toshiba", 1248: "Epson",
           1347: "Kyocera", 1602: "Canon", 2001: "OKI", 2385: "Sharp", 2435: "Brother", 18334: "Konica Minolta"}
#: Media sizes in millimetres (short edge, long edge); matched within 2 mm.
MEDIA_SIZES = {"A5": (148, 210), "A4": (210, 297), "A3": (297, 420), "B5": (182, 257), "B4": (257, 364),
               "Letter": (215.9, 279.4), "Legal": (215.9, 355.6), "Tabloid": (279.4, 431.8),
               "Executive": (184.2, 266.7)}
#: prtMediaPathType long-edge / short-edge binding duplex
DUPLEX_PATHS = {3, 4}

#: Vendor page counters split by colour, by enterprise number: {"mono": OID, "color": OID}.
#: Kyocera's "total printed by colour mode" counters, as field reports describe them; an
#: admin adds or corrects others with ``[fleet.vendor_counters]``.
DEFAULT_VENDOR_COUNTERS = {
    1347: {"mono": "1.3.6.1.4.1.1347.42.3.1.1.1.1.1", "color": "1.3.6.1.4.1.1347.42.3.1.1.1.1.2"},
}

PROBE_OIDS = (O.SYS_OBJECT_ID[:-1], O.SYS_DESCR[:-1], O.PRT_GENERAL_PRINTER_NAME)
INFO_SCALARS = (O.SYS_DESCR, O.SYS_OBJECT_ID, O.SYS_CONTACT, O.SYS_NAME, O.SYS_LOCATION, O.SNMP_ENGINE_ID)
#: Table columns of the information read, grouped so that one GETBULK covers a group's
#: few rows (agents cap a reply at a few dozen varbinds).
INFO_GROUPS = (
    (O.IF_TYPE, O.IF_PHYS_ADDRESS, O.HR_DEVICE_TYPE, O.HR_DEVICE_DESCR, O.PRT_GENERAL_PRINTER_NAME,
     O.PRT_GENERAL_SERIAL_NUMBER, O.PRT_MARKER_DEFAULT_INDEX, O.PRT_MARKER_COUNTER_UNIT, O.PRT_MARKER_LIFE_COUNT,
     O.PRT_MARKER_PROCESS_COLORANTS, O.PRT_MEDIA_PATH_TYPE, O.ENT_PHYSICAL_FIRMWARE_REV),
    (O.PRT_INPUT_TYPE, O.PRT_INPUT_DIM_UNIT, O.PRT_INPUT_DIM_FEED, O.PRT_INPUT_DIM_XFEED, O.PRT_INPUT_MAX_CAPACITY,
     O.PRT_INPUT_CURRENT_LEVEL, O.PRT_INPUT_STATUS, O.PRT_INPUT_MEDIA_NAME, O.PRT_INPUT_NAME,
     O.PRT_INPUT_MEDIA_TYPE),
    (O.PRT_OUTPUT_MAX_CAPACITY, O.PRT_OUTPUT_REMAINING, O.PRT_OUTPUT_STATUS, O.PRT_OUTPUT_NAME,
     O.FIN_DEVICE_TYPE, O.FIN_DEVICE_DESCRIPTION, O.ENT_PHYSICAL_SOFTWARE_REV),
    (O.PRT_SUPPLY_COLORANT_INDEX, O.PRT_SUPPLY_TYPE, O.PRT_SUPPLY_DESCRIPTION, O.PRT_SUPPLY_UNIT,
     O.PRT_SUPPLY_MAX_CAPACITY, O.PRT_SUPPLY_LEVEL, O.PRT_COLORANT_VALUE),
)
ALERT_COLUMNS = (O.PRT_ALERT_SEVERITY, O.PRT_ALERT_GROUP, O.PRT_ALERT_LOCATION, O.PRT_ALERT_CODE,
                 O.PRT_ALERT_DESCRIPTION)
SUPPLY_STATUS_COLUMNS = (O.PRT_SUPPLY_DESCRIPTION, O.PRT_SUPPLY_MAX_CAPACITY, O.PRT_SUPPLY_LEVEL)
STATUS_COLUMNS = ALERT_COLUMNS + SUPPLY_STATUS_COLUMNS


def is_printer_mib_v2(probe_answer) -> bool:
    """``probe_answer`` is GETNEXT's ``[(asked, (found, value))]`` for ``PROBE_OIDS``:
    an agent speaks Printer-MIB v2 when the next object after prtGeneralPrinterName's
    column is inside it."""
    for asked, (found, value) in probe_answer:
        if asked == O.PRT_GENERAL_PRINTER_NAME:
            return inside(asked, found, value)
    return False


def inside(column, found, value) -> bool:
    """GETNEXT from ``column`` found an instance of it (not the end of the MIB, which
    v2c answers with the asked name itself, nor the next object)."""
    return found is not None and value is not None and len(found) > len(column) and found[:len(column)] == column


def probe_identity(probe_answer) -> tuple[str, str]:
    """(sysObjectID, sysDescr) from the probe's GETNEXT answer."""
    object_id = descr = ""
    for asked, (found, value) in probe_answer:
        if not inside(asked, found, value):
            continue
        if asked == O.SYS_OBJECT_ID[:-1]:
            object_id = value if isinstance(value, str) else ""
        elif asked == O.SYS_DESCR[:-1]:
            descr = text(value)
    return object_id, descr


def vendor_of(sys_object_id: str) -> tuple[str, int | None]:
    prefix = ".".join(str(p) for p in O.ENTERPRISES) + "."
    if not sys_object_id.startswith(prefix):
        return "", None
    try:
        number = int(sys_object_id[len(prefix):].split(".")[0])
    except ValueError:
        return "", None
    return VENDORS.get(number, f"enterprise {number}"), number


def error_names(value) -> tuple[str, ...]:
    if not isinstance(value, bytes):
        return ()
    found = []
    for bit, name in enumerate(ERROR_BITS):
        octet = bit // 8
        if octet < len(value) and value[octet] & (0x80 >> (bit % 8)):
            found.append(name)
    return tuple(found)


def printer_row(table) -> tuple[int, ...]:
    """The hrDeviceIndex of the printer (hrDeviceType = hrDevicePrinter), else 1."""
    printer = ".".join(str(p) for p in O.HR_DEVICE_PRINTER)
    for index, kind in sorted(table.column(O.HR_DEVICE_TYPE).items()):
        if kind == printer:
            return index
    general = table.column(O.PRT_GENERAL_PRINTER_NAME)
    return min(general) if general else (1,)


def status_oids(hr_index: int = 1, marker_index: int = 1) -> list:
    return [O.HR_DEVICE_STATUS + (hr_index,), O.HR_PRINTER_STATUS + (hr_index,), O.HR_PRINTER_ERROR_STATE + (hr_index,),
            O.PRT_MARKER_COUNTER_UNIT + (hr_index, marker_index), O.PRT_MARKER_LIFE_COUNT + (hr_index, marker_index)]


def counter_oids(hr_index: int = 1, marker_index: int = 1, vendor: dict | None = None) -> list:
    found = [O.PRT_MARKER_COUNTER_UNIT + (hr_index, marker_index), O.PRT_MARKER_LIFE_COUNT + (hr_index, marker_index)]
    for key in ("mono", "color"):
        if vendor and vendor.get(key):
            found.append(O.oid(vendor[key]))
    return found


def decode_counters(values: dict, hr_index: int = 1, marker_index: int = 1, vendor: dict | None = None) -> Counters:
    unit = integer(values.get(O.PRT_MARKER_COUNTER_UNIT + (hr_index, marker_index)))
    life = integer(values.get(O.PRT_MARKER_LIFE_COUNT + (hr_index, marker_index)))
    mono = color = None
    if vendor:
        mono = integer(values.get(O.oid(vendor["mono"]))) if vendor.get("mono") else None
        color = integer(values.get(O.oid(vendor["color"]))) if vendor.get("color") else None
    return Counters(life_count=life if life is not None and life >= 0 else None,
                    unit=COUNTER_UNIT.get(unit, "impressions" if unit is None else f"unit {unit}"),
                    color_count=color if color is not None and color >= 0 else None,
                    mono_count=mono if mono is not None and mono >= 0 else None)


def decode_alerts(table) -> tuple[Alert, ...]:
    severity = table.column(O.PRT_ALERT_SEVERITY)
    codes = table.column(O.PRT_ALERT_CODE)
    groups = table.column(O.PRT_ALERT_GROUP)
    locations = table.column(O.PRT_ALERT_LOCATION)
    descriptions = table.column(O.PRT_ALERT_DESCRIPTION)
    alerts = []
    for index in sorted(set(severity) | set(codes)):
        code = integer(codes.get(index)) or 0
        alerts.append(Alert(index=index[-1], severity=ALERT_SEVERITY.get(integer(severity.get(index)), "other"),
                            code=code, code_name=ALERT_CODE.get(code, f"code {code}"),
                            group=ALERT_GROUP.get(integer(groups.get(index)), "other"),
                            location=integer(locations.get(index)), description=text(descriptions.get(index))))
    return tuple(alerts)


def decode_supplies(table) -> tuple[Supply, ...]:
    descriptions = table.column(O.PRT_SUPPLY_DESCRIPTION)
    levels = table.column(O.PRT_SUPPLY_LEVEL)
    capacities = table.column(O.PRT_SUPPLY_MAX_CAPACITY)
    kinds = table.column(O.PRT_SUPPLY_TYPE)
    units = table.column(O.PRT_SUPPLY_UNIT)
    colorant_of = table.column(O.PRT_SUPPLY_COLORANT_INDEX)
    colorants = table.column(O.PRT_COLORANT_VALUE)
    supplies = []
    for index in sorted(set(descriptions) | set(levels)):
        colorant = ""
        colorant_index = integer(colorant_of.get(index))
        if colorant_index:
            colorant = text(colorants.get(index[:-1] + (colorant_index,)))
        kind = integer(kinds.get(index))
        supplies.append(Supply(index=index[-1], description=text(descriptions.get(index)),
                               kind=SUPPLY_TYPE.get(kind, "" if kind is None else f"type {kind}"), colorant=colorant,
                               unit=integer(units.get(index)), capacity=integer(capacities.get(index)),
                               level=integer(levels.get(index))))
    return tuple(supplies)


def decode_status(values: dict, table, hr_index: int = 1, marker_index: int = 1) -> PrinterStatus:
    counters = decode_counters(values, hr_index, marker_index)
    return PrinterStatus(
        device_status=DEVICE_STATUS.get(integer(values.get(O.HR_DEVICE_STATUS + (hr_index,))), "unknown"),
        printer_status=PRINTER_STATUS.get(integer(values.get(O.HR_PRINTER_STATUS + (hr_index,))), "unknown"),
        errors=error_names(values.get(O.HR_PRINTER_ERROR_STATE + (hr_index,))),
        alerts=decode_alerts(table), supplies=decode_supplies(table),
        counters=counters if counters.life_count is not None else None, truncated=table.truncated)


def media_size(unit, feed, xfeed) -> str:
    unit, feed, xfeed = integer(unit), integer(feed), integer(xfeed)
    if unit not in (3, 4) or not feed or not xfeed or feed < 0 or xfeed < 0:
        return ""
    scale = 0.00254 if unit == 3 else 0.001  # to millimetres
    short, long = sorted((feed * scale, xfeed * scale))
    for name, (width, height) in MEDIA_SIZES.items():
        if abs(short - width) <= 2 and abs(long - height) <= 2:
            return name
    return f"{round(short)}x{round(long)}mm"


def decode_info(scalars: dict, table) -> PrinterInfo:
    """``table`` holds the columns of every ``INFO_GROUPS`` group (one ``Table``)."""
    sys_object_id = scalars.get(O.SYS_OBJECT_ID)
    sys_object_id = sys_object_id if isinstance(sys_object_id, str) else ""
    vendor, _ = vendor_of(sys_object_id)
    row = printer_row(table)
    model = text(table.column(O.HR_DEVICE_DESCR).get(row)) or text(scalars.get(O.SYS_DESCR))
    mac = ""
    types = table.column(O.IF_TYPE)
    for index, address in sorted(table.column(O.IF_PHYS_ADDRESS).items()):
        if types.get(index, 6) == 6 and mac_address(address):
            mac = mac_address(address)
            break
    colorants = integer(table.column(O.PRT_MARKER_PROCESS_COLORANTS).get(row + (1,)))
    if colorants is None:
        found = [v for k, v in table.column(O.PRT_MARKER_PROCESS_COLORANTS).items() if k[:len(row)] == row]
        colorants = integer(found[0]) if found else None
    color = bool(colorants and colorants > 1)
    duplex = any(integer(v) in DUPLEX_PATHS for v in table.column(O.PRT_MEDIA_PATH_TYPE).values())
    trays = []
    for index in sorted(table.column(O.PRT_INPUT_TYPE) | table.column(O.PRT_INPUT_NAME)):
        trays.append(Tray(
            index=index[-1], name=text(table.column(O.PRT_INPUT_NAME).get(index)),
            kind=INPUT_TYPE.get(integer(table.column(O.PRT_INPUT_TYPE).get(index)), ""),
            media_name=text(table.column(O.PRT_INPUT_MEDIA_NAME).get(index)),
            media_type=text(table.column(O.PRT_INPUT_MEDIA_TYPE).get(index)),
            media_size=media_size(table.column(O.PRT_INPUT_DIM_UNIT).get(index),
                                  table.column(O.PRT_INPUT_DIM_FEED).get(index),
                                  table.column(O.PRT_INPUT_DIM_XFEED).get(index)),
            capacity=integer(table.column(O.PRT_INPUT_MAX_CAPACITY).get(index)),
            level=integer(table.column(O.PRT_INPUT_CURRENT_LEVEL).get(index)),
            status=integer(table.column(O.PRT_INPUT_STATUS).get(index))))
    bins = [OutputBin(index=index[-1], name=text(table.column(O.PRT_OUTPUT_NAME).get(index)),
                      capacity=integer(table.column(O.PRT_OUTPUT_MAX_CAPACITY).get(index)),
                      remaining=integer(table.column(O.PRT_OUTPUT_REMAINING).get(index)),
                      status=integer(table.column(O.PRT_OUTPUT_STATUS).get(index)))
            for index in sorted(table.column(O.PRT_OUTPUT_NAME) | table.column(O.PRT_OUTPUT_MAX_CAPACITY))]
    finishers = tuple(text(v) or f"finisher {k[-1]}" for k, v in sorted(table.column(O.FIN_DEVICE_DESCRIPTION).items()))
    if not finishers:
        finishers = tuple(f"finisher {k[-1]}" for k in sorted(table.column(O.FIN_DEVICE_TYPE)))
    firmware = ""
    for column in (O.ENT_PHYSICAL_FIRMWARE_REV, O.ENT_PHYSICAL_SOFTWARE_REV):
        for _, value in sorted(table.column(column).items()):
            if text(value):
                firmware = text(value)
                break
        if firmware:
            break
    life_values = {O.PRT_MARKER_COUNTER_UNIT + k: v for k, v in table.column(O.PRT_MARKER_COUNTER_UNIT).items()}
    life_values.update({O.PRT_MARKER_LIFE_COUNT + k: v for k, v in table.column(O.PRT_MARKER_LIFE_COUNT).items()})
    marker = marker_index(table, row)
    counters = decode_counters(life_values, row[0] if len(row) == 1 else 1, marker)
    return PrinterInfo(
        vendor_oid=sys_object_id, vendor=vendor, model=model,
        serial=text(table.column(O.PRT_GENERAL_SERIAL_NUMBER).get(row)),
        mac=mac, name=text(table.column(O.PRT_GENERAL_PRINTER_NAME).get(row)) or text(scalars.get(O.SYS_NAME)),
        location=text(scalars.get(O.SYS_LOCATION)), contact=text(scalars.get(O.SYS_CONTACT)),
        description=text(scalars.get(O.SYS_DESCR)), firmware=firmware, color=color, duplex=duplex,
        trays=tuple(trays), bins=tuple(bins), finishers=finishers, supplies=decode_supplies(table),
        counters=counters if counters.life_count is not None else None, truncated=table.truncated,
        hr_index=row[0] if len(row) == 1 else 1, marker_index=marker,
        engine_id=engine.hex() if isinstance((engine := scalars.get(O.SNMP_ENGINE_ID)), bytes) and 5 <= len(engine) <= 32
        else "")


def marker_index(table, row) -> int:
    default = integer(table.column(O.PRT_MARKER_DEFAULT_INDEX).get(row))
    if default and default > 0:
        return default
    markers = sorted(k[-1] for k in table.column(O.PRT_MARKER_LIFE_COUNT) if k[:len(row)] == row)
    return markers[0] if markers else 1
