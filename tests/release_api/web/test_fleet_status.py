"""With fleet monitoring on, the admin's dashboard names the printers in error and the
supplies running low, and the printers page shows each watched printer's status, from
the fleet's last status poll."""
import pytest

from accounting.fleet.records import Alert, PrinterStatus, Supply
from tests.fixtures.web import web_world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with web_world(tmp_path_factory.mktemp("web-fleet"), fleet=True) as w:
        w.add_person("ana", roles=("admin",), full_name="Ana Admin")
        w.add_person("fay", roles=("finance",), full_name="Fay Finance")
        yield w


def poll(world, device_name: str, status: PrinterStatus, *, address: str):
    watched = world.fleet.inventory.link(device_name, address, actor="test")
    world.fleet.inventory.record_status(watched.id, status)


def test_with_every_watched_printer_well_the_dashboard_says_so(world):
    poll(world, "mfp-1", PrinterStatus(device_status="running", printer_status="idle",
                                       supplies=(Supply(index=1, description="black toner", capacity=100, level=80),)),
         address="127.0.0.2")
    page = world.session("ana").get(world.url + "/admin/")
    assert "No printer reports an error." in page.text and "No supply is low." in page.text
    assert "once SNMP monitoring is on" not in page.text


def test_a_jammed_printer_and_a_low_toner_are_on_the_dashboard_and_the_printers_page(world):
    world.core.devices.add("mfp-2", protocol="raw", endpoint="127.0.0.1:9", actor="test")
    poll(world, "mfp-2", PrinterStatus(device_status="down", printer_status="other", errors=("jammed",),
                                       alerts=(Alert(index=1, severity="critical", description="Paper jam, tray 2"),),
                                       supplies=(Supply(index=1, description="cyan toner", capacity=200, level=8),
                                                 Supply(index=2, description="black toner", capacity=200, level=150))),
         address="127.0.0.3")
    for who in ("ana", "fay"):
        dashboard = world.session(who).get(world.url + "/admin/").text
        assert "In error: mfp-2 (jammed, Paper jam, tray 2)" in dashboard
        assert "Low supplies: mfp-2: cyan toner 4%" in dashboard
        assert "mfp-1" not in dashboard.split("In error:")[1].split("</p>")[0]
    printers = world.session("ana").get(world.url + "/admin/devices").text
    assert "low: cyan toner 4%" in printers and "black toner" not in printers
    assert printers.count('class="tag bad">error</span>') == 1 and printers.count('class="tag good">ok</span>') == 1


def test_a_printer_the_fleet_does_not_watch_is_said_to_be_not_watched(world):
    world.core.devices.add("mfp-3", protocol="raw", endpoint="127.0.0.1:9", actor="test")
    printers = world.session("ana").get(world.url + "/admin/devices").text
    row = printers.split("<b>mfp-3</b>")[1].split("</tr>")[0]
    assert "not watched" in row
