"""The IPP document-format a held job is sent as, from the analyzer's language and what
the printer lists (issue 14.3)."""
from spooler.forward.formats import AUTO, cannot_print_note, choose_format, job_language

PDF_PS = ["application/octet-stream", "application/pdf", "application/postscript"]
WITH_PCL = ["application/octet-stream", "application/pdf", "application/vnd.hp-pcl"]


def test_pcl_goes_as_pcl_to_a_printer_that_lists_it():
    assert choose_format("pcl5", WITH_PCL) == "application/vnd.hp-pcl"


def test_pcl_goes_nowhere_a_printer_lists_other_formats_but_not_pcl_even_with_octet_stream():
    assert choose_format("pcl5", PDF_PS) is None


def test_a_printer_that_lists_only_octet_stream_or_nothing_is_trusted_to_sense_the_language():
    assert choose_format("pcl5", [AUTO]) == AUTO
    assert choose_format("pcl5", []) == "application/vnd.hp-pcl"


def test_a_pdf_behind_a_pjl_header_goes_as_octet_stream_where_listed():
    assert choose_format("pdf", PDF_PS, pjl_header=True) == AUTO
    assert choose_format("pdf", ["application/pdf"], pjl_header=True) == "application/pdf"
    assert choose_format("pdf", PDF_PS) == "application/pdf"


def test_a_job_of_unknown_or_mixed_language_goes_as_what_its_client_said_or_octet_stream():
    assert job_language("unknown", ()) is None and job_language("pcl5", ("pcl5", "postscript")) is None
    assert choose_format(None, PDF_PS, fallback="application/pdf") == "application/pdf"
    assert choose_format(None, PDF_PS) == AUTO


def test_the_panel_note_names_the_language_and_what_the_printer_takes():
    note = cannot_print_note("pcl5", ["pcl5"], PDF_PS)
    assert note == ("Cannot print here: this printer does not take PCL (it takes PDF, PostScript). "
                    "Nothing will be charged.")
