""""Why did this cost what it did": a job's price taken apart line by line, with the same
formula and the single rounding of ``accounting.pricing``, and the rule changes that
shaped it (mono, duplex, fewer copies) from the intake decision.

The total of the lines is the price of the job at that device today; when the job was
charged a different amount (the price list changed since), ``charged`` says what was
taken and ``differs`` is true, so the page can say so rather than show a sum that does
not add up to the ledger.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from accounting.pricing import DeviceQuote, price_milli, round_half_up


@dataclass(frozen=True)
class PriceLine:
    what: str
    quantity: int | None
    #: Unit price in thousandths of a minor unit (side prices) or None.
    unit_milli: int | None
    #: This line's amount in thousandths of a minor unit (exact; rounded once in the total).
    amount_milli: int


@dataclass(frozen=True)
class PriceExplanation:
    price_list: str
    currency: str
    pages: int
    copies: int
    sides: int
    sheets: int
    color_sides: int
    mono_sides: int
    duplex: bool
    media: str
    counted: bool
    lines: tuple[PriceLine, ...]
    total: int
    charged: int | None
    estimate: int | None
    changes: tuple[str, ...] = field(default_factory=tuple)
    rule: str = ""
    rule_message: str = ""
    decision: str = ""
    device: str | None = None
    device_mono: bool = False

    @property
    def differs(self) -> bool:
        return self.charged is not None and self.charged != self.total


def change_sentences(changes: dict | None, copies_requested: int) -> tuple[str, ...]:
    changes = changes or {}
    said = []
    if changes.get("mono"):
        said.append("printed in black and white (colour sides priced as mono)")
    if changes.get("duplex"):
        said.append("printed two-sided")
    if changes.get("copies"):
        said.append(f"copies capped at {changes['copies']} (asked for {copies_requested})")
    return tuple(said)


def explain(job, quote: DeviceQuote, *, device: str | None = None) -> PriceExplanation:
    """``job``: a ``HeldJob`` (None for a sample job: no charge, no decision); ``quote``:
    it priced at the device it printed at (or its queue's prices), from
    ``ReleaseDesk.quote`` or ``quote_at_device``."""
    prices, shape = quote.price_list, quote.shape
    lines = []
    if prices.job_fee:
        lines.append(PriceLine("job fee", 1, prices.job_fee * 1000, prices.job_fee * 1000))
    if prices.sheet_fee:
        lines.append(PriceLine("sheets", shape.sheets, prices.sheet_fee * 1000, shape.sheets * prices.sheet_fee * 1000))
    sides_milli = 0
    for colour, count in ((True, shape.color_sides), (False, shape.mono_sides)):
        if count:
            unit = prices.side_price_milli(shape.media, colour)
            lines.append(PriceLine(f"{'colour' if colour else 'black-and-white'} sides ({shape.media})", count, unit,
                                   count * unit))
            sides_milli += count * unit
    if shape.duplex and prices.duplex_discount_permille and sides_milli:
        discounted = sides_milli * (1000 - prices.duplex_discount_permille) // 1000
        lines.append(PriceLine(f"two-sided discount ({prices.duplex_discount_permille / 10:g} %)", None, None,
                               discounted - sides_milli))
    exact = price_milli(prices, shape)
    assert exact == sum(line.amount_milli for line in lines), "the lines must add up to the formula"
    return PriceExplanation(
        price_list=prices.name, currency=prices.currency, pages=shape.pages, copies=shape.copies, sides=shape.sides,
        sheets=shape.sheets, color_sides=shape.color_sides, mono_sides=shape.mono_sides, duplex=shape.duplex,
        media=shape.media, counted=shape.counted, lines=tuple(lines), total=round_half_up(exact),
        charged=job.charged_amount if job else None, estimate=job.price_estimate if job else None,
        changes=change_sentences(job.decision_changes, job.copies_requested) if job else (),
        rule=(job.decision_rule or "") if job else "", rule_message=(job.decision_message or "") if job else "",
        decision=(job.decision_action or "") if job else "", device=device,
        device_mono=quote.job_color and not shape.color)


def sample_facts(*, pages: int, color_pages: int, duplex: bool, media: str) -> dict:
    """The analyzer's facts of an imagined job, for a price list's preview."""
    return {"pages": pages, "copies": 1, "impressions": pages, "sheets": -(-pages // 2) if duplex else pages,
            "duplex": duplex, "color_pages": min(color_pages, pages), "mono_pages": pages - min(color_pages, pages),
            "media": [media]}
