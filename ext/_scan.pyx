# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The page analyzer's byte loops in Cython: the same names and behaviour as the reference.

``spooler.pdl.reference`` is the specification. This module replaces its scanners for the
streaming languages (PCL 5, PCL XL, the DSC PostScript scan) with typed loops over the
chunk's bytes and reuses everything else — PJL framing, detection, the copies and sheets
policy, PDF, raster, Ghostscript — from the Python modules, so policy stays in one place.
Every decision below mirrors a line of ``pcl5.py`` / ``pclxl.py`` / ``postscript.py``.
Where a loop takes a shortcut the reference does not (raster rows read whole in one loop, a
plane's bits counted from its encoding or taken from an identical plane, a seed row left
encoded until a delta row reads it, the commonest PCL XL text tokens taken by their first
bytes, a repeated ``%%PageBoundingBox`` not parsed again), the shortcut gives exactly what
the general path gives; ``tests/spooler/pdl/test_differential.py`` holds each to it, also on
inputs where it must not be taken.
"""
cimport cython
from libc.string cimport memchr, memcmp, memcpy, memset
from libc.stdlib cimport strtod, malloc, realloc, free

from spooler.pdl import reference as _reference
from spooler.pdl import postscript as _postscript
from spooler.pdl.errors import AnalyzerError  # noqa: F401  (same exception types)
from spooler.pdl.facts import JobFacts  # noqa: F401
from spooler.pdl.pcl5 import DOC_HEAD as _DOC_HEAD, PAGE_SIZES as _PCL_PAGE_SIZES
if _DOC_HEAD != 4096:  # DEF DOC_HEAD below
    raise ImportError("pcl5.DOC_HEAD and the Cython twin's DOC_HEAD differ")
from spooler.pdl.pclxl import MEDIA_NAMES as _XL_MEDIA_NAMES, MEDIA_SIZES as _XL_MEDIA_SIZES, NO_COPIES as _XL_NO_COPIES
from spooler.pdl import raster as _raster
from spooler.pdl.policy import media_from_points as _media_from_points
from spooler.pdl.postscript import _bbox_media

cdef bytes UEL = b"\x1b%-12345X"
cdef Py_ssize_t UEL_LEN = 9

# ----------------------------------------------------------------------------------------------
# PCL 5
# ----------------------------------------------------------------------------------------------

DEF SEQUENCE_LIMIT = 256
DEF DOC_HEAD = 4096
DEF VALUE_DIGITS_LIMIT = 32
DEF PLANE_COMPARE_LIMIT = 65536
DEF BAND_ROWS = 32
DEF MAX_COMMANDS = 300

cdef unsigned char PCL_MARKING[256]
cdef unsigned char PCL_SPECIAL[256]
cdef int _i
for _i in range(256):
    PCL_MARKING[_i] = 1 if (0x21 <= _i <= 0x7E or 0xA1 <= _i <= 0xFF) else 0
    PCL_SPECIAL[_i] = 1 if (_i == 0x1B or _i == 0x0C) else 0

cdef inline bint _is_payload(int c, int g, int f) nogil:
    if c == 0x2A:  # *
        if g == 0x62: return f == 0x57 or f == 0x56
        if g == 0x76 or g == 0x63 or g == 0x6D or g == 0x6C or g == 0x69 or g == 0x6F or g == 0x67:
            return f == 0x57
        return False
    if c == 0x28: return (g == 0x73 or g == 0x66) and f == 0x57
    if c == 0x29: return g == 0x73 and f == 0x57
    if c == 0x26:
        if g == 0x70: return f == 0x58
        if g == 0x6E or g == 0x62: return f == 0x57
    return False

# HP-GL/2: which commands put ink on the page (``spooler.pdl.hpgl.HpglState``, line for line)

DEF HP_IDLE = 0
DEF HP_LETTER = 1
DEF HP_PARAMS = 2
DEF HP_LABEL = 3
DEF HP_PE = 4
DEF HP_SYMBOL = 5
DEF HP_TERMINATOR = 6
DEF HP_QUOTED = 7

cdef inline int _hp(int a, int b) nogil:
    return (a << 8) | b

cdef struct HpglState:
    int phase, first, cmd, nums, first_num, terminator, pe_count
    bint in_num, pen_down, relative, polygon, poly_drawn, symbol, label_ink, pe_up, pe_7bit, pe_value, marked

cdef inline void _hpgl_reset(HpglState* s) noexcept nogil:
    s.phase = HP_IDLE
    s.first = 0
    s.cmd = 0
    s.nums = 0
    s.in_num = False
    s.first_num = 0
    s.pen_down = False
    s.relative = False
    s.polygon = False
    s.poly_drawn = False
    s.symbol = False
    s.terminator = 0x03
    s.label_ink = False
    s.pe_up = False
    s.pe_7bit = False
    s.pe_value = False
    s.pe_count = 0
    s.marked = False

cdef inline bint _hp_letter(int b) noexcept nogil:
    return 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A

cdef inline int _hp_upper(int b) noexcept nogil:
    return b - 0x20 if 0x61 <= b <= 0x7A else b

cdef inline void _hpgl_number_done(HpglState* s) noexcept nogil:
    if s.in_num:
        s.in_num = False
        s.nums += 1

cdef inline void _hpgl_draw(HpglState* s) noexcept nogil:
    if s.polygon:
        s.poly_drawn = True
    else:
        s.marked = True

cdef void _hpgl_run(HpglState* s) noexcept nogil:
    cdef int cmd, nums, need = 0, mode
    cdef bint marked
    _hpgl_number_done(s)
    cmd = s.cmd
    nums = s.nums
    s.cmd = 0
    if cmd == _hp(0x50, 0x44):  # PD
        s.pen_down = True
        if nums >= 2 or (nums == 0 and not s.relative):
            _hpgl_draw(s)
        if s.symbol and not s.polygon:
            s.marked = True
    elif cmd == _hp(0x50, 0x41) or cmd == _hp(0x50, 0x52):  # PA PR
        s.relative = cmd == _hp(0x50, 0x52)
        if nums >= 2 and s.pen_down:
            _hpgl_draw(s)
        if s.symbol and not s.polygon:
            s.marked = True
    elif cmd == _hp(0x50, 0x55):  # PU
        s.pen_down = False
        if s.symbol and not s.polygon:
            s.marked = True
    elif cmd == _hp(0x41, 0x41) or cmd == _hp(0x41, 0x52):  # AA AR
        if nums >= 3 and s.pen_down:
            _hpgl_draw(s)
    elif cmd == _hp(0x41, 0x54) or cmd == _hp(0x52, 0x54):  # AT RT
        if nums >= 4 and s.pen_down:
            _hpgl_draw(s)
    elif cmd == _hp(0x42, 0x52) or cmd == _hp(0x42, 0x5A):  # BR BZ
        if nums >= 6 and s.pen_down:
            _hpgl_draw(s)
    elif cmd == _hp(0x43, 0x49):  # CI
        if nums >= 1:
            _hpgl_draw(s)
    elif (cmd == _hp(0x52, 0x41) or cmd == _hp(0x52, 0x52) or cmd == _hp(0x45, 0x41)
          or cmd == _hp(0x45, 0x52)):  # RA RR EA ER
        if nums >= 2 and not s.polygon:
            s.marked = True
    elif cmd == _hp(0x45, 0x57) or cmd == _hp(0x57, 0x47):  # EW WG
        if nums >= 3 and not s.polygon:
            s.marked = True
    elif cmd == _hp(0x46, 0x50) or cmd == _hp(0x45, 0x50):  # FP EP
        if s.poly_drawn and not s.polygon:
            s.marked = True
    elif cmd == _hp(0x50, 0x4D):  # PM
        mode = s.first_num if nums else 0
        if mode == 0:
            s.polygon = True
            s.poly_drawn = False
        elif mode == 2:
            s.polygon = False
    elif cmd == _hp(0x49, 0x4E):  # IN
        marked = s.marked
        _hpgl_reset(s)
        s.marked = marked
    elif cmd == _hp(0x44, 0x46):  # DF
        s.symbol = False
        s.terminator = 0x03

cdef inline void _hpgl_pe_byte(HpglState* s, int b) noexcept nogil:
    cdef int c = b & 0x7F
    if c == 0x3B:
        s.phase = HP_IDLE
    elif c == 0x3C:
        s.pe_up = True
    elif c == 0x37:
        s.pe_7bit = True
    elif c == 0x3A or c == 0x3E:
        s.pe_value = True
    elif c == 0x3D or c <= 0x20 or c == 0x7F:
        pass
    elif (95 <= b <= 126) if s.pe_7bit else (191 <= b <= 254):
        if s.pe_value:
            s.pe_value = False
            return
        s.pe_count += 1
        if s.pe_count == 2:
            s.pe_count = 0
            if s.pe_up:
                s.pe_up = False
                s.pen_down = False
            else:
                s.pen_down = True
                _hpgl_draw(s)

cdef bint _hpgl_feed(HpglState* s, const unsigned char* d, Py_ssize_t pos, Py_ssize_t stop) noexcept nogil:
    """``HpglState.feed``: True when ``d[pos:stop]`` marked the page."""
    cdef Py_ssize_t i
    cdef int b, phase, cmd
    s.marked = False
    for i in range(pos, stop):
        b = d[i]
        phase = s.phase
        if phase == HP_PARAMS:
            if _hp_letter(b):
                _hpgl_run(s)
                s.first = _hp_upper(b)
                s.phase = HP_LETTER
            elif b == 0x3B:
                _hpgl_run(s)
                s.phase = HP_IDLE
            elif 0x30 <= b <= 0x39 or b == 0x2E:
                if not s.in_num:
                    s.in_num = True
                    if s.nums == 0:
                        s.first_num = 0
                if s.nums == 0 and b != 0x2E and s.first_num < 1000:
                    s.first_num = s.first_num * 10 + (b - 0x30)
            elif b == 0x22:
                _hpgl_number_done(s)
                s.phase = HP_QUOTED
            else:
                _hpgl_number_done(s)
        elif phase == HP_IDLE:
            if _hp_letter(b):
                s.first = _hp_upper(b)
                s.phase = HP_LETTER
        elif phase == HP_LETTER:
            if not _hp_letter(b):
                s.phase = HP_IDLE
                continue
            cmd = (s.first << 8) | _hp_upper(b)
            s.cmd = cmd
            s.nums = 0
            s.in_num = False
            s.first_num = 0
            if cmd == _hp(0x4C, 0x42):  # LB
                s.phase = HP_LABEL
                s.label_ink = False
            elif cmd == _hp(0x50, 0x45):  # PE
                s.phase = HP_PE
                s.pe_up = False
                s.pe_7bit = False
                s.pe_value = False
                s.pe_count = 0
            elif cmd == _hp(0x53, 0x4D):  # SM
                s.phase = HP_SYMBOL
            elif cmd == _hp(0x44, 0x54):  # DT
                s.phase = HP_TERMINATOR
            else:
                s.phase = HP_PARAMS
        elif phase == HP_LABEL:
            if b == s.terminator:
                if s.label_ink and not s.polygon:
                    s.marked = True
                s.phase = HP_IDLE
            elif b >= 0x20:
                s.label_ink = True
        elif phase == HP_PE:
            _hpgl_pe_byte(s, b)
        elif phase == HP_QUOTED:
            if b == 0x22:
                s.phase = HP_PARAMS
        elif phase == HP_SYMBOL:
            if b == 0x3B or b <= 0x20:
                s.symbol = False
                s.phase = HP_IDLE
            else:
                s.symbol = True
                s.cmd = 0
                s.phase = HP_PARAMS
        else:
            if b == 0x3B:
                s.terminator = 0x03
                s.phase = HP_IDLE
            else:
                s.terminator = b
                s.cmd = 0
                s.phase = HP_PARAMS
    return s.marked

cdef bint _hpgl_end(HpglState* s) noexcept nogil:
    """``HpglState.end``."""
    s.marked = False
    if s.phase == HP_PARAMS:
        _hpgl_run(s)
    s.phase = HP_IDLE
    return s.marked

cdef inline Py_ssize_t _find(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end, int c):
    """Index of the first ``c`` in ``d[pos:end]``, or ``end``."""
    cdef const unsigned char* hit = <const unsigned char*>memchr(d + pos, c, end - pos)
    return (hit - d) if hit != NULL else end


cdef extern from *:
    """
    /* a[0:n] == b[0:n], for the short rows compared in the byte loop (no call into libc) */
    static inline int pg_same(const unsigned char* a, const unsigned char* b, Py_ssize_t n) {
        unsigned long long x, y;
        Py_ssize_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return 0;
        }
        for (; i < n; i++) if (a[i] != b[i]) return 0;
        return 1;
    }
    /* The first of two or three byte values in d[pos:end] (or end): one pass, 16 bytes a
       step with SSE2 (part of every x86-64), a byte at a time elsewhere. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline Py_ssize_t pg_find2(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end,
                                      unsigned char a, unsigned char b) {
        const __m128i va = _mm_set1_epi8((char)a), vb = _mm_set1_epi8((char)b);
        for (; pos + 16 <= end; pos += 16) {
            __m128i x = _mm_loadu_si128((const __m128i*)(d + pos));
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)));
            if (m) return pos + __builtin_ctz(m);
        }
        for (; pos < end; pos++) if (d[pos] == a || d[pos] == b) return pos;
        return end;
    }
    static inline Py_ssize_t pg_find3(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end,
                                      unsigned char a, unsigned char b, unsigned char c) {
        const __m128i va = _mm_set1_epi8((char)a), vb = _mm_set1_epi8((char)b), vc = _mm_set1_epi8((char)c);
        for (; pos + 16 <= end; pos += 16) {
            __m128i x = _mm_loadu_si128((const __m128i*)(d + pos));
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
                                                   _mm_cmpeq_epi8(x, vc)));
            if (m) return pos + __builtin_ctz(m);
        }
        for (; pos < end; pos++) if (d[pos] == a || d[pos] == b || d[pos] == c) return pos;
        return end;
    }
    #else
    static inline Py_ssize_t pg_find2(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end,
                                      unsigned char a, unsigned char b) {
        for (; pos < end; pos++) if (d[pos] == a || d[pos] == b) return pos;
        return end;
    }
    static inline Py_ssize_t pg_find3(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end,
                                      unsigned char a, unsigned char b, unsigned char c) {
        for (; pos < end; pos++) if (d[pos] == a || d[pos] == b || d[pos] == c) return pos;
        return end;
    }
    #endif
    """
    Py_ssize_t pg_find2(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end, unsigned char a, unsigned char b) nogil
    bint pg_same(const unsigned char* a, const unsigned char* b, Py_ssize_t n) nogil
    Py_ssize_t pg_find3(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end, unsigned char a, unsigned char b, unsigned char c) nogil


def _find_check(bytes data, Py_ssize_t pos, bytes chars):
    """``pg_find2``/``pg_find3`` of ``data`` from ``pos`` for 2 or 3 ``chars``: for the tests."""
    if len(chars) == 2:
        return pg_find2(data, pos, len(data), chars[0], chars[1])
    return pg_find3(data, pos, len(data), chars[0], chars[1], chars[2])


cdef double _pcl_number(const unsigned char* p, Py_ssize_t n):
    """Python ``float(raw)`` or 0.0 when it raises, for raw = [+-]?[0-9.]*"""
    cdef char tmp[40]
    cdef Py_ssize_t i, digits = 0, dots = 0
    cdef long long acc = 0
    cdef bint neg = False
    if n <= 0 or n > 38:
        return 0.0
    i = 0
    if p[0] == 0x2B or p[0] == 0x2D:
        neg = p[0] == 0x2D
        i = 1
    if 0 < n - i <= 15:
        while i < n and 0x30 <= p[i] <= 0x39:
            acc = acc * 10 + (p[i] - 0x30)
            i += 1
        if i == n:
            return <double>(-acc if neg else acc)
    for i in range(n):
        if p[i] == 0x2E:
            dots += 1
        elif 0x30 <= p[i] <= 0x39:
            digits += 1
    if digits == 0 or dots > 1:
        return 0.0
    memcpy(tmp, p, n)
    tmp[n] = 0
    return strtod(tmp, NULL)


cdef Py_ssize_t _decode_row(long mode, const unsigned char* data, Py_ssize_t n,
                            unsigned char* out, Py_ssize_t seed_len) nogil:
    """``pcl5.decode_row``: decode into ``out`` (which holds the seed row of ``seed_len``
    bytes for mode 3); return the row's length (at most ``PLANE_COMPARE_LIMIT``)."""
    cdef Py_ssize_t i = 0, length = 0, count, offset, cursor, take, stop, j
    cdef int c, b
    if mode == 0:
        length = n if n < PLANE_COMPARE_LIMIT else PLANE_COMPARE_LIMIT
        memcpy(out, data, length)
        return length
    if mode == 1:
        while i + 1 < n and length < PLANE_COMPARE_LIMIT:
            count = data[i] + 1
            if count > PLANE_COMPARE_LIMIT - length:
                count = PLANE_COMPARE_LIMIT - length
            memset(out + length, data[i + 1], count)
            length += count
            i += 2
        return length
    if mode == 2:
        while i < n and length < PLANE_COMPARE_LIMIT:
            c = data[i]
            i += 1
            if c < 128:
                take = c + 1
                if take > n - i:
                    take = n - i
                if take > PLANE_COMPARE_LIMIT - length:
                    take = PLANE_COMPARE_LIMIT - length
                memcpy(out + length, data + i, take)
                length += take
                i += c + 1
            elif c > 128:
                if i < n:
                    count = 257 - c
                    if count > PLANE_COMPARE_LIMIT - length:
                        count = PLANE_COMPARE_LIMIT - length
                    memset(out + length, data[i], count)
                    length += count
                i += 1
        return length
    # mode 3: delta row, edits the seed in place
    length = seed_len
    cursor = 0
    while i < n:
        c = data[i]
        i += 1
        count = (c >> 5) + 1
        offset = c & 31
        if offset == 31:
            while i < n:
                b = data[i]
                i += 1
                offset += b
                if b != 255:
                    break
        cursor += offset
        if cursor >= PLANE_COMPARE_LIMIT:
            break
        take = count if count <= n - i else (n - i if n > i else 0)
        i += count
        stop = cursor + take
        if stop > PLANE_COMPARE_LIMIT:
            stop = PLANE_COMPARE_LIMIT
        if stop > length:
            memset(out + length, 0, stop - length)
            length = stop
        if stop > cursor:
            memcpy(out + cursor, data + i - count, stop - cursor)
        cursor += take
    return length


cdef extern from *:
    """
    /* Set bits in p[0:n]. Built without -mpopcnt, __builtin_popcountll is a call into
       libgcc per word; on x86-64 the POPCNT instruction is used when the CPU has it. */
    #include <string.h>
    static long long pg_popcount_portable(const unsigned char* p, Py_ssize_t n) {
        long long total = 0;
        Py_ssize_t i = 0;
        unsigned long long w;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            w = w - ((w >> 1) & 0x5555555555555555ULL);
            w = (w & 0x3333333333333333ULL) + ((w >> 2) & 0x3333333333333333ULL);
            w = (w + (w >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
            total += (long long)((w * 0x0101010101010101ULL) >> 56);
        }
        for (; i < n; i++) {
            unsigned int b = p[i];
            b = b - ((b >> 1) & 0x55);
            b = (b & 0x33) + ((b >> 2) & 0x33);
            total += (b + (b >> 4)) & 0x0F;
        }
        return total;
    }
    #if defined(__GNUC__) && defined(__x86_64__)
    __attribute__((target("popcnt")))
    static long long pg_popcount_hw(const unsigned char* p, Py_ssize_t n) {
        long long total = 0;
        Py_ssize_t i = 0;
        unsigned long long w;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            total += __builtin_popcountll(w);
        }
        for (; i < n; i++)
            total += __builtin_popcount(p[i]);
        return total;
    }
    static int pg_has_popcnt = -1;
    static long long pg_popcount(const unsigned char* p, Py_ssize_t n) {
        if (pg_has_popcnt < 0) {
            __builtin_cpu_init();
            pg_has_popcnt = __builtin_cpu_supports("popcnt") ? 1 : 0;
        }
        return pg_has_popcnt ? pg_popcount_hw(p, n) : pg_popcount_portable(p, n);
    }
    #else
    #define pg_popcount pg_popcount_portable
    #endif
    """
    long long pg_popcount(const unsigned char* p, Py_ssize_t n) nogil
    long long pg_popcount_portable(const unsigned char* p, Py_ssize_t n) nogil


cdef inline long long _popcount(const unsigned char* p, Py_ssize_t n) nogil:
    return pg_popcount(p, n)


cdef inline long long _popcount8(int b) nogil:
    b = b - ((b >> 1) & 0x55)
    b = (b & 0x33) + ((b >> 2) & 0x33)
    return (b + (b >> 4)) & 0x0F


cdef long long _row_bits(long mode, const unsigned char* data, Py_ssize_t n) nogil:
    """The set bits of ``_decode_row(mode, data, n, ...)`` for mode 0-2 (which do not read the
    seed), counted from the encoded row without writing it out."""
    cdef Py_ssize_t i = 0, length = 0, count, take
    cdef int c
    cdef long long total = 0
    if mode == 0:
        return _popcount(data, n if n < PLANE_COMPARE_LIMIT else PLANE_COMPARE_LIMIT)
    if mode == 1:
        while i + 1 < n and length < PLANE_COMPARE_LIMIT:
            count = data[i] + 1
            if count > PLANE_COMPARE_LIMIT - length:
                count = PLANE_COMPARE_LIMIT - length
            total += count * _popcount8(data[i + 1])
            length += count
            i += 2
        return total
    while i < n and length < PLANE_COMPARE_LIMIT:
        c = data[i]
        i += 1
        if c < 128:
            take = c + 1
            if take > n - i:
                take = n - i
            if take > PLANE_COMPARE_LIMIT - length:
                take = PLANE_COMPARE_LIMIT - length
            total += _popcount(data + i, take)
            length += take
            i += c + 1
        elif c > 128:
            if i < n:
                count = 257 - c
                if count > PLANE_COMPARE_LIMIT - length:
                    count = PLANE_COMPARE_LIMIT - length
                total += count * _popcount8(data[i])
                length += count
            i += 1
    return total


def _popcount_check(bytes data):
    """(hardware or default, portable) set-bit counts of ``data``: for the tests."""
    return pg_popcount(data, len(data)), pg_popcount_portable(data, len(data))


@cython.final
cdef class _PageRun:
    """Alike pages in a row, handed to the tally in one ``PageTally.add_pages`` call when the
    run breaks or ``flush`` is called (before anything reads the tally)."""

    cdef object tally
    cdef Py_ssize_t count
    cdef bint has_copies, color
    cdef long copies
    cdef int duplex        # -1: not said
    cdef object media

    def __cinit__(self, tally):
        self.tally = tally
        self.count = 0

    cdef int add(self, bint has_copies, long copies, int duplex, object media, bint color) except -1:
        if self.count:
            if (has_copies == self.has_copies and (not has_copies or copies == self.copies)
                    and duplex == self.duplex and color == self.color
                    and (media is self.media or media == self.media)):
                self.count += 1
                return 0
            self.flush()
        self.count = 1
        self.has_copies = has_copies
        self.copies = copies
        self.duplex = duplex
        self.media = media
        self.color = color
        return 0

    cdef int flush(self) except -1:
        cdef Py_ssize_t n = self.count
        if n:
            self.count = 0
            self.tally.add_pages(n, self.copies if self.has_copies else None,
                                 None if self.duplex < 0 else bool(self.duplex), self.media, bool(self.color))
        return 0


@cython.final
cdef class Pcl5Scanner:
    """Cython twin of ``spooler.pdl.pcl5.Pcl5Scanner``."""

    cdef public object tally
    cdef public list warnings
    cdef _PageRun _run
    cdef bytes _carry
    cdef Py_ssize_t _skip
    cdef int _payload_kind
    cdef unsigned char _cid[6]
    cdef int _cid_len
    cdef int _resume_c, _resume_g
    cdef bint _resume
    cdef bint _hpgl
    cdef HpglState _plotter
    cdef int _orientation, _default_orientation
    cdef bint _defining_macro
    cdef int _copies       # -1: not set
    cdef int _duplex       # -1: not set
    cdef object _media
    cdef int _planes, _plane_base
    cdef unsigned char _palette[256]
    cdef int _palette_len
    cdef bint _fg_neutral
    cdef double _component[3]
    cdef bint _raster_assume_color
    cdef bint _marked, _color, _front
    cdef int _plane_index
    cdef unsigned char* _ref          # the encoded payload of the plane being read
    cdef const unsigned char* _direct # ... or where it lies whole in the buffer being read
    cdef Py_ssize_t _direct_len
    cdef Py_ssize_t _ref_len, _ref_cap
    cdef bint _has_ref
    cdef bint _plane_overflow
    cdef unsigned char* _seed[3]      # decoded rows of the compared planes (seed rows)
    cdef Py_ssize_t _seed_len[3]
    # A seed row left encoded: a row in mode 0-2 (which does not read the seed) is kept as
    # it came (``_seed_mode`` its mode, -1 when ``_seed`` holds the row decoded) and decoded
    # only when a delta row (mode 3) needs it; on a page already colour nothing else reads it.
    cdef unsigned char* _enc[3]
    cdef Py_ssize_t _enc_len[3]
    cdef Py_ssize_t _enc_cap[3]
    # where the encoded row is: ``_enc[k]``, or the buffer being read, until the end of the
    # chunk (``_keep_seed_rows``): a plane's rows replace one another, only the last is copied
    cdef const unsigned char* _enc_at[3]
    cdef bint _enc_borrowed[3]
    cdef int _seed_mode[3]
    # the plane read just before in this row (mode 0-2, counted): identical encoded bytes
    # in the same mode decode to the same row, so its count is taken again
    cdef int _prev_k
    cdef long long _prev_bits
    cdef long long _band[3]
    cdef int _band_rows
    cdef long _compression
    cdef bint _plane_last
    # documents (a client's manual copies): see pcl5.Pcl5Scanner
    cdef Py_ssize_t _fed, _buf_base, _doc_start
    cdef bytes _buf
    cdef Py_ssize_t _docs
    cdef bint _docs_alike
    cdef bint _have_sig
    cdef long long _sig[5]     # the first document's (length, pages, impressions, sheets, colour)
    cdef unsigned char _doc_head[DOC_HEAD]        # the first bytes of the document being read
    cdef Py_ssize_t _doc_head_len
    cdef unsigned char _first_head[DOC_HEAD]      # ... and of the first document with pages
    cdef Py_ssize_t _first_head_len
    cdef long long _doc_pages, _doc_impressions, _doc_sheets, _doc_color
    # commands of the sequence being applied
    cdef int _cmd_final[MAX_COMMANDS]
    cdef double _cmd_value[MAX_COMMANDS]

    language = "pcl5"

    def __cinit__(self):
        cdef int k
        self._ref = NULL
        self._direct = NULL
        self._ref_len = 0
        self._ref_cap = 0
        self._has_ref = False
        for k in range(3):
            self._seed[k] = NULL  # allocated when first needed (a delta row; _grow_enc)
            self._enc[k] = NULL
            self._enc_cap[k] = 0
            self._enc_borrowed[k] = False
            self._seed_len[k] = 0
            self._seed_mode[k] = -1
        self._prev_k = -1

    def __dealloc__(self):
        cdef int k
        if self._ref != NULL:
            free(self._ref)
        for k in range(3):
            if self._seed[k] != NULL:
                free(self._seed[k])
            if self._enc[k] != NULL:
                free(self._enc[k])

    def __init__(self, tally, orientation=0):
        self.tally = tally
        self._run = _PageRun(tally)
        self.warnings = []
        self._default_orientation = orientation
        self._carry = b""
        self._skip = 0
        self._payload_kind = 0
        self._cid_len = 0
        self._resume = False
        self._hpgl = False
        _hpgl_reset(&self._plotter)
        self._defining_macro = False
        self._fed = 0
        self._buf = b""
        self._buf_base = 0
        self._docs = 0
        self._docs_alike = True
        self._have_sig = False
        self._doc_start = 0
        self._doc_head_len = 0
        self._first_head_len = 0
        self._doc_pages = self._doc_impressions = self._doc_sheets = self._doc_color = 0
        self._reset_environment()
        self._new_page()

    cdef int _doc_boundary(self, bytes data, Py_ssize_t pos) except -1:
        cdef long long sig[5]
        cdef int i
        if not self._docs_alike:
            return 0  # two documents differed: the section is not one document N times
        self._collect_head(data, pos)
        self._run.flush()
        t = self.tally
        sig[1] = <long long>t.pages - self._doc_pages
        if sig[1]:
            # pcl5: (length, head bytes, pages, impressions, sheets, colour), in C
            sig[0] = self._buf_base + pos - self._doc_start
            sig[2] = <long long>t.impressions - self._doc_impressions
            sig[3] = <long long>t.sheets - self._doc_sheets
            sig[4] = <long long>t.color_pages - self._doc_color
            if not self._have_sig:
                self._have_sig = True
                for i in range(5):
                    self._sig[i] = sig[i]
                memcpy(self._first_head, self._doc_head, self._doc_head_len)
                self._first_head_len = self._doc_head_len
            elif (sig[0] != self._sig[0] or sig[1] != self._sig[1] or sig[2] != self._sig[2]
                  or sig[3] != self._sig[3] or sig[4] != self._sig[4]
                  or self._doc_head_len != self._first_head_len
                  or memcmp(self._doc_head, self._first_head, self._doc_head_len) != 0):
                self._docs_alike = False
            self._docs += 1
            self._doc_pages += sig[1]
            self._doc_impressions += sig[2]
            self._doc_sheets += sig[3]
            self._doc_color += sig[4]
        # (no pages since the last boundary: no total of the tally has changed)
        self._doc_start = self._buf_base + pos
        self._doc_head_len = 0
        return 0

    cdef int _collect_head(self, bytes data, Py_ssize_t upto) except -1:
        cdef Py_ssize_t have = self._doc_head_len, lo, hi
        if have >= DOC_HEAD or not self._docs_alike:
            return 0
        lo = self._doc_start + have - self._buf_base
        hi = self._doc_start + DOC_HEAD - self._buf_base
        if upto < hi:
            hi = upto
        if hi > len(data):  # data[lo:hi] as Python slices it
            hi = len(data)
        if hi > lo >= 0:
            memcpy(self._doc_head + have, <const unsigned char*>data + lo, hi - lo)
            self._doc_head_len = have + hi - lo
        return 0

    def feed(self, data):
        cdef Py_ssize_t before = len(self._carry), total, done
        self._buf_base = self._fed - before
        self._fed += len(data)
        try:
            result = self._feed(data)
        finally:
            self._keep_seed_rows()
        if result is not None:
            self._fed -= len(result)
        total = before + len(data)
        done = total - (len(result) if result is not None else len(self._carry))
        self._collect_head(self._buf, done)
        self._buf = b""
        return result

    cdef void _reset_environment(self) noexcept:
        self._copies = -1
        self._duplex = -1
        self._media = None
        self._orientation = self._default_orientation
        _hpgl_reset(&self._plotter)
        self._planes = 1
        self._plane_base = 0
        self._set_palette(1)
        self._fg_neutral = True
        self._component[0] = self._component[1] = self._component[2] = 0
        self._raster_assume_color = False
        self._compression = 0
        self._reset_seeds()
        self._plane_index = 0
        self._band[0] = self._band[1] = self._band[2] = 0
        self._band_rows = 0

    cdef inline void _reset_seeds(self) noexcept:
        self._seed_len[0] = self._seed_len[1] = self._seed_len[2] = 0
        self._seed_mode[0] = self._seed_mode[1] = self._seed_mode[2] = -1
        self._enc_borrowed[0] = self._enc_borrowed[1] = self._enc_borrowed[2] = False
        self._prev_k = -1

    cdef void _set_palette(self, int kind) noexcept:
        cdef int i
        if kind == 1:
            self._palette_len = 2
            self._palette[0] = 1
            self._palette[1] = 1
        elif kind == -4:
            self._palette_len = 16
            self._palette[0] = 1
            for i in range(1, 7):
                self._palette[i] = 0
            for i in range(7, 16):
                self._palette[i] = 1
        else:
            self._palette_len = 8
            self._palette[0] = 1
            for i in range(1, 7):
                self._palette[i] = 0
            self._palette[7] = 1

    cdef void _new_page(self) noexcept:
        self._marked = False
        self._color = False
        self._front = False
        self._plane_index = 0
        self._band[0] = self._band[1] = self._band[2] = 0
        self._band_rows = 0

    cdef inline void _mark(self, bint color) noexcept:
        if not self._defining_macro:
            self._marked = True
            if color:
                self._color = True

    cdef int _eject(self) except -1:
        self._band_flush()
        if self._front:
            self._run.flush()
            self.tally.add_page(
                copies=None if self._copies < 0 else self._copies,
                duplex=None if self._duplex < 0 else bool(self._duplex),
                media=self._media, color=bool(self._color), front=True)
        else:
            self._run.add(self._copies >= 0, self._copies, self._duplex, self._media, self._color)
        self._new_page()
        return 0

    cdef int _eject_if_marked(self) except -1:
        if self._marked:
            self._eject()
        return 0

    cdef void _malformed(self):
        w = "malformed PCL escape sequence"
        if w not in self.warnings:
            self.warnings.append(w)

    cdef object _feed(self, data):
        cdef bytes buf
        if self._carry:
            buf = self._carry + data
            self._carry = b""
        else:
            buf = data
        self._buf = buf
        cdef const unsigned char* d = buf
        cdef Py_ssize_t pos = 0, end = len(buf), take, stop, r, k, v
        cdef Py_ssize_t next_esc = -1, next_ff = -1
        cdef int c
        cdef bint want_mark
        while pos < end:
            if self._skip:
                take = self._skip if self._skip < end - pos else end - pos
                if self._payload_kind:
                    self._payload(buf, d, pos, pos + take)
                self._skip -= take
                pos += take
                if self._skip == 0:
                    self._payload_done()
                continue
            if self._resume:
                r = self._escape(d, pos, end, True, self._resume_c)
                if r < 0:
                    self._carry = buf[pos:]
                    return None
                pos = r
                continue
            if self._hpgl:
                pos = self._scan_hpgl(d, pos, end)
                if pos >= end:
                    break
            # text up to the next ESC or FF
            want_mark = (not self._marked) or ((not self._color) and (not self._fg_neutral))
            stop = pos
            if want_mark:
                while stop < end and not PCL_SPECIAL[d[stop]]:
                    if PCL_MARKING[d[stop]]:
                        self._mark(not self._fg_neutral)
                        stop += 1
                        break
                    stop += 1
            if stop < end and not PCL_SPECIAL[d[stop]]:
                # the next ESC or FF: memchr for each, each found position kept until passed
                if next_esc < stop:
                    next_esc = _find(d, stop, end, 0x1B)
                if next_ff < stop:
                    next_ff = _find(d, stop, end, 0x0C)
                stop = next_esc if next_esc < next_ff else next_ff
            if stop >= end:
                return None
            pos = stop
            if d[pos] == 0x0C:
                self._eject()
                pos += 1
                continue
            if pos + 1 >= end:
                self._carry = buf[pos:]
                return None
            c = d[pos + 1]
            if 0x21 <= c <= 0x2F:
                if c == 0x25 and end - pos >= UEL_LEN and memcmp(d + pos, <const char*>UEL, UEL_LEN) == 0:
                    self._eject_if_marked()
                    return buf[pos:]
                if c == 0x25 and end - pos < UEL_LEN and memcmp(d + pos, <const char*>UEL, end - pos) == 0:
                    self._carry = buf[pos:]
                    return None
                if c == 0x2A and pos + 3 < end and d[pos + 2] == 0x62:
                    # ESC*b#W / ESC*b#V (a raster row or plane), the commonest sequence: what
                    # _escape and _command do with it, without their general parse
                    r = self._raster_rows(d, pos, end)
                    if r > pos:
                        pos = r
                        continue
                    k = pos + 3
                    v = 0
                    while k < end and k < pos + 12 and 0x30 <= d[k] <= 0x39:
                        v = v * 10 + (d[k] - 0x30)
                        k += 1
                    if pos + 3 < k < end and k < pos + 12 and (d[k] == 0x57 or d[k] == 0x56):
                        self._start_payload(0x2A, 0x62, d[k], v)
                        pos = k + 1
                        continue
                r = self._escape(d, pos + 2, end, False, c)
                if r == -1:
                    self._carry = buf[pos:]
                    return None
                if r == -2:
                    self._malformed()
                    pos += 2
                    continue
                pos = r
            elif 0x30 <= c <= 0x7E:
                if c == 0x45:
                    self._eject_if_marked()
                    self._doc_boundary(buf, pos)
                    self._reset_environment()
                    self._defining_macro = False
                pos += 2
            else:
                pos += 1
        return None

    cdef Py_ssize_t _raster_rows(self, const unsigned char* d, Py_ssize_t pos, Py_ssize_t end) except -1:
        """ESC*b#W / ESC*b#V raster rows and planes whose data lie whole in ``d[:end]``, one
        after another from ``pos``: what _escape, _command, _start_payload and _payload_done
        do with each, in one loop. Returns where it stopped (``pos`` when it took none)."""
        cdef Py_ssize_t k, v, start
        cdef int f
        while end - pos > 4 and d[pos] == 0x1B and d[pos + 1] == 0x2A and d[pos + 2] == 0x62:
            k = pos + 3
            v = 0
            while k < end and k < pos + 12 and 0x30 <= d[k] <= 0x39:
                v = v * 10 + (d[k] - 0x30)
                k += 1
            if not (pos + 3 < k < end and k < pos + 12):
                break
            f = d[k]
            if f != 0x57 and f != 0x56:
                break
            start = k + 1
            if v > end - start:
                break
            if v > 0:
                self._mark(self._raster_assume_color)
            if self._planes > 1:
                self._plane_row(d + start, v, v > PLANE_COMPARE_LIMIT, f == 0x57, True)
            pos = start + v
        return pos

    cdef Py_ssize_t _escape(self, const unsigned char* d, Py_ssize_t pos, Py_ssize_t end,
                            bint resume, int c) except -3:
        cdef Py_ssize_t p, start, q, digits_start, vstart
        cdef int group, t, final, n = 0, i
        cdef double value
        if resume:
            c = self._resume_c
            group = self._resume_g
            p = pos
            start = pos
        else:
            start = pos - 2
            p = pos
            if p >= end:
                return -1
            group = 0
            if 0x60 <= d[p] <= 0x7E:
                group = d[p]
                p += 1
        while True:
            if p - start > SEQUENCE_LIMIT:
                if resume:
                    self._resume = False
                    self._malformed()
                    return p
                return -2
            q = p
            if q < end and (d[q] == 0x2B or d[q] == 0x2D):
                q += 1
            digits_start = q
            while q < end and ((0x30 <= d[q] <= 0x39) or d[q] == 0x2E):
                q += 1
            if q - digits_start > VALUE_DIGITS_LIMIT:
                if resume:
                    self._resume = False
                    self._malformed()
                    return q
                return -2
            if q >= end:
                return -1
            t = d[q]
            if 0x60 <= t <= 0x7E:
                final = t - 0x20
                if n < MAX_COMMANDS:
                    self._cmd_final[n] = final
                    self._cmd_value[n] = _pcl_number(d + p, q - p)
                    n += 1
                p = q + 1
                if _is_payload(c, group, final):
                    break
                continue
            if 0x40 <= t <= 0x5E:
                if n < MAX_COMMANDS:
                    self._cmd_final[n] = t
                    self._cmd_value[n] = _pcl_number(d + p, q - p)
                    n += 1
                p = q + 1
                break
            if (not resume) and n == 0:
                return -2
            p = q
            break
        self._resume = False
        for i in range(n):
            self._command(c, group, self._cmd_final[i], self._cmd_value[i])
        if n and _is_payload(c, group, self._cmd_final[n - 1]):
            if 0x60 <= d[p - 1] <= 0x7E:
                self._resume = True
                self._resume_c = c
                self._resume_g = group
        return p

    cdef int _command(self, int c, int group, int final, double value) except -1:
        cdef long iv = <long>value if (-2147483648.0 < value < 2147483648.0) else 0
        cdef long o
        cdef Py_ssize_t n
        if _is_payload(c, group, final):
            n = iv if iv > 0 else 0
            self._start_payload(c, group, final, n)
            return 0
        if c == 0x26 and group == 0x6C:
            if final == 0x58:
                if iv >= 1:
                    self._copies = iv if iv < 2147483647 else 2147483647
            elif final == 0x53:
                self._eject_if_marked()
                if iv == 0 or iv == 1 or iv == 2:
                    self._duplex = 1 if iv != 0 else 0
            elif final == 0x41:
                self._eject_if_marked()
                if iv in _PCL_PAGE_SIZES:
                    self._media = _PCL_PAGE_SIZES[iv]
            elif final == 0x48:
                self._eject_if_marked()
            elif final == 0x4F:
                o = -iv if iv < 0 else iv
                if o <= 3 and o != self._orientation:
                    self._eject_if_marked()
                    self._orientation = o
            elif final == 0x4D:
                if -4 <= iv <= 4:
                    self._eject_if_marked()
        elif c == 0x26 and group == 0x61 and final == 0x47:
            self._eject_if_marked()
            if iv == 1:
                self._front = True
        elif c == 0x26 and group == 0x66 and final == 0x58:
            if iv == 0:
                self._defining_macro = True
            elif iv == 1:
                self._defining_macro = False
            elif iv == 2 or iv == 3:
                self._mark(not self._fg_neutral)
        elif c == 0x25 and group == 0:
            if final == 0x42:
                self._hpgl = True
        elif c == 0x2A and group == 0x72:
            if final == 0x55:
                self._set_planes(iv)
            elif final == 0x41 or final == 0x42 or final == 0x43:
                self._band_flush()
                self._reset_seeds()
                self._plane_index = 0
        elif c == 0x2A and group == 0x62:
            if final == 0x4D:
                self._compression = iv
            elif final == 0x59:
                self._reset_seeds()
        elif c == 0x2A and group == 0x76:
            if final == 0x41 or final == 0x42 or final == 0x43:
                self._component[final - 0x41] = value
            elif final == 0x49:
                if 0 <= iv < 256:
                    while self._palette_len <= iv:
                        self._palette[self._palette_len] = 1
                        self._palette_len += 1
                    self._palette[iv] = (self._component[0] == self._component[1]
                                         and self._component[1] == self._component[2])
            elif final == 0x53:
                self._fg_neutral = self._palette[iv] if 0 <= iv < self._palette_len else True
        elif c == 0x2A and group == 0x63 and final == 0x50:
            if iv != 1:
                self._mark((iv == 0 or iv == 5) and not self._fg_neutral)
        return 0

    cdef void _set_planes(self, long iv) noexcept:
        if iv == 3 or iv == -3:
            self._planes = 3
            self._plane_base = 0
        elif iv == -4:
            self._planes = 4
            self._plane_base = 1
        else:
            iv = 1
            self._planes = 1
            self._plane_base = 0
        self._set_palette(iv)
        self._fg_neutral = True
        self._raster_assume_color = False
        self._reset_seeds()
        self._plane_index = 0

    cdef int _start_payload(self, int c, int group, int final, Py_ssize_t n) except -1:
        self._payload_kind = 0
        if c == 0x2A and group == 0x62:
            if n > 0:
                self._mark(self._raster_assume_color)
            if self._planes > 1:
                self._payload_kind = 1
                self._plane_start(n, final == 0x57)
        elif c == 0x2A and group == 0x76:
            self._payload_kind = 2
            self._cid_len = 0
        elif c == 0x26 and group == 0x70:
            if n > 0:
                self._mark(not self._fg_neutral)
        self._skip = n
        if n == 0:
            self._payload_done()
        return 0

    cdef void _plane_start(self, Py_ssize_t n, bint last) noexcept:
        cdef Py_ssize_t k
        self._plane_last = last
        k = self._plane_index - self._plane_base
        self._has_ref = 0 <= k <= 2
        self._ref_len = 0
        self._direct = NULL
        self._plane_overflow = n > PLANE_COMPARE_LIMIT

    cdef int _payload(self, bytes buf, const unsigned char* d, Py_ssize_t start, Py_ssize_t stop) except -1:
        cdef Py_ssize_t need, i
        if self._payload_kind == 1:
            if self._has_ref and not self._plane_overflow:
                if self._ref_len == 0 and stop - start == self._skip:
                    # the whole plane is in this buffer: decoded from here (_payload_done
                    # follows at once), not copied
                    self._direct = d + start
                    self._direct_len = stop - start
                else:
                    self._ref_append(d + start, stop - start)
        elif self._payload_kind == 2:
            need = 6 - self._cid_len
            i = start
            while need > 0 and i < stop:
                self._cid[self._cid_len] = d[i]
                self._cid_len += 1
                need -= 1
                i += 1
        return 0

    cdef int _ref_append(self, const unsigned char* p, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap
        cdef unsigned char* grown
        if self._ref_len + n > self._ref_cap:
            cap = self._ref_cap * 2 if self._ref_cap else 4096
            while cap < self._ref_len + n:
                cap *= 2
            grown = <unsigned char*>realloc(self._ref, cap)
            if grown == NULL:
                raise MemoryError()
            self._ref = grown
            self._ref_cap = cap
        memcpy(self._ref + self._ref_len, p, n)
        self._ref_len += n
        return 0

    cdef int _payload_done(self) except -1:
        cdef int kind = self._payload_kind
        self._payload_kind = 0
        if kind == 1:
            if self._direct != NULL:
                self._plane_row(self._direct, self._direct_len, self._plane_overflow, self._plane_last, True)
                self._direct = NULL
            else:
                self._plane_row(self._ref, self._ref_len, self._plane_overflow, self._plane_last, False)
        elif kind == 2:
            self._configure_image_data()
        return 0

    cdef inline int _plane_row(self, const unsigned char* src, Py_ssize_t n, bint overflow, bint last,
                               bint in_buffer) except -1:
        """One plane of a raster row has been read whole (``src[:n]``, or more than
        ``PLANE_COMPARE_LIMIT`` bytes when ``overflow``); ``last`` ends the row. ``in_buffer``:
        ``src`` lies in the buffer being read (it stays there until the end of the chunk)."""
        cdef Py_ssize_t k = self._plane_index - self._plane_base, missing
        if 0 <= k <= 2:
            self._decode_plane(k, src, n, overflow, in_buffer)
        self._plane_index += 1
        if last:
            missing = self._plane_index - self._plane_base
            if missing < 0:
                missing = 0
            while missing < 3:
                self._seed_len[missing] = 0
                self._seed_mode[missing] = -1
                self._enc_borrowed[missing] = False
                missing += 1
            self._prev_k = -1
            self._band_rows += 1
            if self._band_rows >= BAND_ROWS:
                self._band_flush()
            self._plane_index = 0
        return 0

    cdef int _decode_plane(self, Py_ssize_t k, const unsigned char* src, Py_ssize_t n, bint overflow,
                           bint in_buffer) except -1:
        cdef long mode = self._compression
        cdef long long bits
        cdef int prev = self._prev_k
        self._prev_k = -1
        if overflow or not (0 <= mode <= 3):
            self._mark(True)
            w = "raster colour not decoded (compression mode or size); its pages count as colour"
            if w not in self.warnings:
                self.warnings.append(w)
            return 0
        if mode == 3:
            if self._seed[k] == NULL:
                self._seed[k] = <unsigned char*>malloc(PLANE_COMPARE_LIMIT)
                if self._seed[k] == NULL:
                    raise MemoryError()
            self._seed_decoded(k)
            self._seed_len[k] = _decode_row(mode, src, n, self._seed[k], self._seed_len[k])
            if not self._color:  # the bands can only make the page colour
                self._band[k] += _popcount(self._seed[k], self._seed_len[k])
            return 0
        # modes 0-2 replace the seed whatever it was: kept encoded, counted from the encoding
        if in_buffer:
            self._enc_at[k] = src
            self._enc_borrowed[k] = True
        else:
            if n > self._enc_cap[k] or self._enc[k] == NULL:
                self._grow_enc(k, n)
            memcpy(self._enc[k], src, n)
            self._enc_at[k] = self._enc[k]
            self._enc_borrowed[k] = False
        self._enc_len[k] = n
        self._seed_mode[k] = <int>mode
        if self._color:
            return 0
        # (not when the plane before is this very one, read again after a page ended mid-row:
        # its row was just replaced by this one)
        if (prev >= 0 and prev != k and self._seed_mode[prev] == mode and self._enc_len[prev] == n
                and pg_same(self._enc_at[prev], src, n)):
            bits = self._prev_bits
        else:
            bits = _row_bits(mode, src, n)
        self._band[k] += bits
        self._prev_k = <int>k
        self._prev_bits = bits
        return 0

    cdef int _keep_seed_rows(self) except -1:
        """Copy the encoded seed rows still in the buffer being read before it goes."""
        cdef int k
        for k in range(3):
            if self._enc_borrowed[k]:
                if self._enc_len[k] > self._enc_cap[k] or self._enc[k] == NULL:
                    self._grow_enc(k, self._enc_len[k])
                memcpy(self._enc[k], self._enc_at[k], self._enc_len[k])
                self._enc_at[k] = self._enc[k]
                self._enc_borrowed[k] = False
        return 0

    cdef int _grow_enc(self, Py_ssize_t k, Py_ssize_t n) except -1:
        """Room for ``n`` (at most ``PLANE_COMPARE_LIMIT``) encoded bytes of plane ``k``:
        grown as rows need it, so a job of short rows keeps short buffers."""
        cdef Py_ssize_t cap = self._enc_cap[k] * 2 if self._enc_cap[k] else 256
        cdef unsigned char* grown
        while cap < n:
            cap *= 2
        grown = <unsigned char*>realloc(self._enc[k], cap)
        if grown == NULL:
            raise MemoryError()
        self._enc[k] = grown
        self._enc_cap[k] = cap
        return 0

    cdef inline void _seed_decoded(self, Py_ssize_t k) noexcept:
        """Decode seed row ``k`` if it was left encoded."""
        if self._seed_mode[k] >= 0:
            self._seed_len[k] = _decode_row(self._seed_mode[k], self._enc_at[k], self._enc_len[k], self._seed[k], 0)
            self._seed_mode[k] = -1

    cdef void _band_flush(self) noexcept:
        cdef long long high, low
        if self._band_rows:
            high = self._band[0]
            low = self._band[0]
            if self._band[1] > high: high = self._band[1]
            if self._band[2] > high: high = self._band[2]
            if self._band[1] < low: low = self._band[1]
            if self._band[2] < low: low = self._band[2]
            if 5 * (high - low) > high + 256:
                self._mark(True)
        self._band[0] = self._band[1] = self._band[2] = 0
        self._band_rows = 0

    cdef int _configure_image_data(self) except -1:
        cdef int space, encoding
        if self._cid_len < 2:
            return 0
        space = self._cid[0]
        encoding = self._cid[1]
        self._palette_len = 2
        self._palette[0] = 1
        self._palette[1] = 1
        self._fg_neutral = True
        self._reset_seeds()
        self._plane_index = 0
        if (space == 0 or space == 1) and encoding == 2:
            self._planes = 3
            self._plane_base = 0
            self._raster_assume_color = False
        else:
            self._planes = 1
            self._plane_base = 0
            self._raster_assume_color = not (encoding == 0 and self._cid_len > 2 and self._cid[2] == 1)
            if self._raster_assume_color:
                w = "raster colour not decoded for this CID colour space; its pages count as colour"
                if w not in self.warnings:
                    self.warnings.append(w)
        return 0

    cdef Py_ssize_t _scan_hpgl(self, const unsigned char* d, Py_ssize_t pos, Py_ssize_t end):
        cdef const unsigned char* hit = <const unsigned char*>memchr(d + pos, 0x1B, end - pos)
        cdef Py_ssize_t stop = (hit - d) if hit != NULL else end
        if _hpgl_feed(&self._plotter, d, pos, stop):
            self._mark(False)
        if stop < end:
            self._hpgl = False
            if _hpgl_end(&self._plotter):
                self._mark(False)
        return stop

    def close(self):
        self._close_streams()
        self._buf_base = self._fed
        self._doc_boundary(b"", 0)
        self._run.flush()
        if self._docs >= 2 and self._docs_alike:
            self.tally.fold_copies(self._docs)
            self.warnings.append(f"the same document {self._docs} times: counted as {self._docs} copies")

    cdef int _close_streams(self) except -1:
        if self._carry and not self._skip:
            w = "PCL stream ends inside an escape sequence"
            if w not in self.warnings:
                self.warnings.append(w)
        if self._skip:
            self.warnings.append("PCL stream ends inside binary data (truncated job)")
        self._carry = b""
        self._eject_if_marked()
        return 0


# ----------------------------------------------------------------------------------------------
# PCL XL
# ----------------------------------------------------------------------------------------------

DEF ARRAY_KEEP = 1024
DEF HEADER_LIMIT = 256
DEF K_NONE = 0
DEF K_INT = 1
DEF K_REAL = 2
DEF K_ARRAY = 3
DEF K_XY = 4
DEF N_SLOTS = 12

# attribute id -> slot
cdef int XL_SLOT[256]
for _i in range(256):
    XL_SLOT[_i] = -1
# PaletteData, RGBColor, ColorSpace, MediaSize, PageCopies, Simplex, Duplex,
# ColorDepth, ColorMapping, CompressMode, SourceWidth, PadBytes
XL_SLOT[6] = 0
XL_SLOT[11] = 1
XL_SLOT[3] = 2
XL_SLOT[37] = 3
XL_SLOT[49] = 4
XL_SLOT[52] = 5
XL_SLOT[53] = 6
XL_SLOT[98] = 7
XL_SLOT[100] = 8
XL_SLOT[101] = 9
XL_SLOT[108] = 10
XL_SLOT[110] = 11
DEF S_PALETTE = 0
DEF S_RGB = 1
DEF S_CSPACE = 2
DEF S_MEDIA = 3
DEF S_COPIES = 4
DEF S_SIMPLEX = 5
DEF S_DUPLEX = 6
DEF S_DEPTH = 7
DEF S_MAPPING = 8
DEF S_COMPRESS = 9
DEF S_WIDTH = 10
DEF S_PAD = 11

cdef unsigned char XL_WS[256]
cdef int XL_SCALAR[256]
for _i in range(256):
    XL_WS[_i] = 1 if _i in (0, 9, 10, 11, 12, 13, 32) else 0
    XL_SCALAR[_i] = 0
XL_SCALAR[0xC0] = 1
XL_SCALAR[0xC1] = 2
XL_SCALAR[0xC2] = 4
XL_SCALAR[0xC3] = 2
XL_SCALAR[0xC4] = 4
XL_SCALAR[0xC5] = 4


cdef unsigned char XL_OP_ACTS[256]
for _i in range(256):
    XL_OP_ACTS[_i] = 1 if _i in (0x43, 0x44, 0x6A, 0x63, 0x79, 0xB0, 0xB1, 0xB2) else 0

# Classes of a token's first byte for the byte loop's fast paths (XC_OTHER: PclXlScanner._token).
DEF XC_OTHER = 0
DEF XC_WS = 1
DEF XC_UBYTE = 2
DEF XC_ATTR = 3
DEF XC_OP = 4
DEF XC_XY = 5
DEF XC_ARRAY = 6
DEF XC_SCALAR = 7
cdef unsigned char XL_CLASS[256]
for _i in range(256):
    if XL_WS[_i]:
        XL_CLASS[_i] = XC_WS
    elif _i == 0xC0:
        XL_CLASS[_i] = XC_UBYTE
    elif _i == 0xF8:
        XL_CLASS[_i] = XC_ATTR
    elif 0x40 <= _i <= 0xBF and not XL_OP_ACTS[_i]:
        XL_CLASS[_i] = XC_OP
    elif 0xD0 <= _i <= 0xD5:
        XL_CLASS[_i] = XC_XY
    elif 0xC8 <= _i <= 0xCD:
        XL_CLASS[_i] = XC_ARRAY
    elif 0xC1 <= _i <= 0xC5:
        XL_CLASS[_i] = XC_SCALAR
    else:
        XL_CLASS[_i] = XC_OTHER


cdef struct XlValue:
    int kind
    double num            # scalar value
    int tag               # element tag of an array
    int count             # elements of an array
    unsigned char raw[ARRAY_KEEP]


@cython.final
cdef class PclXlScanner:
    """Cython twin of ``spooler.pdl.pclxl.PclXlScanner``."""

    cdef public object tally
    cdef public list warnings
    cdef public object failed
    cdef _PageRun _run
    cdef bytes _carry
    cdef bint _header, _big
    cdef Py_ssize_t _skip
    cdef XlValue _value
    cdef bint _have_value
    cdef const unsigned char* _value_ptr   # array bytes still in the caller's buffer (deferred copy)
    cdef bint _value_deferred
    cdef bint _any_attr
    cdef XlValue _attrs[N_SLOTS]
    cdef bint _has[N_SLOTS]
    cdef XlValue _page_attrs[N_SLOTS]
    cdef bint _page_has[N_SLOTS]
    cdef long _color_space
    cdef bint _palette_neutral
    cdef int _image_mode
    cdef long _image_width, _image_pad
    cdef bint _image_rle
    cdef bint _in_page, _page_color
    # pixel check of the embedded data being skipped
    cdef bint _checking
    cdef long _px_pixels, _px_row_bytes, _px_col
    cdef int _px_r, _px_g
    cdef bint _px_rle
    cdef long _px_ctl, _px_repeat

    language = "pclxl"

    def __init__(self, tally):
        self.tally = tally
        self._run = _PageRun(tally)
        self.warnings = []
        self.failed = None
        self._carry = b""
        self._header = True
        self._big = False
        self._skip = 0
        self._have_value = False
        self._value_deferred = False
        self._any_attr = False
        cdef int i
        for i in range(N_SLOTS):
            self._has[i] = False
            self._page_has[i] = False
        self._color_space = 1
        self._palette_neutral = True
        self._image_mode = 0
        self._image_width = 0
        self._image_pad = 4
        self._image_rle = False
        self._in_page = False
        self._page_color = False
        self._checking = False

    cdef object _find_uel(self, bytes buf, Py_ssize_t pos):
        i = buf.find(UEL, pos)
        if i >= 0:
            return buf[i:]
        cdef Py_ssize_t keep = min(UEL_LEN - 1, len(buf) - pos)
        self._carry = buf[len(buf) - keep:] if keep > 0 else b""
        return None

    cdef object _fail(self, str why, bytes buf, Py_ssize_t pos):
        self.failed = why
        self.warnings.append(why)
        return self._find_uel(buf, pos)

    cdef inline double _num(self, const unsigned char* p, int tag) noexcept:
        cdef unsigned int u
        cdef float f
        if tag == 0xC0:
            return p[0]
        if tag == 0xC1 or tag == 0xC3:
            if self._big:
                u = (p[0] << 8) | p[1]
            else:
                u = p[0] | (p[1] << 8)
            if tag == 0xC3:
                return <double><short>u
            return <double>u
        if self._big:
            u = (<unsigned int>p[0] << 24) | (<unsigned int>p[1] << 16) | (<unsigned int>p[2] << 8) | p[3]
        else:
            u = p[0] | (<unsigned int>p[1] << 8) | (<unsigned int>p[2] << 16) | (<unsigned int>p[3] << 24)
        if tag == 0xC2:
            return <double>u
        if tag == 0xC4:
            return <double><int>u
        memcpy(&f, &u, 4)
        return <double>f

    def feed(self, data):
        cdef bytes buf
        if self._carry:
            buf = self._carry + data
            self._carry = b""
        else:
            buf = data
        cdef const unsigned char* d = buf
        cdef Py_ssize_t pos = 0, end = len(buf), take, nl, r
        cdef int b, binding, cls
        if self.failed:
            return self._find_uel(buf, 0)
        while pos < end:
            if self._skip:
                take = self._skip if self._skip < end - pos else end - pos
                if self._checking:
                    if self._pixels(d, pos, pos + take):
                        self._page_color = True
                        self._checking = False
                self._skip -= take
                pos += take
                if self._skip == 0:
                    self._checking = False
                continue
            if self._header:
                hit = <const unsigned char*>memchr(d + pos, 0x0A, end - pos)
                if hit == NULL:
                    if end - pos > HEADER_LIMIT:
                        return self._fail("PCL XL stream header too long", buf, pos)
                    self._carry = buf[pos:]
                    return None
                nl = hit - d
                binding = d[pos]
                if binding == 0x28:
                    self._big = True
                elif binding == 0x29:
                    self._big = False
                else:
                    return self._fail("PCL XL ASCII binding is not supported", buf, pos)
                self._header = False
                pos = nl + 1
                continue
            # the commonest tokens, inline (a switch on the byte's class): whitespace, ubyte
            # values, xy pairs, attribute ids we do not keep, operators that change nothing
            while pos < end:
                b = d[pos]
                # the two commonest groups of a text run, by their exact first bytes (a branch
                # the CPU predicts, where a table lookup would make the next position wait on
                # a load): a 16-bit xy pair (SetCursor) and a one-element ubyte array (Text),
                # each with an attribute we do not keep; anything else goes the general way
                if (b == 0xD1 or b == 0xD3) and end - pos >= 8 and d[pos + 5] == 0xF8 and XL_SLOT[d[pos + 6]] < 0:
                    self._have_value = False
                    self._value_deferred = False
                    pos = self._op_after(d, pos + 7, end)
                    continue
                if b == 0xC8 and end - pos >= 7 and d[pos + 1] == 0xC0 and d[pos + 2] == 1 and d[pos + 4] == 0xF8 and XL_SLOT[d[pos + 5]] < 0:
                    self._have_value = False
                    self._value_deferred = False
                    pos = self._op_after(d, pos + 6, end)
                    continue
                cls = XL_CLASS[b]
                if cls == XC_WS:
                    pos += 1
                elif cls == XC_UBYTE:
                    if pos + 2 > end:
                        break
                    if pos + 4 <= end and d[pos + 2] == 0xF8 and XL_SLOT[d[pos + 3]] < 0:
                        # the value named by an attribute we do not keep: both tokens at once
                        self._have_value = False
                        self._value_deferred = False
                        pos = self._op_after(d, pos + 4, end)
                        continue
                    self._value.kind = K_INT
                    self._value.num = d[pos + 1]
                    self._have_value = True
                    self._value_deferred = False
                    pos += 2
                elif cls == XC_ATTR:
                    if pos + 2 > end or XL_SLOT[d[pos + 1]] >= 0:
                        break
                    self._have_value = False
                    self._value_deferred = False
                    pos += 2
                elif cls == XC_OP:
                    if self._any_attr:
                        self._clear_attrs()
                    self._have_value = False
                    self._value_deferred = False
                    pos += 1
                elif cls == XC_ARRAY:
                    # an array named by an attribute we do not keep (text, glyph widths):
                    # skipped with the attribute; anything else goes through _token
                    if pos + 3 > end or d[pos + 1] != 0xC0:
                        break
                    r = pos + 3 + d[pos + 2] * XL_SCALAR[b - 8]
                    if r - pos - 3 > ARRAY_KEEP or r + 2 > end or d[r] != 0xF8 or XL_SLOT[d[r + 1]] >= 0:
                        break
                    self._have_value = False
                    self._value_deferred = False
                    pos = self._op_after(d, r + 2, end)
                elif cls == XC_SCALAR:
                    r = pos + 1 + XL_SCALAR[b]
                    if r + 2 > end or d[r] != 0xF8 or XL_SLOT[d[r + 1]] >= 0:
                        break
                    self._have_value = False
                    self._value_deferred = False
                    pos = self._op_after(d, r + 2, end)
                elif cls == XC_XY:
                    r = pos + 1 + 2 * XL_SCALAR[b - 0x10]
                    if r > end:
                        break
                    if r + 2 <= end and d[r] == 0xF8 and XL_SLOT[d[r + 1]] < 0:
                        self._have_value = False
                        self._value_deferred = False
                        pos = self._op_after(d, r + 2, end)
                        continue
                    self._value.kind = K_XY
                    self._have_value = True
                    self._value_deferred = False
                    pos = r
                else:
                    break
            if pos >= end:
                break
            b = d[pos]
            r = self._token(d, pos, end, b)
            if r == -1:
                self._materialize()
                self._carry = buf[pos:]
                return None
            if r == -2:
                self._materialize()
                if b == 0x1B:
                    self._end_section()
                    return buf[pos:]
                return self._fail(f"PCL XL grammar broken at byte 0x{b:02x}", buf, pos)
            pos = r
        self._materialize()
        return None

    cdef inline Py_ssize_t _op_after(self, const unsigned char* d, Py_ssize_t pos, Py_ssize_t end) noexcept:
        """After a value and its attribute, the operator that usually follows (one that
        changes nothing we count), taken at once; returns where the next token starts."""
        if pos < end and XL_CLASS[d[pos]] == XC_OP:
            if self._any_attr:
                self._clear_attrs()
            return pos + 1
        return pos

    cdef inline void _materialize(self) noexcept:
        """Copy a deferred array value out of the caller's buffer before it goes away."""
        if self._value_deferred:
            memcpy(self._value.raw, self._value_ptr, self._value.count * XL_SCALAR[self._value.tag])
            self._value_deferred = False

    cdef inline void _clear_attrs(self) noexcept:
        cdef int i
        for i in range(N_SLOTS):
            self._has[i] = False
        self._any_attr = False

    cdef Py_ssize_t _token(self, const unsigned char* d, Py_ssize_t pos, Py_ssize_t end, int b) except -3:
        cdef int size, ltag, lsize, esize, tag, slot, attr, i
        cdef Py_ssize_t start, total, n
        cdef double length
        size = XL_SCALAR[b]
        if size:
            if pos + 1 + size > end:
                return -1
            self._value.kind = K_REAL if b == 0xC5 else K_INT
            self._value.num = self._num(d + pos + 1, b)
            self._have_value = True
            self._value_deferred = False
            return pos + 1 + size
        if 0xC8 <= b <= 0xCD:
            if pos + 2 > end:
                return -1
            ltag = d[pos + 1]
            if ltag != 0xC0 and ltag != 0xC1:
                return -2
            lsize = XL_SCALAR[ltag]
            if pos + 2 + lsize > end:
                return -1
            n = <Py_ssize_t>self._num(d + pos + 2, ltag)
            tag = b - 8
            esize = XL_SCALAR[tag]
            start = pos + 2 + lsize
            total = n * esize
            if total > ARRAY_KEEP:
                self._value.kind = K_NONE
                self._have_value = True
                self._value_deferred = False
                self._skip = total
                return start
            if start + total > end:
                return -1
            self._value.kind = K_ARRAY
            self._value.tag = tag
            self._value.count = <int>n
            self._value_ptr = d + start
            self._value_deferred = True
            self._have_value = True
            return start + total
        if 0xD0 <= b <= 0xD5:
            size = XL_SCALAR[b - 0x10]
            if pos + 1 + 2 * size > end:
                return -1
            self._value.kind = K_XY
            self._have_value = True
            self._value_deferred = False
            return pos + 1 + 2 * size
        if 0xE0 <= b <= 0xE5:
            size = XL_SCALAR[b - 0x20]
            if pos + 1 + 4 * size > end:
                return -1
            self._value.kind = K_NONE
            self._have_value = True
            self._value_deferred = False
            return pos + 1 + 4 * size
        if b == 0xF8 or b == 0xF9:
            n = 2 if b == 0xF8 else 3
            if pos + n > end:
                return -1
            attr = d[pos + 1] if b == 0xF8 else <int>self._num(d + pos + 1, 0xC1)
            slot = XL_SLOT[attr] if attr < 256 else -1
            if slot >= 0:
                self._materialize()
                if self._have_value:
                    self._copy_value(&self._attrs[slot], &self._value)
                else:
                    self._attrs[slot].kind = K_NONE
                self._has[slot] = True
                self._any_attr = True
            self._have_value = False
            self._value_deferred = False
            return pos + n
        if b == 0xFA or b == 0xFB:
            n = 5 if b == 0xFA else 2
            if pos + n > end:
                return -1
            length = self._num(d + pos + 1, 0xC2) if b == 0xFA else d[pos + 1]
            self._skip = <Py_ssize_t>length
            if self._image_mode == 1 and self._skip:
                self._pixel_start()
            elif self._image_mode == 2 and self._skip:
                self._page_color = True
            return pos + n
        if 0x40 <= b <= 0xBF:
            self._operator(b)
            self._clear_attrs()
            self._have_value = False
            self._value_deferred = False
            return pos + 1
        return -2

    cdef inline void _copy_value(self, XlValue* dst, XlValue* src) noexcept:
        dst.kind = src.kind
        dst.num = src.num
        dst.tag = src.tag
        dst.count = src.count
        if src.kind == K_ARRAY:
            memcpy(dst.raw, src.raw, src.count * XL_SCALAR[src.tag])

    cdef inline double _elem(self, XlValue* v, int i) noexcept:
        return self._num(v.raw + i * XL_SCALAR[v.tag], v.tag)

    cdef bint _int_attr(self, bint* has, XlValue* attrs, int slot, long* out) noexcept:
        if has[slot] and attrs[slot].kind == K_INT:
            out[0] = <long>attrs[slot].num
            return True
        return False

    cdef double _num_attr(self, int slot, double default) noexcept:
        if self._has[slot] and (self._attrs[slot].kind == K_INT or self._attrs[slot].kind == K_REAL):
            return self._attrs[slot].num
        return default

    cdef int _operator(self, int op) except -1:
        cdef int i
        cdef long v, width, pad
        cdef double mapping, depth, mode
        cdef XlValue* rgb
        if op == 0x43:  # BeginPage
            if self._in_page:
                self._end_page()
            self._in_page = True
            self._page_color = False
            for i in range(N_SLOTS):
                self._page_has[i] = self._has[i]
                if self._has[i]:
                    self._copy_value(&self._page_attrs[i], &self._attrs[i])
        elif op == 0x44:  # EndPage
            if not self._in_page:
                for i in range(N_SLOTS):
                    self._page_has[i] = False
                self._page_color = False
            if self._has[S_COPIES]:
                self._page_has[S_COPIES] = True
                self._copy_value(&self._page_attrs[S_COPIES], &self._attrs[S_COPIES])
            self._end_page()
        elif op == 0x6A:  # SetColorSpace
            if self._int_attr(self._has, self._attrs, S_CSPACE, &v):
                self._color_space = v
            else:
                self._color_space = 1
            self._palette_neutral = self._palette_is_neutral()
        elif op == 0x63 or op == 0x79:
            if self._has[S_RGB] and self._attrs[S_RGB].kind != K_NONE and self._color_space != 1:
                rgb = &self._attrs[S_RGB]
                if rgb.kind != K_ARRAY or rgb.count < 3:
                    self._page_color = True
                elif not (self._elem(rgb, 0) == self._elem(rgb, 1) and self._elem(rgb, 1) == self._elem(rgb, 2)):
                    self._page_color = True
        elif op == 0xB0:  # BeginImage
            mapping = self._num_attr(S_MAPPING, 0)
            depth = self._num_attr(S_DEPTH, 2)
            if self._color_space == 1:
                self._image_mode = 0
            elif mapping == 1:
                self._image_mode = 0 if self._palette_neutral else 2
            elif depth == 2 and self._int_attr(self._has, self._attrs, S_WIDTH, &width):
                self._image_mode = 1
                self._image_width = width
                if not self._int_attr(self._has, self._attrs, S_PAD, &pad):
                    pad = 4
                self._image_pad = pad if pad > 0 else 4
            else:
                self._image_mode = 2
        elif op == 0xB1:  # ReadImage
            mode = self._num_attr(S_COMPRESS, 0)
            self._image_rle = mode == 1
            if self._image_mode == 1 and not (mode == 0 or mode == 1):
                self._image_mode = 2
        elif op == 0xB2:
            self._image_mode = 0
        return 0

    cdef bint _palette_is_neutral(self) noexcept:
        cdef XlValue* pal
        cdef int i, size
        cdef const unsigned char* raw
        if not self._has[S_PALETTE] or self._attrs[S_PALETTE].kind == K_NONE or self._color_space == 1:
            return True
        pal = &self._attrs[S_PALETTE]
        if pal.kind != K_ARRAY:
            return False
        i = 0
        if pal.tag != 0xC5:
            # integers: equal values are equal bytes (a real may not be: NaN, -0)
            size = XL_SCALAR[pal.tag]
            raw = pal.raw
            while i < pal.count - 2:
                if memcmp(raw, raw + size, size) != 0 or memcmp(raw, raw + 2 * size, size) != 0:
                    return False
                raw += 3 * size
                i += 3
            return True
        while i < pal.count - 2:
            if not (self._elem(pal, i) == self._elem(pal, i + 1) and self._elem(pal, i + 1) == self._elem(pal, i + 2)):
                return False
            i += 3
        return True

    cdef int _end_page(self) except -1:
        cdef long copies_v = 0
        cdef XlValue* m
        cdef bint has_copies = self._int_attr(self._page_has, self._page_attrs, S_COPIES, &copies_v)
        cdef int duplex = -1
        if self._page_has[S_DUPLEX]:
            duplex = 1
        elif self._page_has[S_SIMPLEX]:
            duplex = 0
        media = None
        if self._page_has[S_MEDIA]:
            m = &self._page_attrs[S_MEDIA]
            if m.kind == K_INT:
                media = _XL_MEDIA_SIZES.get(<long>m.num)
            elif m.kind == K_ARRAY and m.tag == 0xC0:
                name = (<char*>m.raw)[:m.count]
                media = _XL_MEDIA_NAMES.get(name.upper().strip(b"\x00 "))
        if has_copies and copies_v == 0:
            if _XL_NO_COPIES not in self.warnings:
                self.warnings.append(_XL_NO_COPIES)
        else:
            self._run.add(has_copies, copies_v, duplex, media, self._page_color)
        self._in_page = False
        self._page_color = False
        for i in range(N_SLOTS):
            self._page_has[i] = False
        return 0

    cdef void _pixel_start(self) noexcept:
        cdef long row = self._image_width * 3
        self._checking = True
        self._px_pixels = row
        if self._image_pad > 1:
            # only the sign matters when row < 0 (no check is made), so C division is fine
            self._px_row_bytes = (row + self._image_pad - 1) // self._image_pad * self._image_pad
        else:
            self._px_row_bytes = row
        self._px_col = 0
        self._px_r = self._px_g = 0
        self._px_rle = self._image_rle
        self._px_ctl = 0
        self._px_repeat = 0

    cdef inline bint _pixel_byte(self, int v) noexcept:
        cdef long col = self._px_col
        cdef long k
        if col < self._px_pixels:
            k = col % 3
            if k == 0:
                self._px_r = v
            elif k == 1:
                self._px_g = v
            elif not (self._px_r == self._px_g and self._px_g == v):
                return True
        col += 1
        self._px_col = 0 if col >= self._px_row_bytes else col
        return False

    cdef bint _pixels(self, const unsigned char* d, Py_ssize_t start, Py_ssize_t stop) noexcept:
        cdef Py_ssize_t i
        cdef long j
        cdef int v
        if self._px_row_bytes <= 0:
            return False
        if not self._px_rle:
            for i in range(start, stop):
                if self._pixel_byte(d[i]):
                    return True
            return False
        for i in range(start, stop):
            v = d[i]
            if self._px_ctl > 0:
                self._px_ctl -= 1
                if self._pixel_byte(v):
                    return True
            elif self._px_repeat:
                for j in range(self._px_repeat):
                    if self._pixel_byte(v):
                        return True
                self._px_repeat = 0
            elif v < 128:
                self._px_ctl = v + 1
            elif v > 128:
                self._px_repeat = 257 - v
        return False

    cdef int _end_section(self) except -1:
        if self._in_page:
            self.warnings.append("PCL XL page without EndPage")
            self._end_page()
        self._run.flush()
        return 0

    def close(self):
        if self.failed:
            return
        if self._skip or self._carry or self._header:
            self.warnings.append("PCL XL stream truncated")
        self._carry = b""
        self._end_section()


# ----------------------------------------------------------------------------------------------
# DSC PostScript: the byte loop only; what each comment means stays in postscript.py
# ----------------------------------------------------------------------------------------------

DEF LINE_LIMIT = 255
DEF NAME_WINDOW = 64

cdef unsigned char PS_INTERESTING_OUT[256]
cdef unsigned char PS_DELIM[256]
for _i in range(256):
    PS_INTERESTING_OUT[_i] = 1 if _i in (0x25, 0x2F, 0x1B, 0x73) else 0
    PS_DELIM[_i] = 1 if _i in b" \t\r\n\x0c\x00{}[]()<>%" else 0


cdef inline Py_ssize_t _eol(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end, bint lf_only):
    cdef Py_ssize_t i
    if lf_only:
        i = _find(d, pos, end, 0x0A)
    else:
        i = pg_find2(d, pos, end, 0x0A, 0x0D)
    return i if i < end else -1


cdef inline bint _ps_setting_name(const unsigned char* p, Py_ssize_t n):
    """Could ``p`` start one of the names ``postscript._SETTING`` reads? (A pre-filter only.)"""
    if n >= 9 and memcmp(p, b"NumCopies", 9) == 0:
        return True
    if n >= 7 and memcmp(p, b"#copies", 7) == 0:
        return True
    if n >= 6 and memcmp(p, b"Duplex", 6) == 0:
        return True
    if n >= 8 and memcmp(p, b"PageSize", 8) == 0:
        return True
    return False


class DscScanner(_postscript.DscScanner):
    """``postscript.DscScanner`` with its byte loop in C. Pages go to the tally in runs of
    alike pages (``PageTally.add_pages``), handed over when the run breaks or the section ends."""

    def __init__(self, tally):
        _postscript.DscScanner.__init__(self, tally)
        self._run = None   # [count, copies, duplex, media] of pages not yet in the tally

    def _scan(self, data, final):
        return _dsc_scan(self, data, final)

    def _add_page(self, copies, duplex, media):
        _dsc_add_page(self, copies, duplex, media)

    def _end_section(self):
        _postscript.DscScanner._end_section(self)
        _dsc_flush(self)


@cython.final
cdef class _DscState:
    """A DscScanner's page state, held in C while the byte loop runs. ``store`` puts it back
    on the scanner before anything in Python may read or change it (its policy methods, the
    end of the chunk); ``load`` takes it up again after."""

    cdef bint in_page, outside
    cdef Py_ssize_t pages_found
    cdef object page_media, page_bbox_media, media, doc_media, copies, hash_copies, duplex
    cdef object run   # [count, copies, duplex, media] of pages not yet in the tally, or None

    cdef int load(self, object s) except -1:
        self.in_page = s._in_page
        self.outside = s._outside
        self.pages_found = s._pages_found
        self.page_media = s._page_media
        self.page_bbox_media = s._page_bbox_media
        self.media = s.media
        self.doc_media = s._doc_media
        self.copies = s.copies
        self.hash_copies = s.hash_copies
        self.duplex = s.duplex
        self.run = s._run
        return 0

    cdef int store(self, object s) except -1:
        # copies, hash_copies, duplex and the document's media only Python changes
        s._in_page = self.in_page
        s._outside = self.outside
        s._pages_found = self.pages_found
        s._page_media = self.page_media
        s._page_bbox_media = self.page_bbox_media
        s.media = self.media
        s._run = self.run
        return 0

    cdef int add_page(self, object tally, object copies, object duplex, object media) except -1:
        cdef list run = self.run
        if run is not None and run[2] is duplex and run[1] == copies and run[3] == media:
            run[0] += 1
            return 0
        if run is not None:
            tally.add_pages(run[0], run[1], run[2], run[3], None)
        self.run = [1, copies, duplex, media]
        return 0

    cdef int new_page(self, object tally) except -1:
        """``DscScanner._new_page`` (with ``_close_page``), for the commonest line."""
        if self.in_page:
            copies = self.copies
            if copies is None:
                copies = self.hash_copies
            media = self.page_media or self.page_bbox_media or self.media or self.doc_media
            self.add_page(tally, copies, self.duplex, media)
        self.in_page = True
        self.outside = False
        self.pages_found += 1
        self.page_media = None
        self.page_bbox_media = None
        return 0


cdef int _dsc_add_page(object self, object copies, object duplex, object media) except -1:
    cdef list run = self._run
    if run is not None and run[2] is duplex and run[1] == copies and run[3] == media:
        run[0] += 1
        return 0
    _dsc_flush(self)
    self._run = [1, copies, duplex, media]
    return 0


cdef int _dsc_flush(object self) except -1:
    cdef list run = self._run
    if run is not None:
        self._run = None
        self.tally.add_pages(run[0], run[1], run[2], run[3], None)
    return 0


cdef inline bint _re_space(int c):
    """Python's ``\\s`` in a bytes pattern."""
    return c == 0x20 or 0x09 <= c <= 0x0D


cdef Py_ssize_t _ps_number_end(const unsigned char* p, Py_ssize_t k, Py_ssize_t n):
    """End of ``postscript._NUMBER`` matched greedily at ``p[k:n]``, or -1."""
    if k < n and (p[k] == 0x2B or p[k] == 0x2D):
        k += 1
    if k < n and 0x30 <= p[k] <= 0x39:
        while k < n and 0x30 <= p[k] <= 0x39:
            k += 1
        if k < n and p[k] == 0x2E:
            k += 1
            while k < n and 0x30 <= p[k] <= 0x39:
                k += 1
        return k
    if k + 1 < n and p[k] == 0x2E and 0x30 <= p[k + 1] <= 0x39:
        k += 1
        while k < n and 0x30 <= p[k] <= 0x39:
            k += 1
        return k
    return -1


cdef bint _ps_page_size(const unsigned char* p, Py_ssize_t n, double* w, double* h):
    """Does ``postscript._SETTING`` match ``/PageSize [w h]`` in the window ``p[:n]``? Sets w, h."""
    cdef Py_ssize_t k = 9, a, b
    cdef char tmp[72]
    if n < 9 or memcmp(p, b"/PageSize", 9) != 0:
        return False
    while k < n and _re_space(p[k]):
        k += 1
    if k >= n or p[k] != 0x5B:
        return False
    k += 1
    while k < n and _re_space(p[k]):
        k += 1
    a = k
    k = _ps_number_end(p, k, n)
    if k < 0 or k >= n or not _re_space(p[k]):
        return False
    memcpy(tmp, p + a, k - a)
    tmp[k - a] = 0
    w[0] = strtod(tmp, NULL)
    while k < n and _re_space(p[k]):
        k += 1
    b = k
    k = _ps_number_end(p, k, n)
    if k < 0:
        return False
    memcpy(tmp, p + b, k - b)
    tmp[k - b] = 0
    h[0] = strtod(tmp, NULL)
    while k < n and _re_space(p[k]):
        k += 1
    return k < n and p[k] == 0x5D


cdef object _dsc_scan(object self, bytes data, bint final):
    """``postscript.DscScanner._scan`` with the scanner's counters held in C between the
    (rare) calls into the Python policy, which may change them."""
    cdef const unsigned char* d = data
    cdef Py_ssize_t pos = 0, end = len(data), take, nl, i, eol, lim, n
    cdef int b, prev
    cdef double w = 0, h = 0, last_w = 0, last_h = 0
    cdef object last_media = _NOT_YET
    cdef Py_ssize_t skip = self._skip
    cdef Py_ssize_t skip_lines = self._skip_lines
    cdef bint skip_to_eol = self._skip_to_eol
    cdef _DscState st = _DscState()
    st.load(self)
    tally = self.tally
    cdef int last = self._prev
    # what only DscScanner._comment changes, held here between its calls
    cdef bint known = self.conforming is not None
    cdef unsigned char bbox_raw[LINE_LIMIT]   # the last %%PageBoundingBox value read, and its media
    cdef Py_ssize_t bbox_len = -1
    cdef object bbox_media = None
    cdef Py_ssize_t depth = self._depth
    cdef bint prolog = self._in_prolog
    while pos < end:
        if skip:
            take = skip if skip < end - pos else end - pos
            skip -= take
            pos += take
            continue
        if skip_lines or skip_to_eol:
            nl = _eol(d, pos, end, skip_lines > 0)
            if nl < 0:
                last = d[end - 1]
                pos = end
                break
            pos = nl + 1
            last = d[nl]
            if skip_to_eol:
                skip_to_eol = False
            else:
                skip_lines -= 1
            continue
        if st.outside:
            i = pos
            while i < end and not PS_INTERESTING_OUT[d[i]]:
                i += 1
        else:
            # the next %, / or ESC, in one pass
            i = pg_find3(d, pos, end, 0x25, 0x2F, 0x1B)
        if i >= end:
            last = d[end - 1]
            pos = end
            break
        b = d[i]
        prev = d[i - 1] if i > 0 else last
        if b == 0x25:
            if prev != 0x0A and prev != 0x0D and prev != 0x04:
                pos = i + 1
                continue
            lim = i + LINE_LIMIT + 1
            if lim > end:
                lim = end
            eol = _eol(d, i, lim, False)
            if eol < 0:
                if end - i <= LINE_LIMIT and not final:
                    st.store(self)
                    return _dsc_keep(self, data, i, last, skip, skip_lines, skip_to_eol)
                lim = i + LINE_LIMIT
                if lim > end:
                    lim = end
                line = data[i:lim]
                skip_to_eol = end - i > LINE_LIMIT
                pos = lim
            else:
                line = None
                pos = eol
            last = d[pos - 1]
            n = (eol if eol >= 0 else lim) - i
            if n >= 7 and memcmp(d + i, b"%%Page", 6) == 0 and known and not depth:
                if d[i + 6] == 0x3A:  # %%Page:
                    st.new_page(tally)
                    continue
                if n >= 18 and memcmp(d + i + 6, b"BoundingBox:", 12) == 0:
                    # _bbox_media is a function of the value: the same bytes as the last
                    # page's give the same media without a call
                    if n - 18 != bbox_len or memcmp(d + i + 18, bbox_raw, n - 18) != 0:
                        bbox_media = _bbox_media(data[i + 18:i + n].strip())
                        bbox_len = n - 18
                        memcpy(bbox_raw, d + i + 18, bbox_len)
                    st.page_bbox_media = bbox_media
                    continue
            if _dsc_comment_matters(d + i, n) or not known:
                if line is None:
                    line = data[i:eol]
                self._skip = skip
                self._skip_lines = skip_lines
                self._skip_to_eol = skip_to_eol
                self._prev = last
                st.store(self)
                self._comment(line)
                st.load(self)
                skip = self._skip
                skip_lines = self._skip_lines
                skip_to_eol = self._skip_to_eol
                known = self.conforming is not None
                depth = self._depth
                prolog = self._in_prolog
        elif b == 0x2F:
            if end - i < NAME_WINDOW and not final:
                st.store(self)
                return _dsc_keep(self, data, i, last, skip, skip_lines, skip_to_eol)
            if _ps_setting_name(d + i + 1, end - i - 1):
                n = end - i if end - i < NAME_WINDOW else NAME_WINDOW
                if _ps_page_size(d + i, n, &w, &h) and not prolog:
                    if not depth:
                        # DscScanner._page_size, with the last size's name kept at hand
                        if w != last_w or h != last_h or last_media is _NOT_YET:
                            last_media = _media_from_points(w, h)
                            last_w = w
                            last_h = h
                        st.media = last_media
                        if st.in_page:
                            st.page_media = last_media
                else:
                    st.store(self)
                    self._setting(data[i:i + NAME_WINDOW])
                    st.load(self)
            pos = i + 1
        elif b == 0x1B:
            if end - i >= UEL_LEN and memcmp(d + i, <const char*>UEL, UEL_LEN) == 0:
                _dsc_store(self, last, skip, skip_lines, skip_to_eol)
                st.store(self)
                self._end_section()
                return data[i:]
            if end - i < UEL_LEN and memcmp(d + i, <const char*>UEL, end - i) == 0 and not final:
                st.store(self)
                return _dsc_keep(self, data, i, last, skip, skip_lines, skip_to_eol)
            pos = i + 1
        else:
            if end - i < 9 and not final:
                st.store(self)
                return _dsc_keep(self, data, i, last, skip, skip_lines, skip_to_eol)
            if (end - i >= 8 and memcmp(d + i, b"showpage", 8) == 0 and PS_DELIM[prev]
                    and (i + 8 >= end or PS_DELIM[d[i + 8]])):
                self._showpage_outside()
            pos = i + 1
    if end:
        last = d[end - 1]
    _dsc_store(self, last, skip, skip_lines, skip_to_eol)
    st.store(self)
    return None


cdef object _NOT_YET = object()


cdef bint _dsc_comment_matters(const unsigned char* p, Py_ssize_t n):
    """Would ``DscScanner._comment`` act on this line? (A pre-filter: False only when it would not.)"""
    cdef Py_ssize_t k = 2
    if n >= 2 and p[1] == 0x21:  # %!
        return True
    if n < 2 or p[1] != 0x25:
        return False
    while k < n and p[k] != 0x3A:
        k += 1
    k -= 2  # length of the key
    p += 2
    if k == 4:
        return memcmp(p, b"Page", 4) == 0
    if k == 5:
        return memcmp(p, b"Pages", 5) == 0
    if k == 3:
        return memcmp(p, b"EOF", 3) == 0
    if k == 7:
        return memcmp(p, b"Trailer", 7) == 0
    if k == 8:
        return memcmp(p, b"EndSetup", 8) == 0
    if k == 9:
        return memcmp(p, b"EndProlog", 9) == 0 or memcmp(p, b"BeginData", 9) == 0
    if k == 11:
        return (memcmp(p, b"EndDocument", 11) == 0 or memcmp(p, b"BoundingBox", 11) == 0
                or memcmp(p, b"BeginBinary", 11) == 0 or memcmp(p, b"BeginProlog", 11) == 0)
    if k == 13:
        return memcmp(p, b"BeginDocument", 13) == 0
    if k == 15:
        return memcmp(p, b"PageBoundingBox", 15) == 0
    return False


cdef inline void _dsc_store(object self, int last, Py_ssize_t skip, Py_ssize_t skip_lines, bint skip_to_eol):
    self._prev = last
    self._skip = skip
    self._skip_lines = skip_lines
    self._skip_to_eol = skip_to_eol


cdef object _dsc_keep(object self, bytes data, Py_ssize_t i, int last, Py_ssize_t skip,
                      Py_ssize_t skip_lines, bint skip_to_eol):
    _dsc_store(self, data[i - 1] if i > 0 else last, skip, skip_lines, skip_to_eol)
    self._carry = data[i:]
    return None


# ----------------------------------------------------------------------------------------------
# PWG raster and URF: the packet loop; page headers are read by raster.page_header
# ----------------------------------------------------------------------------------------------

DEF R_SYNC = 0
DEF R_HEADER = 1
DEF R_LINE = 2
DEF R_PACKET = 3


@cython.final
cdef class RasterScanner:
    """Cython twin of ``spooler.pdl.raster.RasterScanner``."""

    cdef public object tally
    cdef public str language
    cdef public list warnings
    cdef public object failed
    cdef bytes _carry
    cdef int _state
    cdef bint _pwg
    cdef long long _lines_left, _line_repeat, _line_fill, _line_pixels
    cdef int _bpp
    cdef bint _check_color, _color
    cdef object _page

    def __init__(self, tally, language):
        self.tally = tally
        self.language = language
        self._pwg = language == "pwg"
        self.warnings = []
        self.failed = None
        self._carry = b""
        self._state = R_SYNC
        self._lines_left = 0
        self._line_repeat = 1
        self._line_fill = 0
        self._bpp = 1
        self._line_pixels = 0
        self._check_color = False
        self._page = None
        self._color = False

    def feed(self, data):
        if self.failed:
            return None
        cdef bytes buf = self._carry + data if self._carry else data
        self._carry = b""
        try:
            pos = self._run(buf)
        except _raster._Broken as exc:
            self.failed = str(exc)
            self.warnings.append(self.failed)
            return None
        self._carry = buf[pos:]
        return None

    cdef Py_ssize_t _run(self, bytes buf) except -1:
        cdef const unsigned char* d = buf
        cdef Py_ssize_t pos = 0, end = len(buf), need, size, used, k
        cdef int c, bpp
        cdef long long n
        while True:
            if self._state == R_SYNC:
                need = 4 if self._pwg else 12
                if end - pos < need:
                    return pos
                if self._pwg:
                    if memcmp(d + pos, b"RaS2", 4) != 0:
                        raise _raster._Broken("PWG raster sync word missing")
                elif memcmp(d + pos, b"UNIRAST\x00", 8) != 0:
                    raise _raster._Broken("URF sync word missing")
                pos += need
                self._state = R_HEADER
            elif self._state == R_HEADER:
                size = 1796 if self._pwg else 32
                if end - pos < size:
                    return pos
                if (self._pwg and memcmp(d + pos, b"RaS2", 4) == 0) or (
                        not self._pwg and memcmp(d + pos, b"UNIRAST\x00", 8) == 0):
                    self._state = R_SYNC
                    continue
                self._header(buf[pos:pos + size])
                pos += size
                self._state = R_LINE if self._lines_left else R_HEADER
                if not self._lines_left:
                    self._end_page()
            elif self._state == R_LINE:
                if end - pos < 1:
                    return pos
                self._line_repeat = d[pos] + 1
                pos += 1
                self._line_fill = 0
                self._state = R_PACKET
            else:
                if end - pos < 1:
                    return pos
                c = d[pos]
                bpp = self._bpp
                if c == 128:
                    n = self._line_pixels - self._line_fill
                    used = 1
                elif c < 128:
                    if end - pos < 1 + bpp:
                        return pos
                    n = c + 1
                    used = 1 + bpp
                    if self._check_color and not self._color:
                        self._color = not _raster_neutral(d + pos + 1, bpp)
                else:
                    n = 257 - c
                    used = 1 + n * bpp
                    if end - pos < used:
                        return pos
                    if self._check_color and not self._color:
                        for k in range(n):
                            if not _raster_neutral(d + pos + 1 + k * bpp, bpp):
                                self._color = True
                                break
                pos += used
                self._line_fill += n
                if self._line_fill > self._line_pixels:
                    raise _raster._Broken("raster line overflows its width")
                if self._line_fill == self._line_pixels:
                    self._lines_left -= self._line_repeat
                    if self._lines_left > 0:
                        self._state = R_LINE
                    else:
                        self._end_page()
                        self._state = R_HEADER

    cdef int _header(self, bytes h) except -1:
        copies, duplex, media, bpp, units, lines, check = _raster.page_header(self.language, h)
        self._bpp = bpp
        self._line_pixels = units
        self._lines_left = lines
        self._check_color = check
        self._color = False
        self._page = (copies, duplex, media)
        return 0

    cdef int _end_page(self) except -1:
        copies, duplex, media = self._page
        self.tally.add_page(copies=copies, duplex=duplex, media=media, color=bool(self._color))
        self._page = None
        return 0

    def close(self):
        if self.failed:
            return
        if self._state != R_HEADER or self._carry:
            if self._state != R_SYNC:
                self.warnings.append("raster job truncated")


cdef inline bint _raster_neutral(const unsigned char* p, int bpp) nogil:
    if bpp == 3:
        return p[0] == p[1] and p[1] == p[2]
    if bpp == 6:
        return memcmp(p, p + 2, 2) == 0 and memcmp(p + 2, p + 4, 2) == 0
    return True


# ----------------------------------------------------------------------------------------------
# The public names
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# PDF content streams: ``pdfcontent.operations``, the byte loop of the colour walk
# ----------------------------------------------------------------------------------------------

from spooler.pdl import pdfcontent as _pdfcontent

cdef unsigned char PDF_WHITE[256]
cdef unsigned char PDF_DELIM[256]
cdef signed char PDF_HEX[256]
for _i in range(256):
    PDF_WHITE[_i] = 1 if _i in (0x00, 0x09, 0x0A, 0x0C, 0x0D, 0x20) else 0
    PDF_DELIM[_i] = 1 if _i in b"()<>[]{}/%" else 0
    PDF_HEX[_i] = int(chr(_i), 16) if chr(_i) in "0123456789abcdefABCDEF" else -1

cdef object _NOTHING_PDF = object()
cdef bytes _B_TRUE = b"true", _B_FALSE = b"false", _B_NULL = b"null", _B_BI = b"BI", _B_ID = b"ID"
cdef dict _OPERATORS = {}   # interned operator bytes: the same object for every occurrence


cdef inline bint _regular(unsigned char c) noexcept nogil:
    return not PDF_WHITE[c] and not PDF_DELIM[c]


cdef object _pdf_number(const unsigned char* p, Py_ssize_t n):
    """``pdfcontent._number``."""
    cdef Py_ssize_t i = 0, j, digits = 0, dots = 0
    cdef long long acc = 0
    cdef bint neg = False
    if n > 0 and (p[0] == 0x2B or p[0] == 0x2D):
        neg = p[0] == 0x2D
        i = 1
    for j in range(i, n):
        if 0x30 <= p[j] <= 0x39:
            digits += 1
            if digits <= 18:
                acc = acc * 10 + (p[j] - 0x30)
        elif p[j] == 0x2E:
            dots += 1
        else:
            return _NOTHING_PDF
    if digits == 0 or dots > 1:
        return _NOTHING_PDF
    if dots:
        return float((<char*>p)[:n])
    if digits <= 18:
        return -acc if neg else acc
    return int((<char*>p)[:n])


cdef str _pdf_name(const unsigned char* p, Py_ssize_t n):
    """``pdfcontent._name``."""
    cdef bytearray out
    cdef Py_ssize_t i = 0
    if memchr(p, 0x23, n) == NULL:
        return (<char*>p)[:n].decode("latin-1")
    out = bytearray()
    while i < n:
        if p[i] == 0x23 and i + 2 < n and PDF_HEX[p[i + 1]] >= 0 and PDF_HEX[p[i + 2]] >= 0:
            out.append(PDF_HEX[p[i + 1]] * 16 + PDF_HEX[p[i + 2]])
            i += 3
        else:
            out.append(p[i])
            i += 1
    return bytes(out).decode("latin-1")


cdef bytes _pdf_hex(const unsigned char* p, Py_ssize_t n):
    cdef bytearray out = bytearray()
    cdef int hi = -1, v
    cdef Py_ssize_t i
    for i in range(n):
        v = PDF_HEX[p[i]]
        if v < 0:
            continue
        if hi < 0:
            hi = v
        else:
            out.append(hi * 16 + v)
            hi = -1
    if hi >= 0:
        out.append(hi * 16)
    return bytes(out)


cdef object _pdf_literal(const unsigned char* d, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t* after):
    """``pdfcontent._literal``: the string's bytes; ``after[0]`` where it ends."""
    cdef bytearray out = bytearray()
    cdef int depth = 1, v, k
    cdef unsigned char b
    while pos < end:
        b = d[pos]
        if b == 0x5C:
            pos += 1
            if pos >= end:
                break
            b = d[pos]
            if 0x30 <= b <= 0x37:
                v = b - 0x30
                k = 1
                while k < 3 and pos + 1 < end and 0x30 <= d[pos + 1] <= 0x37:
                    pos += 1
                    v = v * 8 + d[pos] - 0x30
                    k += 1
                out.append(v & 0xFF)
            elif b == 0x0D:
                if pos + 1 < end and d[pos + 1] == 0x0A:
                    pos += 1
            elif b != 0x0A:
                if b == 0x6E:
                    b = 0x0A
                elif b == 0x72:
                    b = 0x0D
                elif b == 0x74:
                    b = 0x09
                elif b == 0x62:
                    b = 0x08
                elif b == 0x66:
                    b = 0x0C
                out.append(b)
            pos += 1
            continue
        if b == 0x28:
            depth += 1
        elif b == 0x29:
            depth -= 1
            if depth == 0:
                after[0] = pos + 1
                return bytes(out)
        out.append(b)
        pos += 1
    after[0] = end
    return bytes(out)


def content_operations(data):
    """``pdfcontent.operations`` in Cython: the same operations for the same bytes."""
    cdef bytes buf = data if isinstance(data, bytes) else bytes(data)
    cdef const unsigned char* d = buf
    cdef Py_ssize_t pos = 0, end = len(buf), q, after = 0
    cdef unsigned char c
    cdef list out = []
    cdef list stack = []
    cdef list containers = []   # [kind, items]: kind 0 array, 1 dictionary
    cdef list items
    cdef bint inline = False
    cdef object value
    cdef Py_ssize_t limit = _pdfcontent.OPERATION_LIMIT
    cdef Py_ssize_t operand_limit = _pdfcontent.OPERAND_LIMIT
    cdef Py_ssize_t depth_limit = _pdfcontent.DEPTH_LIMIT
    while pos < end:
        c = d[pos]
        if PDF_WHITE[c]:
            pos += 1
            continue
        if c == 0x25:
            while pos < end and d[pos] != 0x0A and d[pos] != 0x0D:
                pos += 1
            continue
        if c == 0x2F:
            q = pos + 1
            while q < end and _regular(d[q]):
                q += 1
            value = _pdf_name(d + pos + 1, q - pos - 1)
            pos = q
        elif c == 0x28:
            value = _pdf_literal(d, pos + 1, end, &after)
            pos = after
        elif c == 0x3C:
            if pos + 1 < end and d[pos + 1] == 0x3C:
                pos += 2
                if len(containers) < depth_limit:
                    containers.append([1, []])
                continue
            q = pos + 1
            while q < end and d[q] != 0x3E:
                q += 1
            value = _pdf_hex(d + pos + 1, q - pos - 1)
            pos = q + 1
        elif c == 0x3E:
            pos += 2 if pos + 1 < end and d[pos + 1] == 0x3E else 1
            if containers and (<list>containers[len(containers) - 1])[0] == 1:
                items = containers.pop()[1]
                value = {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2) if isinstance(items[i], str)}
            else:
                continue
        elif c == 0x5B:
            pos += 1
            if len(containers) < depth_limit:
                containers.append([0, []])
            continue
        elif c == 0x5D:
            pos += 1
            if containers and (<list>containers[len(containers) - 1])[0] == 0:
                value = containers.pop()[1]
            else:
                continue
        elif c == 0x29 or c == 0x7B or c == 0x7D:
            pos += 1
            continue
        else:
            q = pos + 1
            while q < end and _regular(d[q]):
                q += 1
            value = _pdf_number(d + pos, q - pos)
            if value is _NOTHING_PDF:
                word = buf[pos:q]
                pos = q
                if word == _B_TRUE:
                    value = True
                elif word == _B_FALSE:
                    value = False
                elif word == _B_NULL:
                    value = None
                elif containers:
                    continue
                elif word == _B_BI:
                    inline = True
                    stack = []
                    continue
                elif word == _B_ID and inline:
                    inline = False
                    pos = _pdfcontent._inline_image(buf, pos, end, stack, out)
                    stack = []
                    if len(out) > limit:
                        raise _pdfcontent.ContentLimit(f"more than {limit} operations in a content stream")
                    continue
                else:
                    inline = False
                    op = _OPERATORS.get(word)
                    if op is None:
                        if len(_OPERATORS) < 4096:
                            _OPERATORS[word] = word
                        op = word
                    out.append((op, stack))
                    stack = []
                    if len(out) > limit:
                        raise _pdfcontent.ContentLimit(f"more than {limit} operations in a content stream")
                    continue
            else:
                pos = q
        if containers:
            items = (<list>containers[len(containers) - 1])[1]
            if len(items) < operand_limit:
                items.append(value)
        elif len(stack) < operand_limit:
            stack.append(value)
    return out


# ----------------------------------------------------------------------------------------------
# PostScript: ``psscan.tokens``, the byte loop of the colour scan
# ----------------------------------------------------------------------------------------------

from spooler.pdl import psscan as _psscan

cdef object _PS_LITERAL = _psscan.Literal
cdef object _PS_PROCEDURE = _psscan.Procedure
cdef object _PS_PAGE = _psscan.PAGE
cdef object _PS_NUMBER = _psscan.number
cdef object _PS_A85 = _psscan._a85
cdef object _PS_BEGIN_DATA = _psscan._BEGIN_DATA
cdef object _PS_SKIP_DATA = _psscan._skip_data
cdef dict _PS_NAMES = {}   # interned executable names


cdef object _ps_word(const unsigned char* p, Py_ssize_t n):
    """``psscan.number`` of the word, else its executable name: plain integers without a call."""
    cdef Py_ssize_t i = 0
    cdef long long acc = 0
    cdef bint neg = False
    cdef bytes word
    if 0 < n <= 10:
        if p[0] == 0x2B or p[0] == 0x2D:
            neg = p[0] == 0x2D
            i = 1
        if i < n:
            while i < n and 0x30 <= p[i] <= 0x39:
                acc = acc * 10 + (p[i] - 0x30)
                i += 1
            if i == n:
                acc = -acc if neg else acc
                if -2147483648 <= acc < 2147483648:
                    return acc
                return float(acc)
    word = (<char*>p)[:n]
    value = _PS_NUMBER(word)
    if value is not None:
        return value
    name = _PS_NAMES.get(word)
    if name is None:
        name = word.decode("latin-1")
        if len(_PS_NAMES) < 8192:
            _PS_NAMES[word] = name
    return name


def ps_tokens(data):
    """``psscan.tokens`` in Cython: the same tokens for the same bytes."""
    cdef bytes buf = data if isinstance(data, bytes) else bytes(data)
    cdef const unsigned char* d = buf
    cdef Py_ssize_t pos = 0, end = len(buf), q, start, after = 0, count = 0
    cdef Py_ssize_t limit = _psscan.TOKEN_LIMIT, depth_limit = _psscan.DEPTH_LIMIT
    cdef int documents = 0
    cdef unsigned char c
    cdef bint line_start, immediate
    cdef list out = []
    cdef list procs = []
    cdef object target = out   # the list or Procedure tokens go into
    cdef object value
    while pos < end:
        c = d[pos]
        if PDF_WHITE[c]:
            pos += 1
            continue
        count += 1
        if count > limit:
            raise _psscan.TokenLimit("too many tokens")
        if c == 0x25:
            q = pos
            while q < end and d[q] != 0x0A and d[q] != 0x0D:
                q += 1
            line_start = pos == 0 or d[pos - 1] == 0x0A or d[pos - 1] == 0x0D or d[pos - 1] == 0x04
            if line_start and pos + 1 < end and d[pos + 1] == 0x25:
                if q - pos >= 7 and memcmp(d + pos, b"%%Page:", 7) == 0:
                    if not procs and not documents:
                        out.append(_PS_PAGE)
                elif q - pos >= 15 and memcmp(d + pos, b"%%BeginDocument", 15) == 0:
                    documents += 1
                elif q - pos >= 13 and memcmp(d + pos, b"%%EndDocument", 13) == 0:
                    documents = documents - 1 if documents > 0 else 0
                elif q - pos >= 9 and memcmp(d + pos, b"%%Begin", 7) == 0:
                    m = _PS_BEGIN_DATA.match(buf[pos:q])
                    if m is not None:
                        q = _PS_SKIP_DATA(buf, q, end, int(m.group(1)), (m.group(2) or b"").lower() == b"lines")
            pos = q
            continue
        if c == 0x28:
            value = _pdf_literal(d, pos + 1, end, &after)
            pos = after
        elif c == 0x3C:
            if pos + 1 < end and d[pos + 1] == 0x3C:
                value = "<<"
                pos += 2
            elif pos + 1 < end and d[pos + 1] == 0x7E:
                q = buf.find(b"~>", pos + 2)
                if q < 0:
                    q = end
                value = _PS_A85(buf[pos + 2:q])
                pos = q + 2
            else:
                q = pos + 1
                while q < end and d[q] != 0x3E:
                    q += 1
                value = _pdf_hex(d + pos + 1, q - pos - 1)
                pos = q + 1
        elif c == 0x3E:
            if pos + 1 < end and d[pos + 1] == 0x3E:
                value = ">>"
                pos += 2
            else:
                pos += 1
                continue
        elif c == 0x5B:
            value = "["
            pos += 1
        elif c == 0x5D:
            value = "]"
            pos += 1
        elif c == 0x7B:
            if len(procs) >= depth_limit:
                raise _psscan.TokenLimit("procedures nested too deeply")
            proc = _PS_PROCEDURE()
            target.append(proc)
            procs.append(proc)
            target = proc
            pos += 1
            continue
        elif c == 0x7D:
            pos += 1
            if procs:
                procs.pop()
                target = procs[len(procs) - 1] if procs else out
            continue
        elif c == 0x29:
            pos += 1
            continue
        elif c == 0x2F:
            immediate = pos + 1 < end and d[pos + 1] == 0x2F
            start = pos + (2 if immediate else 1)
            q = start
            while q < end and _regular(d[q]):
                q += 1
            name = (<char*>d + start)[:q - start].decode("latin-1")
            value = name if immediate else _PS_LITERAL(name)
            pos = q
        else:
            q = pos + 1
            while q < end and _regular(d[q]):
                q += 1
            value = _ps_word(d + pos, q - pos)
            pos = q
        target.append(value)
    return out



class Analyzer(_reference.Analyzer):
    __doc__ = _reference.Analyzer.__doc__
    scanners = {"pcl5": Pcl5Scanner, "text": Pcl5Scanner, "pclxl": PclXlScanner,
                "postscript": DscScanner, "pwg": RasterScanner, "urf": RasterScanner}
    content_operations = staticmethod(content_operations)
    ps_tokens = staticmethod(ps_tokens)
    backend = "cython"


def analyze_path(path, *, analyzer_class=None, chunk_size=1 << 16, interpret=True, colour=None):
    """Analyze the file at ``path`` with the Cython scanners."""
    return _reference.analyze_path(path, analyzer_class=analyzer_class or Analyzer,
                                   chunk_size=chunk_size, interpret=interpret, colour=colour)
