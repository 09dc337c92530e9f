"""Prices: what a job costs, from what the analyzer found and what the client asked for.

Money is integer minor units (cents) of the price list's currency; never float.

**Rounding.** A per-side price is kept in thousandths of a minor unit
(``per_side_milli``: 25 = 0.025 cent), so a list can say "0.5 cent per mono side". A
job's price is computed exactly in thousandths and rounded **once**, at the end, to whole
minor units, half up (0.5 cent → 1 cent). Fees (``job_fee``, ``sheet_fee``) are whole
minor units. The duplex discount is in permille of the side price of every side printed
on a two-sided sheet, applied to the exact amount before the single rounding.

**Formula.** ``job_fee + sheets × sheet_fee + Σ sides × side_price(media, color) ×
(1 − duplex_discount)``, with sides = impressions over all copies.

**Unknown counts.** A job the analyzer could not count is priced as ``unknown_pages``
pages per copy (configurable per list; the job is flagged). An unknown color split is
priced as color unless the client asked for monochrome or a rule forces mono.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, update

from accounting.audit import audit
from accounting.colour_modes import MONO_MODES
from accounting.database import Database
from accounting.errors import UnknownPriceList
from accounting.schema import price_list_items, price_lists, queues
from accounting.time import utcnow

ANY_MEDIA = "*"


@dataclass(frozen=True)
class PriceList:
    name: str
    currency: str = "EUR"
    job_fee: int = 0
    sheet_fee: int = 0
    duplex_discount_permille: int = 0
    unknown_pages: int = 1
    #: (media, color) → price per side in thousandths of a minor unit; media "*" is the fallback.
    items: dict = field(default_factory=dict)
    is_default: bool = False

    def side_price_milli(self, media: str, color: bool) -> int:
        for key in ((media, color), (ANY_MEDIA, color), (ANY_MEDIA, False) if color else None):
            if key is not None and key in self.items:
                return self.items[key]
        return 0


@dataclass(frozen=True)
class JobShape:
    """The countable facts of a job over all its copies, after forced changes."""

    pages: int          # one copy
    copies: int         # all copies (in-stream × requested)
    sides: int          # printed sides over all copies
    color_sides: int
    mono_sides: int
    sheets: int
    duplex: bool
    color: bool         # any color at all
    media: str
    counted: bool       # False when the page count was unknown and assumed


def job_shape(facts: dict | None, *, copies_requested: int = 1, color_mode: str = "", sides: str = "",
              changes: dict | None = None, unknown_pages: int = 1) -> JobShape:
    facts = facts or {}
    changes = changes or {}
    counted = facts.get("pages") is not None
    pages = facts["pages"] if counted else unknown_pages
    in_stream = max(1, int(facts.get("copies") or 1))
    requested = max(1, int(copies_requested or 1))
    if changes.get("copies"):
        requested = min(requested, max(1, int(changes["copies"])))
    copies = in_stream * requested
    duplex = bool(facts.get("duplex")) or str(sides).startswith("two-sided") or bool(changes.get("duplex"))
    impressions = facts.get("impressions")
    if impressions is not None and counted and not (changes.get("duplex") and not facts.get("duplex")):
        total_sides = int(impressions) * requested
    else:
        total_sides = pages * copies
    if facts.get("sheets") is not None and counted and not (changes.get("duplex") and not facts.get("duplex")):
        sheets = int(facts["sheets"]) * requested
    elif duplex:
        sheets = math.ceil(pages / 2) * copies
    else:
        sheets = total_sides
    mono_forced = bool(changes.get("mono")) or str(color_mode).lower() in MONO_MODES
    if mono_forced:
        color_sides = 0
    elif facts.get("color_pages") is not None and counted:
        color_sides = min(total_sides, int(facts["color_pages"]) * copies)
    else:
        color_sides = total_sides
    media_list = facts.get("media") or []
    media = media_list[0] if media_list else ANY_MEDIA
    return JobShape(pages=pages, copies=copies, sides=total_sides, color_sides=color_sides,
                    mono_sides=total_sides - color_sides, sheets=sheets, duplex=duplex, color=color_sides > 0,
                    media=media, counted=counted)


@dataclass(frozen=True)
class PriceLine:
    """One term of a price ("why this price"): ``quantity`` × ``unit_milli`` (thousandths
    of a minor unit) = ``amount_milli``; a discount has a negative amount."""

    item: str
    quantity: int
    unit_milli: int
    amount_milli: int


def price_lines(price_list: PriceList, shape: JobShape) -> list[PriceLine]:
    """The terms whose sum is ``price_milli``: sides by media and colour, the duplex
    discount, the per-job and per-sheet fees (lines of zero quantity are left out)."""
    color_unit = price_list.side_price_milli(shape.media, True)
    mono_unit = price_list.side_price_milli(shape.media, False)
    lines = []
    if shape.color_sides:
        lines.append(PriceLine(f"colour sides, {shape.media}", shape.color_sides, color_unit,
                               shape.color_sides * color_unit))
    if shape.mono_sides:
        lines.append(PriceLine(f"mono sides, {shape.media}", shape.mono_sides, mono_unit, shape.mono_sides * mono_unit))
    sides = sum(line.amount_milli for line in lines)
    if shape.duplex and price_list.duplex_discount_permille:
        discounted = sides * (1000 - price_list.duplex_discount_permille) // 1000
        lines.append(PriceLine(f"duplex discount {price_list.duplex_discount_permille / 10:g} %", 1,
                               discounted - sides, discounted - sides))
    if price_list.job_fee:
        lines.append(PriceLine("job fee", 1, 1000 * price_list.job_fee, 1000 * price_list.job_fee))
    if price_list.sheet_fee and shape.sheets:
        lines.append(PriceLine("sheet fee", shape.sheets, 1000 * price_list.sheet_fee,
                               1000 * shape.sheets * price_list.sheet_fee))
    return lines


def price_milli(price_list: PriceList, shape: JobShape) -> int:
    """The exact price in thousandths of a minor unit: the sum of ``price_lines``, kept as
    one expression because intake prices every job (a test holds the two equal)."""
    sides = (shape.color_sides * price_list.side_price_milli(shape.media, True)
             + shape.mono_sides * price_list.side_price_milli(shape.media, False))
    if shape.duplex and price_list.duplex_discount_permille:
        sides = sides * (1000 - price_list.duplex_discount_permille) // 1000
    return 1000 * (price_list.job_fee + shape.sheets * price_list.sheet_fee) + sides


def round_half_up(milli: int) -> int:
    return (milli + 500) // 1000 if milli >= 0 else -((-milli + 500) // 1000)


def price(price_list: PriceList, shape: JobShape) -> int:
    """The job's price in minor units (see the module docstring for the rounding)."""
    return round_half_up(price_milli(price_list, shape))


@dataclass(frozen=True)
class DeviceQuote:
    """A job priced as it prints at one device: ``shape`` is what the device makes (a
    colour job at a mono printer prints, and is charged, as mono), ``amount`` its price in
    minor units; ``job_color`` says whether the job itself asks for colour."""

    price_list: PriceList
    shape: JobShape
    amount: int
    job_color: bool


def quote_at_device(price_list: PriceList, *, facts: dict | None, copies_requested: int, color_mode: str,
                    sides: str, changes: dict | None, device_color: bool) -> DeviceQuote:
    """The one rule for a job's price at a device, used by the panel's list and by the
    reservation at release, so what a person is shown is what is reserved."""
    changes = dict(changes or {})
    asked = job_shape(facts, copies_requested=copies_requested, color_mode=color_mode, sides=sides,
                      changes=changes, unknown_pages=price_list.unknown_pages)
    shape = asked if device_color or not asked.color else job_shape(
        facts, copies_requested=copies_requested, color_mode=color_mode, sides=sides,
        changes={**changes, "mono": True}, unknown_pages=price_list.unknown_pages)
    return DeviceQuote(price_list=price_list, shape=shape, amount=price(price_list, shape), job_color=asked.color)


#: Used when no price list is configured at all: everything is free.
FREE = PriceList(name="free", is_default=True)


class PriceStore:
    """Price lists in the database, cached in memory (they change rarely; ``invalidate``
    after a change, which every write here does)."""

    def __init__(self, database: Database):
        self.db = database
        self._cache: dict | None = None

    def invalidate(self) -> None:
        self._cache = None

    def _load(self) -> dict:
        if self._cache is None:
            with self.db.reader.connect() as conn:
                lists = {row.id: row for row in conn.execute(select(price_lists))}
                items: dict[int, dict] = {i: {} for i in lists}
                for row in conn.execute(select(price_list_items)):
                    items[row.price_list_id][(row.media, row.color)] = row.per_side_milli
                queue_lists = {row.name: row.price_list_id for row in conn.execute(select(queues.c.name, queues.c.price_list_id))}
            by_id = {
                i: PriceList(name=r.name, currency=r.currency, job_fee=r.job_fee, sheet_fee=r.sheet_fee,
                             duplex_discount_permille=r.duplex_discount_permille, unknown_pages=r.unknown_pages,
                             items=items[i], is_default=r.is_default)
                for i, r in lists.items()
            }
            self._cache = {"by_id": by_id, "by_name": {p.name: p for p in by_id.values()},
                           "default": next((p for p in by_id.values() if p.is_default), FREE),
                           "queues": queue_lists}
        return self._cache

    def get(self, name: str) -> PriceList:
        found = self._load()["by_name"].get(name)
        if found is None:
            raise UnknownPriceList(name)
        return found

    def by_id(self, price_list_id: int | None) -> PriceList:
        cache = self._load()
        return cache["by_id"].get(price_list_id, cache["default"])

    def for_queue(self, queue: str) -> PriceList:
        cache = self._load()
        return cache["by_id"].get(cache["queues"].get(queue), cache["default"])

    def list(self) -> list[PriceList]:
        return sorted(self._load()["by_name"].values(), key=lambda p: p.name)

    def save(self, price_list: PriceList, *, actor: str = "admin") -> PriceList:
        """Create or replace a price list (and its items)."""
        for value in (price_list.job_fee, price_list.sheet_fee, *price_list.items.values()):
            if not isinstance(value, int) or value < 0:
                raise ValueError("prices are non-negative integers (minor units; side prices in thousandths)")
        if not 0 <= price_list.duplex_discount_permille <= 1000:
            raise ValueError("duplex discount is 0..1000 permille")
        values = dict(currency=price_list.currency, job_fee=price_list.job_fee, sheet_fee=price_list.sheet_fee,
                      duplex_discount_permille=price_list.duplex_discount_permille,
                      unknown_pages=price_list.unknown_pages, is_default=price_list.is_default)
        with self.db.writer.begin() as conn:
            existing = conn.execute(select(price_lists.c.id).where(price_lists.c.name == price_list.name)).scalar()
            if price_list.is_default:
                conn.execute(update(price_lists).values(is_default=False))
            if existing is None:
                existing = conn.execute(insert(price_lists).values(name=price_list.name, created_at=utcnow(), **values)
                                        ).inserted_primary_key[0]
            else:
                conn.execute(update(price_lists).where(price_lists.c.id == existing).values(**values))
                conn.execute(delete(price_list_items).where(price_list_items.c.price_list_id == existing))
            for (media, color), milli in price_list.items.items():
                conn.execute(insert(price_list_items).values(price_list_id=existing, media=media, color=color,
                                                             per_side_milli=milli))
            audit(conn, actor=actor, action="price-list.save", target=price_list.name,
                  new={**values, "items": {f"{m}/{'color' if c else 'mono'}": v for (m, c), v in price_list.items.items()}})
        self.invalidate()
        return self.get(price_list.name)

    def assign_queue(self, queue: str, price_list: str | None, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            list_id = None
            if price_list is not None:
                list_id = conn.execute(select(price_lists.c.id).where(price_lists.c.name == price_list)).scalar()
                if list_id is None:
                    raise UnknownPriceList(price_list)
            if conn.execute(select(queues.c.id).where(queues.c.name == queue)).scalar() is None:
                conn.execute(insert(queues).values(name=queue, description="", created_at=utcnow()))
            conn.execute(update(queues).where(queues.c.name == queue).values(price_list_id=list_id))
            audit(conn, actor=actor, action="queue.price-list", target=queue, new=price_list)
        self.invalidate()
