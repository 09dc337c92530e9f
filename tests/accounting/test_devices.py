"""Devices: capabilities, endpoint and the price list applied at release."""
import pytest

from accounting.errors import UnknownDevice, UnknownPriceList
from accounting.pricing import PriceList


def test_a_device_is_stored_with_its_capabilities(core):
    core.prices.save(PriceList(name="color", items={("*", True): 30_000}))
    core.jobs.ensure_queues(["secure"])
    device = core.devices.add("mfp-3f", model="Example MFP 9000", serial="SN1", mac="00:11:22:33:44:55",
                              location="3rd floor", device_class="a3-color", color=True, duplex=True,
                              media=["A4", "A3"], protocol="ipp", endpoint="ipp://10.0.0.5/ipp/print",
                              price_list="color", queue="secure")
    assert (device.model, device.color, device.duplex, device.media, device.price_list, device.queue) == (
        "Example MFP 9000", True, True, ["A4", "A3"], "color", "secure")
    assert [d.name for d in core.devices.list()] == ["mfp-3f"]
    assert core.audit.entries(action="device.add")[0].target == "mfp-3f"


def test_a_device_price_list_can_change(core):
    core.prices.save(PriceList(name="a", items={}))
    core.devices.add("mfp")
    assert core.devices.set_price_list("mfp", "a").price_list == "a"
    with pytest.raises(UnknownPriceList):
        core.devices.set_price_list("mfp", "missing")


def test_an_unknown_device_is_a_clear_error(core):
    with pytest.raises(UnknownDevice):
        core.devices.get("nope")
    with pytest.raises(UnknownDevice):
        core.devices.set_price_list("nope", None)


def test_a_device_is_edited_keeping_its_name_and_id(core):
    core.prices.save(PriceList(name="a3", items={("*", False): 10_000}))
    device = core.devices.add("mfp-3f", protocol="ipp", endpoint="ipp://10.0.0.5/ipp/print")
    edited = core.devices.update("mfp-3f", endpoint="socket://10.0.0.6:9100", protocol="raw", color=True,
                                 price_list="a3", actor="cli")
    assert (edited.id, edited.protocol, edited.endpoint, edited.color, edited.price_list) == (
        device.id, "raw", "socket://10.0.0.6:9100", True, "a3")
    assert core.devices.update("mfp-3f", price_list=None).price_list is None
    with pytest.raises(UnknownDevice):
        core.devices.update("nope", color=True)
    with pytest.raises(ValueError):
        core.devices.update("mfp-3f", serial="other")
