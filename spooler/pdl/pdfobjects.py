"""The objects of a plain PDF, read with our own parser, for the colour walk.

Opening a file with qpdf (pikepdf) costs about 1.5 ms, more than the whole colour walk of a
small document. For the files ``pdf.fast_walk`` already reads itself (a classic xref table,
a plain page tree, not encrypted) the walk reads the objects it needs here instead: lazily,
one object at a time from the mapped file, and only the kinds of value the walk asks for.
The types answer the part of pikepdf's interface that ``pdfcolour`` uses: dictionaries
keyed by names with their slash (``get``, ``keys``, ``in``), arrays, names as ``Name``
(``str`` with the slash), numbers, booleans, strings as ``bytes``, and streams with
``read_bytes`` (no filter or FlateDecode, PNG predictors included), each indirect object
with its ``objgen``. References resolve when read. A file encrypted with AES-256 (security
handler revisions 5 and 6) that opens without a password — what ``pdf.fast_walk`` already
recognises — is decrypted here (ISO 32000-2, 7.6.4.3.3, algorithm 2.A: the file key is the
``/UE`` entry decrypted with the hash of the empty password; strings and streams are
AES-256-CBC with their IV first), which spares qpdf's 10 ms of opening it.

Anything else — an object not where the xref says, a filter other than FlateDecode in a
content stream, a stream longer than its ``/Length`` says, a reference loop, a stream that
inflates beyond ``INFLATE_LIMIT`` — raises ``Unreadable`` and the document is read again
with qpdf: this parser never guesses what qpdf would repair.
"""
from __future__ import annotations

import mmap
import os
import re
import zlib

from spooler.pdl import pdf as _pdf
from spooler.pdl import pdfcontent

#: Bytes all the streams of one document may inflate to here (beyond: qpdf reads it).
INFLATE_LIMIT = 64 << 20
#: Bytes of an object's text read to parse it (its stream data aside).
OBJECT_WINDOW = 1 << 20


class Unreadable(Exception):
    """The file needs qpdf after all."""

    def __init__(self, why, doc=None):
        super().__init__(why)
        if doc is not None:
            doc.failed = True


class Name(str):
    """A PDF name, with its slash (as pikepdf spells it)."""

    __slots__ = ()


class Ref:
    __slots__ = ("num", "gen")

    def __init__(self, num, gen):
        self.num, self.gen = num, gen


class Dict(dict):
    """A dictionary whose references resolve when read."""

    __slots__ = ("doc", "objgen")

    def __init__(self, doc, items, objgen=(0, 0)):
        super().__init__(items)
        self.doc = doc
        self.objgen = objgen

    def get(self, key, default=None):
        v = dict.get(self, key, default)
        return self.doc.resolve(v) if isinstance(v, Ref) else v

    def __getitem__(self, key):
        return self.get(key)


class Array(list):
    """An array whose references resolve when read."""

    __slots__ = ("doc",)

    def __init__(self, doc, items):
        super().__init__(items)
        self.doc = doc

    def __getitem__(self, i):
        v = list.__getitem__(self, i)
        return self.doc.resolve(v) if isinstance(v, Ref) else v

    def __iter__(self):
        resolve = self.doc.resolve
        for v in list.__iter__(self):
            yield resolve(v) if isinstance(v, Ref) else v


class Stream(Dict):
    """A stream: its dictionary, and its data decoded on demand."""

    __slots__ = ("raw",)

    def __init__(self, doc, items, raw: bytes, objgen=(0, 0)):
        super().__init__(doc, items, objgen)
        self.raw = raw

    def read_raw_bytes(self) -> bytes:
        return self.raw

    def filters(self) -> list:
        """``(filter name, its DecodeParms)`` of each filter, in the order they apply."""
        filters = self.get("/Filter")
        names = [str(f) for f in filters] if isinstance(filters, list) else ([] if filters is None else [str(filters)])
        parms = self.get("/DecodeParms")
        parms = list(parms) if isinstance(parms, list) else [parms] * len(names)
        return [(_FULL.get(n, n), parms[i] if i < len(parms) else None) for i, n in enumerate(names)]

    def read_bytes(self, stop_at_dct: bool = False) -> bytes:
        """The data through its filters (ASCIIHex, ASCII85, Flate with or without a PNG
        predictor); with ``stop_at_dct``, up to a last DCTDecode (left for Pillow)."""
        data = self.raw
        chain = self.filters()
        if stop_at_dct and chain and chain[-1][0] == "/DCTDecode":
            chain = chain[:-1]
        if not chain:
            return data
        if len(chain) == 1 and chain[0][0] == "/FlateDecode" and (
                not isinstance(chain[0][1], Dict) or chain[0][1].get("/Predictor", 1) in (1, None)):
            return self.doc.inflate(data)
        return self.doc.decode(data, chain)


_FULL = {"/Fl": "/FlateDecode", "/AHx": "/ASCIIHexDecode", "/A85": "/ASCII85Decode", "/DCT": "/DCTDecode",
         "/LZW": "/LZWDecode", "/RL": "/RunLengthDecode", "/CCF": "/CCITTFaxDecode"}

#: The most each filter can multiply its input by (a bound before qpdf decodes).
EXPANSION = {"/FlateDecode": 1032, "/LZWDecode": 2731, "/RunLengthDecode": 64, "/ASCIIHexDecode": 1,
             "/ASCII85Decode": 1, "/CCITTFaxDecode": 0, "/DCTDecode": 0}


def most_decoded(raw_length: int, names) -> int | None:
    """The most bytes ``raw_length`` bytes can decode to through the filters ``names``, or
    None when unbounded (a filter with no bound of its own, or images: CCITT and DCT)."""
    total = raw_length
    for name in names:
        factor = EXPANSION.get(name)
        if not factor:
            return None
        total *= factor
    return total


class Page:
    """A page: its dictionary with the inherited attributes resolved (as pikepdf gives it)."""

    __slots__ = ("obj", "mediabox")

    def __init__(self, obj, mediabox):
        self.obj = obj
        self.mediabox = mediabox


class Document:
    """The objects of one plain PDF in a mapped file."""

    def __init__(self, m, size, xref, root_ref, key=None):
        self.key = key        # the AES-256 file key of an encrypted document
        self.m = m
        self.size = size
        self.xref = xref
        self.cache: dict[int, object] = {}
        self.inflated = 0
        self.failed = False   # something needed qpdf: the document is read again with it
        self._scratch = None  # a pikepdf document of our own, to decode predictors
        self.Root = self.resolve(Ref(*root_ref))
        if not isinstance(self.Root, Dict):
            raise Unreadable("catalog")

    def inflate(self, raw: bytes) -> bytes:
        d = zlib.decompressobj()
        try:
            out = d.decompress(raw, INFLATE_LIMIT - self.inflated + 1)
        except zlib.error as exc:
            raise Unreadable(f"inflate: {exc}", self) from None
        self.inflated += len(out)
        if self.inflated > INFLATE_LIMIT or d.unconsumed_tail:
            raise Unreadable("streams inflate beyond the limit", self)
        return out

    def resolve(self, v):
        if not isinstance(v, Ref):
            return v
        if v.num in self.cache:
            cached = self.cache[v.num]
            if cached is _LOADING:
                raise Unreadable("an object refers to itself", self)
            return cached
        off = self.xref.get(v.num)
        if off is None or not 0 <= off < self.size:
            self.cache[v.num] = None  # a free or missing object is null
            return None
        self.cache[v.num] = _LOADING
        try:
            obj = self._load(v.num, v.gen, off)
        except Unreadable:
            self.failed = True
            raise
        except (ValueError, IndexError, RecursionError) as exc:
            raise Unreadable(f"object {v.num}: {type(exc).__name__}", self) from None
        self.cache[v.num] = obj
        return obj

    def _load(self, num, gen, off):
        m = self.m
        head = _pdf._OBJ_HEAD.match(m, off)
        if head is None or int(head.group(1)) != num or int(head.group(2)) != gen:
            raise Unreadable("an object not where the xref says")
        text = m[head.end():min(self.size, head.end() + OBJECT_WINDOW)]
        parser = _Parser(self, text)
        value = parser.value()
        if isinstance(value, Dict):
            value.objgen = (num, gen)
            pos = parser.skip_space()
            if text.startswith(b"stream", pos):
                start = pos + 6
                if text.startswith(b"\r\n", start):
                    start += 2
                elif text[start:start + 1] == b"\n":
                    start += 1
                else:
                    raise Unreadable("stream keyword not followed by an end of line")
                length = value.get("/Length")
                if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                    raise Unreadable("stream length")
                at = head.end() + start
                raw = m[at:at + length]
                tail = m[at + length:at + length + 32].lstrip(b"\r\n \t")
                if len(raw) != length or not tail.startswith(b"endstream"):
                    raise Unreadable("stream length does not end at endstream")
                if self.key is not None:
                    if str(value.get("/Type")) in ("/XRef", "/Metadata") or "/Crypt" in str(value.get("/Filter")):
                        raise Unreadable("a stream encrypted otherwise")
                    raw = self.decrypt(raw)
                return Stream(self, dict(value), raw, (num, gen))
        if self.key is not None:
            value = self._decrypt_strings(value)
        return value

    def decrypt(self, data: bytes) -> bytes:
        """AES-256-CBC, the IV first, PKCS#5 padding."""
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        if len(data) < 32 or len(data) % 16:
            if not data:
                return data
            raise Unreadable("an encrypted string or stream of a wrong length", self)
        plain = Cipher(algorithms.AES(self.key), modes.CBC(data[:16])).decryptor().update(data[16:])
        pad = plain[-1]
        if not 1 <= pad <= 16:
            raise Unreadable("padding", self)
        return plain[:-pad]

    def _decrypt_strings(self, value):
        if isinstance(value, bytes):
            return self.decrypt(value)
        if isinstance(value, Dict):
            for k in list(dict.keys(value)):
                v = dict.get(value, k)
                if isinstance(v, (bytes, Dict, Array)):
                    dict.__setitem__(value, k, self._decrypt_strings(v))
        elif isinstance(value, Array):
            for i in range(len(value)):
                v = list.__getitem__(value, i)
                if isinstance(v, (bytes, Dict, Array)):
                    list.__setitem__(value, i, self._decrypt_strings(v))
        return value

    def pages(self, refs):
        out = []
        for num, gen in refs:
            node = self.resolve(Ref(num, gen))
            if not isinstance(node, Dict):
                raise Unreadable("a page")
            merged = dict(node)
            parent = node.get("/Parent")
            depth = 0
            while isinstance(parent, Dict) and depth < 64:
                for key in ("/Resources", "/MediaBox", "/CropBox", "/Rotate"):
                    if key not in merged and key in parent:
                        merged[key] = dict.get(parent, key)
                parent = parent.get("/Parent")
                depth += 1
            page = Dict(self, merged, node.objgen)
            box = page.get("/MediaBox")
            if not isinstance(box, list) or len(box) != 4:
                raise Unreadable("a media box")
            out.append(Page(page, [float(v) for v in box]))
        return out

    def inline_stream(self, params: dict, data: bytes):
        return Stream(self, params, data)

    def decode(self, raw: bytes, chain) -> bytes:
        """Data through a chain of filters (with their parameters), decoded by qpdf in a scratch
        stream of its own, once the chain is known not to decode beyond what is left of
        ``INFLATE_LIMIT``."""
        import pikepdf

        bound = most_decoded(len(raw), [name for name, _ in chain])
        if bound is None or self.inflated + bound > INFLATE_LIMIT:
            raise Unreadable("filters that may decode beyond the limit", self)
        try:
            if self._scratch is None:
                self._scratch = pikepdf.new()
            stream = pikepdf.Stream(self._scratch, raw)
            stream.Filter = pikepdf.Array([pikepdf.Name(name) for name, _ in chain])
            parms = []
            for _, p in chain:
                if isinstance(p, Dict):
                    parms.append(pikepdf.Dictionary({k: v for k, v in ((k, p.get(k)) for k in p.keys())
                                                     if isinstance(v, (int, float, bool))}))
                else:
                    parms.append(None)
            if any(p is not None for p in parms):
                stream.DecodeParms = pikepdf.Array(parms)
            out = stream.read_bytes()
        except Exception as exc:
            raise Unreadable(f"filters: {type(exc).__name__}", self) from None
        self.inflated += len(out)
        if self.inflated > INFLATE_LIMIT:
            raise Unreadable("streams inflate beyond the limit", self)
        return out

    def close(self):
        self.m.close()
        if self._scratch is not None:
            self._scratch.close()


_LOADING = object()

_SPACE = frozenset(b"\x00\t\n\x0c\r ")
_DELIM = frozenset(b"()<>[]{}/%")


#: One token of an object's text, after white space and comments: ``<<``, ``>>``, ``[``,
#: ``]``, a reference, a number, a name, a literal string's start, a hex string, a keyword.
_TOKEN = re.compile(
    rb"(?:[\x00\t\n\x0c\r ]|%[^\r\n]*)*+"
    rb"(?:(<<)|(>>)|(\[)|(\])|(\d+)\s+(\d+)\s+R(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
    rb"|([-+]?(?:\d+\.?\d*|\.\d+))(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
    rb"|/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)|(\()|<([0-9A-Fa-f\x00\t\n\x0c\r ]*)>"
    rb"|([^\x00\t\n\x0c\r ()<>\[\]{}/%]+))")


class _Parser:
    """One object's value from its text."""

    def __init__(self, doc, text):
        self.doc = doc
        self.t = text
        self.pos = 0

    def skip_space(self):
        t, pos, n = self.t, self.pos, len(self.t)
        while pos < n:
            c = t[pos]
            if c in _SPACE:
                pos += 1
            elif c == 0x25:
                while pos < n and t[pos] not in (0x0A, 0x0D):
                    pos += 1
            else:
                break
        self.pos = pos
        return pos

    def value(self, depth=0):
        if depth > 64:
            raise Unreadable("nesting", self.doc)
        m = _TOKEN.match(self.t, self.pos)
        if m is None:
            raise Unreadable("a token", self.doc)
        self.pos = m.end()
        kind = m.lastindex
        if kind == 1:  # <<
            items = {}
            while True:
                k = _TOKEN.match(self.t, self.pos)
                if k is None:
                    raise Unreadable("a dictionary", self.doc)
                if k.lastindex == 2:
                    self.pos = k.end()
                    return Dict(self.doc, items)
                if k.lastindex != 8:
                    raise Unreadable("a dictionary key", self.doc)
                self.pos = k.end()
                items["/" + pdfcontent._name(k.group(8))] = self.value(depth + 1)
        if kind == 3:  # [
            items = []
            while True:
                k = _TOKEN.match(self.t, self.pos)
                if k is None:
                    raise Unreadable("an array", self.doc)
                if k.lastindex == 4:
                    self.pos = k.end()
                    return Array(self.doc, items)
                items.append(self.value(depth + 1))
        if kind == 6:  # N G R
            return Ref(int(m.group(5)), int(m.group(6)))
        if kind == 7:
            return pdfcontent._number(m.group(7))
        if kind == 8:
            return Name("/" + pdfcontent._name(m.group(8)))
        if kind == 9:
            value, self.pos = pdfcontent._literal(self.t, self.pos, len(self.t))
            return value
        if kind == 10:
            return pdfcontent._hexstring(m.group(10))
        word = m.group(11) if kind == 11 else None
        if word == b"true":
            return True
        if word == b"false":
            return False
        if word == b"null":
            return None
        raise Unreadable(f"a token {m.group(0)[-20:]!r}", self.doc)


def _file_key(encrypt) -> bytes:
    """The AES-256 file key of a document that opens with the empty user password, checked
    against ``/Perms`` (ISO 32000-2, 7.6.4.4.12, algorithm 13: the key decrypts it to the
    permissions and the marker ``adb``); raises ``Unreadable`` when it does not open so."""
    import hashlib

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if not isinstance(encrypt, dict):
        raise Unreadable("encryption")
    cf = encrypt.get(b"CF")
    std = cf.get(b"StdCF") if isinstance(cf, dict) else None
    if (encrypt.get(b"StmF") != b"/StdCF" or encrypt.get(b"StrF") != b"/StdCF" or not isinstance(std, dict)
            or std.get(b"CFM") != b"/AESV3"):
        raise Unreadable("crypt filters other than AESV3")
    u = _pdf._string(encrypt.get(b"U"))
    ue = _pdf._string(encrypt.get(b"UE"))
    if u is None or ue is None or len(u) < 48 or len(ue) != 32:
        raise Unreadable("U / UE")
    salt = u[40:48]
    revision = encrypt.get(b"R")
    if encrypt.get(b"Filter") != b"/Standard" or encrypt.get(b"V") != 5 or revision not in (5, 6):
        raise Unreadable("a security handler other than AES-256")
    if revision == 6:
        intermediate = _pdf._hash_2b(b"", salt, b"")
    else:
        intermediate = hashlib.sha256(salt).digest()
    key = Cipher(algorithms.AES(intermediate), modes.CBC(bytes(16))).decryptor().update(ue)
    perms = _pdf._string(encrypt.get(b"Perms"))
    p = encrypt.get(b"P")
    if perms is None or len(perms) != 16 or not isinstance(p, int):
        raise Unreadable("Perms")
    clear = Cipher(algorithms.AES(key), modes.ECB()).decryptor().update(perms)
    if clear[9:12] != b"adb" or int.from_bytes(clear[:4], "little", signed=True) != p:
        raise Unreadable("the empty password does not open it")
    return key


def open_plain(path):
    """``(Document, [Page], [media per page])`` of a plain PDF, or None (qpdf reads it)."""
    try:
        f = open(path, "rb")
    except OSError:
        return None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < 32:
            return None
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return _open(m, size)


def open_plain_bytes(data: bytes):
    """``open_plain`` of a PDF held in memory."""
    return _open(_Held(data), len(data)) if len(data) >= 32 else None


class _Held(bytes):
    """Bytes that close like a mapped file."""

    def close(self):
        pass


def _open(m, size):
    try:
        structure: dict = {}
        walked = _pdf._walk(m, size, structure)
        key = _file_key(structure["encrypt"]) if walked[2] else None
        doc = Document(m, size, structure["xref"], structure["root"], key)
        return doc, doc.pages(structure["pages"]), walked[1]
    except (_pdf._GiveUp, Unreadable, ValueError, IndexError, RecursionError):
        m.close()
        return None
