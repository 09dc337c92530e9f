"""The gateway's fast log lines must read exactly like Twisted's classic text lines."""
import time

from twisted.logger import LogLevel, formatEventAsClassicLogText
from twisted.python.failure import Failure

from spooler.logs import line_formatter


def _event(fmt, **fields):
    return dict(log_format=fmt, log_time=time.time(), log_namespace="spooler.intake", log_level=LogLevel.info,
                **fields)


def _failure():
    try:
        raise ValueError("boom")
    except ValueError:
        return Failure()


EVENTS = [
    _event("job {job_id} held for {owner} from {host}: {size} bytes", job_id=7, owner="alice", host="127.0.0.1",
           size=10240),
    _event("two\nlines {x!r}", x="a'b"),
    _event("no fields at all"),
    _event("missing {field}"),
    _event("a call {obj.upper()}", obj="abc"),
    _event("failed {what}", what="x", log_failure=_failure()),
    dict(log_format="system given", log_time=time.time(), log_system="lpd,127.0.0.1"),
    dict(log_time=time.time(), log_namespace="x", log_level=LogLevel.warn),
    dict(log_format="", log_time=time.time(), log_namespace="x", log_level=LogLevel.warn),
    dict(log_format="no time", log_namespace="x", log_level=LogLevel.error),
]


def test_lines_match_twisted_classic_text():
    format_line = line_formatter()
    for event in EVENTS:
        assert format_line(event) == formatEventAsClassicLogText(event), event.get("log_format")


def test_the_second_stamp_follows_the_clock():
    format_line = line_formatter()
    early, late = _event("tick"), _event("tick")
    early["log_time"], late["log_time"] = 1_000_000_000.5, 1_000_000_061.0
    assert format_line(early) == formatEventAsClassicLogText(early)
    assert format_line(late) == formatEventAsClassicLogText(late)
    assert format_line(early) != format_line(late)


def test_the_observer_shows_info_and_up_unless_asked_for_debug():
    import io

    from spooler.logs import gateway_log_observer

    for level, expected in (("info", ["shown"]), ("debug", ["hidden", "shown"])):
        out = io.StringIO()
        observer = gateway_log_observer(out, level)
        observer(_event("hidden") | {"log_level": LogLevel.debug})
        observer(_event("shown"))
        assert [line.rsplit("] ", 1)[1] for line in out.getvalue().splitlines()] == expected
