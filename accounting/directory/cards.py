"""Card numbers as directories keep them, turned into what a reader at the panel sends.

Readers and directories disagree: a directory may keep a MIFARE UID as hex with colons
(``04:A2:3F:11``), as raw bytes, or as the decimal some readers print. ``TRANSFORMS``
names each conversion; ``card_number`` applies one, then optionally drops leading zeros,
and returns the normalized spelling cards are stored in (``accounting.users``).
"""
from __future__ import annotations

import re

from accounting.users import CARD, normalize_card

#: none: as written; hex-to-decimal / decimal-to-hex: convert the number's base (hex may
#: have ":" "-" or space separators); bytes-to-hex: a binary value as uppercase hex.
TRANSFORMS = ("none", "hex-to-decimal", "decimal-to-hex", "bytes-to-hex")
_SEPARATORS = re.compile(r"[\s:\-]")
MAX_DIGITS = 64


class CardValueError(ValueError):
    def __init__(self, value: str, reason: str):
        super().__init__(f"card value {value!r}: {reason}")
        self.value = value
        self.reason = reason


def card_number(raw: bytes, transform: str = "none", trim_zeros: bool = False) -> str:
    if transform == "bytes-to-hex":
        if not raw or len(raw) > MAX_DIGITS // 2:
            raise CardValueError(raw.hex(), "empty or too long")
        number = raw.hex().upper()
    else:
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CardValueError(raw.hex(), "not UTF-8 text (use transform bytes-to-hex)") from None
        if transform == "hex-to-decimal":
            digits = _SEPARATORS.sub("", text)
            if not digits or len(digits) > MAX_DIGITS or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                raise CardValueError(text, "not a hexadecimal number")
            number = str(int(digits, 16))
        elif transform == "decimal-to-hex":
            if not text.isdigit() or len(text) > MAX_DIGITS or not text.isascii():
                raise CardValueError(text, "not a decimal number")
            number = format(int(text), "X")
        else:
            number = text
    number = normalize_card(number)
    if trim_zeros:
        number = number.lstrip("0") or "0"
    if not CARD.match(number):
        raise CardValueError(number, "not a card number (letters, digits, ':' and '-', at most 64)")
    return number
