"""Every IPP attribute value the codec accepts can be stored with a job and read back:
the template a job carries goes into its record as JSON (``spooler.ipp.stored_values``),
into a real database, and Get-Job-Attributes over the stored job encodes again."""
from __future__ import annotations

import datetime
import json
from datetime import timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock

from accounting.database import Database, migrate
from accounting.jobs import JobStore
from accounting.records import NewJob
from spooler.ipp.codec import (
    Attribute, Collection, Extension, IppDecodeError, Message, Range, Resolution, StringWithLanguage, Tag, Value,
    decode_message, encode_message,
)
from spooler.ipp.constants import Operation
from spooler.ipp.document import DocumentBody
from spooler.ipp.operations import IppService
from spooler.ipp.printer import JOB_TEMPLATE_TAGS, MEDIA, RESOLUTIONS
from spooler.ipp.stored_values import storable_value
from tests.spooler.ipp.fakes import FakeIntake, FakeJobDesk, make_config

INT32 = st.integers(-2**31, 2**31 - 1)
STRING_TAGS = sorted(Tag.STRINGS - {Tag.MEMBER_NAME})
OUT_OF_BAND = [Tag.UNSUPPORTED, Tag.DEFAULT, Tag.UNKNOWN, Tag.NO_VALUE, Tag.NOT_SETTABLE, Tag.DELETE_ATTRIBUTE,
               Tag.ADMIN_DEFINE]
#: Value tags the codec keeps as bytes (octetString and the ones it does not know).
BYTES_TAGS = [Tag.OCTET_STRING] + [tag for tag in range(0x10, 0x7F)
                                   if tag not in Tag.STRINGS | Tag.WITH_LANGUAGE and not Tag.is_out_of_band(tag)
                                   and tag not in (Tag.INTEGER, Tag.BOOLEAN, Tag.ENUM, Tag.DATE_TIME, Tag.RESOLUTION,
                                                   Tag.RANGE, Tag.BEGIN_COLLECTION, Tag.END_COLLECTION,
                                                   Tag.OCTET_STRING)]
TEXT = st.text(max_size=40)
ZONES = st.sampled_from([timezone.utc, timezone(datetime.timedelta(hours=5, minutes=30)),
                         timezone(datetime.timedelta(hours=-14))])

SCALARS = st.one_of(
    st.tuples(st.sampled_from([Tag.INTEGER, Tag.ENUM]), INT32),
    st.tuples(st.just(Tag.BOOLEAN), st.booleans()),
    st.tuples(st.just(Tag.DATE_TIME), st.datetimes(min_value=datetime.datetime(1, 1, 2),
                                                    max_value=datetime.datetime(9999, 12, 30), timezones=ZONES)),
    st.tuples(st.just(Tag.RESOLUTION), st.builds(Resolution, INT32, INT32, st.integers(0, 255))),
    st.tuples(st.just(Tag.RANGE), st.builds(Range, INT32, INT32)),
    st.tuples(st.sampled_from(sorted(Tag.WITH_LANGUAGE)), st.builds(StringWithLanguage, TEXT, TEXT)),
    st.tuples(st.sampled_from(STRING_TAGS), TEXT),
    st.tuples(st.just(Tag.EXTENSION), st.builds(Extension, st.integers(0, 2**31 - 1), st.binary(max_size=16))),
    st.tuples(st.sampled_from(OUT_OF_BAND), st.none()),
    st.tuples(st.sampled_from(BYTES_TAGS), st.binary(max_size=32)),
)
MEMBER_NAMES = st.sampled_from(["media-key", "media-size", "media-size-name", "media-type", "media-source",
                                "x-dimension", "y-dimension", "anything"])


def values(children):
    scalar = SCALARS.map(lambda pair: Value(*pair))
    collection = st.lists(st.builds(lambda name, vals: Attribute(name, vals), MEMBER_NAMES,
                                    st.lists(children, min_size=1, max_size=3)), max_size=4).map(
        lambda members: Value(Tag.BEGIN_COLLECTION, Collection(members)))
    return scalar | collection


ANY_VALUE = st.recursive(SCALARS.map(lambda pair: Value(*pair)), values, max_leaves=12)
#: Values a queue accepts for the attributes whose checks are strict, so the stored path is taken.
PLAUSIBLE = st.one_of(
    st.builds(lambda ranges: Attribute("page-ranges", [Value(Tag.RANGE, r) for r in ranges]),
              st.lists(st.builds(lambda a, b: Range(min(a, b), max(a, b)), st.integers(1, 999), st.integers(1, 999)),
                       min_size=1, max_size=3)),
    st.builds(lambda r: Attribute.of("printer-resolution", Tag.RESOLUTION, r), st.sampled_from(RESOLUTIONS)),
    st.builds(lambda key: Attribute.of("media-col", Tag.BEGIN_COLLECTION, Collection([Attribute("media-key", [key])])),
              ANY_VALUE),
    st.builds(lambda key: Attribute.of("media", key[0], key[1]),
              st.tuples(st.sampled_from([Tag.KEYWORD, Tag.NAME]), st.sampled_from(sorted(MEDIA)))),
    st.builds(lambda n: Attribute.of("finishings", Tag.ENUM, *[3] * n), st.integers(1, 3)),
    st.builds(lambda text: Attribute.of("job-account-id", Tag.NAME, text), TEXT),
)
ATTRIBUTES = PLAUSIBLE | st.builds(Attribute, st.sampled_from(sorted(JOB_TEMPLATE_TAGS) + ["x-unknown"]),
                                   st.lists(ANY_VALUE, min_size=1, max_size=3))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('stored-values') / 'printgate.sqlite3'}")
    migrate(database.writer)
    jobs = JobStore(database)
    jobs.ensure_queues(["secure"])
    yield jobs
    database.dispose()


def print_job(job_attributes) -> Message:
    message = Message((2, 0), int(Operation.PRINT_JOB), 1)
    operation = message.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    operation.add("printer-uri", Tag.URI, "ipp://127.0.0.1:631/printers/secure")
    operation.add("requesting-user-name", Tag.NAME, "alice")
    message.add_group(Tag.JOB).attributes.extend(job_attributes)
    return message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(ATTRIBUTES, min_size=1, max_size=5))
def test_any_attribute_the_codec_accepts_is_stored_with_its_job_and_read_back(store, job_attributes):
    try:
        wire = encode_message(print_job(job_attributes))
    except Exception:  # noqa: BLE001 - not every generated value fits on the wire (lengths)
        return
    try:
        message, _ = decode_message(wire)
    except IppDecodeError:
        return
    service = IppService(intake=FakeIntake(FakeJobDesk()), jobs=FakeJobDesk(), config=make_config(), clock=Clock())
    request = service.prepare(message, host_header="127.0.0.1:631", peer="127.0.0.1", document=DocumentBody())
    template, _ = service.check_job_template(request)
    template.pop("job-password", None)
    metadata = service.metadata(request, "application/octet-stream", template, service.job_name(request, template))
    new_job = NewJob(queue="secure", owner="alice", source_host="127.0.0.1", protocol="ipp", size=1, sha256="0" * 64,
                     spool_name="ab", received_at=datetime.datetime.now(timezone.utc), title=metadata.title,
                     attributes=metadata.attributes, copies_requested=metadata.copies, sides=metadata.sides,
                     color_mode=metadata.color_mode)
    [held] = store.record_jobs([new_job])
    stored = store.get_job(held.id)
    assert stored.attributes == json.loads(json.dumps(metadata.attributes))
    reply = service.response(message)
    reply.add_group(Tag.JOB).attributes.extend(service.job_attributes(request, service.view(stored), None))
    decode_message(encode_message(reply))


@given(ANY_VALUE)
def test_every_value_becomes_json_that_reads_back_as_itself(value):
    stored = storable_value(value.value)
    assert json.loads(json.dumps(stored)) == stored


def test_a_range_and_a_resolution_are_kept_as_cups_spells_them():
    assert storable_value(Range(1, 5)) == "1-5"
    assert storable_value(Resolution(600, 600, 3)) == "600dpi"
    assert storable_value(Resolution(600, 300, 4)) == "600x300dpcm"


def test_a_job_read_back_with_a_media_that_is_not_a_keyword_still_shows(store):
    service = IppService(intake=FakeIntake(FakeJobDesk()), jobs=FakeJobDesk(), config=make_config(), clock=Clock())
    new_job = NewJob(queue="secure", owner="alice", source_host="127.0.0.1", protocol="ipp", size=1, sha256="0" * 64,
                     spool_name="cd", received_at=datetime.datetime.now(timezone.utc),
                     attributes={"media": 5, "job-hold-until": ["x"]})
    [held] = store.record_jobs([new_job])
    view = service.view(store.get_job(held.id))
    assert view.media == "" and view.hold_until == "indefinite"
