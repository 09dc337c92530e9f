"""Pricing: integer minor units, exact thousandths, one half-up rounding at the end."""
import pytest

from accounting.errors import UnknownPriceList
from accounting.pricing import FREE, PriceList, job_shape, price, price_milli, round_half_up

LIST = PriceList(name="std", job_fee=0, items={("*", False): 10_000, ("*", True): 40_000, ("A3", False): 20_000,
                                               ("A3", True): 80_000})


def facts(pages=2, copies=1, color_pages=0, duplex=False, media=("A4",), impressions=None, sheets=None):
    return {"pages": pages, "copies": copies, "color_pages": color_pages, "duplex": duplex, "media": list(media),
            "impressions": pages * copies if impressions is None else impressions,
            "sheets": (((pages + 1) // 2) if duplex else pages) * copies if sheets is None else sheets}


def test_mono_pages_cost_the_mono_side_price():
    assert price(LIST, job_shape(facts(pages=5))) == 50


def test_color_pages_cost_the_color_side_price_and_the_rest_mono():
    assert price(LIST, job_shape(facts(pages=5, color_pages=2))) == 2 * 40 + 3 * 10


def test_copies_requested_multiply_the_price():
    assert price(LIST, job_shape(facts(pages=5), copies_requested=3)) == 150


def test_in_stream_copies_are_in_the_impressions():
    shape = job_shape(facts(pages=5, copies=2))
    assert (shape.sides, shape.copies) == (10, 2)
    assert price(LIST, shape) == 100


def test_a_media_size_with_its_own_row_uses_it():
    assert price(LIST, job_shape(facts(pages=1, media=("A3",)))) == 20


def test_an_unknown_media_size_falls_back_to_the_star_row():
    assert price(LIST, job_shape(facts(pages=1, media=("Letter",)))) == 10


def test_fractions_of_a_minor_unit_add_up_exactly_and_round_once_half_up():
    half_cent = PriceList(name="h", items={("*", False): 500})
    assert price(half_cent, job_shape(facts(pages=1))) == 1      # 0.5 → 1
    assert price(half_cent, job_shape(facts(pages=3))) == 2      # 1.5 → 2
    assert price(half_cent, job_shape(facts(pages=4))) == 2      # 2.0 → 2
    third = PriceList(name="t", items={("*", False): 333})
    assert price(third, job_shape(facts(pages=3))) == 1          # 0.999 → 1, not 3 × round(0.333) = 0


def test_round_half_up_is_symmetric_for_negative_amounts():
    assert [round_half_up(m) for m in (1499, 1500, -1499, -1500)] == [1, 2, -1, -2]


def test_duplex_discount_applies_to_sides_on_two_sided_sheets():
    duplex = PriceList(name="d", duplex_discount_permille=200, items={("*", False): 10_000})
    assert price(duplex, job_shape(facts(pages=4, duplex=True))) == 32
    assert price(duplex, job_shape(facts(pages=4))) == 40


def test_job_fee_and_sheet_fee_are_added():
    fees = PriceList(name="f", job_fee=5, sheet_fee=2, items={("*", False): 10_000})
    assert price(fees, job_shape(facts(pages=4, duplex=True))) == 5 + 2 * 2 + 40


def test_an_uncounted_job_is_priced_as_unknown_pages_per_copy_and_flagged():
    shape = job_shape({"pages": None}, copies_requested=2, unknown_pages=3)
    assert (shape.counted, shape.sides) == (False, 6)
    assert price(LIST, shape) == 6 * 40  # color unknown: priced as color


def test_an_uncounted_job_sent_as_monochrome_is_priced_mono():
    shape = job_shape(None, color_mode="monochrome", unknown_pages=2)
    assert price(LIST, shape) == 20


def test_forced_mono_prices_every_side_mono():
    assert price(LIST, job_shape(facts(pages=5, color_pages=5), changes={"mono": True})) == 50


def test_forced_duplex_halves_the_sheets():
    shape = job_shape(facts(pages=5), changes={"duplex": True})
    assert (shape.duplex, shape.sheets, shape.sides) == (True, 3, 5)


def test_a_copies_cap_limits_requested_copies():
    shape = job_shape(facts(pages=2), copies_requested=10, changes={"copies": 3})
    assert (shape.copies, shape.sides) == (3, 6)


def test_the_price_is_an_int_never_a_float():
    assert isinstance(price(LIST, job_shape(facts(pages=7, color_pages=3))), int)
    assert isinstance(price_milli(LIST, job_shape(facts(pages=7))), int)


def test_without_a_price_list_printing_is_free():
    assert price(FREE, job_shape(facts(pages=100))) == 0


def test_price_lists_are_stored_and_assigned_to_queues(core):
    core.prices.save(PriceList(name="std", currency="CHF", items={("*", False): 10_000}, is_default=True))
    core.prices.save(PriceList(name="color", items={("*", True): 99_000}))
    core.prices.assign_queue("colorq", "color")
    assert core.prices.for_queue("colorq").name == "color"
    assert core.prices.for_queue("secure").name == "std"
    assert core.prices.get("std").currency == "CHF"
    with pytest.raises(UnknownPriceList):
        core.prices.assign_queue("x", "missing")


def test_saving_a_price_list_replaces_its_items(core):
    core.prices.save(PriceList(name="std", items={("*", False): 10_000, ("A3", False): 20_000}))
    core.prices.save(PriceList(name="std", items={("*", False): 12_000}))
    assert core.prices.get("std").items == {("*", False): 12_000}


def test_negative_or_float_prices_are_refused(core):
    with pytest.raises(ValueError):
        core.prices.save(PriceList(name="bad", items={("*", False): -1}))
    with pytest.raises(ValueError):
        core.prices.save(PriceList(name="bad", job_fee=1.5))
