"""``printgate prices list|set|assign|quote``: price lists.

Side prices are typed in currency units with up to five decimals ("0.005" = half a cent
per side) and kept exactly in thousandths of a minor unit; fees in currency units. See
``accounting.pricing`` for the formula and the (single, half-up) rounding."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json

from gateway.cli.accounts import open_core, reports_errors


def register(subparsers) -> None:
    parser = subparsers.add_parser("prices", help="price lists: per side by media and color, fees, discounts")
    commands = parser.add_subparsers(dest="prices_command", required=True)
    listing = commands.add_parser("list", help="price lists and their prices")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_prices)
    put = commands.add_parser("set", help="create or replace a price list")
    put.add_argument("name")
    put.add_argument("--currency", default="EUR")
    put.add_argument("--mono", default="0", help="price per mono side (all media), e.g. 0.05")
    put.add_argument("--color", default=None, help="price per color side (all media); default: the mono price")
    put.add_argument("--media", action="append", default=[], metavar="SIZE:MONO:COLOR",
                     help="prices for one media size, e.g. A3:0.10:0.40 (repeat)")
    put.add_argument("--job-fee", default="0")
    put.add_argument("--sheet-fee", default="0")
    put.add_argument("--duplex-discount", type=int, default=0, help="permille off duplex sides (0-1000)")
    put.add_argument("--unknown-pages", type=int, default=1, help="pages assumed when a job cannot be counted")
    put.add_argument("--default", action="store_true", help="use for queues without their own list")
    put.set_defaults(handler=set_prices)
    assign = commands.add_parser("assign", help="use a price list for a queue")
    assign.add_argument("queue")
    assign.add_argument("price_list")
    assign.set_defaults(handler=assign_prices)
    quote = commands.add_parser("quote", help="what a job would cost")
    quote.add_argument("--queue", default="secure")
    quote.add_argument("--pages", type=int, required=True)
    quote.add_argument("--color-pages", type=int, default=0)
    quote.add_argument("--copies", type=int, default=1)
    quote.add_argument("--duplex", action="store_true")
    quote.add_argument("--media", default="A4")
    quote.set_defaults(handler=quote_price)


@reports_errors
def list_prices(args) -> int:
    from accounting.money import SIDE_PRICE_DIGITS, format_amount

    core = open_core(args, create=False)
    lists = core.prices.list()
    if args.json:
        print(json.dumps([{"name": p.name, "currency": p.currency, "job_fee": p.job_fee, "sheet_fee": p.sheet_fee,
                           "duplex_discount_permille": p.duplex_discount_permille, "unknown_pages": p.unknown_pages,
                           "default": p.is_default,
                           "per_side_milli": {f"{m}/{'color' if c else 'mono'}": v for (m, c), v in p.items.items()}}
                          for p in lists], indent=2))
        return 0
    for p in lists:
        print(f"{p.name}{' (default)' if p.is_default else ''}: {p.currency}, job fee {format_amount(p.job_fee)}, "
              f"sheet fee {format_amount(p.sheet_fee)}, duplex discount {p.duplex_discount_permille}‰, "
              f"unknown jobs count {p.unknown_pages} page(s)")
        for (media, color), milli in sorted(p.items.items()):
            print(f"  {media:<8} {'color' if color else 'mono':<5} {format_amount(milli, p.currency, SIDE_PRICE_DIGITS)}"
                  " per side")
    return 0


@reports_errors
def set_prices(args) -> int:
    from accounting.money import SIDE_PRICE_DIGITS, parse_amount
    from accounting.pricing import PriceList

    def side(text):
        return parse_amount(text, SIDE_PRICE_DIGITS)

    items = {("*", False): side(args.mono), ("*", True): side(args.color if args.color is not None else args.mono)}
    for spec in args.media:
        try:
            size, mono, color = spec.split(":")
        except ValueError:
            raise ValueError(f"--media takes SIZE:MONO:COLOR, not {spec!r}") from None
        items[(size, False)] = side(mono)
        items[(size, True)] = side(color)
    core = open_core(args)
    core.prices.save(PriceList(name=args.name, currency=args.currency.upper(), job_fee=parse_amount(args.job_fee),
                               sheet_fee=parse_amount(args.sheet_fee), duplex_discount_permille=args.duplex_discount,
                               unknown_pages=args.unknown_pages, items=items, is_default=args.default), actor="cli")
    print(f"price list {args.name} saved")
    return 0


@reports_errors
def assign_prices(args) -> int:
    core = open_core(args)
    core.prices.assign_queue(args.queue, args.price_list, actor="cli")
    print(f"queue {args.queue} uses {args.price_list}")
    return 0


@reports_errors
def quote_price(args) -> int:
    from accounting.money import format_amount
    from accounting.pricing import job_shape, price

    core = open_core(args, create=False)
    price_list = core.prices.for_queue(args.queue)
    sides_per_copy = args.pages
    facts = {"pages": args.pages, "copies": 1, "impressions": sides_per_copy, "duplex": args.duplex,
             "sheets": (args.pages + 1) // 2 if args.duplex else args.pages, "color_pages": args.color_pages,
             "media": [args.media]}
    amount = price(price_list, job_shape(facts, copies_requested=args.copies, unknown_pages=price_list.unknown_pages))
    print(f"{format_amount(amount, price_list.currency)} ({price_list.name})")
    return 0
