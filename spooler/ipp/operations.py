"""IPP operations of the gateway's queues: validation, then one handler per operation.

``IppService.prepare`` checks a decoded request in the fixed order a mature server uses —
version and request-id, attribute group order, attributes-charset,
attributes-natural-language, target URI, requesting user — and raises ``IppError`` with
the status to answer. ``IppService.handle`` then dispatches through ``OPERATIONS``, a
table of handlers sharing one signature, ``handler(service, request) -> Deferred[Message]``.

Held jobs live in accounting, reached through a ``spooler.job_desk.JobDesk``: IPP never
changes a recorded job's state itself; cancelling one is the application's "end a job",
which also removes its spool bytes. A job announced by Create-Job lives here
(``PendingJob``) until its document is committed, under an id from a separate range that
stays its IPP job-id afterwards; such a job ends only through ``_end_pending``.

What lives only in memory, and what a restart does to it: a Create-Job still waiting for
its document is lost with its connection state (a later Send-Document, Get-Job-Attributes
or Cancel-Job for it gets client-error-not-found, saying so); the Create-Job id of a job
that was committed is in the job's ``client_job_ref`` and is found again by ``recover``,
as is a hold the client asked for at submission (``job-hold-until``). A Hold-Job on an
already held job is not kept across a restart. Waiting Create-Jobs are capped (in total
and per client address), time out after ``MULTIPLE_OPERATION_TIMEOUT`` and are
forgotten ``FORGET_AFTER`` later; at most ``MAX_REMEMBERED`` are kept in all.
"""
from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import unquote, urlsplit

from twisted.internet.defer import Deferred, fail, gatherResults, maybeDeferred, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.logger import Logger

from accounting.errors import InvalidStateChange, JobNotFound
from accounting.passwords import SecretHasher
from spooler.intake import JobMetadata
from spooler.ipp.codec import Attribute, AttributeGroup, Message, Tag
from spooler.ipp.constants import JobState, OPERATION_NAMES, Operation, Status
from spooler.ipp.document import Decompressor, DocumentBody
from spooler.ipp.printer import (
    DEFAULT_DOCUMENT_FORMAT, DOCUMENT_FORMATS, JOB_TEMPLATE_PRINTER, JOB_TEMPLATE_TAGS, MEDIA,
    PRIVATE_JOB_ATTRIBUTES, PrinterContext, check_job_template, media_col_database, printer_attributes, queue_uuid,
)
from spooler.ipp.auth import PeerBrake, TooManyFailures
from spooler.ipp.replies import AuthenticationRequired, IppError, status_for
from spooler.ipp.stored_values import storable_attribute
from spooler.job_access import PIN_HASH, Requester, is_owner_here, may_act, may_see

log = Logger()

__all__ = ["IppRequest", "IppService", "OPERATIONS", "PendingJob", "JobView"]

#: accounting state -> (IPP job-state, job-state-reasons)
JOB_STATES = {
    "held": (JobState.PENDING_HELD, "job-hold-until-specified"),
    "releasing": (JobState.PROCESSING, "job-printing"),
    "released": (JobState.COMPLETED, "job-completed-successfully"),
    "canceled": (JobState.CANCELED, "job-canceled-by-user"),
    "deleted": (JobState.CANCELED, "job-canceled-by-operator"),
    "expired": (JobState.CANCELED, "job-canceled-by-operator"),
    "aborted": (JobState.ABORTED, "aborted-by-system"),
}
TERMINAL = ("released", "canceled", "deleted", "expired", "aborted")
NOT_COMPLETED = ("held", "releasing")
WHICH_JOBS = {
    "not-completed": NOT_COMPLETED,
    "completed": TERMINAL,
    "all": NOT_COMPLETED + TERMINAL,
    "aborted": ("aborted",),
    "canceled": ("canceled", "deleted", "expired"),
    "pending": (),
    "pending-held": ("held",),
    "processing": ("releasing",),
}
#: Create-Job ids start here so they never collide with accounting's own job ids.
PENDING_ID_BASE = 1 << 30
MULTIPLE_OPERATION_TIMEOUT = 120.0
#: Bounds on what Create-Job keeps in memory: jobs waiting for a document (per gateway and
#: per client host), how long a finished one is remembered, and how many id aliases.
MAX_PENDING = 1000
MAX_PENDING_PER_HOST = 50
MAX_REMEMBERED = 2 * MAX_PENDING
CLIENT_REF_PREFIX = "ipp-job-id:"
FORGET_AFTER = 600.0
MAX_ALIASES = 100_000
#: Operations a queue that requires authentication answers without credentials: a client
#: learns what the queue needs (uri-authentication-supported) before it is asked.
OPEN_OPERATIONS = frozenset({Operation.GET_PRINTER_ATTRIBUTES})

JOB_DESCRIPTION = (
    "job-uri", "job-id", "job-printer-uri", "job-more-info", "job-name",
    "job-originating-user-name", "job-state", "job-state-reasons", "job-state-message",
    "number-of-documents", "time-at-creation", "time-at-processing", "time-at-completed",
    "job-printer-up-time", "date-time-at-creation", "date-time-at-processing",
    "date-time-at-completed", "job-k-octets", "job-impressions", "job-media-sheets",
    "job-impressions-completed", "job-media-sheets-completed", "job-k-octets-processed",
    "number-of-intervening-jobs", "document-format", "job-uuid", "job-hold-until-actual",
)
JOB_TEMPLATE = ("copies", "sides", "print-color-mode", "job-hold-until", "job-priority",
                "media", "job-account-id")


@dataclass
class IppRequest:
    """A validated request, with what the HTTP layer knows about it."""

    message: Message
    operation: AttributeGroup
    job: AttributeGroup | None
    queue: object  # spooler.config.QueueConfig
    printer_uri: str
    user: str | None  # None: nobody we can name (untrusted queue, not authenticated)
    host: str
    document: DocumentBody
    authenticated: bool = False  # ``user`` is the name a password proved (ipps://)
    admin: bool = False  # from an admin host: may act on anyone's job

    @property
    def requester(self) -> Requester:
        return Requester(host=self.host, user=self.user, authenticated=self.authenticated, admin=self.admin)

    @property
    def op(self) -> int:
        return self.message.code

    def attr(self, name: str):
        attribute = self.operation.get(name)
        return attribute.value if attribute is not None else None


@dataclass
class PendingJob:
    """A job from Create-Job whose document has not been committed yet."""

    id: int
    queue: str
    owner: str
    host: str
    title: str
    created_at: datetime
    template: dict
    hold: bool
    state: str = "pending"
    receiver: object = None
    document_format: str = DEFAULT_DOCUMENT_FORMAT
    timeout: object = None
    committed_id: int | None = None


@dataclass
class JobView:
    """What IPP shows of a job, from a ``HeldJob`` or a ``PendingJob``."""

    id: int
    owner: str
    title: str
    state: JobState
    reasons: list[str]
    message: str
    created_at: datetime
    completed_at: datetime | None
    processing_at: datetime | None
    size: int
    copies: int
    sides: str
    color_mode: str
    document_format: str
    impressions: int | None
    hold_until: str
    media: str = ""
    host: str = ""  # the address the job came from

    @classmethod
    def of_held(cls, job, *, ipp_id: int | None = None, client_hold: bool = False) -> "JobView":
        state, reason = JOB_STATES.get(job.state, (JobState.ABORTED, "aborted-by-system"))
        terminal = job.state in TERMINAL
        reasons = [reason]
        if client_hold and job.state == "held":
            reasons = ["job-hold-until-specified"]
        return cls(
            id=ipp_id or job.id, owner=job.owner, title=job.title or f"job {job.id}",
            state=state, reasons=reasons,
            message=job.state_reason or _STATE_MESSAGES.get(job.state, job.state),
            created_at=job.received_at,
            processing_at=job.updated_at if job.state in ("releasing",) + TERMINAL else None,
            completed_at=job.updated_at if terminal else None,
            size=job.size, copies=job.copies_requested or 1, sides=job.sides,
            color_mode=job.color_mode, document_format=job.document_format,
            impressions=job.impressions,
            hold_until=_stored_text(job.attributes, "job-hold-until", "indefinite")
            if job.state == "held" else "no-hold",
            media=_stored_text(job.attributes, "media", ""), host=job.source_host,
        )

    @classmethod
    def of_pending(cls, job: PendingJob) -> "JobView":
        states = {"pending": (JobState.PENDING, "job-incoming"),
                  "canceled": (JobState.CANCELED, "job-canceled-by-user"),
                  "aborted": (JobState.ABORTED, "aborted-by-system")}
        state, reason = states[job.state]
        return cls(
            id=job.id, owner=job.owner or f"unknown@{job.host}", title=job.title or f"job {job.id}",
            state=state,
            reasons=[reason], message="waiting for the document" if job.state == "pending"
            else job.state, created_at=job.created_at, processing_at=None,
            completed_at=None if job.state == "pending" else job.created_at, size=0,
            copies=job.template.get("copies", 1), sides=job.template.get("sides", ""),
            color_mode=job.template.get("print-color-mode", ""),
            document_format=job.document_format, impressions=None,
            hold_until=job.template.get("job-hold-until", "no-hold"),
            media=job.template.get("media", ""), host=job.host)


def _stored_text(attributes, name: str, default: str) -> str:
    """A keyword a job's record keeps, or ``default`` when what is kept is not one: a
    record written before values were checked must still read (Get-Jobs shows it)."""
    value = (attributes or {}).get(name, default) if isinstance(attributes, dict) else default
    return value if isinstance(value, str) and value else default


_STATE_MESSAGES = {
    "held": "Held until released at a printer",
    "releasing": "Being released to a printer",
    "released": "Printed",
    "canceled": "Canceled",
    "deleted": "Deleted",
    "expired": "Expired before it was released",
    "aborted": "Release failed",
}


class IppService:
    """The IPP side of the gateway's queues; one per gateway, shared by all connections."""

    def __init__(self, *, intake, jobs, config, clock, gateway_id: str = "printgate",
                 hasher: SecretHasher | None = None):
        self.intake = intake
        self.hasher = hasher or SecretHasher()
        # Wrong job-passwords per job: a PIN of a few digits must not be guessable at speed.
        self.job_password_brake = PeerBrake(max_failures=5, window=300.0, lockout=300.0)
        self.jobs = jobs  # a spooler.job_desk.JobDesk
        self.config = config
        self.clock = clock
        self.gateway_id = gateway_id
        self.start_time = max(1, int(clock.seconds()))
        self.pending: dict[int, PendingJob] = {}
        # Create-Job id <-> accounting job id, newest MAX_ALIASES kept.
        self.aliases: OrderedDict[int, int] = OrderedDict()
        self.ipp_ids: OrderedDict[int, int] = OrderedDict()
        self.client_holds: set[int] = set()  # accounting ids held by the client (Hold-Job)
        # Ports of the ipp:// and ipps:// listeners, once the gateway knows them: each
        # queue then advertises both URIs (printer-uri-supported).
        self.ipp_port: int | None = None
        self.ipps_port: int | None = None
        self._ids = itertools.count(PENDING_ID_BASE + int(time.time()) % 1_000_000 * 64)
        self._recovery: Deferred | None = None

    def recover(self) -> Deferred:
        """Once per gateway start: the Create-Job ids and client holds of the IPP jobs
        still held or releasing, from accounting (see the module docstring)."""
        if self._recovery is None:
            d = maybeDeferred(self.jobs.list_jobs, states=NOT_COMPLETED)
            d.addCallback(self._recovered)
            d.addErrback(lambda f: log.failure("IPP could not recover its job ids", f))
            self._recovery = d
        return self._recovery

    def _recovered(self, jobs) -> None:
        ids = holds = 0
        for job in jobs:
            if job.protocol != "ipp":
                continue
            ref = job.client_job_ref or ""
            tail = ref[len(CLIENT_REF_PREFIX):] if ref.startswith(CLIENT_REF_PREFIX) else ""
            if tail.isdigit() and int(tail) >= PENDING_ID_BASE and int(tail) not in self.aliases:
                self.aliases[int(tail)] = job.id
                self.ipp_ids[job.id] = int(tail)
                ids += 1
            attributes = job.attributes or {}
            if job.state == "held" and (attributes.get("job-hold-until", "no-hold") != "no-hold"
                                        or attributes.get("job-password-hash")):
                self.client_holds.add(job.id)
                holds += 1
        if ids or holds:
            log.info("IPP recovered {ids} Create-Job id(s) and {holds} client hold(s) of held jobs",
                     ids=ids, holds=holds)

    def new_pending_id(self) -> int:
        job_id = next(self._ids)
        while job_id in self.aliases or job_id in self.pending:
            job_id = next(self._ids)
        return job_id

    # ------------------------------------------------------------ validation

    def prepare(self, message: Message, *, host_header: str, peer: str, document: DocumentBody,
                secure: bool = False, authenticated_user: str | None = None) -> IppRequest:
        """Validate ``message`` in the fixed order; raise ``IppError`` on the first problem."""
        if message.version[0] not in (1, 2):
            raise IppError(Status.SERVER_ERROR_VERSION_NOT_SUPPORTED,
                           f"IPP version {message.version[0]}.{message.version[1]} is not supported")
        if message.request_id <= 0:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "request-id must be greater than zero")
        last = 0
        for group in message.groups:
            if group.tag < last:
                raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "attribute groups are out of order")
            last = group.tag
        if len(message.groups_of(Tag.OPERATION)) != 1 or message.groups[0].tag != Tag.OPERATION:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST,
                           "exactly one operation attributes group must come first")
        op = message.groups[0]
        attrs = op.attributes
        if not attrs or attrs[0].name != "attributes-charset":
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST,
                           "attributes-charset must be the first operation attribute")
        if len(attrs) < 2 or attrs[1].name != "attributes-natural-language":
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST,
                           "attributes-natural-language must be the second operation attribute")
        charset, language = attrs[0], attrs[1]
        if len(charset.values) != 1 or charset.tag != Tag.CHARSET:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad attributes-charset")
        if charset.value.lower() not in ("utf-8", "us-ascii"):
            raise IppError(Status.CLIENT_ERROR_CHARSET_NOT_SUPPORTED,
                           f"charset {charset.value!r} is not supported", unsupported=[charset])
        if len(language.values) != 1 or language.tag != Tag.NATURAL_LANGUAGE:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad attributes-natural-language")
        queue = self._target_queue(message, op)
        scheme = "ipps" if secure else "ipp"
        printer_uri = f"{scheme}://{host_header}/printers/{queue.name}"
        if queue.require_authentication and not authenticated_user \
                and message.code not in OPEN_OPERATIONS:
            raise self._authentication_required(queue, host_header, secure)
        user = self._requesting_user(op, queue, authenticated_user, peer)
        return IppRequest(message, op, message.group(Tag.JOB), queue, printer_uri, user, peer,
                          document, authenticated=bool(authenticated_user),
                          admin=peer in self.config.admin_hosts)

    def _authentication_required(self, queue, host_header: str, secure: bool) -> AuthenticationRequired:
        if secure:
            return AuthenticationRequired(
                f"queue {queue.name} needs the user name and password of a Printgate user",
                secure=True)
        if self.ipps_port is None:
            where = "this gateway has no ipps:// listener"
        else:
            where = f"print to ipps://{_host_only(host_header)}:{self.ipps_port}/printers/{queue.name}"
        return AuthenticationRequired(
            f"queue {queue.name} needs a password, which is only accepted over TLS: {where}",
            secure=False)

    def printer_uris(self, request: "IppRequest") -> tuple:
        """``(uri, security, authentication)`` for each URI the queue is reachable at, the
        one the client used first. A queue requiring authentication is offered at its
        ipps:// URI only (when there is one): Basic credentials are refused over plain
        HTTP, so the plain URI could not take a job."""
        queue = request.queue
        required = bool(queue.require_authentication)
        trusted = bool(queue.trust_client_user)
        unauthenticated = "requesting-user-name" if trusted else "none"
        secure = request.printer_uri.startswith("ipps:")
        host = _host_only(request.printer_uri.split("://", 1)[1].split("/", 1)[0])
        path = f"/printers/{queue.name}"

        def entry(is_secure: bool, uri: str):
            if is_secure:
                return (uri, "tls", "basic" if required else unauthenticated)
            return (uri, "none", "none" if required else unauthenticated)

        uris = [entry(secure, request.printer_uri)]
        if secure and self.ipp_port is not None:
            uris.append(entry(False, f"ipp://{host}:{self.ipp_port}{path}"))
        elif not secure and self.ipps_port is not None:
            uris.append(entry(True, f"ipps://{host}:{self.ipps_port}{path}"))
        if required and any(u[1] == "tls" for u in uris):
            uris = [u for u in uris if u[1] == "tls"]
        return tuple(uris)

    def _target_queue(self, message: Message, op: AttributeGroup):
        printer_uri = op.get("printer-uri")
        job_uri = op.get("job-uri")
        target = printer_uri or job_uri
        if target is None:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "no printer-uri or job-uri")
        if len(target.values) != 1 or target.tag != Tag.URI:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, f"bad {target.name}")
        parts = urlsplit(target.value)
        if parts.scheme not in ("ipp", "ipps", "http", "https"):
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, f"{target.name} is not an ipp URI")
        path = unquote(parts.path).rstrip("/")
        segments = [s for s in path.split("/") if s]
        name = None
        if not segments or segments == ["ipp", "print"]:
            name = self.config.default_queue
        elif segments[0] == "printers" and len(segments) in (2, 3):
            name = segments[1]
            if len(segments) == 3 and target is printer_uri:
                raise IppError(Status.CLIENT_ERROR_NOT_FOUND, f"no printer at {target.value}")
        elif segments[0] == "ipp" and segments[1:2] == ["print"] and len(segments) == 3:
            name = self.config.default_queue
        elif segments[0] == "jobs" and len(segments) == 2:
            name = self.config.default_queue
        queue = self.config.queue(name) if name else None
        if queue is None:
            raise IppError(Status.CLIENT_ERROR_NOT_FOUND, f"no printer at {target.value}")
        return queue

    def _requesting_user(self, op: AttributeGroup, queue, authenticated_user: str | None,
                         peer: str) -> str | None:
        """The authenticated name wins; else requesting-user-name if the queue trusts it;
        else None, and the intake pipeline works the owner out (PJL, address map) while
        job operations that need an owner are refused."""
        stated = op.get("requesting-user-name")
        if stated is not None and (len(stated.values) != 1 or stated.tag not in (
                Tag.NAME, Tag.NAME_WITH_LANGUAGE)):
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad requesting-user-name",
                           unsupported=[stated])
        if authenticated_user:
            return authenticated_user
        if stated is not None and queue.trust_client_user:
            value = stated.value
            name = value.text if hasattr(value, "text") else value
            if name:
                return name[:255]
        return None

    # ------------------------------------------------------------ dispatch

    def handle(self, request: IppRequest) -> Deferred:
        """Run the operation; the Deferred always fires with a response ``Message``."""
        handler = OPERATIONS.get(request.op)
        log.debug("IPP {operation} from {user}@{host}: {attributes}",
                  operation=OPERATION_NAMES.get(request.op, hex(request.op)), user=request.user,
                  host=request.host, attributes=[
                      (a.name, a.python_values()) for g in request.message.groups
                      for a in g.attributes if a.name != "job-password"])
        if handler is None:
            request.document.discard()
            return succeed(self.error_response(request.message, IppError(
                Status.SERVER_ERROR_OPERATION_NOT_SUPPORTED,
                f"operation 0x{request.op:04x} is not supported")))
        d = maybeDeferred(handler, self, request)
        d.addErrback(self._failed, request)
        return d

    def _failed(self, failure, request: IppRequest) -> Message:
        request.document.discard()
        if failure.check(ConnectionDone, ConnectionLost):
            # The client went away (or was cut off) mid-document: nothing to answer.
            log.info("IPP {operation} from {host} ended with its connection: {reason}",
                     operation=OPERATION_NAMES.get(request.op, hex(request.op)), host=request.host,
                     reason=failure.getErrorMessage())
            return self.error_response(request.message, IppError(Status.CLIENT_ERROR_BAD_REQUEST,
                                                                 "the connection closed"))
        known = status_for(failure.value)
        if known is None:
            log.failure("IPP {operation} from {host} failed", failure,
                        operation=OPERATION_NAMES.get(request.op, hex(request.op)),
                        host=request.host)
            error = IppError(Status.SERVER_ERROR_INTERNAL_ERROR, "internal error")
        else:
            error = failure.value if isinstance(failure.value, IppError) else IppError(*known)
            log.info("IPP {operation} from {user}@{host} refused: {status} {reason}",
                     operation=OPERATION_NAMES.get(request.op, hex(request.op)),
                     user=request.user, host=request.host, status=error.status.keyword,
                     reason=error.message)
        return self.error_response(request.message, error)

    # ------------------------------------------------------------ responses

    @staticmethod
    def response(message: Message, status: Status = Status.SUCCESSFUL_OK,
                 status_message: str | None = None) -> Message:
        version = message.version if message.version[0] in (1, 2) else (1, 1)
        reply = Message(version, int(status), message.request_id)
        op = reply.add_group(Tag.OPERATION)
        op.add("attributes-charset", Tag.CHARSET, "utf-8")
        op.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
        if status_message:
            op.add("status-message", Tag.TEXT, status_message[:255])
        return reply

    def error_response(self, message: Message, error: IppError) -> Message:
        reply = self.response(message, error.status, error.message)
        if error.unsupported:
            reply.add_group(Tag.UNSUPPORTED_GROUP).attributes.extend(error.unsupported)
        return reply

    def job_uri(self, request: IppRequest, job_id: int) -> str:
        return f"{request.printer_uri}/{job_id}"

    def job_attributes(self, request: IppRequest, view: JobView, wanted: set[str] | None) -> list[Attribute]:
        """The job's attributes, limited to ``wanted`` (None: all). What costs to work out
        (times, URIs, the UUID) is worked out only when wanted: every Print-Job response
        asks for six of these."""
        a = Attribute.of
        out: list[Attribute] = []
        # Others' jobs are listed without their private attributes (job-privacy-attributes).
        private = () if may_see(request.requester, view.owner, view.host) else PRIVATE_JOB_ATTRIBUTES

        def want(name):
            return (wanted is None or name in wanted) and name not in private

        def add(name, tag, *values):
            if want(name):
                out.append(a(name, tag, *values))

        def epoch(dt):
            return int(dt.timestamp()) if dt is not None else None

        add("job-id", Tag.INTEGER, view.id)
        if want("job-uri"):
            add("job-uri", Tag.URI, self.job_uri(request, view.id))
        add("job-printer-uri", Tag.URI, request.printer_uri)
        if want("job-more-info"):
            add("job-more-info", Tag.URI,
                "http://" + request.printer_uri.split("://", 1)[1].split("/", 1)[0] + f"/jobs/{view.id}")
        if want("job-name"):
            add("job-name", Tag.NAME, view.title[:255] or f"job {view.id}")
        if want("job-originating-user-name"):
            add("job-originating-user-name", Tag.NAME, (view.owner or "anonymous")[:255])
        add("job-state", Tag.ENUM, int(view.state))
        add("job-state-reasons", Tag.KEYWORD, *view.reasons)
        if want("job-state-message"):
            add("job-state-message", Tag.TEXT, view.message[:255])
        add("number-of-documents", Tag.INTEGER, 0 if view.state == JobState.PENDING else 1)
        add("number-of-intervening-jobs", Tag.INTEGER, 0)
        if want("time-at-creation"):
            add("time-at-creation", Tag.INTEGER, max(0, epoch(view.created_at)))
        for name, dt in (("processing", view.processing_at), ("completed", view.completed_at)):
            if not (want(f"time-at-{name}") or want(f"date-time-at-{name}")):
                continue
            if dt is None:
                add(f"time-at-{name}", Tag.NO_VALUE)
                add(f"date-time-at-{name}", Tag.NO_VALUE)
            else:
                add(f"time-at-{name}", Tag.INTEGER, max(0, epoch(dt)))
                add(f"date-time-at-{name}", Tag.DATE_TIME, dt.replace(microsecond=0))
        if want("date-time-at-creation"):
            add("date-time-at-creation", Tag.DATE_TIME, view.created_at.replace(microsecond=0))
        if want("job-printer-up-time"):
            add("job-printer-up-time", Tag.INTEGER, max(1, int(self.clock.seconds())))
        add("job-k-octets", Tag.INTEGER, (view.size + 1023) // 1024)
        add("job-k-octets-processed", Tag.INTEGER,
            (view.size + 1023) // 1024 if view.state == JobState.COMPLETED else 0)
        if view.impressions is not None:
            add("job-impressions", Tag.INTEGER, max(0, view.impressions))
        else:
            add("job-impressions", Tag.NO_VALUE)
        add("job-impressions-completed", Tag.INTEGER,
            max(0, view.impressions or 0) if view.state == JobState.COMPLETED else 0)
        add("job-media-sheets-completed", Tag.INTEGER, 0)
        add("document-format", Tag.MIME_MEDIA_TYPE, view.document_format or DEFAULT_DOCUMENT_FORMAT)
        if want("job-uuid"):
            add("job-uuid", Tag.URI, queue_uuid(self.gateway_id, f"job/{view.id}"))
        add("copies", Tag.INTEGER, max(1, view.copies))
        if view.sides:
            add("sides", Tag.KEYWORD, view.sides)
        if view.color_mode:
            add("print-color-mode", Tag.KEYWORD, view.color_mode)
        if view.media:
            add("media", Tag.KEYWORD, view.media)
        add("job-hold-until", Tag.KEYWORD, view.hold_until)
        add("job-priority", Tag.INTEGER, 50)
        return out

    def job_response(self, request: IppRequest, view: JobView, unsupported: list[Attribute]) -> Message:
        status = Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED if unsupported else Status.SUCCESSFUL_OK
        reply = self.response(request.message, status)
        if unsupported:
            reply.add_group(Tag.UNSUPPORTED_GROUP).attributes.extend(unsupported)
        wanted = {"job-id", "job-uri", "job-state", "job-state-reasons", "job-state-message",
                  "number-of-intervening-jobs"}
        reply.add_group(Tag.JOB).attributes.extend(self.job_attributes(request, view, wanted))
        return reply

    # ------------------------------------------------------------ job checks

    def check_document_format(self, request: IppRequest) -> str:
        attribute = request.operation.get("document-format")
        if attribute is None:
            return DEFAULT_DOCUMENT_FORMAT
        if len(attribute.values) != 1 or attribute.tag != Tag.MIME_MEDIA_TYPE:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad document-format",
                           unsupported=[attribute])
        fmt = attribute.value
        for known in DOCUMENT_FORMATS:
            if fmt.lower() == known.lower():
                return known
        raise IppError(Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                       f"document-format {fmt!r} is not supported", unsupported=[attribute])

    def check_compression(self, request: IppRequest, max_output: int) -> Decompressor | None:
        attribute = request.operation.get("compression")
        if attribute is None:
            return None
        if len(attribute.values) != 1 or attribute.tag != Tag.KEYWORD:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad compression",
                           unsupported=[attribute])
        if attribute.value == "none":
            return None
        if attribute.value not in ("gzip", "deflate"):
            raise IppError(Status.CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED,
                           f"compression {attribute.value!r} is not supported",
                           unsupported=[attribute])
        return Decompressor(attribute.value, max_output=max_output)

    def check_job_template(self, request: IppRequest) -> tuple[dict, list[Attribute]]:
        """Known job attributes with good values -> dict; the rest -> ignored list.

        RFC 8011 section 4.1.7: with ipp-attribute-fidelity true an unsupported attribute
        or value refuses the job; otherwise it is left out (the default is used) and
        echoed with successful-ok-ignored-or-substituted-attributes."""
        template: dict = {}
        ignored: list[Attribute] = []
        bad: list[Attribute] = []
        fidelity = request.operation.get("ipp-attribute-fidelity")
        if fidelity is not None and (fidelity.tag != Tag.BOOLEAN or len(fidelity.values) != 1):
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad ipp-attribute-fidelity",
                           unsupported=[fidelity])
        strict = bool(fidelity is not None and fidelity.value)
        candidates = list(request.job.attributes) if request.job else []
        for name in ("job-name", "job-password", "job-password-encryption", "job-hold-until"):
            attribute = request.operation.get(name)
            if attribute is not None:
                candidates.append(attribute)
        for attribute in candidates:
            name = attribute.name
            if name not in JOB_TEMPLATE_TAGS:
                ignored.append(attribute)
                continue
            if not check_job_template(name, attribute):
                bad.append(attribute)
                continue
            value = attribute.value
            if name == "media-col":
                value = _media_from_col(value)
                if value:
                    template["media"] = value
                continue
            if name == "job-password":
                template[name] = value  # hashed by seal_job_password, never stored as it came
                continue
            # Stored with the job as JSON (``spooler.ipp.stored_values``): a range or a
            # resolution as it came would fail the database write.
            template[name] = storable_attribute(attribute)
        if (bad or ignored) and strict:
            raise IppError(Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                           "unsupported job attributes: " + ", ".join(a.name for a in bad + ignored),
                           unsupported=bad + ignored)
        return template, bad + ignored

    def job_name(self, request: IppRequest, template: dict) -> str:
        name = template.get("job-name")
        if not name:
            document_name = request.operation.get("document-name")
            if document_name is not None and document_name.tag in (Tag.NAME, Tag.NAME_WITH_LANGUAGE):
                value = document_name.value
                name = value.text if hasattr(value, "text") else value
        return (name or "")[:1024]

    def metadata(self, request: IppRequest, fmt: str, template: dict, title: str,
                 client_ref: str = "") -> JobMetadata:
        kept = {k: v for k, v in template.items()
                if k not in ("job-name", "job-password", "copies", "sides", "print-color-mode")}
        if template.get("job-password-hash"):
            # Only the Argon2id hash of the job PIN (``seal_job_password``) is kept.
            kept["job-password-supplied"] = True
        return JobMetadata(
            protocol="ipp", host=request.host, queue=request.queue.name, user=request.user,
            title=title, copies=int(template.get("copies", 1)), sides=template.get("sides", ""),
            color_mode=template.get("print-color-mode", ""), document_format=fmt,
            client_job_ref=client_ref, attributes=kept)

    def _off_reactor(self, function, *args) -> Deferred:
        """Run memory-hard hashing in the reactor's thread pool (inline under a test clock)."""
        pool = getattr(self.clock, "getThreadPool", None)
        if pool is None:
            return maybeDeferred(function, *args)
        from twisted.internet.threads import deferToThreadPool

        return deferToThreadPool(self.clock, pool(), function, *args)

    def seal_job_password(self, template: dict) -> Deferred:
        """Replace a clear ``job-password`` (PWG 5100.11, a PIN iOS sends) in ``template``
        by its Argon2id hash, ``job-password-hash``, computed off the reactor. A PIN of a
        few digits hashed fast would be as good as kept in the clear; this is the KDF
        accounting uses for panel PINs."""
        clear = template.pop("job-password", None)
        if not clear:
            return succeed(template)
        d = self._off_reactor(self.hasher.hash, clear)

        def sealed(encoded):
            template["job-password-hash"] = encoded
            return template

        return d.addCallback(sealed)

    def check_job_password(self, request: IppRequest, job_id: int, encoded: str) -> Deferred:
        """Fires when the request's ``job-password`` matches ``encoded``; else fails with
        client-error-not-authorized (and, after 5 wrong tries, refuses the job a while)."""
        supplied = request.operation.get("job-password")
        if supplied is None or supplied.tag != Tag.OCTET_STRING or len(supplied.values) != 1:
            return fail(IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED,
                                 f"job {job_id} is protected by a job-password (PIN): send it"))
        key = f"job:{job_id}"
        try:
            self.job_password_brake.check(key)
        except TooManyFailures as exc:
            return fail(IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED,
                                 f"too many wrong PINs for job {job_id}; try again in {exc.retry_after} s"))
        d = self._off_reactor(self.hasher.verify, encoded, supplied.value)

        def checked(ok):
            if not ok:
                self.job_password_brake.failed(key)
                log.info("IPP wrong job-password for job {job_id} from {user}@{host}",
                         job_id=job_id, user=request.user, host=request.host)
                raise IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, f"wrong job-password for job {job_id}")
            self.job_password_brake.succeeded(key)

        return d.addCallback(checked)

    def max_job_size(self) -> int:
        return int(self.config.max_job_size)

    # ------------------------------------------------------------ finding jobs

    def job_id_of(self, request: IppRequest) -> int:
        job_id = request.operation.get("job-id")
        if job_id is not None:
            if len(job_id.values) != 1 or job_id.tag != Tag.INTEGER or job_id.value <= 0:
                raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad job-id", unsupported=[job_id])
            if request.operation.get("printer-uri") is None:
                raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "job-id needs printer-uri")
            return job_id.value
        job_uri = request.operation.get("job-uri")
        if job_uri is None:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "no job-id or job-uri")
        tail = urlsplit(job_uri.value).path.rstrip("/").rsplit("/", 1)[-1]
        if not tail.isdigit() or int(tail) <= 0:
            raise IppError(Status.CLIENT_ERROR_NOT_FOUND, f"no job at {job_uri.value}")
        return int(tail)

    def find_job(self, request: IppRequest) -> Deferred:
        """Fires with ``(view, HeldJob | PendingJob)`` or fails with not-found."""
        job_id = self.job_id_of(request)
        pending = self.pending.get(job_id)
        if pending is not None and pending.committed_id is None:
            return succeed((JobView.of_pending(pending), pending))
        if job_id >= PENDING_ID_BASE and job_id not in self.aliases:
            if self._recovery is not None and not self._recovery.called:
                waiting = Deferred()
                self._recovery.addBoth(lambda result: (waiting.callback(None), result)[1])
                return waiting.addCallback(lambda _: self.find_job(request))
            return fail(IppError(Status.CLIENT_ERROR_NOT_FOUND, _unknown_pending(job_id)))
        real_id = self.aliases.get(job_id, job_id)
        d = self.jobs.get_job(real_id)

        def found(job):
            if job.queue != request.queue.name:
                raise IppError(Status.CLIENT_ERROR_NOT_FOUND, f"no job {job_id} on {request.queue.name}")
            return self.view(job), job

        return d.addCallback(found)

    def view(self, job) -> JobView:
        return JobView.of_held(job, ipp_id=self.ipp_ids.get(job.id),
                               client_hold=job.id in self.client_holds)

    def check_continuation(self, request: IppRequest, job: PendingJob) -> None:
        """Send-Document and Close-Job finish a Create-Job: the client that started it (its
        name, or no name, from its address), its authenticated owner, or an admin host."""
        who = request.requester
        if who.admin or (who.authenticated and who.user == job.owner):
            return
        if who.user is None and job.owner is None and job.host == request.host:
            return  # an unnamed client finishing the Create-Job it started
        if who.user is None:
            raise IppError(Status.CLIENT_ERROR_NOT_AUTHENTICATED, f"who are you? job {job.id} needs its owner's name")
        if not is_owner_here(who, job.owner, job.host):
            raise IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, f"{who.user} may not add to job {job.id}")

    def authorize(self, request: IppRequest, view: "JobView", job) -> Deferred:
        """Fires when the request may act on the job (``spooler.job_access``): an admin
        host, the owner authenticated, the job's PIN for a PIN job, else the owner by
        name from the job's own address. Fails with client-error-not-authorized (or
        -not-authenticated when the request names nobody)."""
        who = request.requester
        pin = _pin_hash(job)
        if may_act(who, view.owner, view.host, has_pin=bool(pin)):
            return succeed(None)
        if pin:
            return self.check_job_password(request, view.id, pin)
        if who.user is None:
            return fail(IppError(Status.CLIENT_ERROR_NOT_AUTHENTICATED,
                                 f"who are you? job {view.id} needs its owner's name"))
        if who.user == view.owner:
            reason = (f"job {view.id} was sent from another address: act on it from there, over ipps:// "
                      f"with your password, or at a printer")
        else:
            reason = f"{who.user} does not own job {view.id}"
        log.info("IPP {operation} on job {job_id} by {user}@{host} not authorized: {reason}",
                 operation=OPERATION_NAMES.get(request.op, hex(request.op)), job_id=view.id, user=who.user,
                 host=request.host, reason=reason)
        return fail(IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, reason))

    def committed(self, held, *, hold: bool, pending: PendingJob | None = None) -> JobView:
        if hold or (held.attributes or {}).get("job-password-hash"):
            self.client_holds.add(held.id)
        if pending is not None:
            pending.committed_id = held.id
            self.aliases[pending.id] = held.id
            self.ipp_ids[held.id] = pending.id
            while len(self.aliases) > MAX_ALIASES:
                _, real = self.aliases.popitem(last=False)
                self.ipp_ids.pop(real, None)
            self.pending.pop(pending.id, None)
        return self.view(held)

    def intake_accepting(self) -> bool:
        return bool(self.intake.accepting)

    def queued_job_count(self, request: IppRequest) -> Deferred:
        return self.jobs.count_jobs(queue=request.queue.name, states=NOT_COMPLETED)


# ---------------------------------------------------------------- handlers
# One signature: handler(service, request) -> Deferred[Message] | Message.


def _print_job(service: IppService, request: IppRequest):
    fmt = service.check_document_format(request)
    template, ignored = service.check_job_template(request)
    decompressor = service.check_compression(request, service.max_job_size())
    title = service.job_name(request, template)
    hold = template.get("job-hold-until", "no-hold") != "no-hold"
    d = service.seal_job_password(template)

    def receive(template):
        receiver = service.intake.begin(service.metadata(request, fmt, template, title))
        received = request.document.attach(receiver.write, decompressor=decompressor)

        def aborted(failure):
            receiver.abort(f"IPP Print-Job failed: {failure.value}")
            return failure

        return received.addCallbacks(lambda _: receiver.commit(), aborted)

    d.addCallback(receive)
    d.addCallback(lambda held: service.job_response(request, service.committed(held, hold=hold),
                                                    ignored))
    return d


def _validate_job(service: IppService, request: IppRequest):
    request.document.discard()
    service.check_document_format(request)
    service.check_compression(request, 0)
    _, ignored = service.check_job_template(request)
    status = Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED if ignored else Status.SUCCESSFUL_OK
    reply = service.response(request.message, status)
    if ignored:
        reply.add_group(Tag.UNSUPPORTED_GROUP).attributes.extend(ignored)
    return reply


def _create_job(service: IppService, request: IppRequest):
    request.document.discard()
    template, ignored = service.check_job_template(request)
    if not request.queue or not service.intake_accepting():
        raise IppError(Status.SERVER_ERROR_NOT_ACCEPTING_JOBS, "the gateway is not accepting jobs")
    waiting = [j for j in service.pending.values() if j.state == "pending"]
    if len(waiting) >= MAX_PENDING or sum(
            1 for j in waiting if j.host == request.host) >= MAX_PENDING_PER_HOST:
        raise IppError(Status.SERVER_ERROR_BUSY, "too many jobs are waiting for their documents")
    if len(service.pending) >= MAX_REMEMBERED:
        # Ended Create-Jobs are shown a while for their clients; the oldest go first.
        for ended in [j for j in service.pending.values() if j.state != "pending"]:
            service.pending.pop(ended.id, None)
            if len(service.pending) < MAX_REMEMBERED:
                break
    job = PendingJob(
        id=service.new_pending_id(), queue=request.queue.name, owner=request.user, host=request.host,
        title=service.job_name(request, template), created_at=datetime.now(timezone.utc),
        template=template, hold=template.get("job-hold-until", "no-hold") != "no-hold")
    service.pending[job.id] = job
    job.timeout = service.clock.callLater(MULTIPLE_OPERATION_TIMEOUT, _expire_pending, service, job)
    log.info("IPP Create-Job {job_id} for {user} from {host}", job_id=job.id, user=job.owner,
             host=job.host)
    # The PIN is hashed before the answer, so no clear PIN waits here for Send-Document.
    d = service.seal_job_password(template)
    return d.addCallback(lambda _: service.job_response(request, JobView.of_pending(job), ignored))


def _unknown_pending(job_id: int) -> str:
    return (f"job {job_id} is not known here: a job created without its document is "
            f"forgotten when it times out or when the gateway restarts; print it again")


def _forget_later(service: IppService, job: PendingJob) -> None:
    """A Create-Job that ended without a document is remembered a while (so the client
    can see it aborted or canceled), then dropped."""
    service.clock.callLater(FORGET_AFTER, service.pending.pop, job.id, None)


def _end_pending(service: IppService, job: PendingJob, state: str, reason: str) -> None:
    """The one way a Create-Job that has no recorded job yet ends (``canceled`` or
    ``aborted``): its timer stops, a receive in progress is dropped (one being committed
    is left to finish: the commit decides), and it is remembered a while for its client."""
    _cancel_timeout(job)
    job.state = state
    _forget_later(service, job)
    if job.receiver is not None and not job.receiver.committing:
        job.receiver.abort(reason)


def _expire_pending(service: IppService, job: PendingJob) -> None:
    job.timeout = None
    if job.state != "pending" or job.committed_id is not None:
        return
    _end_pending(service, job, "aborted", "Create-Job timed out waiting for Send-Document")
    log.info("IPP Create-Job {job_id} timed out", job_id=job.id)


def _cancel_timeout(job: PendingJob) -> None:
    if job.timeout is not None and job.timeout.active():
        job.timeout.cancel()
    job.timeout = None


def _send_document(service: IppService, request: IppRequest):
    job_id = service.job_id_of(request)
    last = request.operation.get("last-document")
    if last is None or last.tag != Tag.BOOLEAN or len(last.values) != 1:
        raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "last-document is required")
    job = service.pending.get(job_id)
    if job is None:
        if job_id in service.aliases:
            raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {job_id} already has its document")
        raise IppError(Status.CLIENT_ERROR_NOT_FOUND, _unknown_pending(job_id))
    service.check_continuation(request, job)
    if job.state != "pending":
        raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {job_id} is {job.state}")
    fmt = service.check_document_format(request)
    decompressor = service.check_compression(request, service.max_job_size())
    _cancel_timeout(job)
    if job.receiver is None:
        title = job.title or service.job_name(request, job.template)
        job.document_format = fmt
        job.receiver = service.intake.begin(service.metadata(
            request, fmt, job.template, title, client_ref=f"ipp-job-id:{job.id}"))
        write = job.receiver.write
    else:
        def write(data):
            raise IppError(Status.SERVER_ERROR_MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED,
                           "a job holds one document")
    d = request.document.attach(write, decompressor=decompressor)

    def aborted(failure):
        if isinstance(failure.value, IppError) and failure.value.status == \
                Status.SERVER_ERROR_MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED:
            return failure
        _end_pending(service, job, "aborted", f"IPP Send-Document failed: {failure.value}")
        return failure

    def finished(_):
        if not last.value:
            job.timeout = service.clock.callLater(MULTIPLE_OPERATION_TIMEOUT, _expire_pending,
                                                  service, job)
            return service.job_response(request, JobView.of_pending(job), [])
        return _commit_pending(service, request, job)

    d.addCallbacks(finished, aborted)
    return d


def _commit_pending(service: IppService, request: IppRequest, job: PendingJob):
    if job.receiver is None:
        raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} has no document")
    receiver = job.receiver

    def failed(failure):
        _end_pending(service, job, "aborted", f"IPP job {job.id} could not be recorded: {failure.value}")
        return failure

    d = receiver.commit()
    d.addCallbacks(lambda held: service.job_response(
        request, service.committed(held, hold=job.hold, pending=job), []), failed)
    return d


def _close_job(service: IppService, request: IppRequest):
    request.document.discard()
    job_id = service.job_id_of(request)
    job = service.pending.get(job_id)
    if job is None:
        if job_id in service.aliases:
            return service.response(request.message)
        raise IppError(Status.CLIENT_ERROR_NOT_FOUND, _unknown_pending(job_id))
    service.check_continuation(request, job)
    _cancel_timeout(job)
    d = maybeDeferred(_commit_pending, service, request, job)
    return d.addCallback(lambda _: service.response(request.message))


def _cancel_job(service: IppService, request: IppRequest):
    request.document.discard()
    d = service.find_job(request)

    def cancel(found):
        view, job = found
        return service.authorize(request, view, job).addCallback(lambda _: cancel_it(view, job))

    def cancel_it(view, job):
        if isinstance(job, PendingJob):
            if job.state != "pending":
                raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {view.id} is already {job.state}")
            if job.receiver is not None and job.receiver.committing:
                raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE,
                               f"job {view.id} is being stored right now; cancel it again in a moment")
            _end_pending(service, job, "canceled", "canceled by the owner over IPP")
            return service.response(request.message)
        if job.state != "held":
            raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE,
                           f"job {view.id} is {job.state} and cannot be canceled")
        ended = service.jobs.end_job(job.id, "canceled", actor=request.user, reason="Cancel-Job over IPP")
        service.client_holds.discard(job.id)
        return ended.addCallback(lambda _: service.response(request.message))

    return d.addCallback(cancel)


def _cancel_my_jobs(service: IppService, request: IppRequest):
    request.document.discard()
    if request.user is None:
        raise IppError(Status.CLIENT_ERROR_NOT_AUTHENTICATED, "Cancel-My-Jobs needs a user name")
    wanted = None
    job_ids = request.operation.get("job-ids")
    if job_ids is not None:
        if any(v.tag != Tag.INTEGER for v in job_ids.values):
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad job-ids", unsupported=[job_ids])
        wanted = {service.aliases.get(v.value, v.value) for v in job_ids.values}
    who = request.requester
    for job in list(service.pending.values()):
        storing = job.receiver is not None and job.receiver.committing
        if job.owner == request.user and job.state == "pending" and not storing and (
                wanted is None or job.id in wanted) and may_act(who, job.owner, job.host,
                                                                has_pin=bool(_pin_hash(job))):
            _end_pending(service, job, "canceled", "canceled by the owner over IPP")
    d = service.jobs.list_jobs(queue=request.queue.name, owner=request.user, states=("held",))

    def cancel_all(jobs):
        # Only the jobs this request may act on: a stated name reaches the jobs sent from
        # the same address, never a PIN job (spooler.job_access).
        mine = [job for job in jobs if (wanted is None or job.id in wanted)
                and may_act(who, job.owner, job.source_host, has_pin=bool(_pin_hash(job)))]
        changes = [service.jobs.end_job(job.id, "canceled", actor=request.user, reason="Cancel-My-Jobs over IPP")
                   .addErrback(_already_ended, job.id) for job in mine]
        for job in mine:
            service.client_holds.discard(job.id)
        return gatherResults(changes, consumeErrors=True)

    d.addCallback(cancel_all)
    return d.addCallback(lambda _: service.response(request.message))


def _requested(request: IppRequest, default: set[str] | None, groups: dict[str, set[str]]):
    """Names in requested-attributes, expanding group keywords; None means all."""
    attribute = request.operation.get("requested-attributes")
    if attribute is None:
        return default
    names: set[str] = set()
    for value in attribute.values:
        if value.tag != Tag.KEYWORD:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad requested-attributes",
                           unsupported=[attribute])
        if value.value == "all":
            return None
        names |= groups.get(value.value, {value.value})
    return names


_JOB_GROUPS = {"job-description": set(JOB_DESCRIPTION), "job-template": set(JOB_TEMPLATE)}


def _get_job_attributes(service: IppService, request: IppRequest):
    request.document.discard()
    wanted = _requested(request, None, _JOB_GROUPS)
    d = service.find_job(request)

    def answer(found):
        view, _ = found
        reply = service.response(request.message)
        reply.add_group(Tag.JOB).attributes.extend(service.job_attributes(request, view, wanted))
        return reply

    return d.addCallback(answer)


def _get_jobs(service: IppService, request: IppRequest):
    request.document.discard()
    which_attr = request.operation.get("which-jobs")
    which = "not-completed"
    if which_attr is not None:
        which = which_attr.value
        if which_attr.tag != Tag.KEYWORD or which not in WHICH_JOBS:
            raise IppError(Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                           f"which-jobs {which!r} is not supported", unsupported=[which_attr])
    limit_attr = request.operation.get("limit")
    limit = None
    if limit_attr is not None:
        if limit_attr.tag != Tag.INTEGER or limit_attr.value < 1:
            raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad limit", unsupported=[limit_attr])
        limit = limit_attr.value
    my_jobs_attr = request.operation.get("my-jobs")
    my_jobs = bool(my_jobs_attr is not None and my_jobs_attr.tag == Tag.BOOLEAN and my_jobs_attr.value)
    wanted = _requested(request, {"job-id", "job-uri"}, _JOB_GROUPS)
    owner = request.user if my_jobs else None
    if my_jobs and owner is None:
        return service.response(request.message)
    views: list[JobView] = []
    if which in ("not-completed", "all", "pending"):
        views += [JobView.of_pending(j) for j in service.pending.values()
                  if j.state == "pending" and j.queue == request.queue.name
                  and (owner is None or j.owner == owner)]
    states = WHICH_JOBS[which]
    d = service.jobs.list_jobs(queue=request.queue.name, owner=owner, states=states,
                                     limit=limit, newest_first=which != "not-completed") \
        if states else succeed([])

    def answer(jobs):
        all_views = [service.view(j) for j in jobs] + views
        if limit:
            all_views = all_views[:limit]
        reply = service.response(request.message)
        for view in all_views:
            reply.add_group(Tag.JOB).attributes.extend(service.job_attributes(request, view, wanted))
        return reply

    return d.addCallback(answer)


def _get_printer_attributes(service: IppService, request: IppRequest):
    request.document.discard()
    requested = request.operation.get("requested-attributes")
    keywords = set(requested.python_values()) if requested is not None else {"all"}
    if requested is not None and any(v.tag != Tag.KEYWORD for v in requested.values):
        raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad requested-attributes",
                       unsupported=[requested])
    fmt = request.operation.get("document-format")
    if fmt is not None and (fmt.tag != Tag.MIME_MEDIA_TYPE or len(fmt.values) != 1):
        raise IppError(Status.CLIENT_ERROR_BAD_REQUEST, "bad document-format", unsupported=[fmt])
    d = service.queued_job_count(request)

    def wanted(name: str) -> bool:
        if "all" in keywords or name in keywords:
            return True
        template = name in JOB_TEMPLATE_PRINTER
        return ("job-template" in keywords and template) or (
            "printer-description" in keywords and not template)

    def answer(count):
        now = max(1, int(service.clock.seconds()))
        ctx = PrinterContext(
            queue=request.queue.name, description=request.queue.description,
            printer_uri=request.printer_uri, uuid=queue_uuid(service.gateway_id, request.queue.name),
            up_time=now, start_time=service.start_time, queued_jobs=count + sum(
                1 for j in service.pending.values() if j.state == "pending"),
            accepting=service.intake_accepting(),
            secure=request.printer_uri.startswith("ipps:"), uris=service.printer_uris(request))
        reply = service.response(request.message)
        group = reply.add_group(Tag.PRINTER)
        group.attributes.extend(a for a in printer_attributes(ctx) if wanted(a.name))
        # media-col-database is large: only when asked for by name (PWG 5100.7).
        if "media-col-database" in keywords:
            group.attributes.append(media_col_database())
        return reply

    return d.addCallback(answer)


def _hold_job(service: IppService, request: IppRequest):
    request.document.discard()
    d = service.find_job(request)

    def hold(found):
        view, job = found
        return service.authorize(request, view, job).addCallback(lambda _: hold_it(view, job))

    def hold_it(view, job):
        if isinstance(job, PendingJob):
            if job.state != "pending":
                raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {view.id} is {job.state}")
            job.hold = True
            job.template["job-hold-until"] = "indefinite"
        elif job.state != "held":
            raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {view.id} is {job.state}")
        else:
            service.client_holds.add(job.id)
        log.info("IPP job {job_id} held by {user}", job_id=view.id, user=request.user)
        return service.response(request.message)

    return d.addCallback(hold)


def _release_job(service: IppService, request: IppRequest):
    """Release-Job lifts the owner's own hold (job-hold-until / Hold-Job); the job then
    waits at the gateway, as every job does, to be released at a printer. A PIN job's
    hold is lifted by its PIN (``job-password``), whoever sends it."""
    request.document.discard()
    d = service.find_job(request)

    def release(found):
        view, job = found
        encoded = _pin_hash(job) if not isinstance(job, PendingJob) else None
        if encoded:
            checked = service.check_job_password(request, view.id, encoded)
        else:
            checked = service.authorize(request, view, job)
        return checked.addCallback(lambda _: release_it(view, job))

    def release_it(view, job):
        if isinstance(job, PendingJob):
            if job.state != "pending" or not job.hold:
                raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {view.id} is not held")
            job.hold = False
            job.template["job-hold-until"] = "no-hold"
        elif job.state != "held" or job.id not in service.client_holds:
            raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {view.id} is not held by its owner")
        else:
            service.client_holds.discard(job.id)
        log.info("IPP job {job_id} released by {user}", job_id=view.id, user=request.user)
        return service.response(request.message)

    return d.addCallback(release)


def _identify_printer(service: IppService, request: IppRequest):
    """A virtual printer has no panel to flash: the request is acknowledged and logged."""
    request.document.discard()
    log.info("IPP Identify-Printer on {queue} by {user}@{host}", queue=request.queue.name,
             user=request.user, host=request.host)
    return service.response(request.message)


OPERATIONS: dict[int, Callable[[IppService, IppRequest], object]] = {
    Operation.PRINT_JOB: _print_job,
    Operation.VALIDATE_JOB: _validate_job,
    Operation.CREATE_JOB: _create_job,
    Operation.SEND_DOCUMENT: _send_document,
    Operation.CLOSE_JOB: _close_job,
    Operation.CANCEL_JOB: _cancel_job,
    Operation.CANCEL_MY_JOBS: _cancel_my_jobs,
    Operation.GET_JOB_ATTRIBUTES: _get_job_attributes,
    Operation.GET_JOBS: _get_jobs,
    Operation.GET_PRINTER_ATTRIBUTES: _get_printer_attributes,
    Operation.HOLD_JOB: _hold_job,
    Operation.RELEASE_JOB: _release_job,
    Operation.IDENTIFY_PRINTER: _identify_printer,
}


def _media_from_col(col) -> str | None:
    """The media keyword a ``media-col`` names (``check_job_template`` has checked its
    members' tags: names are keywords or names, sizes integers)."""
    for member in ("media-size-name", "media-key"):
        name = col.get(member)
        if name is not None and isinstance(name.value, str) and name.value:
            return name.value
    size = col.get("media-size")
    if size is not None:
        dims = (size.value.get("x-dimension").value, size.value.get("y-dimension").value)
        for key, value in MEDIA.items():
            if value == dims:
                return key
    return None



def _already_ended(failure, job_id: int) -> None:
    """A job that ended (released, canceled, expired) between being listed and being
    canceled: nothing left to do for it."""
    failure.trap(InvalidStateChange, JobNotFound)
    log.info("IPP job {job_id} ended before it could be canceled: {reason}", job_id=job_id,
             reason=failure.getErrorMessage())


def _pin_hash(job) -> str | None:
    """The hash of a job's PIN (IPP ``job-password``), recorded or still being created."""
    attributes = job.template if isinstance(job, PendingJob) else job.attributes
    return (attributes or {}).get(PIN_HASH) or None


def _host_only(host_port: str) -> str:
    """``host`` of ``host[:port]`` (IPv6 literals keep their brackets)."""
    if host_port.startswith("["):
        return host_port.split("]", 1)[0] + "]"
    return host_port.rsplit(":", 1)[0] if ":" in host_port else host_port
