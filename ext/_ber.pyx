# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The directory's LDAP message reader in Cython: the same names and behaviour as the
reference, ``accounting.directory.ber``, which is the specification.

A full sync of a large directory reads every entry through these four functions; in
Python the byte-by-byte walk is about a fifth of the sync's own CPU time. Every check
below mirrors a line of ``ber.py``, in the same order, with the same reason and offset
in its ``MalformedReply``; ``tests/accounting/directory/test_ber_differential.py`` holds
the two to it on valid, truncated, mutated and random messages.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8

from accounting.directory.ber import MAX_MESSAGE as _MAX_MESSAGE, MAX_NAMES as _MAX_NAMES, MAX_VALUES as _MAX_VALUES
from accounting.directory.errors import MalformedReply

cdef enum:
    SEARCH_RESULT_ENTRY = 0x64
    SEQUENCE = 0x30
    SET = 0x31
    OCTET_STRING = 0x04
    INTEGER = 0x02

cdef Py_ssize_t MAX_MESSAGE_C = _MAX_MESSAGE
cdef Py_ssize_t MAX_NAMES_C = _MAX_NAMES
#: Attribute descriptions as read -> in lower case (as the reference keeps them).
cdef dict _NAMES = {}


cdef inline Py_ssize_t _length(const unsigned char* data, Py_ssize_t i, Py_ssize_t end,
                               Py_ssize_t* start) except -1:
    """The length of the TLV whose length octets start at ``i``; its contents' offset in ``start``."""
    cdef Py_ssize_t length, count, k
    cdef unsigned char first
    if i >= end:
        raise MalformedReply("truncated length", i)
    first = data[i]
    if first < 0x80:
        length = first
        start[0] = i + 1
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or i + 1 + count > end:
            raise MalformedReply("unsupported or truncated length", i)
        length = 0
        for k in range(count):
            length = (length << 8) | data[i + 1 + k]
        start[0] = i + 1 + count
    if start[0] + length > end:
        raise MalformedReply("length beyond the message", i)
    return length


cdef inline Py_ssize_t _expect(const unsigned char* data, Py_ssize_t i, Py_ssize_t end, unsigned char tag,
                               Py_ssize_t* start) except -1:
    if i >= end or data[i] != tag:
        raise MalformedReply(f"expected tag 0x{tag:02x}", i)
    return _length(data, i + 1, end, start)


cdef inline Py_ssize_t _contents_end(const unsigned char* data, Py_ssize_t i, Py_ssize_t bound,
                                     Py_ssize_t* start) except -1:
    """The end of the element whose tag is at ``i`` (tag checked, ``i + 2 <= bound``);
    its contents' offset in ``start``. A short length (nearly every element of an entry)
    is read inline and, as in the reference, checked by the caller, not here."""
    cdef unsigned char first = data[i + 1]
    cdef Py_ssize_t length
    if first < 0x80:
        start[0] = i + 2
        return i + 2 + first
    length = _length(data, i + 1, bound, start)
    return start[0] + length


cdef inline long _message_id(const unsigned char* data, Py_ssize_t i, Py_ssize_t length):
    cdef long value = 0
    cdef Py_ssize_t k
    for k in range(length):
        value = (value << 8) | data[i + k]
    return value


def message_header(bytes message):
    """``(message id, protocolOp tag, offset of the protocolOp)`` of one LDAPMessage."""
    cdef const unsigned char* data = message
    cdef Py_ssize_t end = len(message), i, length
    _expect(data, 0, end, SEQUENCE, &i)
    length = _expect(data, i, end, INTEGER, &i)
    if not 1 <= length <= 4:
        raise MalformedReply("bad message id", i)
    message_id = _message_id(data, i, length)
    i += length
    if i >= end:
        raise MalformedReply("no protocolOp", i)
    return message_id, data[i], i


def search_entry_dn(bytes message, start=None):
    """The DN of one SearchResultEntry message, without reading its attributes."""
    cdef const unsigned char* data = message
    cdef Py_ssize_t end = len(message), i, length
    i = message_header(message)[2] if start is None else start
    length = _expect(data, i, end, SEARCH_RESULT_ENTRY, &i)
    length = _expect(data, i, i + length, OCTET_STRING, &i)
    try:
        return PyUnicode_DecodeUTF8(<const char*>data + i, length, NULL)
    except UnicodeDecodeError:
        raise MalformedReply("DN is not UTF-8", i) from None


def decode_search_entry(bytes message, Py_ssize_t max_values=_MAX_VALUES):
    """``(message_id, dn, {attribute name in lower case: [values]})`` of one complete
    LDAPMessage holding a SearchResultEntry (see the reference)."""
    cdef const unsigned char* data = message
    cdef Py_ssize_t end = len(message), i, length, entry_end, attributes_end, attribute_end, values_end, start
    cdef unsigned char first
    cdef list values
    cdef dict attributes = {}
    length = _expect(data, 0, end, SEQUENCE, &i)
    end = i + length
    length = _expect(data, i, end, INTEGER, &i)
    if not 1 <= length <= 4:
        raise MalformedReply("bad message id", i)
    message_id = _message_id(data, i, length)
    i += length
    length = _expect(data, i, end, SEARCH_RESULT_ENTRY, &i)
    entry_end = i + length
    length = _expect(data, i, entry_end, OCTET_STRING, &i)
    try:
        dn = PyUnicode_DecodeUTF8(<const char*>data + i, length, NULL)
    except UnicodeDecodeError:
        raise MalformedReply("DN is not UTF-8", i) from None
    i += length
    length = _expect(data, i, entry_end, SEQUENCE, &i)
    attributes_end = i + length
    while i < attributes_end:
        if i + 2 > attributes_end or data[i] != SEQUENCE:
            raise MalformedReply("expected an attribute SEQUENCE", i)
        attribute_end = _contents_end(data, i, attributes_end, &i)
        if attribute_end > attributes_end or i + 2 > attribute_end or data[i] != OCTET_STRING:
            raise MalformedReply("expected an attribute description", i)
        first = data[i + 1]
        if first < 0x80:
            start = i + 2
            i = i + 2 + first
        else:
            length = _length(data, i + 1, attribute_end, &start)
            i = start + length
        if i + 2 > attribute_end or data[i] != SET:
            raise MalformedReply("expected a SET of values", i)
        raw_name = PyBytes_FromStringAndSize(<const char*>data + start, i - start)
        name = _NAMES.get(raw_name)
        if name is None:
            try:
                name = raw_name.decode("ascii").lower()
            except UnicodeDecodeError:
                raise MalformedReply("attribute description is not ASCII", start) from None
            if len(_NAMES) < MAX_NAMES_C:
                _NAMES[raw_name] = name
        values_end = _contents_end(data, i, attribute_end, &i)
        if values_end > attribute_end:
            raise MalformedReply("values beyond their attribute", i)
        values = attributes.get(name)
        if values is None:
            values = attributes[name] = []
        while i < values_end:
            if data[i] != OCTET_STRING or i + 2 > values_end:
                raise MalformedReply("attribute value is not an OCTET STRING", i)
            first = data[i + 1]
            if first < 0x80 and i + 2 + first <= values_end:
                values.append(PyBytes_FromStringAndSize(<const char*>data + i + 2, first))
                i += 2 + first
            else:
                length = _length(data, i + 1, values_end, &start)
                values.append(PyBytes_FromStringAndSize(<const char*>data + start, length))
                i = start + length
            if len(values) > max_values:
                raise MalformedReply(f"more than {max_values} values of {name}", i)
        i = attribute_end
    return message_id, dn, attributes


def split_messages(bytearray buffer):
    """The complete LDAPMessages at the start of ``buffer``, removed from it (see the reference)."""
    cdef list messages = []
    cdef Py_ssize_t i = 0, end = len(buffer), count, size, k
    cdef unsigned char first
    cdef const unsigned char* data = <const unsigned char*>PyByteArray_AS_STRING(buffer)
    while end - i >= 2:
        if data[i] != SEQUENCE:
            raise MalformedReply("a message is not a SEQUENCE", i)
        first = data[i + 1]
        if first < 0x80:
            size = 2 + first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise MalformedReply("unsupported message length", i)
            if end - i < 2 + count:
                break
            size = 0
            for k in range(count):
                size = (size << 8) | data[i + 2 + k]
            size += 2 + count
            if size > MAX_MESSAGE_C:
                raise MalformedReply(f"a message of {size} bytes (at most {MAX_MESSAGE_C})", i)
        if end - i < size:
            break
        messages.append(PyBytes_FromStringAndSize(<const char*>data + i, size))
        i += size
    del buffer[:i]
    return messages
