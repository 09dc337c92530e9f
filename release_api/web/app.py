"""The web pages' plumbing: one Klein router built from the declared routes, and for
every request, in this order: security headers; the session from its cookie; the route's
access level (anonymous GET → the login page, anything else not allowed → 403); the
person re-read (a disabled user or changed roles end the session); CSRF on every POST
(403 without); the handler; errors mapped to answers in one place (``ERRORS``); privilege
use written to the access log.

Handlers return a ``Page`` (a template and its context), a ``Redirect`` (303), a
``Download`` (a small body) or a ``FileDownload`` (sent from a file as it is read). A form error (bad input the person can fix) goes back to the form with the
message shown once (``WebSession.flash``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlsplit

from klein import Klein
from twisted.internet import defer, task
from werkzeug.exceptions import HTTPException
from twisted.logger import Logger

from accounting.browse import BadCursor
from accounting.errors import UnknownAccount, UnknownDevice, UnknownUser
from accounting.ledger_export import ExportTooLarge
from printgate_errors import PrintgateError
from release_api.errors import JobNotFound, LockedOut, LoginFailed
from release_api.web import routing
from release_api.web.downloads import StreamedFile
from release_api.web.render import WebRenderer
from release_api.web.services import Administration, SecondFactorRejected, SelfService, WebLogins, WebUser
from release_api.web.sessions import COOKIE, SSO_COOKIE, WebSession, WebSessions

log = Logger()

MAX_BODY = 64 * 1024
SECURITY_HEADERS = {
    b"content-security-policy": b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                                b"frame-ancestors 'none'; base-uri 'none'",
    b"strict-transport-security": b"max-age=31536000; includeSubDomains",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
    b"cross-origin-opener-policy": b"same-origin",
}


class Forbidden(PrintgateError):
    pass


class CsrfMissing(PrintgateError):
    pass


class NotFound(PrintgateError):
    pass


class BodyTooLarge(PrintgateError):
    pass


class BadFilter(PrintgateError, ValueError):
    """A list's filter that cannot be read (a date that is no date): on a form, shown on
    the form; in a link, a 400 page that says which."""


#: What a person typed that can be put right: shown on the form they came from.
FORM_ERRORS = (ValueError, LookupError, PrintgateError)
#: Exception type -> (status, title, text); first match wins. Text None: the error's own
#: message (written for the person who sees it).
ERRORS = (
    (CsrfMissing, 403, "The form had expired", "Go back, reload the page and try again."),
    (Forbidden, 403, "Not for you", "Your role does not let you open this page."),
    (NotFound, 404, "Not here", "There is no such page."),
    (JobNotFound, 404, "No such job", "That job does not exist, or is not yours."),
    (BodyTooLarge, 413, "Too much", "That form was too large."),
    (BadCursor, 400, "That page link is not valid", "Start again from the list's first page."),
    (BadFilter, 400, "That filter is not valid", None),
    (UnknownUser, 404, "Not here", "There is no such user."),
    (UnknownDevice, 404, "Not here", "There is no such printer."),
    (UnknownAccount, 404, "Not here", "There is no such account."),
    (ExportTooLarge, 413, "Too many entries for one file", None),
)


@dataclass
class Page:
    template: str
    context: dict = field(default_factory=dict)
    status: int = 200


@dataclass
class Redirect:
    location: str


@dataclass
class Download:
    body: bytes
    content_type: str
    filename: str


@dataclass
class FileDownload:
    """A download sent from an open file as it is read (``downloads.StreamedFile``)."""

    handle: object
    content_type: str
    filename: str


@dataclass
class Call:
    """One request as a handler sees it."""

    request: object
    session: WebSession | None
    form: dict
    query: dict
    address: str
    user_agent: str
    route: routing.Route

    @property
    def user(self) -> WebUser:
        return self.session.user

    @property
    def actor(self) -> str:
        return self.session.user.username

    def field(self, name: str, *, required: bool = True, limit: int = 255, default: str = "",
              strip: bool = True) -> str:
        """``strip=False`` for passwords and secrets: their spaces are theirs."""
        values = self.form.get(name) or []
        value = (values[0].strip() if strip else values[0]) if values else default
        if required and not value:
            raise ValueError(f"{name.replace('_', ' ')} is required")
        if len(value) > limit:
            raise ValueError(f"{name.replace('_', ' ')} is longer than {limit} characters")
        return value

    def fields(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.get(name, []) if v.strip()][:200]

    def checked(self, name: str) -> bool:
        return bool(self.form.get(name))

    def arg(self, name: str, default: str | None = None, *, limit: int = 255) -> str | None:
        values = self.query.get(name) or []
        value = values[0].strip() if values else ""
        return value[:limit] if value else default


class WebApp:
    """The pages are mixins (``release_api.web.pages_*``) combined in
    ``release_api.web.site.WebSite``; this class holds what they share."""

    def __init__(self, logins: WebLogins, self_service: SelfService, administration: Administration, *,
                 sessions: WebSessions | None = None, renderer: WebRenderer | None = None, oidc=None,
                 secure_cookies: bool = True, failed_login_floor: float = 0.5, reactor=None):
        self.logins = logins
        self.self_service = self_service
        self.administration = administration
        self.sessions = sessions if sessions is not None else WebSessions()
        self.renderer = renderer if renderer is not None else WebRenderer()
        self.oidc = oidc
        self.secure_cookies = secure_cookies
        self.failed_login_floor = failed_login_floor
        if reactor is None:
            from twisted.internet import reactor  # noqa: the global reactor only when none is given
        self.reactor = reactor
        self.router = Klein()
        self.routes: dict[str, routing.Route] = {}
        for declared, attribute in routing.declared_routes(type(self)):
            endpoint = f"{attribute}:{declared.path}"
            self.routes[endpoint] = declared
            handler = self._endpoint(declared, getattr(self, attribute))
            self.router.route(declared.path, methods=list(declared.methods), endpoint=endpoint)(handler)
        self.router.handle_errors(Exception)(self._unrouted)

    def resource(self):
        return self.router.resource()

    # -- plumbing -------------------------------------------------------------------------
    def _endpoint(self, declared: routing.Route, handler):
        def serve(request, **values):
            self._headers(request)
            d = defer.maybeDeferred(self._serve, request, declared, handler, values)
            d.addErrback(self._failed, request, declared)
            d.addCallback(self._respond, request)
            return d
        return serve

    def _unrouted(self, request, failure):
        """Klein's own errors (no such route, wrong method): answered with our headers."""
        self._headers(request)
        code = failure.value.code if failure.check(HTTPException) else 500
        if code == 500:
            log.failure("web request failed", failure)
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        title = {404: "Not here", 405: "Not like that"}.get(code, "Something went wrong")
        return self.renderer.render("error.html", title=title, text="", user=None, csrf="").encode("utf-8")

    @staticmethod
    def _headers(request) -> None:
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"cache-control", b"no-store")

    @staticmethod
    def _address(request) -> str:
        return getattr(request.getClientAddress(), "host", "") or ""

    def _cookie(self, request) -> str | None:
        value = request.getCookie(COOKIE)
        return value.decode("ascii", "replace") if value else None

    def set_session_cookie(self, request, token: str) -> None:
        request.addCookie(COOKIE, token.encode("ascii"), path=b"/", secure=self.secure_cookies, httpOnly=True,
                          sameSite="strict")

    def clear_session_cookie(self, request) -> None:
        request.addCookie(COOKIE, b"", path=b"/", secure=self.secure_cookies, httpOnly=True, sameSite="strict",
                          max_age="0")

    def set_sso_cookie(self, request, token: str | None) -> None:
        """``token`` None clears it."""
        request.addCookie(SSO_COOKIE, (token or "").encode("ascii"), path=b"/", secure=self.secure_cookies,
                          httpOnly=True, sameSite="lax", max_age="600" if token else "0")

    def sso_session(self, call: Call) -> WebSession | None:
        value = call.request.getCookie(SSO_COOKIE)
        return self.sessions.find(value.decode("ascii", "replace")) if value else None

    def anonymous_session(self, call: Call, *, sso: bool = False) -> WebSession:
        """The session of the login forms: the caller's, or a new one (new cookie). A
        single sign-on always starts a new one, whose token also goes in the SSO cookie."""
        if call.session is not None and not sso:
            return call.session
        if sso:
            self.sessions.end(call.session)
        token, session = self.sessions.open(address=call.address, user_agent=call.user_agent)
        self.set_session_cookie(call.request, token)
        if sso:
            self.set_sso_cookie(call.request, token)
        call.session = session
        return session

    def start_session(self, call: Call, user: WebUser, *, elevated: bool) -> WebSession:
        """Rotate: the session so far ends; a new token and CSRF token carry on."""
        old = call.session or self.anonymous_session(call)
        token, session = self.sessions.rotate(old, user=user, elevated=elevated)
        self.set_session_cookie(call.request, token)
        call.session = session
        return session

    def _body(self, request) -> dict:
        content = request.content
        if content is None:
            return {}
        content.seek(0, 2)
        if content.tell() > MAX_BODY:
            raise BodyTooLarge("request body too large")
        content.seek(0)
        kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if kind != b"application/x-www-form-urlencoded":
            return {}
        return parse_qs(content.read().decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=500)

    @defer.inlineCallbacks
    def _serve(self, request, declared: routing.Route, handler, values):
        session = self.sessions.find(self._cookie(request))
        address = self._address(request)
        user_agent = (request.getHeader(b"user-agent") or b"").decode("utf-8", "replace")[:255]
        query = parse_qs(urlsplit(request.uri.decode("latin-1")).query, max_num_fields=50)
        form = self._body(request) if request.method == b"POST" else {}
        call = Call(request=request, session=session, form=form, query=query, address=address,
                    user_agent=user_agent, route=declared)
        request.web_call = call
        if declared.access != routing.PUBLIC:
            if session is None or not session.signed_in:
                if request.method in (b"GET", b"HEAD"):
                    target = quote(request.uri.decode("latin-1"), safe="/?=&")
                    return Redirect(f"/login?next={target}")
                raise Forbidden("not signed in")
            current = yield defer.maybeDeferred(self.logins.identity, session.user.username)
            if current is None or current.roles != session.user.roles:
                # Disabled, deleted, or roles changed: a privilege change ends the session.
                self.sessions.end(session)
                yield self.record(call, "session-ended", "roles or account changed")
                return Redirect("/login")
            if not routing.allows(declared.access, {"user"} | set(session.user.roles)):
                log.info("web: {user} refused {method} {path} ({access})", user=session.user.username,
                         method=request.method.decode(), path=request.path.decode("latin-1"), access=declared.access)
                raise Forbidden(declared.access)
        if request.method == b"POST":
            csrf = (form.get("csrf") or [""])[0]
            if session is None or not session.csrf_matches(csrf):
                raise CsrfMissing("form token missing or wrong")
        try:
            result = yield defer.maybeDeferred(handler, call, **values)
        except FORM_ERRORS as error:
            if request.method != b"POST" or isinstance(error, (Forbidden, CsrfMissing, NotFound, BodyTooLarge,
                                                                JobNotFound)):
                raise
            log.info("web: {user} {path}: {error}", user=getattr(call.session.user, "username", None),
                     path=request.path.decode("latin-1"), error=str(error))
            call.session.flash = str(error) or type(error).__name__
            call.session.flash_kind = "error"
            return Redirect(self.back(call))
        if request.method == b"POST" and declared.access in (routing.FINANCE, routing.ADMIN):
            yield self.record(call, "privilege", f"{declared.name} {request.path.decode('latin-1')[:200]}")
        return result

    def back(self, call: Call) -> str:
        """Where a form came from (same site only), else the route's own page."""
        referer = (call.request.getHeader(b"referer") or b"").decode("latin-1")
        parts = urlsplit(referer)
        host = (call.request.getHeader(b"host") or b"").decode("latin-1")
        if parts.netloc == host and parts.path.startswith("/") and not parts.path.startswith("//"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return call.request.path.decode("latin-1")

    def record(self, call: Call, event: str, detail: str = "", *, username: str | None = None):
        name = username or (call.session.user.username if call.session and call.session.user else "(unknown)")

        def failed(failure):
            log.failure("access log entry not written", failure)
        return defer.maybeDeferred(self.logins.record_access, name, event, address=call.address,
                                   user_agent=call.user_agent, detail=detail).addErrback(failed)

    def _failed(self, failure, request, declared):
        for error_type, status, title, text in ERRORS:
            if failure.check(error_type):
                log.info("web {method} {path}: {status} ({error})", method=request.method.decode(),
                         path=request.path.decode("latin-1"), status=status, error=failure.getErrorMessage())
                return Page("error.html", dict(title=title, text=text or failure.getErrorMessage()), status)
        log.failure("web {method} {path} failed", failure, method=request.method.decode(),
                    path=request.path.decode("latin-1"))
        return Page("error.html", dict(title="Something went wrong", text="Please try again later."), 500)

    def _respond(self, result, request):
        if isinstance(result, Redirect):
            request.setResponseCode(303)
            request.setHeader(b"location", result.location.encode("utf-8"))
            return b""
        if isinstance(result, Download):
            request.setHeader(b"content-type", result.content_type.encode())
            request.setHeader(b"content-disposition", f'attachment; filename="{result.filename}"'.encode())
            return result.body
        if isinstance(result, FileDownload):
            return StreamedFile(result.handle, result.content_type, result.filename, reactor=self.reactor)
        if isinstance(result, bytes):
            return result
        context = dict(result.context)
        call = getattr(request, "web_call", None)
        session = context.pop("session", None) or (call.session if call is not None else None)
        flash, flash_kind = "", "ok"
        if session is not None and session.flash:
            flash, flash_kind, session.flash, session.flash_kind = session.flash, session.flash_kind, "", "ok"
        context.setdefault("user", session.user if session is not None and session.signed_in else None)
        context.setdefault("csrf", session.csrf if session is not None else "")
        context.setdefault("flash", flash)
        context.setdefault("flash_kind", flash_kind)
        context.setdefault("path", request.path.decode("latin-1"))
        html = self.renderer.render(result.template, **context)
        request.setResponseCode(result.status)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return html.encode("utf-8")

    # -- helpers for pages -----------------------------------------------------------------
    def page(self, call: Call, template: str, status: int = 200, **context) -> Page:
        return Page(template, context, status)

    def floor(self, started: float):
        """Wait until ``failed_login_floor`` seconds after ``started``: every failed login
        is answered after the same time, whether the user exists or not."""
        left = self.failed_login_floor - (self.reactor.seconds() - started)
        return task.deferLater(self.reactor, max(0.0, left), lambda: None)


LOGIN_ERRORS = (LoginFailed, LockedOut, SecondFactorRejected)
