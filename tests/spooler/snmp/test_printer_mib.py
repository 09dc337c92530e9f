"""Printer-MIB decoding, sans-IO: plain values in, fleet records out."""
from spooler.snmp import oids as O
from spooler.snmp import printer_mib
from spooler.snmp.client import Table
from spooler.snmp.traps import decode_trap
from spooler.snmp.values import text
from accounting.fleet.health import judge, location_affinity


def test_error_state_bits_are_read_from_the_high_bit_of_the_first_octet():
    assert printer_mib.error_names(b"\x04\x00") == ("jammed",)
    assert printer_mib.error_names(b"\x80\x40") == ("lowPaper", "outputTrayMissing")
    assert printer_mib.error_names(b"") == ()
    assert printer_mib.error_names(None) == ()


def test_a_probe_that_reaches_past_the_printer_name_column_is_not_a_printer():
    asked = O.PRT_GENERAL_PRINTER_NAME
    assert printer_mib.is_printer_mib_v2([(asked, (asked + (1,), b"mfp"))])
    assert not printer_mib.is_printer_mib_v2([(asked, (O.oid("1.3.6.1.2.1.43.6.1.1.2.1.1"), 3))])
    assert not printer_mib.is_printer_mib_v2([(asked, (asked, None))])  # v2c endOfMibView
    assert not printer_mib.is_printer_mib_v2([(asked, (None, None))])  # v1 noSuchName


def test_media_sizes_are_matched_in_either_orientation_and_unit():
    assert printer_mib.media_size(3, 82680, 116930) == "A4"
    assert printer_mib.media_size(4, 297000, 210000) == "A4"
    assert printer_mib.media_size(3, 85000, 110000) == "Letter"
    assert printer_mib.media_size(4, 100000, 150000) == "100x150mm"
    assert printer_mib.media_size(3, -2, 5) == ""


def test_alerts_and_supplies_are_decoded_from_their_columns():
    table = Table({
        O.PRT_ALERT_SEVERITY: {(1, 5): 3}, O.PRT_ALERT_CODE: {(1, 5): 8}, O.PRT_ALERT_GROUP: {(1, 5): 13},
        O.PRT_ALERT_DESCRIPTION: {(1, 5): b"Jam in tray 2\x00\x00"},
        O.PRT_SUPPLY_DESCRIPTION: {(1, 1): b"Black Toner", (1, 2): b"Waste"},
        O.PRT_SUPPLY_MAX_CAPACITY: {(1, 1): 20000, (1, 2): 100}, O.PRT_SUPPLY_LEVEL: {(1, 1): 5000, (1, 2): -3},
    })
    alert, = printer_mib.decode_alerts(table)
    assert (alert.severity, alert.code_name, alert.group, alert.description) == ("critical", "jam", "mediaPath",
                                                                               "Jam in tray 2")
    black, waste = printer_mib.decode_supplies(table)
    assert black.percent == 25 and waste.percent is None and waste.level == -3


def test_text_from_an_agent_is_bounded_and_printable():
    assert text(b"A" * 100_000) == "A" * 255
    assert text(b"ok\x1b[2Jbad\x07") == "ok[2Jbad"
    assert text(b"\xff\xfe name") == "\ufffd\ufffd name"


def test_a_printer_v2_alert_trap_becomes_an_alert_event():
    trap = decode_trap("127.0.0.2", 3000, [
        (O.SNMP_TRAP_OID, "1.3.6.1.2.1.43.0.1"), (O.PRT_ALERT_SEVERITY + (1, 4), 3),
        (O.PRT_ALERT_GROUP + (1, 4), 13), (O.PRT_ALERT_CODE + (1, 4), 8)])
    assert (trap.kind, trap.severity, trap.code, trap.description) == ("printer-alert", "critical", 8,
                                                                      "jam (mediaPath)")
    assert decode_trap("h", 1, [(O.SNMP_TRAP_OID, "1.3.6.1.6.3.1.1.5.3")]).kind == "link-down"


def test_vendor_names_come_from_the_enterprise_number():
    assert printer_mib.vendor_of("1.3.6.1.4.1.1347.41.1") == ("Kyocera", 1347)
    assert printer_mib.vendor_of("1.3.6.1.4.1.99999.1") == ("enterprise 99999", 99999)
    assert printer_mib.vendor_of("1.3.6.1.2.1") == ("", None)


def test_a_jam_is_an_error_and_low_toner_a_warning():
    from accounting.fleet.records import Alert, PrinterStatus

    assert judge(PrinterStatus(device_status="running", errors=("jammed",)))[0] == "error"
    assert judge(PrinterStatus(device_status="warning", errors=("lowToner",))) == ("warning", "lowToner")
    assert judge(PrinterStatus(alerts=(Alert(1, severity="critical", description="Cover open"),))) == (
        "error", "Cover open")
    assert judge(PrinterStatus(device_status="running", printer_status="idle")) == ("ok", "")


def test_the_nearer_location_shares_a_longer_prefix():
    assert location_affinity("HQ/Floor 3/East", "HQ/Floor 3/West") == 2
    assert location_affinity("HQ/Floor 3/East", "Annex/Floor 3") == 0
