"""Forced mono/duplex injection as a streaming transform: bytes in, bytes out."""
import random

import pytest

from spooler.forward.errors import InjectionError
from spooler.forward.inject import ForcedSettingsTransform
from spooler.forward.job import ForcedChanges

UEL = b"\x1b%-12345X"
BOTH = ForcedChanges(mono=True, duplex=True)
SETS = b"@PJL SET RENDERMODE=GRAYSCALE\r\n@PJL SET DUPLEX=ON\r\n@PJL SET BINDING=LONGEDGE\r\n"


def run(data: bytes, forced=BOTH, sizes=None, **kw) -> bytes:
    transform = ForcedSettingsTransform(forced, **kw)
    out, pos = [], 0
    rng = random.Random(sizes)
    while pos < len(data):
        step = len(data) if sizes is None else rng.randint(1, 7)
        out.append(transform.feed(data[pos:pos + step]))
        pos += step
    out.append(transform.close())
    return b"".join(out)


PJL_JOB = (UEL + b'@PJL JOB NAME="x"\r\n@PJL SET DUPLEX=OFF\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bEpage\x0c'
           + UEL + b"@PJL EOJ\r\n" + UEL)


def test_nothing_forced_passes_bytes_through_untouched():
    assert run(PJL_JOB, ForcedChanges()) == PJL_JOB


def test_pjl_settings_go_before_enter_language_after_the_drivers_own():
    assert run(PJL_JOB) == (UEL + b'@PJL JOB NAME="x"\r\n@PJL SET DUPLEX=OFF\r\n' + SETS
                            + b"@PJL ENTER LANGUAGE=PCL\r\n\x1bEpage\x0c" + UEL + b"@PJL EOJ\r\n" + UEL)


@pytest.mark.parametrize("seed", range(20))
def test_chunk_boundaries_do_not_change_the_output(seed):
    ps = b"\x04%!PS-Adobe-3.0\r\n%%Title: a\r\n%%EndComments\r\nshowpage\r\n"
    for data in (PJL_JOB, ps, b"\x1bE\x1b&l1X text \x0c", b"%PDF-1.7\n...", UEL + b"@PJL\n" + b"\x1bE"):
        assert run(data, sizes=seed) == run(data)


def test_a_pjl_header_without_enter_language_gets_the_settings_before_the_first_non_pjl_byte():
    data = UEL + b"@PJL\n@PJL JOB\n\x1bE page"
    assert run(data, ForcedChanges(duplex=True)) == (
        UEL + b"@PJL\n@PJL JOB\n@PJL SET DUPLEX=ON\n@PJL SET BINDING=LONGEDGE\n\x1bE page")


def test_short_edge_binding_is_honoured():
    out = run(PJL_JOB, ForcedChanges(duplex=True, binding="SHORTEDGE"))
    assert b"@PJL SET BINDING=SHORTEDGE\r\n@PJL ENTER" in out


def test_every_pjl_section_gets_the_settings_again():
    second = UEL + b"@PJL SET DUPLEX=OFF\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!\nshowpage\n"
    out = run(PJL_JOB[:-len(UEL)] + second)
    assert out.count(SETS + b"@PJL ENTER LANGUAGE") == 2


def test_a_trailing_pjl_eoj_section_gets_nothing():
    assert run(PJL_JOB).count(SETS) == 1


def test_bare_postscript_gets_a_prologue_after_the_header_comments():
    ps = b"%!PS-Adobe-3.0\n%%Pages: 2\n%%EndComments\n%%BeginProlog\n/x 1 def\nshowpage\n"
    out = run(ps)
    head, _, tail = out.partition(b"%%BeginFeature: Printgate forced settings\n")
    assert head == b"%!PS-Adobe-3.0\n%%Pages: 2\n%%EndComments\n"
    assert b"{ << /Duplex true /Tumble false >> setpagedevice } stopped pop\n" in tail
    assert b"{ << /ProcessColorModel /DeviceGray >> setpagedevice } stopped pop\n" in tail
    assert tail.endswith(b"%%EndFeature\n%%BeginProlog\n/x 1 def\nshowpage\n")


def test_postscript_without_end_comments_gets_the_prologue_before_the_first_code_line():
    out = run(b"%!\n/Times findfont\n", ForcedChanges(mono=True))
    assert out.startswith(b"%!\n%%BeginFeature")
    assert out.endswith(b"%%EndFeature\n/Times findfont\n")


def test_the_postscript_wrapper_keeps_forced_keys_in_the_documents_own_requests():
    out = run(b"%!\nshowpage\n", ForcedChanges(duplex=True))
    assert b"userdict /setpagedevice { dup wcheck { dup /Duplex true put dup /Tumble false put } if" in out


def test_pcl_without_pjl_is_wrapped_in_a_new_pjl_job():
    assert run(b"\x1bE page \x0c", ForcedChanges(mono=True)) == (
        UEL + b"@PJL\r\n@PJL SET RENDERMODE=GRAYSCALE\r\n\x1bE page \x0c" + UEL)


def test_an_empty_job_stays_empty():
    assert run(b"") == b""


def test_a_pjl_header_longer_than_the_limit_is_an_error_not_a_silent_pass():
    data = UEL + b"@PJL COMMENT " + b"x" * 5000 + b"\r\n"
    with pytest.raises(InjectionError) as caught:
        run(data + b"@PJL ENTER LANGUAGE=PCL\r\n", head_limit=1024, sizes=1)
    assert caught.value.offset > 1024


def test_output_streams_as_soon_as_the_insertion_point_is_seen():
    transform = ForcedSettingsTransform(BOTH)
    out = transform.feed(UEL + b"@PJL JOB\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE" + b"p" * 100000)
    assert out.startswith(UEL + b"@PJL JOB\r\n" + SETS) and len(out) > 100000
