"""The LPD wire parser, fed bytes alone."""
import pytest

from spooler.lpd import errors
from spooler.lpd.parser import (
    AbortJob,
    ControlFileComplete,
    ControlFileStart,
    DataChunk,
    DataFileComplete,
    DataFileStart,
    LpdServerParser,
    PrintWaiting,
    QueueState,
    ReceiveJob,
    RemoveJobs,
)

CONTROL = b"Hws1\nPalice\nJReport\nldfA001ws1\nUdfA001ws1\nNreport.pdf\n"


def job_bytes(data=b"%PDF-1.4 hello", control=CONTROL, order="control,data"):
    parts = {
        "control": b"\x02%d cfA001ws1\n" % len(control) + control + b"\x00",
        "data": b"\x03%d dfA001ws1\n" % len(data) + data + b"\x00",
    }
    return b"\x02secure\n" + b"".join(parts[p] for p in order.split(","))


def feed_all(parser, data, step=None):
    events = []
    step = step or len(data)
    for i in range(0, len(data), step):
        events += parser.feed(data[i:i + step])
    return events


def merged(events):
    """Join consecutive data chunks so tests can compare event lists across chunkings."""
    out = []
    for event in events:
        if isinstance(event, DataChunk) and out and isinstance(out[-1], DataChunk):
            out[-1] = DataChunk(event.name, out[-1].data + event.data)
        else:
            out.append(event)
    return out


def test_a_control_file_then_a_data_file_make_the_expected_events():
    events = merged(feed_all(LpdServerParser(), job_bytes()))
    assert events == [
        ReceiveJob("secure"),
        ControlFileStart(len(CONTROL), "cfA001ws1"),
        ControlFileComplete("cfA001ws1", CONTROL),
        DataFileStart(14, "dfA001ws1", False),
        DataChunk("dfA001ws1", b"%PDF-1.4 hello"),
        DataFileComplete("dfA001ws1"),
    ]


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
def test_events_do_not_depend_on_how_the_bytes_are_split(step):
    whole = merged(feed_all(LpdServerParser(), job_bytes(order="data,control")))
    assert merged(feed_all(LpdServerParser(), job_bytes(order="data,control"), step)) == whole


def test_data_file_with_length_zero_runs_until_the_connection_closes():
    parser = LpdServerParser()
    events = parser.feed(b"\x02secure\n\x02%d cfA1h\n" % len(CONTROL) + CONTROL + b"\x00\x030 dfA1h\nabc")
    events += parser.feed(b"def\x00ghi")
    assert DataFileStart(0, "dfA1h", True) in events
    assert b"".join(e.data for e in events if isinstance(e, DataChunk)) == b"abcdef\x00ghi"
    assert parser.eof() == [DataFileComplete("dfA1h", by_close=True)]


def test_an_impossible_length_is_read_until_close_like_windows_lpr_sends_it():
    parser = LpdServerParser(max_data_file=2**31)
    events = parser.feed(b"\x02q\n\x03999999999999 dfA1h\nabc")
    assert events[1] == DataFileStart(999999999999, "dfA1h", True)
    assert parser.eof() == [DataFileComplete("dfA1h", by_close=True)]


def test_a_plausible_length_cut_short_by_close_is_incomplete():
    parser = LpdServerParser()
    parser.feed(b"\x02q\n\x03100 dfA1h\nabc")
    with pytest.raises(errors.IncompleteJob):
        parser.eof()


@pytest.mark.parametrize("line, error", [
    (b"\x09secure\n", errors.UnknownCommand),
    (b"\x02q\n\x02abc cfA1h\n", errors.BadCount),
    (b"\x02q\n\x03-5 dfA1h\n", errors.BadCount),
    (b"\x02q\n\x02" + b"70000 cfA1h\n", errors.ControlFileTooLarge),
    (b"\x02q\n\x07x\n", errors.UnknownCommand),
    (b"\x02q\n\x033 dfA1h\nabcX", errors.MissingTerminator),
    (b"\x02q\n\x03" + b"1" * 5000, errors.LineTooLong),
    (b"\x02q\n\x024 cfA1h\nPa\n\n\x00\x024 cfA2h\n", errors.OutOfOrder),
    (b"\x02q\n\x034 ../etc/passwd\n", errors.OutOfOrder),
])
def test_malformed_input_raises_a_specific_error(line, error):
    with pytest.raises(error):
        LpdServerParser().feed(line)


def test_queue_state_and_remove_commands_carry_their_operands():
    assert LpdServerParser().feed(b"\x03secure alice 12\n") == [QueueState("secure", False, ["alice", "12"])]
    assert LpdServerParser().feed(b"\x04secure\n") == [QueueState("secure", True, [])]
    assert LpdServerParser().feed(b"\x05secure bob 7 8\n") == [RemoveJobs("secure", "bob", ["7", "8"])]
    assert LpdServerParser().feed(b"\x01secure\n") == [PrintWaiting("secure")]


def test_abort_subcommand_allows_a_fresh_control_file():
    parser = LpdServerParser()
    events = parser.feed(b"\x02q\n\x024 cfA1h\nPa\n\n\x00\x01\n\x024 cfA1h\nPb\n\n\x00")
    assert AbortJob() in events
    assert [e for e in events if isinstance(e, ControlFileComplete)][-1].content == b"Pb\n\n"


def test_a_subcommand_byte_count_over_eighteen_digits_is_refused():
    with pytest.raises(errors.BadCount):
        LpdServerParser().feed(b"\x02q\n\x03" + b"9" * 19 + b" dfA1h\n")


def test_a_data_file_whose_bytes_all_arrived_but_not_its_zero_byte_ends_at_close():
    parser = LpdServerParser()
    parser.feed(b"\x02q\n\x035 dfA1h\nhello")
    assert parser.eof() == [DataFileComplete("dfA1h", by_close=True)]


def test_a_control_file_without_its_zero_byte_is_incomplete_at_close():
    parser = LpdServerParser()
    parser.feed(b"\x02q\n\x024 cfA1h\nPa\n\n")
    with pytest.raises(errors.IncompleteJob):
        parser.eof()
