import pytest

from spooler.lpd.controlfile import parse_control_file
from spooler.lpd.errors import BadControlFile


def test_the_cups_lpd_backend_control_file_gives_owner_title_and_one_copy():
    control = parse_control_file(b"Hws1\nPalice\nJMy_Title\nldfA027ws1\nUdfA027ws1\nNMy_Title\n")
    assert (control.host, control.user, control.job_name) == ("ws1", "alice", "My_Title")
    assert control.data_files == ["dfA027ws1"]
    assert control.copies["dfA027ws1"] == 1
    assert control.source_names["dfA027ws1"] == "My_Title"


def test_a_format_line_repeated_n_times_means_n_copies():
    control = parse_control_file(b"Pbob\nldfA1h\nldfA1h\nldfA1h\nUdfA1h\n")
    assert control.copies["dfA1h"] == 3


def test_several_data_files_keep_their_own_formats_and_copies():
    control = parse_control_file(b"Pbob\nTTitle\nCclass\nLbob\nMbob@example.org\nfdfA1h\nodfB1h\nodfB1h\n")
    assert control.data_files == ["dfA1h", "dfB1h"]
    assert control.formats == {"dfA1h": "f", "dfB1h": "o"}
    assert control.copies["dfB1h"] == 2
    assert (control.title, control.class_name, control.banner_user, control.mail_to) == ("Title", "class", "bob", "bob@example.org")


def test_the_job_name_wins_over_title_and_source_name():
    control = parse_control_file(b"JJobname\nTTitle\nldfA1h\nNsource.txt\n")
    assert control.title_for("dfA1h") == "Jobname"
    assert parse_control_file(b"ldfA1h\nNsource.txt\n").title_for("dfA1h") == "source.txt"


def test_a_nul_byte_in_a_line_is_refused():
    with pytest.raises(BadControlFile):
        parse_control_file(b"Pal\x00ice\nldfA1h\n")


def test_unknown_lines_are_kept_not_refused():
    control = parse_control_file(b"Pbob\nW132\nI4\nldfA1h\n")
    assert ("W", "132") in control.other
