"""IPP jobs across a restart of a real gateway process: a committed Create-Job keeps its
job-id, a Create-Job that never got its document is answered not-found (never a crash),
and a hold asked for at submission can still be released by its owner."""
from __future__ import annotations

import http.client

import pytest

from spooler.ipp.codec import Attribute, Message, Tag, decode_message, encode_message
from spooler.ipp.constants import JobState, Operation, Status
from tests.fixtures.gateway import start_gateway

pytestmark = pytest.mark.integration


class IppCall:
    def __init__(self, port: int):
        self.port = port
        self.uri = f"ipp://127.0.0.1:{port}/printers/secure"
        self.request_id = 0

    def __call__(self, op, *attrs, document=b"", job=()):
        self.request_id += 1
        message = Message((2, 0), int(op), self.request_id)
        group = message.add_group(Tag.OPERATION)
        group.add("attributes-charset", Tag.CHARSET, "utf-8")
        group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
        group.add("printer-uri", Tag.URI, self.uri)
        group.add("requesting-user-name", Tag.NAME, "dora")
        group.attributes.extend(attrs)
        if job:
            message.add_group(Tag.JOB).attributes.extend(job)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        connection.request("POST", "/printers/secure", encode_message(message) + document,
                           {"Content-Type": "application/ipp"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 200, body
        return decode_message(body)[0]


def value(reply, name, group=Tag.JOB):
    found = reply.group(group)
    attribute = found.get(name) if found else None
    return attribute.python_values() if attribute is not None else None


def job_id(n):
    return Attribute.of("job-id", Tag.INTEGER, n)


def test_ipp_jobs_across_a_gateway_restart(tmp_path):
    gateway = start_gateway(tmp_path, protocols=("ipp",))
    try:
        call = IppCall(gateway.ports["ipp"])
        waiting = value(call(Operation.CREATE_JOB, Attribute.of("job-name", Tag.NAME, "never sent")), "job-id")[0]
        committed = value(call(Operation.CREATE_JOB, Attribute.of("job-name", Tag.NAME, "two step")), "job-id")[0]
        sent = call(Operation.SEND_DOCUMENT, job_id(committed), Attribute.of("last-document", Tag.BOOLEAN, True),
                    document=b"%PDF-1.4 two step")
        assert sent.code == Status.SUCCESSFUL_OK
        held = value(call(Operation.PRINT_JOB, Attribute.of("job-name", Tag.NAME, "keep it"), document=b"%PDF keep",
                          job=[Attribute.of("job-hold-until", Tag.KEYWORD, "indefinite")]), "job-id")[0]

        gateway.stop()
        gateway.start()

        late = call(Operation.SEND_DOCUMENT, job_id(waiting), Attribute.of("last-document", Tag.BOOLEAN, True),
                    document=b"%PDF late")
        assert late.code == Status.CLIENT_ERROR_NOT_FOUND
        assert "gateway restarts" in value(late, "status-message", Tag.OPERATION)[0]
        found = call(Operation.GET_JOB_ATTRIBUTES, job_id(committed))
        assert found.code == Status.SUCCESSFUL_OK
        assert value(found, "job-state") == [JobState.PENDING_HELD]
        assert value(found, "job-name") == ["two step"]
        again = call(Operation.SEND_DOCUMENT, job_id(committed), Attribute.of("last-document", Tag.BOOLEAN, True),
                     document=b"%PDF again")
        assert again.code == Status.CLIENT_ERROR_NOT_POSSIBLE
        assert call(Operation.RELEASE_JOB, job_id(held)).code == Status.SUCCESSFUL_OK
        assert "Traceback" not in gateway.log()
        titles = sorted(j["title"] for j in gateway.jobs())
        assert titles == ["keep it", "two step"]
    finally:
        gateway.stop()
