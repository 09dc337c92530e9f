"""What the gateway says about each of its IPP queues (RFC 8011 section 5.4, PWG 5100.12).

A queue is a virtual printer: jobs are held, and released later to a real device. It
advertises the IPP Everywhere set of attributes that applies to a held job — formats the
fleet understands, media, sides, colour, copies, hold — and the values a job may carry are
checked against the same tables (``JOB_TEMPLATE``).
"""
from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from spooler.ipp.codec import Attribute, Collection, Range, Resolution, Tag, Value
from spooler.ipp.constants import Operation, PrinterState

DOCUMENT_FORMATS = (
    "application/pdf",
    "application/postscript",
    "application/vnd.hp-PCL",
    "application/vnd.hp-PCLXL",
    "image/pwg-raster",
    "image/urf",
    "application/octet-stream",
)
DEFAULT_DOCUMENT_FORMAT = "application/octet-stream"

#: media keyword -> (width, length) in hundredths of a millimetre (PWG 5101.1)
MEDIA = {
    "iso_a4_210x297mm": (21000, 29700),
    "na_letter_8.5x11in": (21590, 27940),
    "na_legal_8.5x14in": (21590, 35560),
    "iso_a5_148x210mm": (14800, 21000),
    "iso_a3_297x420mm": (29700, 42000),
    "na_index-4x6_4x6in": (10160, 15240),
    "iso_dl_110x220mm": (11000, 22000),
    "na_number-10_4.125x9.5in": (10477, 24130),
}
DEFAULT_MEDIA = "iso_a4_210x297mm"
MEDIA_TYPES = ("stationery", "photographic", "envelope", "labels", "transparency")
MEDIA_SOURCES = ("auto", "main", "manual")
MARGIN = 423  # 1/6 inch, the usual unprintable border
SIDES = ("one-sided", "two-sided-long-edge", "two-sided-short-edge")
COLOR_MODES = ("auto", "color", "monochrome")
HOLD_UNTIL = ("no-hold", "indefinite", "day-time", "evening", "night", "second-shift",
              "third-shift", "weekend")
OUTPUT_BINS = ("auto", "face-down", "face-up")
PRINT_SCALING = ("auto", "auto-fit", "fill", "fit", "none")
CONTENT_OPTIMIZE = ("auto", "graphic", "photo", "text", "text-and-graphic")
RESOLUTIONS = (Resolution(300, 300, 3), Resolution(600, 600, 3))
MAX_COPIES = 999
#: What Get-Jobs and Get-Job-Attributes leave out of a job the requester may not act on
#: (``spooler.job_access``): advertised as ``job-privacy-attributes``, with the scope
#: "owner" (private except to the job's owner, and to the admin hosts as operators), as
#: the IPP Privacy Attributes registration (IANA IPPPRIVACY10) defines the keywords.
PRIVATE_JOB_ATTRIBUTES = ("job-name", "job-originating-user-name")

OPERATIONS_SUPPORTED = (
    Operation.PRINT_JOB, Operation.VALIDATE_JOB, Operation.CREATE_JOB,
    Operation.SEND_DOCUMENT, Operation.CANCEL_JOB, Operation.GET_JOB_ATTRIBUTES,
    Operation.GET_JOBS, Operation.GET_PRINTER_ATTRIBUTES, Operation.HOLD_JOB,
    Operation.RELEASE_JOB, Operation.CANCEL_MY_JOBS, Operation.CLOSE_JOB,
    Operation.IDENTIFY_PRINTER,
)

#: Job template attributes a job may carry: name -> accepted value tags.
JOB_TEMPLATE_TAGS = {
    "copies": {Tag.INTEGER},
    "sides": {Tag.KEYWORD},
    "print-color-mode": {Tag.KEYWORD},
    "media": {Tag.KEYWORD, Tag.NAME},
    "media-col": {Tag.BEGIN_COLLECTION},
    "job-hold-until": {Tag.KEYWORD, Tag.NAME},
    "job-priority": {Tag.INTEGER},
    "job-sheets": {Tag.KEYWORD, Tag.NAME},
    "finishings": {Tag.ENUM},
    "orientation-requested": {Tag.ENUM},
    "print-quality": {Tag.ENUM},
    "printer-resolution": {Tag.RESOLUTION},
    "number-up": {Tag.INTEGER},
    "multiple-document-handling": {Tag.KEYWORD},
    "page-ranges": {Tag.RANGE},
    "output-bin": {Tag.KEYWORD, Tag.NAME},
    "print-scaling": {Tag.KEYWORD},
    "print-content-optimize": {Tag.KEYWORD},
    "job-account-id": {Tag.NAME},
    "job-accounting-user-id": {Tag.NAME},
    "job-password": {Tag.OCTET_STRING},
    "job-password-encryption": {Tag.KEYWORD},
    "job-name": {Tag.NAME},
}


def media_size(x: int, y: int) -> Collection:
    return Collection([Attribute.of("x-dimension", Tag.INTEGER, x),
                       Attribute.of("y-dimension", Tag.INTEGER, y)])


def media_col(keyword: str, *, media_type: str = "stationery", source: str = "auto") -> Collection:
    x, y = MEDIA[keyword]
    return Collection([
        Attribute.of("media-key", Tag.KEYWORD, keyword),
        Attribute.of("media-size", Tag.BEGIN_COLLECTION, media_size(x, y)),
        Attribute.of("media-size-name", Tag.KEYWORD, keyword),
        Attribute.of("media-source", Tag.KEYWORD, source),
        Attribute.of("media-type", Tag.KEYWORD, media_type),
        Attribute.of("media-bottom-margin", Tag.INTEGER, MARGIN),
        Attribute.of("media-left-margin", Tag.INTEGER, MARGIN),
        Attribute.of("media-right-margin", Tag.INTEGER, MARGIN),
        Attribute.of("media-top-margin", Tag.INTEGER, MARGIN),
    ])


def check_job_template(name: str, attribute: Attribute) -> bool:
    """True when the values of a known job template attribute are acceptable."""
    tags = JOB_TEMPLATE_TAGS.get(name)
    if tags is None:
        return False
    if any(v.tag not in tags for v in attribute.values):
        return False
    values = attribute.python_values()
    single = len(values) == 1
    value = values[0]
    if name == "copies":
        return single and 1 <= value <= MAX_COPIES
    if name == "sides":
        return single and value in SIDES
    if name == "print-color-mode":
        return single and value in COLOR_MODES
    if name == "media":
        return single and value in MEDIA
    if name == "media-col":
        return single and _media_col_ok(value)
    if name == "job-hold-until":
        return single and value in HOLD_UNTIL
    if name == "job-priority":
        return single and 1 <= value <= 100
    if name == "job-sheets":
        return single and value == "none"
    if name == "finishings":
        return all(v == 3 for v in values)
    if name == "orientation-requested":
        return single and value in (3, 4, 5, 6)
    if name == "print-quality":
        return single and value in (3, 4, 5)
    if name == "printer-resolution":
        return single and value in RESOLUTIONS
    if name == "number-up":
        return single and value == 1
    if name == "multiple-document-handling":
        return single and value in ("separate-documents-uncollated-copies",
                                    "separate-documents-collated-copies")
    if name == "page-ranges":
        return all(1 <= r.lower <= r.upper for r in values)
    if name == "output-bin":
        return single and value in OUTPUT_BINS
    if name == "print-scaling":
        return single and value in PRINT_SCALING
    if name == "print-content-optimize":
        return single and value in CONTENT_OPTIMIZE
    if name == "job-password":
        return single and 0 < len(value) <= 255
    if name == "job-password-encryption":
        return single and value == "none"
    return single


def _media_col_ok(col: Collection) -> bool:
    if not isinstance(col, Collection):
        return False
    size = col.get("media-size")
    if size is not None:
        if size.tag != Tag.BEGIN_COLLECTION:
            return False
        x, y = size.value.get("x-dimension"), size.value.get("y-dimension")
        if x is None or y is None or x.tag != Tag.INTEGER or y.tag != Tag.INTEGER:
            return False
        if (x.value, y.value) not in MEDIA.values():
            return False
    for member, allowed in (("media-type", MEDIA_TYPES), ("media-source", MEDIA_SOURCES),
                            ("media-size-name", tuple(MEDIA))):
        attr = col.get(member)
        if attr is not None and (len(attr.values) != 1 or attr.value not in allowed):
            return False
    key = col.get("media-key")
    if key is not None and (len(key.values) != 1 or key.tag not in (Tag.KEYWORD, Tag.NAME)
                            or not isinstance(key.value, str) or not key.value):
        return False  # PWG 5100.7: a keyword or a name, one of them
    return True


@dataclass
class PrinterContext:
    """What varies per request: the URI the client used, counts, and clock-derived times."""

    queue: str
    description: str
    printer_uri: str
    uuid: str
    up_time: int
    start_time: int
    queued_jobs: int
    accepting: bool = True
    secure: bool = False
    #: (printer-uri-supported, uri-security-supported, uri-authentication-supported) per
    #: URI the queue is reachable at; empty: the one URI the client used.
    uris: tuple = ()


def queue_uuid(gateway_id: str, queue: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"printgate:{gateway_id}:{queue}"))


def printer_attributes(ctx: PrinterContext) -> list[Attribute]:
    """Every printer attribute of the queue, in a stable order."""
    a = Attribute.of
    media_keys = list(MEDIA)
    uris = ctx.uris or ((ctx.printer_uri, "tls" if ctx.secure else "none", "requesting-user-name"),)
    attrs = [
        a("printer-uri-supported", Tag.URI, *[u[0] for u in uris]),
        a("uri-security-supported", Tag.KEYWORD, *[u[1] for u in uris]),
        a("uri-authentication-supported", Tag.KEYWORD, *[u[2] for u in uris]),
        a("printer-name", Tag.NAME, ctx.queue),
        a("printer-info", Tag.TEXT, ctx.description or f"Printgate secure queue {ctx.queue}"),
        a("printer-location", Tag.TEXT, "Any Printgate printer"),
        a("printer-make-and-model", Tag.TEXT, "Printgate Secure Print Release"),
        a("printer-more-info", Tag.URI, "https://" + _hostname_of(ctx.printer_uri) + "/"),
        a("printer-device-id", Tag.TEXT,
          "MFG:Printgate;MDL:Secure Print Release;CMD:PDF,PS,PCL,PCLXL,PWGRaster,URF;"),
        a("printer-uuid", Tag.URI, ctx.uuid),
        a("printer-state", Tag.ENUM, int(PrinterState.IDLE)),
        a("printer-state-reasons", Tag.KEYWORD, "none"),
        a("printer-state-message", Tag.TEXT, "Ready to hold jobs"),
        a("printer-state-change-time", Tag.INTEGER, ctx.start_time),
        a("printer-is-accepting-jobs", Tag.BOOLEAN, ctx.accepting),
        a("printer-up-time", Tag.INTEGER, ctx.up_time),
        a("printer-config-change-time", Tag.INTEGER, ctx.start_time),
        a("queued-job-count", Tag.INTEGER, ctx.queued_jobs),
        a("ipp-versions-supported", Tag.KEYWORD, "1.1", "2.0"),
        a("ipp-features-supported", Tag.KEYWORD, "ipp-everywhere"),
        a("operations-supported", Tag.ENUM, *[int(op) for op in OPERATIONS_SUPPORTED]),
        a("multiple-document-jobs-supported", Tag.BOOLEAN, False),
        a("multiple-operation-time-out", Tag.INTEGER, 120),
        a("multiple-operation-time-out-action", Tag.KEYWORD, "abort-job"),
        a("charset-configured", Tag.CHARSET, "utf-8"),
        a("charset-supported", Tag.CHARSET, "utf-8", "us-ascii"),
        a("natural-language-configured", Tag.NATURAL_LANGUAGE, "en"),
        a("generated-natural-language-supported", Tag.NATURAL_LANGUAGE, "en"),
        a("document-format-default", Tag.MIME_MEDIA_TYPE, DEFAULT_DOCUMENT_FORMAT),
        a("document-format-supported", Tag.MIME_MEDIA_TYPE, *DOCUMENT_FORMATS),
        a("compression-supported", Tag.KEYWORD, "none", "deflate", "gzip"),
        a("pdl-override-supported", Tag.KEYWORD, "attempted"),
        a("reference-uri-schemes-supported", Tag.URI_SCHEME, "ipp", "ipps"),
        a("job-creation-attributes-supported", Tag.KEYWORD, *JOB_TEMPLATE_TAGS),
        a("job-ids-supported", Tag.BOOLEAN, True),
        a("which-jobs-supported", Tag.KEYWORD, "completed", "not-completed", "all",
          "aborted", "canceled", "pending", "pending-held", "processing"),
        a("job-k-octets-supported", Tag.RANGE, Range(0, 2**31 - 1)),
        a("job-impressions-supported", Tag.RANGE, Range(0, 2**31 - 1)),
        a("job-media-sheets-supported", Tag.RANGE, Range(0, 2**31 - 1)),
        a("job-privacy-attributes", Tag.KEYWORD, *PRIVATE_JOB_ATTRIBUTES),
        a("job-privacy-scope", Tag.KEYWORD, "owner"),
        a("job-password-supported", Tag.INTEGER, 255),
        a("job-password-encryption-supported", Tag.KEYWORD, "none"),
        a("color-supported", Tag.BOOLEAN, True),
        a("pages-per-minute", Tag.INTEGER, 60),
        a("pages-per-minute-color", Tag.INTEGER, 60),
        a("copies-default", Tag.INTEGER, 1),
        a("copies-supported", Tag.RANGE, Range(1, MAX_COPIES)),
        a("finishings-default", Tag.ENUM, 3),
        a("finishings-supported", Tag.ENUM, 3),
        a("job-hold-until-default", Tag.KEYWORD, "no-hold"),
        a("job-hold-until-supported", Tag.KEYWORD, *HOLD_UNTIL),
        a("job-priority-default", Tag.INTEGER, 50),
        a("job-priority-supported", Tag.INTEGER, 100),
        a("job-sheets-default", Tag.KEYWORD, "none"),
        a("job-sheets-supported", Tag.KEYWORD, "none"),
        a("media-default", Tag.KEYWORD, DEFAULT_MEDIA),
        a("media-ready", Tag.KEYWORD, DEFAULT_MEDIA, "na_letter_8.5x11in"),
        a("media-supported", Tag.KEYWORD, *media_keys),
        a("media-col-default", Tag.BEGIN_COLLECTION, media_col(DEFAULT_MEDIA)),
        a("media-col-ready", Tag.BEGIN_COLLECTION, media_col(DEFAULT_MEDIA),
          media_col("na_letter_8.5x11in")),
        a("media-col-supported", Tag.KEYWORD, "media-bottom-margin", "media-left-margin",
          "media-right-margin", "media-size", "media-size-name", "media-source",
          "media-top-margin", "media-type"),
        a("media-size-supported", Tag.BEGIN_COLLECTION,
          *[media_size(*MEDIA[k]) for k in media_keys]),
        a("media-bottom-margin-supported", Tag.INTEGER, 0, MARGIN),
        a("media-left-margin-supported", Tag.INTEGER, 0, MARGIN),
        a("media-right-margin-supported", Tag.INTEGER, 0, MARGIN),
        a("media-top-margin-supported", Tag.INTEGER, 0, MARGIN),
        a("media-source-supported", Tag.KEYWORD, *MEDIA_SOURCES),
        a("media-type-supported", Tag.KEYWORD, *MEDIA_TYPES),
        a("multiple-document-handling-default", Tag.KEYWORD, "separate-documents-collated-copies"),
        a("multiple-document-handling-supported", Tag.KEYWORD,
          "separate-documents-uncollated-copies", "separate-documents-collated-copies"),
        a("number-up-default", Tag.INTEGER, 1),
        a("number-up-supported", Tag.INTEGER, 1),
        a("orientation-requested-default", Tag.NO_VALUE),
        a("orientation-requested-supported", Tag.ENUM, 3, 4, 5, 6),
        a("output-bin-default", Tag.KEYWORD, "auto"),
        a("output-bin-supported", Tag.KEYWORD, *OUTPUT_BINS),
        a("page-ranges-supported", Tag.BOOLEAN, True),
        a("print-color-mode-default", Tag.KEYWORD, "auto"),
        a("print-color-mode-supported", Tag.KEYWORD, *COLOR_MODES),
        a("print-content-optimize-default", Tag.KEYWORD, "auto"),
        a("print-content-optimize-supported", Tag.KEYWORD, *CONTENT_OPTIMIZE),
        a("print-quality-default", Tag.ENUM, 4),
        a("print-quality-supported", Tag.ENUM, 3, 4, 5),
        a("print-scaling-default", Tag.KEYWORD, "auto"),
        a("print-scaling-supported", Tag.KEYWORD, *PRINT_SCALING),
        a("printer-resolution-default", Tag.RESOLUTION, RESOLUTIONS[1]),
        a("printer-resolution-supported", Tag.RESOLUTION, *RESOLUTIONS),
        a("sides-default", Tag.KEYWORD, "one-sided"),
        a("sides-supported", Tag.KEYWORD, *SIDES),
        a("pwg-raster-document-resolution-supported", Tag.RESOLUTION, *RESOLUTIONS),
        a("pwg-raster-document-sheet-back", Tag.KEYWORD, "normal"),
        a("pwg-raster-document-type-supported", Tag.KEYWORD, "black_1", "sgray_8", "srgb_8"),
        a("urf-supported", Tag.KEYWORD, "V1.4", "CP1", "DM1", "IS1", "MT1-2-3-4-5", "RS300-600",
          "SRGB24", "W8"),
        a("printer-get-attributes-supported", Tag.KEYWORD, "document-format"),
        a("identify-actions-default", Tag.KEYWORD, "display"),
        a("identify-actions-supported", Tag.KEYWORD, "display"),
        a("printer-config-change-date-time", Tag.DATE_TIME,
          datetime.datetime.fromtimestamp(ctx.start_time, datetime.timezone.utc)),
        a("printer-current-time", Tag.DATE_TIME,
          datetime.datetime.fromtimestamp(ctx.up_time, datetime.timezone.utc)),
        a("print-rendering-intent-default", Tag.KEYWORD, "auto"),
        a("print-rendering-intent-supported", Tag.KEYWORD, "auto"),
        a("preferred-attributes-supported", Tag.BOOLEAN, False),
        a("printer-kind", Tag.KEYWORD, "document"),
    ]
    return attrs


MEDIA_COL_DATABASE = "media-col-database"


def media_col_database() -> Attribute:
    cols = [media_col(k, source=s) for k in MEDIA for s in ("auto",)]
    return Attribute("media-col-database", [Value(Tag.BEGIN_COLLECTION, c) for c in cols])


def _hostname_of(uri: str) -> str:
    """The host of ``uri`` without the IPP port: the web pages live on the HTTPS port."""
    host = uri.split("://", 1)[-1].split("/", 1)[0]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


#: Attribute names of each requested-attributes group keyword (RFC 8011 section 4.2.5.1).
JOB_TEMPLATE_PRINTER = {
    name for base in JOB_TEMPLATE_TAGS for name in (f"{base}-default", f"{base}-supported")
} | {"media-ready", "media-col-ready", "media-size-supported", "media-source-supported",
     "media-type-supported", "media-bottom-margin-supported", "media-left-margin-supported",
     "media-right-margin-supported", "media-top-margin-supported", "media-col-default",
     "media-col-supported"}
