from spooler.pdl.pjl import parse_header

UEL = b"\x1b%-12345X"


def test_username_and_job_name_are_read_in_any_case_and_spacing():
    header = parse_header(UEL + b'@pjl job name = "Q3 plan.docx"\n@PJL   SET  USERNAME = "frank"\n@PJL ENTER LANGUAGE = PCLXL\n')
    assert (header.job_name, header.user_name, header.language) == ("Q3 plan.docx", "frank", "PCLXL")


def test_jobattr_login_user_name_names_the_owner_when_username_is_absent():
    header = parse_header(UEL + b'@PJL SET JOBATTR="@LUNA=gina"\r\n@PJL SET JOBATTR="@JOBN=Letter"\r\n')
    assert (header.user_name, header.job_name) == ("gina", "Letter")


def test_a_job_without_pjl_has_no_header():
    header = parse_header(b"%!PS-Adobe-3.0\n")
    assert not header.present and header.user_name is None


def test_reading_stops_at_the_page_description():
    header = parse_header(UEL + b"@PJL ENTER LANGUAGE=PCL\n\x1bE@PJL SET USERNAME=evil\n")
    assert header.user_name is None


def test_hostile_bytes_never_raise():
    for data in (UEL * 10000, b"@PJL " + b"=" * 100000, b"@PJL SET \xff\xfe=\"\n", b"@PJL\n" * 50000):
        parse_header(data)
