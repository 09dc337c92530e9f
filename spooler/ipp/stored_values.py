"""IPP attribute values as a job record keeps them: plain JSON, whatever the value tag.

A job's accepted template attributes travel with its record (``attributes``, a JSON
column). The codec hands back typed values — ``Range``, ``Resolution``, collections,
dates, octet strings — none of which JSON takes; one such value used to fail the database
write of a whole group commit. Every value the codec accepts is turned here into the
spelling a CUPS option uses for it (``page-ranges=1-5``, ``printer-resolution=600dpi``),
which is also what a printer is sent again at release: a range is ``"1-5"``, a resolution
``"600x300dpi"`` (``"dpcm"`` for units 4, ``"NxM-units-K"`` for others), a collection a
dict of its members, text with a language its text, a date its ISO 8601 form, an octet
string or extension its bytes in hexadecimal. Several values make a list.
"""
from __future__ import annotations

import datetime

from spooler.ipp.codec import Attribute, Collection, Extension, Range, Resolution, StringWithLanguage

__all__ = ["storable_value", "storable_attribute"]


def storable_value(value):
    """One codec value as JSON-ready data (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Range):
        return f"{value.lower}-{value.upper}"
    if isinstance(value, Resolution):
        units = {3: "dpi", 4: "dpcm"}.get(value.units)
        size = f"{value.x}" if value.x == value.y else f"{value.x}x{value.y}"
        return f"{size}{units}" if units else f"{value.x}x{value.y}-units-{value.units}"
    if isinstance(value, StringWithLanguage):
        return value.text
    if isinstance(value, Collection):
        return {member.name: storable_attribute(member) for member in value.members}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Extension):
        return f"{value.type_code:08x}:{value.data.hex()}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def storable_attribute(attribute: Attribute):
    """An attribute's values: one value as itself, several as a list."""
    values = [storable_value(v.value) for v in attribute.values]
    return values[0] if len(values) == 1 else values
