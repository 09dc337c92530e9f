"""The fleet's records: credentials as secrets, discovery and approval, health and the
release gate, meter plausibility and per-job reconciliation with refunds, export."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree
from datetime import timedelta

import pytest

from accounting.fleet import Fleet
from accounting.fleet.export import export_printers
from accounting.fleet.meters import counter_flag, shortfall_refund
from accounting.fleet.records import Alert, Counters, PrinterInfo, PrinterStatus, Probe, SnmpCredential
from accounting.pricing import PriceList
from accounting.schema import secrets as secrets_table
from sqlalchemy import select

from tests.accounting.conftest import T0, new_job


@pytest.fixture
def fleet(core):
    return Fleet(core.database, lambda: core.secrets)


def test_credentials_are_tried_in_order_and_their_secrets_are_encrypted(fleet, core):
    fleet.credentials.add(SnmpCredential("office", "2c", community="s3cret-community"))
    fleet.credentials.add(SnmpCredential("v3", "3", user="pg", auth_protocol="sha256", auth_key="authkey-123",
                                         priv_protocol="aes128", priv_key="privkey-123"), position=1)
    assert [c.name for c in fleet.credentials.load()] == ["v3", "office"]
    assert fleet.credentials.load()[1].community == "s3cret-community"
    assert all(not c.community and not c.auth_key for c in fleet.credentials.describe())
    with core.database.reader.connect() as conn:
        stored = b"".join(bytes(v) for v in conn.execute(select(secrets_table.c.ciphertext)).scalars())
    assert b"s3cret" not in stored and b"authkey" not in stored


def test_a_v3_credential_without_authentication_is_refused(fleet):
    with pytest.raises(ValueError):
        fleet.credentials.add(SnmpCredential("weak", "3", user="pg", auth_protocol="sha", auth_key="short"))


def _discovered(fleet, address="10.0.3.20", location="HQ/Floor 3/East", serial="S1"):
    probe = Probe(address, 161, "office", True, "1.3.6.1.4.1.1347.41.1", "MFP")
    return fleet.inventory.record_discovery(probe, PrinterInfo(model="MFP", serial=serial, location=location,
                                                               color=True))


def test_a_discovered_printer_is_listed_as_discovered_until_approved(fleet, core):
    found = _discovered(fleet)
    assert found.state == "discovered" and found.device is None
    core.devices.add("mfp-3f", device_class="office", location="HQ/Floor 3/East")
    approved = fleet.inventory.approve("10.0.3.20", "mfp-3f")
    assert (approved.state, approved.device) == ("approved", "mfp-3f")
    again = _discovered(fleet)
    assert (again.state, again.device) == ("approved", "mfp-3f")


def test_a_device_in_error_blocks_release_and_offers_the_nearest_healthy_one_of_its_class(fleet, core):
    for name, address, location in (("mfp-3f", "10.0.3.20", "HQ/Floor 3/East"), ("mfp-3w", "10.0.3.21",
                                    "HQ/Floor 3/West"), ("mfp-1f", "10.0.1.20", "HQ/Floor 1"),
                                    ("plotter", "10.0.3.30", "HQ/Floor 3/East")):
        _discovered(fleet, address, location, serial=name)
        core.devices.add(name, device_class="plotter" if name == "plotter" else "office", location=location)
        fleet.inventory.approve(address, name)
        fleet.inventory.record_status(fleet.inventory.find(name).id, PrinterStatus(device_status="running"))
    jam = PrinterStatus(device_status="running", errors=("jammed",),
                        alerts=(Alert(1, severity="critical", code=8, description="Jam in tray 2"),))
    change = fleet.inventory.record_status(fleet.inventory.find("mfp-3f").id, jam)
    assert (change.old, change.new, change.changed) == ("ok", "error", True)
    block = fleet.inventory.release_block("mfp-3f")
    assert block.blocked and "jammed" in block.reason
    assert [name for name, _ in block.alternatives] == ["mfp-3w", "mfp-1f"]
    assert fleet.inventory.release_block("mfp-3w") is None
    kinds = [e["kind"] for e in fleet.inventory.events("mfp-3f")]
    assert "alert" in kinds and "health" in kinds


def test_counters_that_go_backwards_jump_or_wrap_are_flagged():
    hour = timedelta(hours=1)
    assert counter_flag(1000, 1200, hour) is None
    assert counter_flag(1000, 900, hour) == "backwards"
    assert counter_flag(4_294_960_000, 300, hour) == "wrap"
    assert counter_flag(1000, 1000 + 300 * 60 + 1001, hour) == "jump"


def test_a_flagged_read_is_stored_but_never_becomes_the_devices_counter(fleet, core):
    device = _discovered(fleet)
    fleet.meters.record_read(device.id, Counters(5000), now=T0)
    flagged = fleet.meters.record_read(device.id, Counters(4000), now=T0 + timedelta(hours=4))
    assert flagged.flag == "backwards"
    assert fleet.inventory.get(device.id).life_count == 5000
    assert any(e["kind"] == "counter" for e in fleet.inventory.events(device.id))


def test_one_period_read_per_device_and_period(fleet):
    device = _discovered(fleet)
    first = fleet.meters.record_read(device.id, Counters(100), reason="period", period_start=T0)
    second = fleet.meters.record_read(device.id, Counters(150), reason="period", period_start=T0)
    assert second.id == first.id and len(fleet.meters.reads(device.id, reason="period")) == 1


def test_a_shortfall_refund_keeps_charged_no_more_than_printed():
    assert shortfall_refund(100, 10, 7) == 30
    assert shortfall_refund(100, 3, 1) == 67  # 33.3 kept is rounded down
    assert shortfall_refund(100, 10, 10) == 0
    assert shortfall_refund(100, 10, -5) == 100


def _released_job(core, pages=10):
    core.prices.save(PriceList(name="std", items={("*", False): 10_000, ("*", True): 10_000}, is_default=True))
    core.users.add_user("alice", balance=10_000)
    held = core.jobs.record_jobs([new_job(pages=pages)])[0]
    core.release.start_release(held.id, None, "alice")
    core.release.charge_release(held.id, None, f"k{held.id}", "alice")
    return core.jobs.get_job(held.id)


def test_a_shortfall_is_flagged_and_refunded_through_the_ledger_when_configured(fleet, core):
    job = _released_job(core)
    check = fleet.meters.record_check(job.id, "mfp-3f", expected=10, before=5000, after=5007,
                                      refund=core.refund_shortfall, refund_shortfalls=True)
    assert (check.outcome, check.counted, check.refunded) == ("shortfall", 7, job.charged_amount * 3 // 10)
    again = fleet.meters.record_check(job.id, "mfp-3f", expected=10, before=5000, after=5007,
                                      refund=core.refund_shortfall, refund_shortfalls=True)
    assert again.id == check.id
    refunds = [e for e in core.ledger.entries("alice") if e.kind == "refund"]
    assert [e.amount for e in refunds] == [check.refunded]


def test_implausible_and_concurrent_counts_are_never_refunded(fleet, core):
    job = _released_job(core)
    check = fleet.meters.record_check(job.id, "mfp-3f", expected=10, before=5000, after=4000,
                                      refund=core.refund_shortfall, refund_shortfalls=True)
    assert (check.outcome, check.refunded) == ("implausible", 0)
    assert fleet.meters.record_check(job.id + 1000, "mfp-3f", expected=10, before=1, after=2, outcome="concurrent",
                                     refund=core.refund_shortfall, refund_shortfalls=True).refunded == 0


def test_the_export_is_valid_json_xml_and_csv(fleet):
    _discovered(fleet)
    _discovered(fleet, "10.0.3.21", location="=cmd|' /C calc'!A0", serial="S2")
    rows = json.loads(export_printers(fleet.inventory.list(), "json"))["printers"]
    assert [r["serial"] for r in rows] == ["S1", "S2"]
    root = ElementTree.fromstring(export_printers(fleet.inventory.list(), "xml").split("\n", 1)[1])
    assert [p.findtext("serial") for p in root.findall("printer")] == ["S1", "S2"]
    table = list(csv.DictReader(io.StringIO(export_printers(fleet.inventory.list(), "csv"))))
    assert table[1]["location"].startswith("'=")
