"""An admin changes a registered printer from its page (its device id and panel secret
stay); finance reads it; a printer that does not exist is a 404 page."""
import pytest

from gateway.register_device import panel_credential

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_an_admin_changes_a_printers_place_price_list_and_endpoint_keeping_its_secret(world):
    secret = panel_credential(world.core, "mfp-1").secret
    http = world.session("ana")
    page = http.get(world.url + "/admin/devices/mfp-1")
    assert page.status_code == 200 and 'value="1st floor"' in page.text
    endpoint = world.core.devices.get("mfp-1").endpoint
    done = world.post_form(http, "/admin/devices/mfp-1", "/admin/devices/mfp-1",
                           {"protocol": "lpd", "endpoint": endpoint, "price_list": "standard", "model": "Floor 1 MFP",
                            "location": "2nd floor", "color": "on", "duplex": "on"})
    assert "mfp-1 saved" in done.text
    device = world.core.devices.get("mfp-1")
    assert (device.location, device.price_list, device.color, device.duplex) == ("2nd floor", "standard", True, True)
    assert panel_credential(world.core, "mfp-1").secret == secret


def test_a_bad_endpoint_goes_back_to_the_form_with_the_reason(world):
    http = world.session("ana")
    done = world.post_form(http, "/admin/devices/mfp-1", "/admin/devices/mfp-1",
                           {"protocol": "ipp", "endpoint": "ftp://nowhere", "location": "x"})
    assert done.url.endswith("/admin/devices/mfp-1") and '<p class="flash error" role="alert">' in done.text
    assert world.core.devices.get("mfp-1").location != "x"


def test_finance_reads_a_printer_but_has_no_form(world):
    page = world.session("fay").get(world.url + "/admin/devices/mfp-1")
    assert page.status_code == 200 and "Reached at" in page.text and 'method="post"' not in page.text.split("<main")[1]


@pytest.mark.parametrize("path", ["/admin/devices/nowhere", "/admin/users/nobody", "/finance/accounts/nothing"])
def test_what_does_not_exist_is_a_404_page(world, path):
    answer = world.session("ana").get(world.url + path)
    assert answer.status_code == 404 and "Not here" in answer.text
