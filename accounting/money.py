"""Money as text: exact conversion between what people type and integer minor units.

Never float: "12.30" is parsed with Decimal and must be exact in the unit asked for
("12.305" is refused for cents instead of being rounded)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

MINOR_DIGITS = 2
#: Side prices are kept in thousandths of a minor unit (see accounting.pricing).
SIDE_PRICE_DIGITS = MINOR_DIGITS + 3
#: Far above any real amount, far below BIGINT overflow.
MAX_AMOUNT = 10 ** 15


def parse_amount(text: str, digits: int = MINOR_DIGITS) -> int:
    """"12.30" → 1230 (digits=2). Raises ValueError for anything not exact."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not an amount: {text!r}")
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than {digits} decimals")
    if abs(scaled) >= MAX_AMOUNT:
        raise ValueError(f"{text!r} is out of range")
    return int(scaled)


def format_amount(amount: int, currency: str = "", digits: int = MINOR_DIGITS) -> str:
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10 ** digits)
    text = f"{sign}{whole}.{minor:0{digits}d}" if digits else f"{sign}{whole}"
    return f"{text} {currency}".rstrip()
