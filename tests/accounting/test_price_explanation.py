""""Why this price": the lines of an explanation add up, before the one rounding, to the
price accounting charges, for every shape of job."""
from __future__ import annotations

import pytest

from accounting.price_explanation import explain, sample_facts
from accounting.pricing import PriceList, price, quote_at_device

PRICES = PriceList(name="p", job_fee=10, sheet_fee=1, duplex_discount_permille=150,
                   items={("*", False): 1_500, ("*", True): 7_250, ("A3", True): 14_000})


@pytest.mark.parametrize("pages, colour, duplex, copies, media", [
    (1, 0, False, 1, "A4"), (7, 3, True, 2, "A4"), (10, 10, False, 3, "A3"), (3, 1, True, 1, "A3"),
])
def test_the_lines_add_up_to_the_price(pages, colour, duplex, copies, media):
    quote = quote_at_device(PRICES, facts=sample_facts(pages=pages, color_pages=colour, duplex=duplex, media=media),
                            copies_requested=copies, color_mode="", sides="", changes=None, device_color=True)
    why = explain(None, quote)
    assert why.total == quote.amount == price(PRICES, quote.shape)
    assert (sum(line.amount_milli for line in why.lines) + 500) // 1000 == why.total
    assert why.sides == pages * copies and why.color_sides == colour * copies


def test_a_forced_mono_job_is_explained_with_its_rule():
    class Job:
        charged_amount, price_estimate = 99, 120
        decision_changes, copies_requested = {"mono": True, "copies": 2}, 5
        decision_rule, decision_message, decision_action = "mono-students", "Students print mono", "allow"

    quote = quote_at_device(PRICES, facts=sample_facts(pages=4, color_pages=4, duplex=False, media="A4"),
                            copies_requested=5, color_mode="", sides="", changes=Job.decision_changes,
                            device_color=True)
    why = explain(Job, quote)
    assert why.color_sides == 0 and why.copies == 2
    assert why.changes[0].startswith("printed in black and white") and "capped at 2 (asked for 5)" in why.changes[1]
    assert why.rule == "mono-students" and why.differs
