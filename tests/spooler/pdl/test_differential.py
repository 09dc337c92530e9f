"""Random and mutated bytes: both backends give the same facts (or the same exception type).

Hostile input never crashes, hangs or grows memory: every case here is bounded in time by
Hypothesis' deadline-free runs and the suite's timeout.
"""
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import spooler.pdl
from spooler.pdl import reference
from spooler.pdl.reference import INTERNAL_FAILURE

from tests.spooler.pdl.conftest import analyze_bytes, analyzer_classes

UEL = b"\x1b%-12345X"

PREFIXES = [
    b"",
    b"\x1bE",
    b"\x1bE\x1b&l2a3x1S\x1b*r-3U\x1b*r1A",
    b") HP-PCL XL;2;0;\n",
    b"( HP-PCL XL;2;0;\n",
    b"%!PS-Adobe-3.0\n%%Pages: 2\n%%EndComments\n",
    UEL + b"@PJL SET COPIES=2\r\n@PJL SET QTY=3\r\n@PJL ENTER LANGUAGE=PCL\r\n",
    UEL + b"@PJL ENTER LANGUAGE=PCLXL\n) HP-PCL XL;2;0\n",
    UEL + b"@PJL ENTER LANGUAGE=POSTSCRIPT\n%!PS-Adobe-3.0\n",
    b"RaS2",
    b"UNIRAST\x00\x00\x00\x00\x01",
]

# Fragments the grammars care about, so random inputs reach deep states.
FRAGMENTS = [
    b"\x1b*b10W", b"\x1b*b3V", b"\x1b*b0W", b"\x0c", b"\x1bE", b"\x1b&l3X", b"\x1b&l1S", b"\x1b&l27A", b"\x1b%0B",
    b"PD10,10;", b"\x1b%0A", b"\x1b*v1a2b3c4I", b"\x1b*v4S", b"\x1b*c0P", b"\x1b&f0X", b"\x1b&f1X", b"\x1b*v6W\x00\x03\x08\x08\x08\x08",
    b"hello", UEL, b"@PJL SET QTY=2\n", b"\x1b*r3U", b"\x1b*r-4U", b"\x1b&a1G", b"\x1b(s100W",
    b"\xc0\x05\xf8\x25\xc0\x01\xf8\x35\x43", b"\xc1\x03\x00\xf8\x31\x44", b"\xc0\x02\xf8\x03\x6a",
    b"\xc8\xc0\x03\x10\x20\x30\xf8\x0b\x63", b"\xfb\x04abcd", b"\xfa\x02\x00\x00\x00xy", b"\xc0\x02\xf8\x62\xb0",
    b"\xc1\x02\x00\xf8\x6c\xb0\xb1", b"\xca\xc1\x02\x00", b"\xd1\x01\x00\x02\x00",
    b"\n%%Page: 1 1\n", b"\n%%BeginBinary: 5\n", b"\n%%BeginData: 2 Binary Lines\n", b"\n%%BeginDocument\n",
    b"\n%%EndDocument\n", b"/NumCopies 3 ", b"/Duplex true ", b"/PageSize [595 842] ", b"/#copies 2 ",
    b"\n%%Trailer\n", b"\n%%EOF\n", b" showpage ", b"\n%%EndSetup\n", b"\n%%Pages: 1\n",
    b"/PageSize[612 792]", b"/PageSize [ +.5\t842. ]", b"/PageSize [-3 1e3]", b"\n%%PageBoundingBox: 0 0 612 792\n",
    b"\n%%PageBoundingBox:\t1 1 420 595 \n", b"\n%%Page:", b"\n%%PageTrailer\n",
    b"\x1b%0BIN;PM0;PD10,10;PM2;FP;", b"\x1b%1B", b"LBab\x03", b"PE<=\xbf\xbf\xbf\xbf;", b"PE7__;", b"DT#,1;",
    b"SM*;", b"SM;", b"CO\"PD1,1\";", b"PR0,0;PD;", b"PA;", b"AA1,2,3;", b"BZ1,2,3,4,5,6;", b"WG1,2,3;",
    b"\x1b&l1O", b"\x1b&l-2O", b"\x1b&l1M", b"\x1b&l5S", b"\x1b&a0G", b"\x1b&l66P",
    b"\xc1\x00\x00\xf8\x31\x44", b"\n%%BeginProlog\n", b"\n%%EndProlog\n",
    b"\xc8\xc0\x02AB\xf8\xa8\xa8", b"\xc9\xc0\x02\x01\x00\x02\x00\xf8\xaf", b"\xc1\x10\x00\xf8\x89",
    b"\xc5\x00\x00\x80\x3f\xf8\x8a", b"\xc8\xc0\xff", b"\xc8\xc0\x01\x05\xf8\x25", b"\xc1\x02\x00\xf8\x31",
]

#: ``/PageSize`` settings the Cython byte loop reads without the regular expression: each must
#: give what ``postscript._SETTING`` gives, also cut at the 64-byte window.
PAGE_SIZES = [
    b"/PageSize [595 842]", b"/PageSize[612 792]", b"/PageSize \t[ 595.0\n842.5 ]", b"/PageSize [+.5 -7.]",
    b"/PageSize [. 5]", b"/PageSize [5 .]", b"/PageSize [5. 6.6.]", b"/PageSize [1 2 3]", b"/PageSize [12]",
    b"/PageSize [1e3 5]", b"/PageSize [\x0b420\x0c595\r]", b"/PageSize [595 842", b"/PageSize 595 842]",
    b"/PageSize [" + b" " * 44 + b"595 842]", b"/PageSize [" + b" " * 45 + b"595 842]",
    b"/PageSize [" + b" " * 46 + b"595 842]", b"/PageSize [595" + b" " * 40 + b"842]",
]


@pytest.mark.parametrize("setting", PAGE_SIZES)
@pytest.mark.parametrize("tail", [b"", b" setpagedevice\n"])
def test_page_size_settings_are_read_alike_on_both_backends(setting, tail):
    page = b"%%Page: 1 1\n<< " + setting + b" >>" + tail + b"\nshowpage\n"
    data = b"%!PS-Adobe-3.0\n%%EndComments\n%%EndSetup\n" + page + page.replace(b"1 1", b"2 2") + b"%%EOF\n"
    assert_same(data)
    assert_same(data, [len(data) // 2])
    assert_same(data[:-7] + setting)  # the setting cut at the end of the job


#: Raster row sequences the Cython byte loop reads without its general escape parser.
RASTER_ROWS = [b"\x1b*b3W", b"\x1b*b003V", b"\x1b*b123456789W", b"\x1b*b1234567890W", b"\x1b*bW", b"\x1b*b0W",
               b"\x1b*b3w", b"\x1b*b+3W", b"\x1b*b3.0W", b"\x1b*b3m3W", b"\x1b*b2V", b"\x1b*b-1W"]


@pytest.mark.parametrize("row", RASTER_ROWS)
@pytest.mark.parametrize("planes", [1, 3])
def test_raster_rows_are_read_alike_on_both_backends(row, planes):
    setup = b"\x1bE\x1b*r%dU\x1b*b2M\x1b*r1A" % (-planes if planes > 1 else 1)
    body = (row + b"\x02\xff\x00\x0f") * 6 + b"\x1b*rC\x0c"
    data = setup + body * 2 + b"\x1bE"
    facts = assert_same(data)
    for cut in range(len(setup), len(setup) + len(row) + 4):
        assert assert_same(data, [cut]) == facts


def test_a_raster_plane_read_again_after_a_page_ends_mid_row_is_counted_alike_on_both_backends():
    """Found by the fuzzer: a page ejected between the planes of a row, then the same plane
    again (shorter) on the next page; the Cython shortcut for a plane equal to the one before
    must not compare a plane with itself."""
    data = b"\x1bE\x1b*r3U\x1b*b64V" + b"\xff" * 64 + b"\x0c\x1b*b0Wx\x1bE"
    facts = assert_same(data)
    assert (facts["pages"], facts["color_pages"]) == (2, 0)


#: PCL XL value + attribute pairs the Cython byte loop takes in one step (kept attributes too).
XL_PAIRS = [b"\xc8\xc0\x02AB\xf8\xa8", b"\xc9\xc0\x02\x01\x00\x02\x00\xf8\xaf", b"\xc1\x10\x00\xf8\x89",
            b"\xc5\x00\x00\x80\x3f\xf8\x8a", b"\xc0\x03\xf8\x31", b"\xd1\x01\x00\x02\x00\xf8\x4c",
            b"\xc8\xc0\x03\x10\x80\x30\xf8\x0b", b"\xc0\x02\xf8\x03", b"\xc1\x02\x00\xf8\x31"]


def test_pclxl_value_and_attribute_pairs_are_read_alike_on_both_backends():
    page = b"\xc0\x02\xf8\x03\x6a" + b"".join(pair + b"\xa8" for pair in XL_PAIRS)
    data = b") HP-PCL XL;2;0;\n" + b"\x43" + page + b"\x44\x43" + page + XL_PAIRS[6] + b"\x63\x44"
    facts = assert_same(data)
    assert (facts["pages"], facts["color_pages"]) == (2, 1)
    for cut in range(1, len(data)):
        assert assert_same(data, [cut]) == facts


def test_runs_of_alike_pages_count_as_pages_one_by_one():
    """``PageTally.add_pages`` (how the Cython scanners hand over runs) is ``add_page`` n times."""
    from spooler.pdl.policy import PageTally

    rng = random.Random(3)
    media = [None, "a4", "letter"] + [f"custom-{i}x{i}pt" for i in range(70)]
    for _ in range(3000):
        kw = dict(default_copies=rng.choice([1, 3]), default_duplex=rng.random() < .5, default_media=rng.choice([None, "a4"]))
        one, runs = PageTally(**kw), PageTally(**kw)
        one.force_mono = runs.force_mono = rng.random() < .2
        for _ in range(rng.randrange(1, 8)):
            page = (rng.choice([None, 0, 1, 2, 10**6]), rng.choice([None, True, False]),
                    rng.choice(media if rng.random() < .1 else media[:3]), rng.choice([None, True, False]))
            if rng.random() < .3:
                front = rng.random() < .5
                one.add_page(*page, front=front)
                runs.add_page(*page, front=front)
            else:
                n = rng.randrange(0, 7)
                for _ in range(n):
                    one.add_page(*page)
                runs.add_pages(n, *page)
            assert [getattr(one, k) for k in PageTally.__slots__] == [getattr(runs, k) for k in PageTally.__slots__]


def both(data, chunks=None):
    results = {}
    for name, cls in analyzer_classes().items():
        try:
            results[name] = ("ok", analyze_bytes(cls, data, chunks, interpret=False).to_dict())
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            results[name] = ("error", type(exc).__name__)
    return results


def assert_same(data, chunks=None):
    results = both(data, chunks)
    values = list(results.values())
    assert all(v == values[0] for v in values), (data[:200], results)
    assert values[0][0] == "ok", values[0]
    assert not any(INTERNAL_FAILURE in w for w in values[0][1]["warnings"]), values[0][1]["warnings"]
    return values[0][1]


@st.composite
def structured(draw):
    parts = [draw(st.sampled_from(PREFIXES))]
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(FRAGMENTS)))
        else:
            parts.append(draw(st.binary(max_size=24)))
    return b"".join(parts)


@settings(max_examples=400, deadline=None)
@given(data=structured(), seed=st.integers(0, 1000))
def test_structured_random_input_gives_the_same_facts_on_both_backends(data, seed):
    rng = random.Random(seed)
    chunks = [rng.randint(1, 9) for _ in range(len(data) // 3)]
    facts = assert_same(data)
    assert assert_same(data, chunks) == facts


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000))
def test_random_bytes_give_the_same_facts_on_both_backends(data):
    assert_same(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_corpus_jobs_give_the_same_facts_on_both_backends(corpus, seed):
    directory, jobs = corpus
    rng = random.Random(seed)
    job = rng.choice([j for j in jobs if j.pdl in ("pcl5", "pclxl", "pwg", "urf", "postscript")])
    with open(os.path.join(directory, job.path), "rb") as f:
        data = bytearray(f.read()[:30000])
    for _ in range(rng.randint(1, 12)):
        op = rng.randrange(4)
        i = rng.randrange(len(data)) if data else 0
        if op == 0 and data:
            data[i] = rng.randrange(256)
        elif op == 1:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2:
            del data[i:i + rng.randint(1, 64)]
        else:
            data = data[:i]
    assert_same(bytes(data))


def test_an_unknown_language_is_reported_as_unknown_with_a_warning(backend):
    facts = analyze_bytes(backend, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert (facts.pdl, facts.pages, facts.impressions) == ("unknown", None, None)
    assert facts.warnings


# -- colour planes: rows read whole in the Cython byte loop, seeds kept encoded, counts reused --

def plane(data: bytes, last=False) -> bytes:
    return b"\x1b*b%d%s" % (len(data), b"W" if last else b"V") + data


def cmy_row(c: bytes, m: bytes, y: bytes) -> bytes:
    return plane(c) + plane(m) + plane(y, last=True)


CMY = b"\x1bE\x1b*r-3U\x1b*r1A"


def assert_alike_at_every_chunking(data, rng=None, expect=None):
    facts = assert_same(data)
    if expect is not None:
        assert (facts["pages"], facts["color_pages"]) == expect, facts
    rng = rng or random.Random(len(data))
    for _ in range(6):
        cuts = [rng.randint(1, 90) for _ in range(len(data) // 40)]
        assert assert_same(data, cuts) == facts
    assert assert_same(data, [1] * min(len(data), 3000)) == facts
    return facts


def test_identical_planes_in_another_mode_are_counted_in_their_own_mode():
    """The same encoded bytes decode differently in PackBits and run-length: the count of
    the plane before is reused only in the same mode."""
    x = b"\x01\xff"  # mode 2: one 0xFF (the literal is cut short); mode 1: two 0xFF
    row = b"\x1b*b2M" + plane(x) + b"\x1b*b1m2V" + x + plane(x, last=True)
    assert_alike_at_every_chunking(CMY + row * 40 + b"\x0c\x1bE", expect=(1, 1))
    same = b"\x1b*b1M" + plane(x) + plane(x) + plane(x, last=True)
    assert_alike_at_every_chunking(CMY + same * 40 + b"\x0c\x1bE", expect=(1, 0))


def test_identical_colour_planes_of_kcmy_are_neutral_whatever_the_black_plane():
    row = b"\x1b*b0M" + plane(b"\x0f" * 50) + plane(b"\xaa" * 60) + plane(b"\xaa" * 60) + plane(b"\xaa" * 60, last=True)
    assert_alike_at_every_chunking(b"\x1bE\x1b*r-4U\x1b*r1A" + row * 40 + b"\x0c\x1bE", expect=(1, 0))
    # the black plane alone equal to the others does not make unequal colour planes neutral
    row = b"\x1b*b0M" + plane(b"\xaa" * 60) + plane(b"\xaa" * 60) + plane(b"\x00" * 60) + plane(b"\xaa" * 60, last=True)
    assert_alike_at_every_chunking(b"\x1bE\x1b*r-4U\x1b*r1A" + row * 40 + b"\x0c\x1bE", expect=(1, 1))


def test_identical_rows_where_no_planes_are_compared_say_nothing_of_neutral():
    """Direct-by-pixel and indexed CID spaces send one plane a row (pixels, not planes): rows
    repeating the same bytes are not grey for that; their pages count as colour."""
    row = plane(b"\xaa" * 30, last=True)
    for cid in (b"\x00\x03\x08\x08\x08\x08", b"\x00\x01\x08\x08\x08\x08"):  # RGB by pixel, indexed by pixel
        data = b"\x1bE\x1b*v6W" + cid + b"\x1b*r1A" + b"\x1b*b0M" + row * 40 + b"\x0c\x1bE"
        facts = assert_alike_at_every_chunking(data, expect=(1, 1))
        assert any("CID colour space" in w for w in facts["warnings"])


def test_identical_delta_rows_over_different_seeds_are_decoded_each():
    """Delta rows (mode 3) edit the seed: the same bytes over different seeds are different rows."""
    seeds = b"\x1b*b0M" + cmy_row(b"\xff" * 40, b"\xff" * 40, b"\x00" * 40)
    delta = b"\xe0" + b"\xff" * 8  # 8 bytes at the cursor
    rows = b"\x1b*b3M" + cmy_row(delta, delta, delta) * 40
    assert_alike_at_every_chunking(CMY + seeds + rows + b"\x0c\x1bE", expect=(1, 1))


def test_rows_of_a_colour_page_still_seed_the_delta_rows_of_the_next_page():
    """Once a page is colour its PackBits rows are kept encoded, not decoded; a delta row on
    the next page (no raster reset between) must still see them as its seed."""
    red = b"\x1b*b2M" + cmy_row(b"\x1f" + b"\x00" * 32, b"\xe1\xff", b"\xe1\xff") * 40  # C empty: colour
    last = b"\x1b*b2M" + cmy_row(b"\xe1\xff", b"\xe1\xff", b"\x1f" + b"\x00" * 32)     # Y empty
    fill_y = b"\x1b*b3M" + cmy_row(b"", b"", (b"\xe0" + b"\xff" * 8) * 4)  # all 32 bytes of Y
    grey = fill_y * 40
    # page 2 is grey only if Y's seed is the last row of page 1 made whole again by the deltas
    # and C and M keep page 1's full rows: the deltas of C and M are empty rows
    data = CMY + red + last + b"\x0c" + grey + b"\x0c\x1bE"
    assert_alike_at_every_chunking(data, expect=(2, 1))


def test_a_colour_page_whose_raster_lies_about_its_lengths_is_read_alike():
    red = b"\x1b*b2M" + cmy_row(b"\x1f" + b"\x00" * 32, b"\xe1\xff", b"\xe1\xff") * 40
    for tail in (b"\x1b*b500V\x01\x02", b"\x1b*b99999999W" + b"x" * 100, b"\x1b*b70000V" + b"\xff" * 70000 + b"\x0c",
                 b"\x1b*b2V\x81", b"\x1b*b5m3V\x01\x02\x03\x0c", b"\x1b*b"):
        assert_alike_at_every_chunking(CMY + red + b"\x0c" + red[:200] + tail)


def test_random_colour_raster_is_read_alike_on_both_backends():
    rng = random.Random(11)
    pieces = [b"\x0c", b"\x1b*rC", b"\x1b*r1A", b"\x1b*b5Y", b"\x1b*b0M", b"\x1b*b1M", b"\x1b*b2M", b"\x1b*b3M",
              b"\x1b*b9M", b"\x1b*r-4U", b"\x1b*r-3U", b"\x1bE", b"text"]
    patterns = [b"\x00", b"\xff", b"\xaa", b"\x55", b"\x0f"]
    for _ in range(40):
        out = [CMY]
        for _ in range(rng.randint(20, 120)):
            if rng.random() < .15:
                out.append(rng.choice(pieces))
                continue
            planes = []
            for _ in range(rng.choice([3, 3, 3, 4, 2, 1])):
                if planes and rng.random() < .5:
                    planes.append(planes[-1])  # identical to the plane before
                elif rng.random() < .5:
                    planes.append(rng.choice(patterns) * rng.randint(0, 40))
                else:
                    planes.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 24))))
            out.extend(plane(p, last=i == len(planes) - 1) for i, p in enumerate(planes))
        assert_alike_at_every_chunking(b"".join(out) + b"\x0c\x1bE", rng)


# -- PCL XL: text groups taken by their first bytes, palettes compared by their bytes ----------

XL_HEAD = b") HP-PCL XL;2;0;\n\xc0\x02\xf8\x03\x6a"


def test_pclxl_text_groups_are_read_alike_and_kept_attributes_still_count():
    glyph = b"\xd3\x10\x00\x20\x00\xf8\x4c\x6b" + b"\xc8\xc0\x01\x41\xf8\xab\xa8"
    grey = b"\x43" + glyph * 30 + b"\x44"
    # the same shapes naming attributes we keep: a one-element RGBColor is colour, an xy
    # MediaSize, an operator that acts right after the group
    red = b"\x43" + glyph * 3 + b"\xc8\xc0\x01\x80\xf8\x0b\x63" + glyph * 3 + b"\x44"
    sized = b"\xd1\x10\x00\x20\x00\xf8\x25\x43" + glyph + b"\xc8\xc0\x01\x41\xf8\xab\x44"
    data = XL_HEAD + grey + red + sized + b"\xd3\x01\x00\x02\x00\xf8\x4c\x43" + glyph + b"\x44\x42"
    facts = assert_alike_at_every_chunking(data, expect=(4, 1))
    assert facts["warnings"] == [] or all("truncated" not in w for w in facts["warnings"])


@pytest.mark.parametrize("tag, values, neutral", [
    (0xC8, [7, 7, 7, 200, 200, 200], True), (0xC8, [7, 7, 7, 200, 201, 200], False),
    (0xC9, [0x1234] * 3 + [0x3412] * 3, True), (0xC9, [0x1234, 0x1234, 0x1235], False),
    (0xC9, [0x0134, 0x0134, 0x0234], False), (0xCC, [1, 1, 1 + (1 << 24)], False),
    (0xCA, [1 << 20] * 3, True), (0xCB, [-1] * 3 + [5, 5, -5], False), (0xCC, [-7] * 6, True),
    (0xCD, [0.5] * 3 + [-0.0, 0.0, 0.0], True), (0xCD, [float("nan")] * 3, False), (0xCD, [1.0, 1.0, 2.0], False),
    (0xC8, [9, 9], True), (0xC8, [9, 9, 9, 1], True), (0xC8, [], True),
])
def test_pclxl_palettes_are_judged_alike_in_every_element_type(tag, values, neutral):
    import struct

    fmt = {0xC8: "B", 0xC9: "H", 0xCA: "I", 0xCB: "h", 0xCC: "i", 0xCD: "f"}[tag]
    palette = bytes([tag, 0xC0, len(values)]) + struct.pack("<%d%s" % (len(values), fmt), *values) + b"\xf8\x06"
    image = b"\xc0\x01\xf8\x64\xb0\xb1\xfb\x04\x01\x02\x03\x04\xb2"  # indexed image, some data
    page = b"\x43" + palette + b"\xc0\x02\xf8\x03\x6a" + image + b"\x44"
    data = b") HP-PCL XL;2;0;\n" + page * 3 + b"\x42"
    assert_alike_at_every_chunking(data, expect=(3, 0 if neutral else 3))


# -- DSC: one pass for the next %, / or ESC; each page's bounding box read once per value ------

def test_the_byte_searches_find_the_first_of_their_bytes():
    if spooler.pdl.NO_EXTENSIONS:
        pytest.skip("PRINTGATE_NO_EXTENSIONS=1: reference only")
    from spooler.pdl import _scan

    rng = random.Random(5)
    for _ in range(3000):
        data = bytes(rng.choice(b"ab%/\x1b\n\r") if rng.random() < .05 else rng.randrange(256) for _ in range(rng.randint(0, 70)))
        pos = rng.randint(0, len(data))
        for chars in (b"%/\x1b", b"\n\r", b"\x1b\x0c"):
            hits = [i for i in range(pos, len(data)) if data[i] in chars]
            assert _scan._find_check(data, pos, chars) == (hits[0] if hits else len(data)), (data, pos, chars)


def test_page_bounding_boxes_are_read_alike_when_they_repeat_and_when_they_change():
    boxes = [b"0 0 595 842", b"0 0 595 842", b" 0 0 595 842 ", b"0 0 612 792", b"0 0 612 792", b"0 0 595 842",
             b"1 1 420 595\r", b"0 0 595 842" + b" " * 300, b"0 0 595 842", b"x", b"", b"0 0 595 842"]
    pages = b"".join(b"%%%%Page: %d %d\n%%%%PageBoundingBox:%s\nshowpage\n" % (i, i, box) for i, box in enumerate(boxes, 1))
    data = b"%!PS-Adobe-3.0\n%%Pages: (atend)\n%%EndComments\n%%EndSetup\n" + pages + b"%%Trailer\n%%Pages: 12\n%%EOF\n"
    facts = assert_alike_at_every_chunking(data)
    assert facts["pages"] == 12 and set(facts["media"]) >= {"a4", "letter", "a5"}, facts


def test_a_broken_pcl_xl_stream_resumes_at_the_same_uel_however_it_is_chunked():
    """After the grammar breaks, the UEL is looked for after where it broke: a UEL whose ESC
    was already read as part of a value is not one, in one chunk or in many."""
    swallowed = b") HP-PCL XL;2;0;\n\x00\x00\x00\xd0\x1b%-12345X\x01"
    facts = assert_alike_at_every_chunking(swallowed)
    assert facts["languages"] == ["pclxl"]
    for cut in range(1, len(swallowed)):
        assert assert_same(swallowed, [cut]) == facts
    later = b") HP-PCL XL;2;0;\n\x43\x2d" + b"junk" * 5 + b"\x1b%-12345X@PJL ENTER LANGUAGE=PCL\n\x1bEtext\x0c\x1bE"
    facts = assert_alike_at_every_chunking(later)
    assert facts["languages"] == ["pclxl", "pcl5"]  # the PCL 5 after the UEL was read (pages unknown: XL broke)
    for cut in range(1, len(later)):
        assert assert_same(later, [cut]) == facts


def test_repeated_pcl_documents_are_compared_alike_in_every_part_of_their_signature():
    """Length, first bytes, pages, impressions, sheets and colour: the Cython twin compares
    them as C integers and a C buffer; both backends fold the same documents."""
    odd_duplex = b"\x1bE\x1b&l1Sa\x0cb\x0cc\x0c"  # the same bytes, but every other copy starts on a back side
    facts = assert_alike_at_every_chunking(odd_duplex * 4 + b"\x1bE")
    assert (facts["pages"], facts["copies"]) == (12, 1)
    even_duplex = b"\x1bE\x1b&l1Sa\x0cb\x0c"
    facts = assert_alike_at_every_chunking(even_duplex * 4 + b"\x1bE")
    assert (facts["pages"], facts["copies"], facts["sheets"]) == (2, 4, 4)
    tail = b"x" * 5000
    long_docs = b"\x1bEtext\x0c" + tail + b"\x0c" + b"\x1bEtext\x0c" + tail[:-1] + b"y\x0c"  # differ after 4 KiB
    facts = assert_alike_at_every_chunking(long_docs + b"\x1bE")
    assert (facts["pages"], facts["copies"]) == (2, 2)
    longer = b"\x1bEtext\x0c" + tail + b"\x0c" + b"\x1bEtext\x0c" + tail + b"y\x0c"       # one byte longer
    assert assert_alike_at_every_chunking(longer + b"\x1bE")["copies"] == 1
    more_pages = b"\x1bEa\x0cb\x0c\x1bEa\x0c\x0cb\x0c"                                    # an empty page more
    assert assert_alike_at_every_chunking(more_pages + b"\x1bE")["copies"] == 1


# -- PDF content streams: the colour walk's byte loop -------------------------------------------

CONTENT_FRAGMENTS = [
    b"q", b"Q", b"1 0 0 1 72 72 cm", b"0.5 0.2 0.1 rg", b"/CS0 cs", b"1 0 0 scn", b"/P1 scn", b"72 72 100 100 re f",
    b"BT /F1 12 Tf 72 700 Td (Hello \\(world\\)) Tj ET", b"[(A) -120 (B)] TJ", b"<48656c6c6f> Tj", b"(\\101\\12\\\r\n)",
    b"/Im1 Do", b"BI /W 2 /H 1 /BPC 8 /CS /RGB ID \xff\x00\x00\x00\xff\x00 EI", b"BI /W 1 /H 1 /L 3 ID abc EI",
    b"/OC /L1 BDC", b"EMC", b"<< /MCID 3 /Alt (x) >> BDC", b"/N#20x", b"% comment\n", b"1.5.5", b"--3", b".5", b"-.5",
    b"[1 [2 [3]]]", b"<< /A << /B 1 >> >>", b")", b">", b"]", b"}", b"{", b"(unterminated", b"<4", b"true false null",
    b"12345678901234567890", b"/", b"BI", b"ID", b"EI", b"d0", b"T*", b"'", b'"',
]


@st.composite
def fragments_and_noise(draw, fragments):
    """Up to 30 pieces, mostly ``fragments``, some random bytes, joined by space, newline or nothing."""
    parts = []
    for _ in range(draw(st.integers(0, 30))):
        if draw(st.integers(0, 3)):
            parts.append(draw(st.sampled_from(fragments)))
        else:
            parts.append(draw(st.binary(max_size=12)))
    return draw(st.sampled_from([b" ", b"", b"\n"])).join(parts)


@settings(max_examples=500, deadline=None)
@given(data=fragments_and_noise(CONTENT_FRAGMENTS))
def test_content_streams_give_the_same_operations_on_both_backends(data):
    from spooler.pdl import pdfcontent

    if spooler.pdl.NO_EXTENSIONS:
        pytest.skip("PRINTGATE_NO_EXTENSIONS=1: reference only")
    from spooler.pdl import _scan

    assert _scan.content_operations(data) == pdfcontent.operations(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_corpus_content_streams_give_the_same_operations_on_both_backends(corpus, seed):
    import pikepdf

    from spooler.pdl import pdfcontent

    if spooler.pdl.NO_EXTENSIONS:
        pytest.skip("PRINTGATE_NO_EXTENSIONS=1: reference only")
    from spooler.pdl import _scan

    directory, jobs = corpus
    rng = random.Random(seed)
    job = rng.choice([j for j in jobs if j.variant == "pdf-pdfwrite"])
    with pikepdf.open(os.path.join(directory, job.path)) as pdf:
        data = mutated(rng, rng.choice(list(pdf.pages)).obj.Contents.read_bytes())
    assert _scan.content_operations(data) == pdfcontent.operations(data)


def mutated(rng, data: bytes) -> bytes:
    """``data`` with up to a dozen random bytes changed, inserted or deleted."""
    data = bytearray(data)
    for _ in range(rng.randint(0, 12)):
        i = rng.randrange(len(data)) if data else 0
        op = rng.randrange(3)
        if op == 0 and data:
            data[i] = rng.randrange(256)
        elif op == 1:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            del data[i:i + rng.randint(1, 32)]
    return bytes(data)


# -- PostScript programs: the colour scan's tokenizer ----------------------------------------------

PS_FRAGMENTS = [
    b"%!PS-Adobe-3.0\n", b"\n%%Page: 1 1\n", b"\n%%BeginDocument: x\n", b"\n%%EndDocument\n", b"\n%%BeginBinary: 4\nab)c",
    b"\n%%BeginData: 2 Hex Lines\n(\n(\n", b"/F { /Helvetica findfont exch scalefont setfont } bind def", b"{ { } }",
    b"0.9 0.1 0.1 setrgbcolor", b"72 72 100 100 rectfill", b"(a\\)b\\101) show", b"<4142 43>", b"<~87cURD]i,\"Ebo80~>",
    b"<< /PageSize [595 842] >> setpagedevice", b"//systemdict", b"16#FF", b"1e3", b"-.5e-2", b"2147483648", b"+",
    b"showpage", b"[1 2 3]", b"}", b"{", b")", b">", b"(unterminated", b"% comment", b"\x04%%Page: 2 2\n", b"/", b"//",
]


@settings(max_examples=500, deadline=None)
@given(data=fragments_and_noise(PS_FRAGMENTS))
def test_postscript_programs_give_the_same_tokens_on_both_backends(data):
    from spooler.pdl import psscan

    if spooler.pdl.NO_EXTENSIONS:
        pytest.skip("PRINTGATE_NO_EXTENSIONS=1: reference only")
    from spooler.pdl import _scan

    assert _scan.ps_tokens(data) == psscan.tokens(data)
    assert [type(t) for t in _scan.ps_tokens(data)] == [type(t) for t in psscan.tokens(data)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_corpus_postscript_gives_the_same_tokens_on_both_backends(corpus, seed):
    from spooler.pdl import psscan

    if spooler.pdl.NO_EXTENSIONS:
        pytest.skip("PRINTGATE_NO_EXTENSIONS=1: reference only")
    from spooler.pdl import _scan

    directory, jobs = corpus
    rng = random.Random(seed)
    job = rng.choice([j for j in jobs if j.pdl == "postscript" and "ps2write" not in j.variant])
    with open(os.path.join(directory, job.path), "rb") as f:
        data = mutated(rng, f.read()[:40000])
    assert _scan.ps_tokens(data) == psscan.tokens(data)
