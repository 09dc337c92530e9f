"""PDF content streams as operations (reference implementation of the byte loop).

A content stream is a sequence of operands followed by an operator (ISO 32000-2, 7.8.2):
numbers, names, strings, arrays and dictionaries, then a keyword such as ``re`` or ``Tj``.
``operations(data)`` returns them as ``(operator, operands)`` pairs, the operator as
``bytes``, each operand as ``int``/``float``, ``str`` (a name, without its slash, ``#xx``
escapes decoded), ``bytes`` (a string, escapes decoded), ``list``, ``dict`` (name keys),
``bool`` or ``None``. An inline image (``BI`` … ``ID`` data ``EI``) becomes one operation
``(b"BI", [parameters, data])``.

Hostile input is bounded: at most ``OPERAND_LIMIT`` operands are kept before an operator
(more are dropped, as an interpreter's stack would overflow), arrays and dictionaries nest
at most ``DEPTH_LIMIT`` deep, and a stream yields at most ``OPERATION_LIMIT`` operations
(``ContentLimit`` beyond). Malformed bytes are skipped the way viewers skip them: a stray
``)`` or ``>`` or ``}`` is dropped, an unterminated string runs to the end.

``ext/_scan.pyx`` implements ``operations`` in Cython; the tests hold the two to one answer.
"""
from __future__ import annotations

OPERAND_LIMIT = 1024
DEPTH_LIMIT = 32
OPERATION_LIMIT = 2_000_000


class ContentLimit(Exception):
    """A content stream holds more operations than ``OPERATION_LIMIT``."""


_WHITE = frozenset(b"\x00\t\n\x0c\r ")
_DELIM = frozenset(b"()<>[]{}/%")
_ESCAPES = {0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x62: 0x08, 0x66: 0x0C}
_HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}


def operations(data: bytes) -> list:
    """The ``(operator, operands)`` of the content stream ``data``."""
    out: list = []
    stack: list = []          # operands of the operation being read
    containers: list = []     # open arrays / dictionaries: (kind, items)
    inline = False            # reading an inline image's parameters (after BI)
    pos, end = 0, len(data)
    while pos < end:
        c = data[pos]
        if c in _WHITE:
            pos += 1
            continue
        if c == 0x25:  # % comment
            while pos < end and data[pos] not in (0x0A, 0x0D):
                pos += 1
            continue
        value = _NOTHING
        if c == 0x2F:  # /name
            q = pos + 1
            while q < end and data[q] not in _WHITE and data[q] not in _DELIM:
                q += 1
            value = _name(data[pos + 1:q])
            pos = q
        elif c == 0x28:  # (string)
            value, pos = _literal(data, pos + 1, end)
        elif c == 0x3C:  # <hex> or <<
            if pos + 1 < end and data[pos + 1] == 0x3C:
                pos += 2
                if len(containers) < DEPTH_LIMIT:
                    containers.append(("d", []))
                continue
            q = data.find(b">", pos + 1)
            if q < 0:
                q = end
            value = _hexstring(data[pos + 1:q])
            pos = q + 1
        elif c == 0x3E:  # >>
            pos += 2 if pos + 1 < end and data[pos + 1] == 0x3E else 1
            if containers and containers[-1][0] == "d":
                items = containers.pop()[1]
                value = {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2) if isinstance(items[i], str)}
            else:
                continue
        elif c == 0x5B:  # [
            pos += 1
            if len(containers) < DEPTH_LIMIT:
                containers.append(("a", []))
            continue
        elif c == 0x5D:  # ]
            pos += 1
            if containers and containers[-1][0] == "a":
                value = containers.pop()[1]
            else:
                continue
        elif c in (0x29, 0x7B, 0x7D):  # stray ) { }
            pos += 1
            continue
        else:  # a number or a keyword: regular characters up to a delimiter
            q = pos + 1
            while q < end and data[q] not in _WHITE and data[q] not in _DELIM:
                q += 1
            word = data[pos:q]
            pos = q
            value = _number(word)
            if value is _NOTHING:
                if word == b"true":
                    value = True
                elif word == b"false":
                    value = False
                elif word == b"null":
                    value = None
                elif containers:
                    continue  # an operator inside an array or dictionary: malformed, dropped
                elif word == b"BI":
                    inline = True  # its parameters are read as operands, up to ID
                    stack = []
                    continue
                elif word == b"ID" and inline:
                    inline = False
                    pos = _inline_image(data, pos, end, stack, out)
                    stack = []
                    _check(out)
                    continue
                else:
                    inline = False
                    out.append((word, stack))
                    stack = []
                    _check(out)
                    continue
        if containers:
            items = containers[-1][1]
            if len(items) < OPERAND_LIMIT:
                items.append(value)
        elif len(stack) < OPERAND_LIMIT:
            stack.append(value)
    return out


_NOTHING = object()


def _check(out):
    if len(out) > OPERATION_LIMIT:
        raise ContentLimit(f"more than {OPERATION_LIMIT} operations in a content stream")


def _number(word: bytes):
    """``word`` as a PDF number (``[+-]?digits[.digits]`` or ``[+-]?.digits``), else _NOTHING."""
    n = len(word)
    i = 0
    if i < n and word[i] in (0x2B, 0x2D):
        i += 1
    digits = dots = 0
    for j in range(i, n):
        b = word[j]
        if 0x30 <= b <= 0x39:
            digits += 1
        elif b == 0x2E:
            dots += 1
        else:
            return _NOTHING
    if digits == 0 or dots > 1:
        return _NOTHING
    if dots:
        return float(word)
    return int(word)


def _name(raw: bytes) -> str:
    if b"#" in raw:
        out = bytearray()
        i, n = 0, len(raw)
        while i < n:
            b = raw[i]
            if b == 0x23 and i + 2 < n + 0 and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
                out.append(_HEX[raw[i + 1]] * 16 + _HEX[raw[i + 2]])
                i += 3
            else:
                out.append(b)
                i += 1
        raw = bytes(out)
    return raw.decode("latin-1")


def _hexstring(raw: bytes) -> bytes:
    digits = [_HEX[b] for b in raw if b in _HEX]
    if len(digits) % 2:
        digits.append(0)
    return bytes(digits[i] * 16 + digits[i + 1] for i in range(0, len(digits), 2))


def _literal(data: bytes, pos: int, end: int):
    """The literal string from ``pos`` (after its ``(``): its bytes, and where it ends."""
    out = bytearray()
    depth = 1
    while pos < end:
        b = data[pos]
        if b == 0x5C:  # backslash
            pos += 1
            if pos >= end:
                break
            b = data[pos]
            if 0x30 <= b <= 0x37:
                v = b - 0x30
                k = 1
                while k < 3 and pos + 1 < end and 0x30 <= data[pos + 1] <= 0x37:
                    pos += 1
                    v = v * 8 + data[pos] - 0x30
                    k += 1
                out.append(v & 0xFF)
            elif b == 0x0D:  # a line continued
                if pos + 1 < end and data[pos + 1] == 0x0A:
                    pos += 1
            elif b != 0x0A:
                out.append(_ESCAPES.get(b, b))
            pos += 1
            continue
        if b == 0x28:
            depth += 1
        elif b == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out), pos + 1
        out.append(b)
        pos += 1
    return bytes(out), end


def _inline_image(data: bytes, pos: int, end: int, items: list, out: list) -> int:
    """After ``ID`` at ``pos``: append ``(b"BI", [parameters, data])`` for the inline image
    whose parameters were the operands ``items``; return where its ``EI`` ends."""
    parameters = {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2) if isinstance(items[i], str)}
    # one white-space byte follows ID; the data runs to an EI between white space
    if pos < end and data[pos] in _WHITE:
        pos += 1
    length = parameters.get("L", parameters.get("Length"))
    if isinstance(length, int) and not isinstance(length, bool) and 0 <= length <= end - pos and _ei_at(data, pos + length, end):
        stop = pos + length
    else:
        stop = _find_ei(data, pos, end)
    out.append((b"BI", [parameters, data[pos:stop]]))
    q = stop
    while q < end and data[q] in _WHITE:
        q += 1
    return min(end, q + 2) if data.startswith(b"EI", q) else q


def _ei_at(data, q, end) -> bool:
    while q < end and data[q] in _WHITE:
        q += 1
    return data.startswith(b"EI", q) and (q + 2 >= end or data[q + 2] in _WHITE or data[q + 2] in _DELIM)


def _find_ei(data, pos, end) -> int:
    q = pos
    while True:
        q = data.find(b"EI", q, end)
        if q < 0:
            return end
        if q > pos and data[q - 1] in _WHITE and (q + 2 >= end or data[q + 2] in _WHITE):
            return q - 1
        q += 2
