"""Which supplies the admin's dashboard calls low, from a printer's last status poll."""
from datetime import datetime, timezone

from accounting.fleet.health import low_supplies
from accounting.fleet.records import FleetDevice, PrinterInfo, Supply


def device(*, supplies=(), errors=()):
    return FleetDevice(id=1, address="10.0.0.9", port=161, state="approved", device="mfp-1", credential=None,
                       info=PrinterInfo(), health="warning", health_reason="", printer_status="idle",
                       errors=list(errors), alerts=[], supplies=list(supplies), life_count=None,
                       counter_unit="impressions", color_count=None, mono_count=None, device_class="",
                       discovered_at=datetime.now(timezone.utc), last_seen_at=None, status_at=None,
                       counters_at=None, info_at=None)


def test_a_supply_at_or_below_a_tenth_of_its_capacity_is_low():
    found = low_supplies(device(supplies=[Supply(index=1, description="black toner", capacity=1000, level=100),
                                          Supply(index=2, description="cyan toner", capacity=1000, level=110),
                                          Supply(index=3, kind="wasteToner", capacity=1000, level=3)]))
    assert found == ["black toner 10%", "wasteToner 0%"]


def test_levels_the_mib_gives_as_unknown_or_some_remaining_are_not_called_low():
    assert low_supplies(device(supplies=[Supply(index=1, description="black toner", capacity=-2, level=-3),
                                         Supply(index=2, description="cyan toner", capacity=100, level=-3)])) == []


def test_without_a_low_level_the_low_toner_and_low_paper_bits_say_it():
    assert low_supplies(device(errors=["lowPaper", "doorOpen", "lowToner"])) == ["lowPaper", "lowToner"]
    assert low_supplies(device(errors=["lowToner"], supplies=[
        Supply(index=1, description="black toner", capacity=100, level=5)])) == ["black toner 5%"]
