"""The IPP server over StringTransport: validation order, operations, streaming, HTTP."""
import gzip
import hashlib
import zlib

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from spooler.errors import JobRefused
from spooler.ipp.codec import Attribute, Message, Tag, decode_message, encode_message
from spooler.ipp.constants import JobState, Operation, Status
from spooler.ipp.protocol import IppFactory
from tests.spooler.ipp.fakes import FakeJobDesk, FakeIntake, make_config

HOST = "gateway.example:631"
PRINTER = f"ipp://{HOST}/printers/secure"


class Gateway:
    def __init__(self, *, max_job_size=1 << 30):
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.desk = FakeJobDesk()
        self.intake = FakeIntake(self.desk, max_job_size=max_job_size)
        self.factory = IppFactory(intake=self.intake, jobs=self.desk,
                                  config=make_config(max_job_size=max_job_size), clock=self.clock)

    def connect(self):
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=_Addr("192.0.2.7", 40000),
                                    hostAddress=_Addr("127.0.0.1", 631))
        protocol.makeConnection(transport)
        return protocol, transport

    def call(self, message, document=b"", **http):
        protocol, transport = self.connect()
        protocol.dataReceived(http_request(encode_message(message) + document, **http))
        return responses(transport.value())[-1]


class _Addr:
    def __init__(self, host, port):
        self.host, self.port = host, port


def request(op, *attrs, user="alice", uri=PRINTER, version=(2, 0), request_id=7, job=()):
    message = Message(version, int(op), request_id)
    group = message.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    if uri:
        group.add("printer-uri", Tag.URI, uri)
    if user:
        group.add("requesting-user-name", Tag.NAME, user)
    group.attributes.extend(attrs)
    if job:
        message.add_group(Tag.JOB).attributes.extend(job)
    return message


def http_request(body, *, chunked=False, expect=False, close=False, pieces=1):
    head = f"POST /printers/secure HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/ipp\r\n"
    if expect:
        head += "Expect: 100-continue\r\n"
    if close:
        head += "Connection: close\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n\r\n"
        step = max(1, len(body) // pieces)
        out = b""
        for i in range(0, len(body), step):
            part = body[i:i + step]
            out += b"%x\r\n" % len(part) + part + b"\r\n"
        return head.encode() + out + b"0\r\n\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def responses(raw: bytes) -> list:
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        if status == 100:
            raw = rest
            continue
        headers = dict(l.decode().lower().split(": ", 1) for l in lines[1:])
        length = int(headers.get("content-length", 0))
        body, raw = rest[:length], rest[length:]
        if headers.get("content-type") == "application/ipp":
            out.append(decode_message(body)[0])
        else:
            out.append((status, body))
    return out


def attr(message, name, group=Tag.JOB):
    g = message.group(group)
    a = g.get(name) if g else None
    return a.python_values() if a is not None else None


def A(name, tag, *values):
    return Attribute.of(name, tag, *values)


@pytest.fixture
def gw():
    return Gateway()


# ------------------------------------------------------------ validation order


def test_printer_attributes_echo_the_host_the_client_used(gw):
    reply = gw.call(request(Operation.GET_PRINTER_ATTRIBUTES))
    assert reply.code == Status.SUCCESSFUL_OK
    assert attr(reply, "printer-uri-supported", Tag.PRINTER) == [PRINTER]
    assert attr(reply, "printer-name", Tag.PRINTER) == ["secure"]
    assert attr(reply, "ipp-versions-supported", Tag.PRINTER) == ["1.1", "2.0"]
    assert attr(reply, "media-col-database", Tag.PRINTER) is None
    assert reply.request_id == 7


def test_an_unsupported_version_is_refused_before_anything_else(gw):
    reply = gw.call(request(Operation.GET_PRINTER_ATTRIBUTES, version=(0, 0), request_id=0))
    assert reply.code == Status.SERVER_ERROR_VERSION_NOT_SUPPORTED


def test_request_id_zero_is_a_bad_request(gw):
    assert gw.call(request(Operation.GET_PRINTER_ATTRIBUTES, request_id=0)).code == \
        Status.CLIENT_ERROR_BAD_REQUEST


def test_groups_out_of_order_are_a_bad_request(gw):
    message = request(Operation.PRINT_JOB, job=[A("copies", Tag.INTEGER, 1)])
    message.groups.reverse()
    assert gw.call(message).code == Status.CLIENT_ERROR_BAD_REQUEST


@pytest.mark.parametrize("order", [("lang", "charset"), ("charset",), ("lang",)])
def test_charset_then_language_must_lead_the_operation_group(gw, order):
    message = Message((2, 0), int(Operation.GET_PRINTER_ATTRIBUTES), 1)
    group = message.add_group(Tag.OPERATION)
    for item in order:
        if item == "charset":
            group.add("attributes-charset", Tag.CHARSET, "utf-8")
        else:
            group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, PRINTER)
    assert gw.call(message).code == Status.CLIENT_ERROR_BAD_REQUEST


def test_an_unknown_charset_is_charset_not_supported(gw):
    message = request(Operation.GET_PRINTER_ATTRIBUTES)
    message.groups[0].attributes[0] = A("attributes-charset", Tag.CHARSET, "koi8-r")
    reply = gw.call(message)
    assert reply.code == Status.CLIENT_ERROR_CHARSET_NOT_SUPPORTED
    assert attr(reply, "attributes-charset", Tag.UNSUPPORTED_GROUP) == ["koi8-r"]


def test_a_missing_target_is_a_bad_request_and_an_unknown_queue_not_found(gw):
    assert gw.call(request(Operation.GET_PRINTER_ATTRIBUTES, uri=None)).code == \
        Status.CLIENT_ERROR_BAD_REQUEST
    assert gw.call(request(Operation.GET_PRINTER_ATTRIBUTES,
                           uri=f"ipp://{HOST}/printers/nope")).code == Status.CLIENT_ERROR_NOT_FOUND


def test_an_unknown_operation_is_not_supported(gw):
    assert gw.call(request(0x4001)).code == Status.SERVER_ERROR_OPERATION_NOT_SUPPORTED


def test_a_malformed_message_is_answered_with_bad_request(gw):
    protocol, transport = gw.connect()
    protocol.dataReceived(http_request(b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x47\x00\x05ab"))
    reply = responses(transport.value())[-1]
    assert reply.code == Status.CLIENT_ERROR_BAD_REQUEST


def test_bad_http_framing_is_a_400_and_a_close(gw):
    protocol, transport = gw.connect()
    protocol.dataReceived(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                          b"Content-Type: application/ipp\r\n\r\nzz\r\n")
    assert transport.value().startswith(b"HTTP/1.1 400")
    assert transport.disconnecting


# ------------------------------------------------------------ Print-Job


def print_job(*attrs, job=(), fmt="application/pdf", user="alice"):
    extra = [A("job-name", Tag.NAME, "report.pdf")]
    if fmt:
        extra.append(A("document-format", Tag.MIME_MEDIA_TYPE, fmt))
    return request(Operation.PRINT_JOB, *extra, *attrs, user=user, job=job)


def test_a_large_document_is_read_a_mebibyte_at_a_time_and_a_small_one_is_not(gw):
    from spooler.read_size import LARGE_READ

    protocol, transport = gw.connect()
    transport.bufferSize = 64 * 1024  # as Twisted's TCP transport has it
    small = http_request(encode_message(print_job()) + b"%PDF-1.4\n" + b"x" * 1000)
    protocol.dataReceived(small)
    assert transport.bufferSize == 64 * 1024
    large = http_request(encode_message(print_job()) + b"%PDF-1.4\n" + b"x" * (2 * 1024 * 1024))
    for i in range(0, len(large), 64 * 1024):
        protocol.dataReceived(large[i:i + 64 * 1024])
    assert transport.bufferSize == LARGE_READ
    assert [r.code for r in responses(transport.value())] == [Status.SUCCESSFUL_OK] * 2


def test_print_job_streams_the_document_and_answers_with_a_held_job(gw):
    document = b"%PDF-1.4\n" + b"x" * 100_000
    protocol, transport = gw.connect()
    wire = http_request(encode_message(print_job(job=[
        A("copies", Tag.INTEGER, 2), A("sides", Tag.KEYWORD, "two-sided-long-edge")])) + document,
        chunked=True, pieces=40)
    for i in range(0, len(wire), 997):
        protocol.dataReceived(wire[i:i + 997])
    reply = responses(transport.value())[-1]
    assert reply.code == Status.SUCCESSFUL_OK
    assert attr(reply, "job-state") == [JobState.PENDING_HELD]
    assert attr(reply, "job-state-reasons") == ["job-hold-until-specified"]
    assert attr(reply, "job-uri") == [f"{PRINTER}/1"]
    receiver = gw.intake.receivers[0]
    assert receiver.data == document
    assert len(receiver.chunks) > 40  # written as it arrived, not in one piece
    meta = receiver.metadata
    assert (meta.protocol, meta.user, meta.title, meta.copies, meta.sides, meta.host) == (
        "ipp", "alice", "report.pdf", 2, "two-sided-long-edge", "192.0.2.7")
    assert meta.document_format == "application/pdf"


def test_print_job_is_answered_only_after_the_job_is_durable(gw):
    gw.intake.hold_commits = True
    protocol, transport = gw.connect()
    protocol.dataReceived(http_request(encode_message(print_job()) + b"%PDF"))
    assert responses(transport.value()) == []
    gw.intake.receivers[0].commit_deferred.callback(None)
    assert responses(transport.value())[-1].code == Status.SUCCESSFUL_OK


@pytest.mark.parametrize("compression, encode", [
    ("gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda d: (lambda c: c.compress(d) + c.flush())(zlib.compressobj(6, zlib.DEFLATED, -15))),
])
def test_compressed_documents_are_decompressed_on_the_fly(gw, compression, encode):
    document = b"%!PS-Adobe-3.0\n" + b"showpage\n" * 50_000
    reply = gw.call(print_job(A("compression", Tag.KEYWORD, compression)), encode(document),
                    chunked=True, pieces=7)
    assert reply.code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].data == document


def test_a_decompression_bomb_is_refused_and_nothing_kept():
    gw = Gateway(max_job_size=1 << 20)
    bomb = gzip.compress(b"\0" * (64 << 20))
    reply = gw.call(print_job(A("compression", Tag.KEYWORD, "gzip")), bomb)
    assert reply.code == Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE
    assert gw.intake.receivers[0].aborted is not None
    assert gw.desk.jobs == {}


def test_a_corrupt_compressed_document_is_a_compression_error(gw):
    reply = gw.call(print_job(A("compression", Tag.KEYWORD, "gzip")), b"\x1f\x8bnot gzip at all")
    assert reply.code == Status.CLIENT_ERROR_COMPRESSION_ERROR
    assert gw.intake.receivers[0].aborted is not None


def test_an_unknown_compression_is_not_supported(gw):
    reply = gw.call(print_job(A("compression", Tag.KEYWORD, "brotli")), b"data")
    assert reply.code == Status.CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED


def test_an_unsupported_document_format_is_refused_and_echoed(gw):
    reply = gw.call(print_job(fmt="application/x-shockwave-flash"), b"FWS")
    assert reply.code == Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED
    assert attr(reply, "document-format", Tag.UNSUPPORTED_GROUP) == ["application/x-shockwave-flash"]
    assert gw.intake.receivers == []


def test_unknown_job_attributes_are_ignored_and_echoed(gw):
    reply = gw.call(print_job(job=[A("x-vendor-glitter", Tag.KEYWORD, "lots")]), b"%PDF")
    assert reply.code == Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED
    assert attr(reply, "x-vendor-glitter", Tag.UNSUPPORTED_GROUP) == ["lots"]


def test_bad_values_of_known_attributes_are_substituted_and_echoed(gw):
    reply = gw.call(print_job(job=[A("copies", Tag.INTEGER, 0)]), b"%PDF")
    assert reply.code == Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED
    assert attr(reply, "copies", Tag.UNSUPPORTED_GROUP) == [0]
    assert gw.intake.receivers[0].metadata.copies == 1


def test_bad_values_with_fidelity_refuse_the_job(gw):
    reply = gw.call(print_job(A("ipp-attribute-fidelity", Tag.BOOLEAN, True),
                              job=[A("sides", Tag.KEYWORD, "three-sided")]), b"%PDF")
    assert reply.code == Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED
    assert attr(reply, "sides", Tag.UNSUPPORTED_GROUP) == ["three-sided"]
    assert gw.intake.receivers == []


def test_unknown_attributes_with_fidelity_refuse_the_job(gw):
    reply = gw.call(print_job(A("ipp-attribute-fidelity", Tag.BOOLEAN, True),
                              job=[A("x-vendor-glitter", Tag.KEYWORD, "lots")]), b"%PDF")
    assert reply.code == Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED


def test_a_policy_refusal_is_not_possible_with_the_rules_message(gw):
    gw.intake.refuse_with = JobRefused("colour printing is not allowed for you", user="alice")
    reply = gw.call(print_job(), b"%PDF")
    assert reply.code == Status.CLIENT_ERROR_NOT_POSSIBLE
    assert attr(reply, "status-message", Tag.OPERATION) == ["colour printing is not allowed for you"]


def test_a_connection_cut_midway_leaves_nothing(gw):
    protocol, transport = gw.connect()
    wire = http_request(encode_message(print_job()) + b"%PDF" + b"x" * 10_000)
    protocol.dataReceived(wire[:-5000])
    protocol.connectionLost(None)
    receiver = gw.intake.receivers[0]
    assert receiver.aborted is not None
    assert gw.desk.jobs == {}


def test_expect_100_continue_is_answered_before_the_response(gw):
    protocol, transport = gw.connect()
    protocol.dataReceived(http_request(encode_message(print_job()) + b"%PDF", expect=True))
    assert transport.value().startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")


def test_keep_alive_answers_pipelined_requests_in_order(gw):
    protocol, transport = gw.connect()
    first = request(Operation.GET_PRINTER_ATTRIBUTES, request_id=1)
    second = print_job()
    second.request_id = 2
    protocol.dataReceived(http_request(encode_message(first))
                          + http_request(encode_message(second) + b"%PDF", chunked=True))
    replies = responses(transport.value())
    assert [r.request_id for r in replies] == [1, 2]
    assert not transport.disconnecting


def test_connection_close_is_honoured(gw):
    protocol, transport = gw.connect()
    protocol.dataReceived(http_request(encode_message(request(Operation.GET_PRINTER_ATTRIBUTES)),
                                       close=True))
    assert b"Connection: close" in transport.value()
    assert transport.disconnecting


def test_an_idle_connection_is_closed(gw):
    protocol, transport = gw.connect()
    protocol.dataReceived(b"POST / HTTP/1.1\r\n")
    gw.clock.advance(61)
    assert transport.disconnecting


# ------------------------------------------------------------ Create-Job / Send-Document


def create_job(user="alice"):
    return request(Operation.CREATE_JOB, A("job-name", Tag.NAME, "two-step"), user=user)


def send_document(job_id, last=True, user="alice", data_attrs=()):
    attrs = [A("job-id", Tag.INTEGER, job_id), *data_attrs]
    if last is not None:
        attrs.append(A("last-document", Tag.BOOLEAN, last))
    return request(Operation.SEND_DOCUMENT, *attrs, user=user)


def test_create_job_then_send_document_makes_one_job_under_the_create_job_id(gw):
    created = gw.call(create_job())
    assert created.code == Status.SUCCESSFUL_OK
    job_id = attr(created, "job-id")[0]
    assert attr(created, "job-state") == [JobState.PENDING]
    sent = gw.call(send_document(job_id), b"%PDF-1.7 body", chunked=True)
    assert sent.code == Status.SUCCESSFUL_OK
    assert attr(sent, "job-id") == [job_id]
    assert attr(sent, "job-state") == [JobState.PENDING_HELD]
    assert gw.intake.receivers[0].data == b"%PDF-1.7 body"
    assert gw.intake.receivers[0].metadata.title == "two-step"
    fetched = gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, job_id)))
    assert attr(fetched, "job-id") == [job_id]
    assert attr(fetched, "job-name") == ["two-step"]


def test_send_document_without_last_document_is_a_bad_request(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    assert gw.call(send_document(job_id, last=None), b"%PDF").code == Status.CLIENT_ERROR_BAD_REQUEST


def test_send_document_by_another_user_is_not_authorized(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    assert gw.call(send_document(job_id, user="mallory"), b"%PDF").code == \
        Status.CLIENT_ERROR_NOT_AUTHORIZED


def test_a_second_document_is_refused(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    assert gw.call(send_document(job_id, last=False), b"%PDF one").code == Status.SUCCESSFUL_OK
    assert gw.call(send_document(job_id, last=True), b"%PDF two").code == \
        Status.SERVER_ERROR_MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED


def test_an_empty_last_send_document_closes_a_job(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    assert gw.call(send_document(job_id, last=False), b"%PDF one").code == Status.SUCCESSFUL_OK
    closing = gw.call(send_document(job_id, last=True), b"")
    assert closing.code == Status.SUCCESSFUL_OK
    assert attr(closing, "job-state") == [JobState.PENDING_HELD]


def test_a_create_job_without_a_document_times_out(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    gw.clock.advance(121)
    fetched = gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, job_id)))
    assert attr(fetched, "job-state") == [JobState.ABORTED]
    assert gw.call(send_document(job_id), b"%PDF").code == Status.CLIENT_ERROR_NOT_POSSIBLE


# ------------------------------------------------------------ job operations


def held_job(gw, user="alice", job=()):
    return attr(gw.call(print_job(user=user, job=job), b"%PDF"), "job-id")[0]


def test_cancel_job_by_the_owner_goes_through_the_one_state_change_function(gw):
    job_id = held_job(gw)
    reply = gw.call(request(Operation.CANCEL_JOB, A("job-id", Tag.INTEGER, job_id)))
    assert reply.code == Status.SUCCESSFUL_OK
    assert gw.desk.changes == [(job_id, "canceled", "alice")]


def test_cancel_job_by_someone_else_is_not_authorized(gw):
    job_id = held_job(gw)
    reply = gw.call(request(Operation.CANCEL_JOB, A("job-id", Tag.INTEGER, job_id), user="bob"))
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert gw.desk.changes == []


def test_a_released_job_is_completed_and_cannot_be_canceled(gw):
    job_id = held_job(gw)
    gw.desk.jobs[job_id].state = "released"
    fetched = gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, job_id)))
    assert attr(fetched, "job-state") == [JobState.COMPLETED]
    reply = gw.call(request(Operation.CANCEL_JOB, A("job-id", Tag.INTEGER, job_id)))
    assert reply.code == Status.CLIENT_ERROR_NOT_POSSIBLE


@pytest.mark.parametrize("state, ipp_state", [
    ("held", JobState.PENDING_HELD), ("releasing", JobState.PROCESSING),
    ("released", JobState.COMPLETED), ("canceled", JobState.CANCELED),
    ("expired", JobState.CANCELED), ("deleted", JobState.CANCELED), ("aborted", JobState.ABORTED),
])
def test_gateway_states_map_to_rfc_8011_job_states(gw, state, ipp_state):
    job_id = held_job(gw)
    gw.desk.jobs[job_id].state = state
    fetched = gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, job_id)))
    assert attr(fetched, "job-state") == [ipp_state]


def test_an_unknown_job_is_not_found(gw):
    reply = gw.call(request(Operation.GET_JOB_ATTRIBUTES, A("job-id", Tag.INTEGER, 999)))
    assert reply.code == Status.CLIENT_ERROR_NOT_FOUND


def test_get_jobs_returns_id_and_uri_by_default_and_honours_my_jobs_and_limit(gw):
    held_job(gw, user="alice")
    held_job(gw, user="bob")
    held_job(gw, user="alice")
    everyone = gw.call(request(Operation.GET_JOBS))
    groups = everyone.groups_of(Tag.JOB)
    assert len(groups) == 3
    assert {a.name for a in groups[0].attributes} == {"job-id", "job-uri"}
    mine = gw.call(request(Operation.GET_JOBS, A("my-jobs", Tag.BOOLEAN, True),
                           A("requested-attributes", Tag.KEYWORD, "job-originating-user-name")))
    assert [g.get("job-originating-user-name").value for g in mine.groups_of(Tag.JOB)] == ["alice", "alice"]
    limited = gw.call(request(Operation.GET_JOBS, A("limit", Tag.INTEGER, 1)))
    assert len(limited.groups_of(Tag.JOB)) == 1


def test_get_jobs_which_jobs_completed_lists_finished_jobs_only(gw):
    done = held_job(gw)
    held_job(gw)
    gw.desk.jobs[done].state = "released"
    reply = gw.call(request(Operation.GET_JOBS, A("which-jobs", Tag.KEYWORD, "completed")))
    assert [g.get("job-id").value for g in reply.groups_of(Tag.JOB)] == [done]
    bad = gw.call(request(Operation.GET_JOBS, A("which-jobs", Tag.KEYWORD, "proof-print")))
    assert bad.code == Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED


def test_hold_until_indefinite_then_release_job_by_the_owner(gw):
    job_id = held_job(gw, job=[A("job-hold-until", Tag.KEYWORD, "indefinite")])
    assert job_id in gw.factory.service.client_holds
    assert gw.call(request(Operation.RELEASE_JOB, A("job-id", Tag.INTEGER, job_id), user="bob")).code == \
        Status.CLIENT_ERROR_NOT_AUTHORIZED
    assert gw.call(request(Operation.RELEASE_JOB, A("job-id", Tag.INTEGER, job_id))).code == \
        Status.SUCCESSFUL_OK
    assert job_id not in gw.factory.service.client_holds
    assert gw.call(request(Operation.RELEASE_JOB, A("job-id", Tag.INTEGER, job_id))).code == \
        Status.CLIENT_ERROR_NOT_POSSIBLE
    assert gw.call(request(Operation.HOLD_JOB, A("job-id", Tag.INTEGER, job_id))).code == \
        Status.SUCCESSFUL_OK
    assert job_id in gw.factory.service.client_holds


def test_cancel_my_jobs_cancels_only_the_callers_held_jobs(gw):
    mine = held_job(gw, user="alice")
    theirs = held_job(gw, user="bob")
    assert gw.call(request(Operation.CANCEL_MY_JOBS)).code == Status.SUCCESSFUL_OK
    assert gw.desk.jobs[mine].state == "canceled"
    assert gw.desk.jobs[theirs].state == "held"


def test_a_job_password_is_never_kept_not_even_as_a_fast_hash(gw):
    held_job(gw, job=[A("job-password", Tag.OCTET_STRING, b"1234")])
    attributes = gw.intake.receivers[0].metadata.attributes
    assert b"1234" not in repr(attributes).encode()
    assert hashlib.sha256(b"1234").hexdigest() not in repr(attributes)
    assert attributes["job-password-supplied"] is True


def test_validate_job_checks_without_creating_anything(gw):
    ok = gw.call(request(Operation.VALIDATE_JOB, A("document-format", Tag.MIME_MEDIA_TYPE, "application/pdf")))
    assert ok.code == Status.SUCCESSFUL_OK
    bad = gw.call(request(Operation.VALIDATE_JOB, A("document-format", Tag.MIME_MEDIA_TYPE, "text/x-nope")))
    assert bad.code == Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED
    assert gw.intake.receivers == []


def test_create_jobs_waiting_for_documents_are_bounded_per_host(gw):
    from spooler.ipp import operations
    for _ in range(operations.MAX_PENDING_PER_HOST):
        assert gw.call(create_job()).code == Status.SUCCESSFUL_OK
    assert gw.call(create_job()).code == Status.SERVER_ERROR_BUSY


def test_a_timed_out_create_job_is_forgotten_later(gw):
    job_id = attr(gw.call(create_job()), "job-id")[0]
    gw.clock.advance(121)
    gw.clock.advance(601)
    assert job_id not in gw.factory.service.pending


def test_a_nesting_bomb_over_http_is_a_bad_request(gw):
    message = request(Operation.GET_PRINTER_ATTRIBUTES)
    body = bytearray(encode_message(message)[:-1]) + b"\x02"
    body += b"\x34\x00\x01c\x00\x00" + b"\x4a\x00\x00\x00\x01m\x34\x00\x00\x00\x00" * 5000
    protocol, transport = gw.connect()
    protocol.dataReceived(http_request(bytes(body) + b"\x03"))
    assert responses(transport.value())[-1].code == Status.CLIENT_ERROR_BAD_REQUEST


def test_a_huge_attribute_count_over_http_is_a_bad_request(gw):
    message = request(Operation.GET_PRINTER_ATTRIBUTES)
    body = bytearray(encode_message(message)[:-1])
    body += b"\x44\x00\x01a\x00\x01x" + b"\x44\x00\x00\x00\x01x" * 20_000 + b"\x03"
    protocol, transport = gw.connect()
    protocol.dataReceived(http_request(bytes(body)))
    assert responses(transport.value())[-1].code == Status.CLIENT_ERROR_BAD_REQUEST


def untrusting_gateway():
    from spooler.config import QueueConfig
    gw = Gateway()
    gw.factory.config.queues = {"secure": QueueConfig("secure", trust_client_user=False)}
    return gw


def test_an_untrusted_queue_leaves_the_owner_to_the_intake_pipeline():
    gw = untrusting_gateway()
    reply = gw.call(print_job(user="mallory"), b"%PDF")
    assert reply.code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].metadata.user is None


def test_an_unnamed_client_cannot_cancel_jobs_on_an_untrusted_queue():
    gw = untrusting_gateway()
    job_id = held_job(gw)
    reply = gw.call(request(Operation.CANCEL_JOB, A("job-id", Tag.INTEGER, job_id)))
    assert reply.code == Status.CLIENT_ERROR_NOT_AUTHENTICATED
    assert gw.call(request(Operation.CANCEL_MY_JOBS)).code == Status.CLIENT_ERROR_NOT_AUTHENTICATED
    assert gw.desk.changes == []


def test_an_unnamed_client_can_finish_its_own_create_job():
    gw = untrusting_gateway()
    job_id = attr(gw.call(create_job()), "job-id")[0]
    assert gw.call(send_document(job_id), b"%PDF").code == Status.SUCCESSFUL_OK


def test_an_http_gzip_encoded_request_is_decoded_before_parsing(gw):
    body = gzip.compress(encode_message(print_job()) + b"%PDF gzip over http")
    wire = http_request(body).replace(b"Content-Type: application/ipp\r\n",
                                      b"Content-Type: application/ipp\r\nContent-Encoding: gzip\r\n")
    protocol, transport = gw.connect()
    protocol.dataReceived(wire)
    assert responses(transport.value())[-1].code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].data == b"%PDF gzip over http"


def test_over_tls_the_printer_uri_is_ipps_and_security_is_tls(gw):
    from twisted.internet.interfaces import ISSLTransport
    from zope.interface import directlyProvides
    protocol = gw.factory.buildProtocol(None)
    transport = StringTransport(peerAddress=_Addr("192.0.2.7", 40000))
    directlyProvides(transport, ISSLTransport)
    protocol.makeConnection(transport)
    protocol.dataReceived(http_request(encode_message(request(Operation.GET_PRINTER_ATTRIBUTES))))
    reply = responses(transport.value())[-1]
    assert attr(reply, "printer-uri-supported", Tag.PRINTER) == [f"ipps://{HOST}/printers/secure"]
    assert attr(reply, "uri-security-supported", Tag.PRINTER) == ["tls"]


def test_a_non_ipp_content_type_is_415(gw):
    protocol, transport = gw.connect()
    protocol.dataReceived(b"POST /printers/secure HTTP/1.1\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: 2\r\n\r\nhi")
    assert transport.value().startswith(b"HTTP/1.1 415")


def test_a_slow_commit_does_not_time_the_client_out(gw):
    gw.intake.hold_commits = True
    protocol, transport = gw.connect()
    protocol.dataReceived(http_request(encode_message(print_job()) + b"%PDF"))
    gw.clock.advance(300)
    assert not transport.disconnecting
    gw.intake.receivers[0].commit_deferred.callback(None)
    assert responses(transport.value())[-1].code == Status.SUCCESSFUL_OK
    gw.clock.advance(61)
    assert transport.disconnecting


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(document=st.binary(max_size=5000), chunked=st.booleans(), data=st.data())
def test_the_held_bytes_do_not_depend_on_how_the_request_was_cut(document, chunked, data):
    gw = Gateway()
    wire = http_request(encode_message(print_job()) + document, chunked=chunked, pieces=3)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    protocol, transport = gw.connect()
    last = 0
    for cut in cuts + [len(wire)]:
        protocol.dataReceived(wire[last:cut])
        last = cut
    assert responses(transport.value())[-1].code == Status.SUCCESSFUL_OK
    assert gw.intake.receivers[0].data == document
