"""PDF: pages from the page tree: our own walk for plain files, qpdf (pikepdf) for the rest.

qpdf already handles what hand-written code gets wrong: classic xref tables and xref
streams, object streams, linearized files, incremental updates (the last trailer wins, so
pages an update removed do not count), broken xref tables (it reconstructs), reference
loops in the page tree, and encrypted files that open without a user password. We count
the leaves of the page tree (``len(pdf.pages)``) rather than trusting a ``/Count`` that may
lie; the media of each page comes from its ``/MediaBox`` (``/CropBox`` when smaller is not
what prints on most devices, so it is not used). A PDF carries no copies or duplex of its
own that printers honour: those come from the PJL around it.

Colour per page (``count_pages(..., colour=True)``) comes from the page's content
(``pdfcolour``: a walk of its content streams, exact to what Ghostscript's ``inkcov`` device
decides, or undecided); only the pages the walk cannot decide are rendered with ``inkcov``
(``postscript.colour_runs`` with a page list), and the facts say how many pages each way
decided (``colour_methods``).

qpdf needs the whole file: the analyzer hands it a path (the spool file itself, or the
section's kept bytes written to a memory file). Memory: our walk maps the file and
reads only the xref, trailer and page-tree objects; qpdf keeps the xref table and the
objects it resolves, not page contents, but inflates whole object streams in memory, so
before qpdf sees a file every object and xref stream is inflated here piecewise into
nothing and the file is refused beyond ``INFLATE_LIMIT`` (see ``check_object_streams``).
"""
from __future__ import annotations

import os

from spooler.pdl import postscript
from spooler.pdl.policy import media_from_points

#: Pages beyond this are not believed (a hostile tree): the count is reported unknown.
PAGE_LIMIT = 1_000_000


class PdfError(Exception):
    """Internal: qpdf could not read the file; the pages are unknown."""


def count_pages(path: str, tally, colour: bool = False, budget=None, operations=None) -> list[str]:
    """Add the pages of the PDF at ``path`` to ``tally``; return warnings.

    With ``colour``, each page carries its colour: from its content (``pdfcolour``, the
    content-stream byte loop ``operations`` of the backend), or for the pages that walk cannot
    decide from Ghostscript's ``inkcov`` device on those pages only (past the page/time cap or
    the job's Ghostscript ``budget``, or when it prints another number of pages, the colour
    stays unknown with a warning)."""
    if colour:
        return _count_with_colour(path, tally, budget, operations)
    fast = fast_walk(path)
    if fast is not None:
        warnings: list[str] = []
        if fast[2]:
            warnings.append(ENCRYPTED)
        for media in fast[1]:
            tally.add_page(media=media)
        return warnings
    media, _, warnings = _qpdf_read(path)
    for m in media:
        tally.add_page(media=m)
    return warnings


#: The warning of an encrypted PDF that opened without a password.
ENCRYPTED = "PDF is encrypted (opened without a password)"


def _qpdf_read(path, colour_of=None):
    """``(media per page, colour_of(pdf, pages) or None, warnings)`` of the PDF at ``path`` as
    qpdf reads it (after the object streams are checked for zip bombs)."""
    check_object_streams(path)
    try:
        import pikepdf
    except ImportError as exc:  # pragma: no cover - pikepdf is a dependency
        raise PdfError("pikepdf is not installed") from exc
    warnings: list[str] = []
    try:
        with pikepdf.open(path, suppress_warnings=True) as pdf:
            if pdf.is_encrypted:
                warnings.append(ENCRYPTED)
            pages = pdf.pages
            n = len(pages)
            if n > PAGE_LIMIT:
                raise PdfError(f"PDF claims {n} pages")
            try:
                declared = int(pdf.Root.Pages.Count)
            except Exception:
                declared = None
            if declared is not None and declared != n:
                warnings.append(f"PDF page tree /Count says {declared}, it holds {n} pages")
            media = [_media(page) for page in pages]
            extra = colour_of(pdf, pages) if colour_of is not None else None
    except PdfError:
        raise
    except Exception as exc:
        detail = str(exc).replace(str(path), "<job>")
        raise PdfError(f"PDF could not be read: {type(exc).__name__}: {detail}"[:200]) from None
    return media, extra, warnings


def _count_with_colour(path, tally, budget, operations) -> list[str]:
    """Pages, media and colour: the walk decides what it can (on our own reading of a plain
    file, else on qpdf's), Ghostscript the rest."""
    # Here, not at the top: pdfobjects imports this module (its reader of plain files).
    from spooler.pdl import pdfcolour, pdfcontent, pdfobjects

    operations = operations or pdfcontent.operations
    plain = pdfobjects.open_plain(path)
    if plain is not None:
        doc, pages, media = plain
        try:
            walk = pdfcolour.DocumentColour(doc, operations, postscript.COLOUR_THRESHOLD)
            colours = [walk.page(page) for page in pages]
        except pdfobjects.Unreadable:
            colours = None
        finally:
            doc.close()
        if colours is not None and not doc.failed:
            return _colour_pages(path, tally, budget, media, colours, [ENCRYPTED] if doc.key is not None else [])

    def colour_of(pdf, pages):
        walk = pdfcolour.DocumentColour(pdf, operations, postscript.COLOUR_THRESHOLD)
        return [walk.page(page) for page in pages]

    media, colours, warnings = _qpdf_read(path, colour_of)
    return _colour_pages(path, tally, budget, media, colours, warnings)


def _colour_pages(path, tally, budget, media, colours, warnings) -> list[str]:
    """Render the pages the walk left undecided (``None`` in ``colours``) with Ghostscript,
    then add every page to ``tally``."""
    n = len(colours)
    undecided = [i for i, c in enumerate(colours) if c is None]
    if undecided:
        try:
            runs = postscript.colour_runs(path, len(undecided), budget, page_list=[i + 1 for i in undecided])
            printed = postscript.runs_pages(runs)
            if printed != len(undecided):
                raise postscript.ColourError(
                    f"colour not checked: Ghostscript printed {printed} of the {len(undecided)} pages asked for")
            for i, c in zip(undecided, postscript.runs_colours(runs)):
                colours[i] = c
        except postscript.ColourError as exc:
            warnings.append(str(exc))
    for m, c in zip(media, colours):
        tally.add_page(media=m, color=c)
    if n > len(undecided):
        tally.colour_methods["content"] = tally.colour_methods.get("content", 0) + n - len(undecided)
    if undecided:
        tally.colour_methods["ghostscript"] = tally.colour_methods.get("ghostscript", 0) + len(undecided)
    return warnings


def _media(page):
    try:
        box = page.mediabox
        x0, y0, x1, y1 = (float(v) for v in box)
    except Exception:
        return None
    width, height = abs(x1 - x0), abs(y1 - y0)
    try:
        unit = float(page.obj.get("/UserUnit", 1))
    except Exception:
        unit = 1.0
    return media_from_points(width * unit, height * unit)


def file_size(path) -> int:
    return os.stat(path).st_size


# -- the fast path -------------------------------------------------------------------------------
#
# qpdf (through pikepdf) costs about 1.1 ms to open even a 5 KB file on our machine, which
# caps small PDFs at ~900 files/s. Most PDFs that reach a print queue have a classic xref
# table and a plain page tree, and for those the page count is a short walk we can make
# ourselves. ``fast_count`` makes that walk and gives up (returns None, and qpdf decides)
# at the first thing it does not fully understand: an xref stream, a hybrid file, an
# object that is not where the xref says, an indirect /Kids or /MediaBox, a loop.
# The tests check that it never disagrees with qpdf on any corpus file.
#
# An encrypted file is walked too when it opens without a password, which is what decides
# whether qpdf (and a printer) can read it: only strings and streams are encrypted, never
# the dictionaries of the page tree. qpdf spends about 11 ms opening an AES-256 file; the
# check here (``_opens_without_password``) is the standard's own test of the empty user
# password for AES-256 (security handler revisions 5 and 6), about 1 ms. Anything else
# (RC4 and AES-128, a public-key handler, a password needed) is left to qpdf.

import mmap
import re

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s*%%EOF", re.S)
_SUBSECTION = re.compile(rb"\s*(\d+)\s+(\d+)\s*[\r\n]+")
_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_OBJ_HEAD = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj\b")
# A token, after any whitespace and comments before it. A comment is only a comment
# between tokens: a ``%`` inside a string belongs to the string. The last alternative
# takes any byte that starts no token, so that the walk gives up there (``_value_after``)
# instead of skipping it. The possessive ``*+`` keeps a comment at the end of the text
# from being taken apart into tokens.
_TOKEN = re.compile(
    rb"(?:\s|%[^\r\n]*+)*+"
    rb"(?:(<<)|(>>)|(\[)|(\])|/([^\s/<>\[\]()%{}]*)|(\d+)\s+(\d+)\s+R\b|([-+]?(?:\d+\.?\d*|\.\d+))"
    rb"|(\((?:[^()\\]|\\.)*\))|(<[0-9A-Fa-f\s]*>)|(true|false|null)|(.))", re.S)

FAST_PAGE_LIMIT = 100_000
FAST_SECTION_LIMIT = 64


class _GiveUp(Exception):
    pass


def fast_count(path):
    """``(pages, [media per page])`` for a plain classic-xref PDF, or None to let qpdf decide.

    ``fast_walk`` also says whether the file was encrypted."""
    walked = fast_walk(path)
    return None if walked is None else walked[:2]


def fast_walk(path):
    """``(pages, [media per page], encrypted)`` for a plain classic-xref PDF (encrypted or
    not, when it opens without a password), or None to let qpdf decide."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 32:
                return None
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return _walk(m, size)
    except (_GiveUp, ValueError, OSError, IndexError, RecursionError):
        return None


def _walk(m, size, structure=None):
    """The page tree walk of ``fast_walk``; ``structure``, when given, receives the xref
    (``xref``), the catalog's reference (``root``), each page's reference (``pages``) and
    the encryption dictionary (``encrypt``, None when not encrypted), and leaves the check of
    the empty password to its caller (``pdfobjects`` checks the file key it derives)."""
    tail = m[max(0, size - 2048):size]
    found = _STARTXREF.findall(tail)
    if not found:
        raise _GiveUp
    offset = int(found[-1])
    xref: dict[int, int | None] = {}
    root = None
    encrypt = trailer_id = None
    seen = set()
    while offset is not None:
        if offset in seen or len(seen) >= FAST_SECTION_LIMIT or not 0 <= offset < size:
            raise _GiveUp
        seen.add(offset)
        trailer, entries = _xref_section(m, offset, size)
        for num, off in entries.items():
            xref.setdefault(num, off)  # newer sections were read first and win
        if b"/XRefStm" in trailer:
            raise _GiveUp
        d = _dict(trailer, 0)[0]
        if root is None:
            root = d.get(b"Root")
            encrypt = d.get(b"Encrypt")
        elif (b"Encrypt" in d) != (encrypt is not None):
            raise _GiveUp  # encrypted in one revision and not in another: qpdf's to judge
        prev = d.get(b"Prev")
        offset = int(prev) if isinstance(prev, (int, float)) and not isinstance(prev, bool) else None
        if prev is not None and offset is None:
            raise _GiveUp
    if not isinstance(root, tuple):
        raise _GiveUp
    if encrypt is not None:
        if isinstance(encrypt, tuple):
            encrypt = _object(m, xref, encrypt, size)
        if not isinstance(encrypt, dict) or not (structure is not None or _opens_without_password(encrypt)):
            raise _GiveUp
    catalog = _object(m, xref, root, size)
    pages_ref = catalog.get(b"Pages")
    if not isinstance(pages_ref, tuple):
        raise _GiveUp
    media: list = []
    page_refs: list = []
    visited = set()
    stack = [(pages_ref, None, 1.0)]
    while stack:
        ref, inherited, unit = stack.pop()
        if ref in visited:
            raise _GiveUp
        visited.add(ref)
        node = _object(m, xref, ref, size)
        box = node.get(b"MediaBox", inherited)
        kind = node.get(b"Type")
        if kind == b"/Pages" or (kind is None and b"Kids" in node):
            kids = node.get(b"Kids")
            if not isinstance(kids, list) or not all(isinstance(k, tuple) for k in kids):
                raise _GiveUp
            for kid in reversed(kids):
                stack.append((kid, box, unit))
        elif kind == b"/Page":
            if not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, (int, float)) for v in box):
                raise _GiveUp
            uu = node.get(b"UserUnit", 1.0)
            if not isinstance(uu, (int, float)):
                raise _GiveUp
            x0, y0, x1, y1 = box
            media.append(media_from_points(abs(x1 - x0) * uu, abs(y1 - y0) * uu))
            page_refs.append(ref)
            if len(media) > FAST_PAGE_LIMIT:
                raise _GiveUp
        else:
            raise _GiveUp
    count = _object(m, xref, pages_ref, size).get(b"Count")
    if count != len(media):
        raise _GiveUp  # let qpdf judge a tree whose /Count disagrees
    if structure is not None:
        structure.update(xref=xref, root=root, pages=page_refs, encrypt=encrypt)
    return len(media), media, encrypt is not None


def _opens_without_password(encrypt: dict) -> bool:
    """Does the standard security handler of AES-256 (revision 5 or 6) accept the empty
    user password? (ISO 32000-2, 7.6.4.4.10, Algorithm 11: the hash of the password and the
    validation salt, 2.B for revision 6, is the first 32 bytes of /U.) False for anything else."""
    if encrypt.get(b"Filter") != b"/Standard" or encrypt.get(b"V") != 5 or encrypt.get(b"R") not in (5, 6):
        return False
    u = _string(encrypt.get(b"U"))
    if u is None or len(u) < 48:
        return False
    salt = u[32:40]
    if encrypt.get(b"R") == 5:
        import hashlib

        return hashlib.sha256(salt).digest() == u[:32]
    try:
        return _hash_2b(b"", salt, b"") == u[:32]
    except ImportError:  # no AES here: qpdf decides
        return False


def _hash_2b(password: bytes, salt: bytes, udata: bytes) -> bytes:
    """ISO 32000-2, 7.6.4.3.4, Algorithm 2.B: the hash of an AES-256 (revision 6) password."""
    import hashlib

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    hashes = (hashlib.sha256, hashlib.sha384, hashlib.sha512)
    k = hashlib.sha256(password + salt + udata).digest()
    rounds = 0
    while True:
        k1 = (password + k + udata) * 64
        e = Cipher(algorithms.AES(k[:16]), modes.CBC(k[16:32])).encryptor().update(k1)
        k = hashes[sum(e[:16]) % 3](e).digest()
        rounds += 1
        if rounds >= 64 and e[-1] <= rounds - 32:
            return k[:32]


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
            b"(": b"(", b")": b")", b"\\": b"\\"}
_LITERAL = re.compile(rb"\\([0-7]{1,3}|\r\n|[\r\n]|.)|\r\n|\r", re.S)


def _string(raw):
    """The bytes of a PDF string token as ``_dict`` keeps it (``<hex>`` or ``(literal)``)."""
    if not isinstance(raw, bytes) or len(raw) < 2:
        return None
    if raw[:1] == b"<" and raw[-1:] == b">":
        digits = re.sub(rb"\s", b"", raw[1:-1])
        if len(digits) % 2:
            digits += b"0"
        try:
            return bytes.fromhex(digits.decode("ascii"))
        except ValueError:
            return None
    if raw[:1] == b"(" and raw[-1:] == b")":
        def unescape(m):
            code = m.group(1)
            if code is None:
                return b"\n"  # an end of line inside a literal string is a line feed
            if code[0] in b"01234567":
                return bytes([int(code, 8) & 0xFF])
            if code in (b"\r\n", b"\r", b"\n"):
                return b""  # a backslash before an end of line continues the line
            return _ESCAPES.get(code, code)
        return _LITERAL.sub(unescape, raw[1:-1])
    return None


def _xref_section(m, offset, size):
    window = m[offset:min(size, offset + 64)]
    if not window.startswith(b"xref"):
        raise _GiveUp  # an xref stream: qpdf's job
    pos = offset + 4
    entries: dict[int, int | None] = {}
    while True:
        head = _SUBSECTION.match(m, pos)
        if head is None:
            break
        first, count = int(head.group(1)), int(head.group(2))
        if count > 10_000_000:
            raise _GiveUp
        pos = head.end()
        block = m[pos:pos + 20 * count]
        if len(block) != 20 * count:
            raise _GiveUp
        for i in range(count):
            e = _ENTRY.match(block, 20 * i)
            if e is None:
                raise _GiveUp
            num = first + i
            if num not in entries:
                entries[num] = int(e.group(1)) if e.group(3) == b"n" else None
        pos += 20 * count
    t = m.find(b"trailer", pos, pos + 64)
    if t < 0:
        raise _GiveUp
    end = m.find(b"startxref", t, t + 8192)
    if end < 0:
        raise _GiveUp
    return m[t + 7:end], entries


def _object(m, xref, ref, size):
    num, gen = ref
    off = xref.get(num)
    if off is None or not 0 <= off < size:
        raise _GiveUp
    head = _OBJ_HEAD.match(m, off)
    if head is None or int(head.group(1)) != num or int(head.group(2)) != gen:
        raise _GiveUp
    text = m[head.end():head.end() + 4096]
    d, _ = _dict(text, 0)
    return d


def _dict(text, pos):
    """Parse the dictionary at ``text[pos:]``: names as keys; values as numbers, names (with
    their slash), references (tuples), arrays (lists), nested dicts, or raw bytes."""
    tokens = _TOKEN.finditer(text, pos)
    first = next(tokens, None)
    if first is None or first.group(1) is None:
        raise _GiveUp
    value, _ = _value_after(first, tokens)
    if not isinstance(value, dict):
        raise _GiveUp
    return value, 0


def _value_after(tok, tokens, depth=0):
    # ``lastindex`` names the one alternative of ``_TOKEN`` that matched (7 for a reference)
    if depth > 32:
        raise _GiveUp
    kind = tok.lastindex
    if kind == 1:  # <<
        out = {}
        while True:
            key = next(tokens, None)
            if key is None:
                raise _GiveUp
            kind = key.lastindex
            if kind == 2:  # >>
                return out, None
            if kind != 5:  # not a name
                raise _GiveUp
            val_tok = next(tokens, None)
            if val_tok is None:
                raise _GiveUp
            value, _ = _value_after(val_tok, tokens, depth + 1)
            out[key.group(5)] = value
    if kind == 3:  # [
        items = []
        while True:
            t = next(tokens, None)
            if t is None:
                raise _GiveUp
            if t.lastindex == 4:  # ]
                return items, None
            value, _ = _value_after(t, tokens, depth + 1)
            items.append(value)
    if kind == 5:
        return b"/" + tok.group(5), None
    if kind == 7:
        return (int(tok.group(6)), int(tok.group(7))), None
    if kind == 8:
        raw = tok.group(8)
        return (float(raw) if b"." in raw else int(raw)), None
    if kind in (9, 10, 11):
        return tok.group(kind), None
    raise _GiveUp  # a byte that starts no token (kind 12), or a token out of place


# -- zip bombs --------------------------------------------------------------------------------------
#
# To read the page tree qpdf inflates the object streams that hold page objects, in memory and
# in full: a 2 MB file whose object stream inflates to 2 GB costs 2 GB and 15 s. Before qpdf
# sees a file, every object stream (and xref stream) is inflated here, piecewise, into nothing,
# and the file is refused when they add up to more than ``INFLATE_LIMIT`` bytes.

import zlib

INFLATE_LIMIT = int(os.environ.get("PRINTGATE_PDF_INFLATE_LIMIT", str(256 << 20)))
_OBJSTM = re.compile(rb"/Type\s*/(?:ObjStm|XRef)\b")
_STREAM = re.compile(rb"stream\r?\n")


def check_object_streams(path, limit: int | None = None) -> int:
    """Inflate every object/xref stream of the file at ``path`` without keeping the output.

    Returns the bytes they inflate to; raises ``PdfError`` beyond ``limit``.
    """
    limit = INFLATE_LIMIT if limit is None else limit
    total = 0
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return 0
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            for hit in _OBJSTM.finditer(m):
                s = _STREAM.search(m, hit.end(), hit.end() + 4096)
                if s is None:
                    continue
                inflater = zlib.decompressobj()
                pos = s.end()
                end = len(m)
                while pos < end and not inflater.eof:
                    block = m[pos:pos + (1 << 16)]
                    pos += len(block)
                    data = block
                    while data:
                        try:
                            out = inflater.decompress(data, 1 << 20)
                        except zlib.error:
                            data = b""
                            pos = end
                            break
                        total += len(out)
                        if total > limit:
                            raise PdfError(f"PDF object streams inflate beyond {limit >> 20} MiB (a zip bomb?)")
                        data = b"" if inflater.eof else inflater.unconsumed_tail
    return total
