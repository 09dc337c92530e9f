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
]


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
