"""The panel flow in the printer's browser, as Twisted web resources.

``PanelApp`` is given its services (``PanelServices``), a renderer and a session store;
it holds no globals. Every request except the stylesheet is authenticated as a registered
device first: by a ``Printgate-HMAC`` Authorization header (see ``device_auth``), or by the
device cookie that ``GET /panel/launch`` (HMAC-signed by the device) hands out, so a panel
browser that cannot sign every request still only ever talks as its device. The device is
looked up again on every request, so revoking it takes effect at once.

Routes::

    GET  /panel/launch      device HMAC only: sets the device cookie, then the idle screen
    GET  /panel/            idle/login screen (card number input, PIN, username)
    POST /panel/card        card tap (the device posts card_number)
    GET  /panel/pin, POST /panel/pin     PIN pad, one key per request (works without JS)
    GET  /panel/password, POST /panel/password
    POST /panel/link        first use of a card: username + password links it
    GET  /panel/jobs, POST /panel/jobs   job list; action=release|release_all|delete
    POST /panel/confirm     jobs to confirm (a hold-confirm rule) or to charge to a shared
                            account are released from here, after the confirmation screen
    GET  /panel/unclaimed, POST /panel/unclaimed   jobs whose sender is unknown; take yours
    GET  /panel/result      what the last action did
    POST /panel/logout, GET /panel/logout?why=idle
    GET  /panel/static/panel.css

Errors become HTTP responses in one place: ``ERROR_RESPONSES``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from panel_menus import menus
from panel_menus.render import PanelRenderer, stylesheet
from release_api.device_auth import DeviceRequestVerifier, parse_authorization
from release_api.errors import (
    AccountRefused, BadPanelRequest, CsrfRejected, DeviceAuthError, JobNotFound, LockedOut, LoginFailed,
    MissingDeviceAuthorization, PanelSessionExpired, RelaunchNeeded, ReleaseApiError, ReleaseInProgress, UnknownCard,
    UnknownDevice,
)
from release_api.request_guard import HeadRefusal, RequestHead, body_length_refusal
from release_api.services import PanelDevice, PanelServices, PanelUser
from release_api.sessions import PanelSession, PanelSessions
from release_api.throttle import LoginThrottle

log = Logger()

LAUNCH_PATH = "/panel/launch"
SESSION_COOKIE = b"pg_panel"
DEVICE_COOKIE = b"pg_device"
MAX_BODY = 16 * 1024
_CARD = re.compile(r"^[0-9A-Za-z:\-]{1,64}$")
_JOB_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
IDLE_MESSAGES = {
    "idle": "You were logged out after a minute without activity.",
    "expired": "Your session ended. Please log in again.",
}

#: Exception type -> (HTTP status, headline, text). First match wins; order matters.
ERROR_RESPONSES = (
    (DeviceAuthError, 401, "Printer not recognised", "This printer is not registered with Printgate."),
    (CsrfRejected, 403, "Please try again", "The page had expired. Go back and try again."),
    (LockedOut, 429, "Too many attempts", "Login is locked for a while. Please try again later."),
    (AccountRefused, 403, "Account not accepted", "That account cannot be charged by you, or its PIN was wrong."),
    (LoginFailed, 401, "Login failed", "The card, PIN or password was not accepted."),
    (JobNotFound, 404, "Job not found", "That job is no longer waiting for you."),
    (ReleaseInProgress, 409, "Already printing", "Those jobs are already being sent to the printer."),
    (BadPanelRequest, 400, "Something was missing", "Please go back and try again."),
    (ReleaseApiError, 400, "That did not work", "Please go back and try again."),
)
BACK_LINKS = {"pin": "/panel/pin", "pin_key": "/panel/pin", "password": "/panel/password",
              "password_login": "/panel/password", "jobs": "/panel/jobs", "job_action": "/panel/jobs",
              "result": "/panel/jobs", "confirm_release": "/panel/jobs", "unclaimed": "/panel/jobs",
              "claim": "/panel/unclaimed"}


@dataclass
class _Redirect:
    location: str


@dataclass
class _Page:
    screen: str
    context: dict
    status: int = 200


@dataclass
class _Call:
    """One request as the handlers see it."""

    request: object
    route: str
    device: PanelDevice
    form: dict
    query: dict

    def field(self, name: str, *, required: bool = True, limit: int = 256) -> str:
        values = self.form.get(name) or []
        value = values[0] if values else ""
        if required and not value:
            raise BadPanelRequest(f"{name} is missing", field=name)
        if len(value) > limit:
            raise BadPanelRequest(f"{name} is too long", field=name)
        return value


@dataclass(frozen=True)
class ResultLine:
    title: str
    ok: bool
    text: str


@dataclass(frozen=True)
class ResultView:
    headline: str
    all_ok: bool
    results: tuple[ResultLine, ...]


class DeviceCookies:
    """``device~expires~mac``: issued after an HMAC-signed launch, checked on each request."""

    def __init__(self, key: bytes, *, ttl: float = 12 * 3600, clock=time.time):
        self.key = key
        self.ttl = ttl
        self.clock = clock

    def _mac(self, device_id: str, expires: int) -> str:
        mac = hmac.new(self.key, f"device-cookie|{device_id}|{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, device_id: str) -> str:
        expires = int(self.clock() + self.ttl)
        return f"{device_id}~{expires}~{self._mac(device_id, expires)}"

    def check(self, value: str | None) -> str | None:
        if not value or value.count("~") != 2:
            return None
        device_id, expires_text, mac = value.split("~")
        if not expires_text.isdigit() or int(expires_text) < self.clock():
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(device_id, int(expires_text)).encode()):
            return None
        return device_id


class PanelApp(Resource):
    isLeaf = True

    ROUTES = {
        (b"GET", "/panel/launch"): "launch",
        (b"GET", "/panel"): "idle",
        (b"GET", "/panel/"): "idle",
        (b"POST", "/panel/card"): "card",
        (b"GET", "/panel/pin"): "pin",
        (b"POST", "/panel/pin"): "pin_key",
        (b"GET", "/panel/password"): "password",
        (b"POST", "/panel/password"): "password_login",
        (b"POST", "/panel/link"): "link",
        (b"GET", "/panel/jobs"): "jobs",
        (b"POST", "/panel/jobs"): "job_action",
        (b"GET", "/panel/result"): "result",
        (b"POST", "/panel/confirm"): "confirm_release",
        (b"GET", "/panel/unclaimed"): "unclaimed",
        (b"POST", "/panel/unclaimed"): "claim",
        (b"POST", "/panel/logout"): "logout",
        (b"GET", "/panel/logout"): "idle_logout",
    }

    def __init__(self, services: PanelServices, *, renderer: PanelRenderer | None = None,
                 sessions: PanelSessions | None = None, verifier: DeviceRequestVerifier | None = None,
                 device_cookies: DeviceCookies | None = None, throttle: LoginThrottle | None = None,
                 secure_cookies: bool = True):
        super().__init__()
        self.services = services
        self.renderer = renderer if renderer is not None else PanelRenderer()
        self.sessions = sessions if sessions is not None else PanelSessions(idle_timeout=menus.IDLE_LOGOUT_SECONDS)
        self.verifier = verifier if verifier is not None else DeviceRequestVerifier(services.device_secret)
        self.device_cookies = device_cookies if device_cookies is not None else DeviceCookies(secrets.token_bytes(32))
        self.throttle = throttle if throttle is not None else LoginThrottle()
        self.secure_cookies = secure_cookies
        # Job ids being released right now, whoever asked: a double tap, a retried POST or
        # the same user at two panels cannot start a second release of the same job here.
        # (The services must be idempotent too: this guard is per gateway process.)
        self._releasing: set[str] = set()
        self._css = stylesheet()

    # -- plumbing -----------------------------------------------------------------------
    def render(self, request):
        self._common_headers(request)
        if request.method == b"GET" and request.path == b"/panel/static/panel.css":
            request.setHeader(b"content-type", b"text/css; charset=utf-8")
            request.setHeader(b"cache-control", b"public, max-age=3600")
            return self._css
        d = self._handle(request)
        d.addErrback(self._error, request)
        d.addCallback(self._respond, request)
        d.addErrback(lambda failure: log.failure("Panel response failed", failure))
        return NOT_DONE_YET

    def _common_headers(self, request) -> None:
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-security-policy",
                          b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                          b"base-uri 'none'")
        request.setHeader(b"referrer-policy", b"no-referrer")
        request.setHeader(b"x-content-type-options", b"nosniff")

    @defer.inlineCallbacks
    def _handle(self, request):
        path = request.path.decode("latin-1")
        route = self.ROUTES.get((request.method, path))
        request.panel_route = route
        if route is None:
            return _Page("error", dict(title="Not here", text="There is no such panel page.", back="/panel/"), 404)
        body = self._read_body(request)
        device = yield self._authenticate_device(request, body, signed_only=route == "launch")
        request.panel_device = device
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if request.method == b"POST" else {}
        query = parse_qs(request.uri.partition(b"?")[2].decode("latin-1"))
        call = _Call(request=request, route=route, device=device, form=form, query=query)
        result = yield getattr(self, "_" + route)(call)
        return result

    def _read_body(self, request) -> bytes:
        content = request.content
        if content is None:
            return b""
        content.seek(0, 2)
        if content.tell() > MAX_BODY:
            raise BadPanelRequest("request body too large")
        content.seek(0)
        return content.read()

    def judge_head(self, head: RequestHead) -> HeadRefusal | None:
        """Before a body is read (``request_guard``): no body over ``MAX_BODY`` or without
        a length, and none at all from a client that shows neither a well-formed, fresh
        device signature header nor a valid device cookie (a panel whose cookie is no
        longer valid is sent to its signed launch, so it never hits a dead end)."""
        refusal = body_length_refusal(head, MAX_BODY)
        if refusal is not None:
            return refusal
        if head.length == 0 or not head.path.startswith(b"/panel"):
            return None
        header = head.headers.getRawHeaders(b"authorization")
        if header:
            try:
                self.verifier.check_time(parse_authorization(header[0]))
            except DeviceAuthError as error:
                return HeadRefusal(401, f"Printer not recognised: {error}")
            return None
        cookie = head.cookies.get(DEVICE_COOKIE)
        if cookie and self.device_cookies.check(cookie.decode("latin-1")):
            return None
        return HeadRefusal(303, "This page needs the printer's signed launch.", location=LAUNCH_PATH)

    @defer.inlineCallbacks
    def _authenticate_device(self, request, body: bytes, *, signed_only: bool):
        header = request.getHeader(b"authorization")
        if header:
            auth = parse_authorization(header)
            self.verifier.check_time(auth)
            secret = yield defer.maybeDeferred(self.services.device_secret, auth.device_id)
            self.verifier.verify_with_secret(auth, secret, method=request.method.decode("ascii"),
                                             path=request.uri.decode("latin-1"), body=body)
            device_id = auth.device_id
        elif not signed_only and (device_id := self.device_cookies.check(self._cookie(request, DEVICE_COOKIE))):
            pass
        elif not signed_only:
            # No cookie, or one made with another key (rotated, another gateway): back to
            # the signed launch, which the panel's agent signs and which sets a new one.
            raise RelaunchNeeded("no valid device cookie")
        else:
            raise MissingDeviceAuthorization("this page needs a signed device request")
        device = yield defer.maybeDeferred(self.services.describe_device, device_id)
        if device is None:
            raise UnknownDevice(f"device {device_id} is not registered or was revoked", device_id=device_id)
        return device

    @staticmethod
    def _cookie(request, name: bytes) -> str | None:
        value = request.getCookie(name)
        return value.decode("latin-1") if value else None

    def _set_cookie(self, request, name: bytes, value: str, *, path: bytes = b"/panel", max_age: int | None = None):
        request.addCookie(name, value.encode("latin-1"), path=path, secure=self.secure_cookies, httpOnly=True,
                          sameSite="strict", max_age=str(max_age) if max_age is not None else None)

    def _session(self, call: _Call, *, user_required: bool) -> PanelSession:
        token = self._cookie(call.request, SESSION_COOKIE)
        try:
            session = self.sessions.find(token, call.device.device_id)
        except PanelSessionExpired:
            if user_required:
                raise
            session = self.sessions.open(call.device.device_id)
            self._set_cookie(call.request, SESSION_COOKIE, session.token)
            return session
        if user_required and session.user is None:
            raise PanelSessionExpired("not logged in")
        return session

    def _respond(self, result, request):
        if isinstance(result, _Redirect):
            request.setResponseCode(303)
            request.setHeader(b"location", result.location.encode("latin-1"))
            request.write(b"")
        else:
            screen = getattr(request, "panel_device", None)
            size = screen.screen if screen is not None else menus.DEFAULT_SCREEN
            context = dict(result.context)
            context.setdefault("device", screen)
            html = self.renderer.render(result.screen, size, **context)
            request.setResponseCode(result.status)
            request.setHeader(b"content-type", b"text/html; charset=utf-8")
            request.write(html.encode("utf-8"))
        request.finish()

    def _error(self, failure, request):
        error = failure.value
        route = getattr(request, "panel_route", None)
        device = getattr(request, "panel_device", None)
        if isinstance(error, RelaunchNeeded):
            log.info("Panel {route} without a valid device cookie: sent to the signed launch", route=route)
            return _Redirect(LAUNCH_PATH)
        if isinstance(error, PanelSessionExpired):
            log.info("Panel session ended at {device_id}: {reason}", device_id=getattr(device, "device_id", None),
                     reason=str(error))
            return _Redirect("/panel/?why=expired")
        for error_type, status, title, text in ERROR_RESPONSES:
            if isinstance(error, error_type):
                log.info("Panel {route} refused at {device_id}: {error_type}: {reason}", route=route,
                         device_id=getattr(device, "device_id", None) or getattr(error, "device_id", None),
                         error_type=type(error).__name__, reason=str(error))
                if isinstance(error, DeviceAuthError):
                    request.panel_device = None
                    return _Page("error", dict(title=title, text=text, back=None), status)
                if isinstance(error, LockedOut):
                    request.setHeader(b"retry-after", str(error.retry_after).encode())
                return _Page("error", dict(title=title, text=text, back=BACK_LINKS.get(route, "/panel/"),
                                           refresh_to="/panel/"), status)
        log.failure("Panel {route} failed", failure, route=route)
        return _Page("error", dict(title="Something went wrong", text="Please try again or ask for help.",
                                   back="/panel/"), 500)

    # -- login ----------------------------------------------------------------------------
    def _launch(self, call: _Call):
        self._set_cookie(call.request, DEVICE_COOKIE, self.device_cookies.issue(call.device.device_id),
                         max_age=int(self.device_cookies.ttl))
        log.info("Panel launched at {device_id}", device_id=call.device.device_id)
        return _Redirect("/panel/")

    def _idle(self, call: _Call):
        session = self._session(call, user_required=False)
        if session.user is not None:
            return _Redirect("/panel/jobs")
        session.pin_digits, session.pin_user_number = "", None
        session.pending_card = None
        why = (call.query.get("why") or [""])[0]
        return _Page("idle", dict(csrf=session.csrf, message=IDLE_MESSAGES.get(why, "")))

    def _anonymous_post(self, call: _Call) -> PanelSession:
        session = self._session(call, user_required=False)
        session.check_csrf(call.field("csrf", required=False))
        return session

    @defer.inlineCallbacks
    def _card(self, call: _Call):
        session = self._anonymous_post(call)
        card = call.field("card_number", limit=64).strip()
        if not _CARD.match(card):
            raise LoginFailed("malformed card number")
        try:
            user = yield self._login_call(call, self.services.authenticate_card, card, call.device, secret=False)
        except UnknownCard:
            session.pending_card = card
            log.info("Unknown card presented at {device_id}; offering to link it", device_id=call.device.device_id)
            return _Page("link_card", dict(csrf=session.csrf, action="/panel/link", refresh_to="/panel/"))
        return self._logged_in(call, session, user, "card")

    def _pin(self, call: _Call):
        session = self._session(call, user_required=False)
        return self._pin_page(session)

    @staticmethod
    def _pin_page(session: PanelSession) -> _Page:
        """The pad at its step: the user number (shown, it is no secret), then the PIN (dots)."""
        return _Page("pin", dict(csrf=session.csrf, step="number" if session.pin_user_number is None else "pin",
                                 user_number=session.pin_user_number or session.pin_digits,
                                 digits=len(session.pin_digits), refresh_to="/panel/"))

    @defer.inlineCallbacks
    def _pin_key(self, call: _Call):
        """One key of the pad. The user number and the PIN are typed in two steps (OK after
        each), so a PIN of any length ``printgate users set-pin`` accepts works here."""
        session = self._anonymous_post(call)
        key = call.field("key", limit=8)
        typing_number = session.pin_user_number is None
        if key.isdigit() and len(key) == 1:
            if len(session.pin_digits) < (menus.USER_NUMBER_MAX_DIGITS if typing_number else menus.PIN_MAX_DIGITS):
                session.pin_digits += key
        elif key == "clear":
            session.pin_digits, session.pin_user_number = "", None
        elif key == "back":
            if session.pin_digits:
                session.pin_digits = session.pin_digits[:-1]
            elif not typing_number:
                session.pin_digits, session.pin_user_number = session.pin_user_number, None
        elif key == "ok":
            if typing_number:
                if not session.pin_digits:
                    raise BadPanelRequest("no user number entered", field="key")
                session.pin_user_number, session.pin_digits = session.pin_digits, ""
                return self._pin_page(session)
            user_number, pin = session.pin_user_number, session.pin_digits
            session.pin_digits, session.pin_user_number = "", None
            if not pin:
                raise BadPanelRequest("no PIN entered", field="key")
            user = yield self._login_call(call, self.services.authenticate_pin, user_number, pin, call.device)
            return self._logged_in(call, session, user, "pin")
        else:
            raise BadPanelRequest(f"unknown key {key!r}", field="key")
        return self._pin_page(session)

    def _password(self, call: _Call):
        session = self._session(call, user_required=False)
        return _Page("password", dict(csrf=session.csrf, refresh_to="/panel/"))

    @defer.inlineCallbacks
    def _password_login(self, call: _Call):
        session = self._anonymous_post(call)
        user = yield self._login_call(call, self.services.verify_password, call.field("username", limit=128),
                                      call.field("password", limit=256), call.device)
        return self._logged_in(call, session, user, "password")

    @defer.inlineCallbacks
    def _link(self, call: _Call):
        session = self._anonymous_post(call)
        card = session.pending_card
        if not card:
            raise BadPanelRequest("no card waiting to be linked")
        user = yield self._login_call(call, self.services.verify_password, call.field("username", limit=128),
                                      call.field("password", limit=256), call.device)
        yield defer.maybeDeferred(self.services.link_card, card, user, call.device)
        log.info("Card linked to {user} at {device_id}", user=user.username, device_id=call.device.device_id)
        return self._logged_in(call, session, user, "card-link")

    def _login_call(self, call: _Call, function, *args, secret: bool = True) -> defer.Deferred:
        """Ask the services to authenticate, behind the per-device brake on guessed
        secrets. A card is not a guessed secret: card taps are neither braked nor counted
        (the services slow a device presenting very many unknown cards)."""
        device_id = call.device.device_id
        if secret:
            self.throttle.check(device_id)

        def failed(failure):
            if secret and failure.check(LoginFailed) and self.throttle.failed(device_id):
                log.warn("Logins at {device_id} locked for {seconds} s after repeated failures",
                         device_id=device_id, seconds=self.throttle.seconds_locked(device_id))
            return failure

        def succeeded(user):
            self.throttle.succeeded(device_id)
            return user

        return defer.maybeDeferred(function, *args).addCallbacks(succeeded, failed)

    def _logged_in(self, call: _Call, session: PanelSession, user: PanelUser, method: str):
        fresh = self.sessions.log_in(session, user)
        self._set_cookie(call.request, SESSION_COOKIE, fresh.token)
        log.info("{user} logged in at {device_id} by {method}", user=user.username,
                 device_id=call.device.device_id, method=method)
        return _Redirect("/panel/jobs")

    # -- jobs -----------------------------------------------------------------------------
    @defer.inlineCallbacks
    def _user_page_context(self, call: _Call, session: PanelSession):
        balance = yield defer.maybeDeferred(self.services.balance, session.user)
        return dict(user=session.user, balance=balance, csrf=session.csrf,
                    refresh_to="/panel/logout?why=idle")

    @defer.inlineCallbacks
    def _jobs_page(self, call: _Call, session: PanelSession, jobs=None, message: str = ""):
        # The three questions go out at once (the services answer each from the thread pool).
        listing = (defer.succeed(jobs) if jobs is not None
                   else defer.maybeDeferred(self.services.list_held_jobs, session.user, call.device))
        unclaimed = defer.maybeDeferred(self.services.unclaimed_jobs, session.user, call.device)
        context = self._user_page_context(call, session)
        answers = yield defer.gatherResults([listing, unclaimed, context], consumeErrors=True).addErrback(
            lambda failure: failure.value.subFailure)
        jobs, unclaimed, context = answers
        return _Page("jobs", dict(context, jobs=list(jobs), unclaimed_count=len(unclaimed), message=message))

    def _jobs(self, call: _Call):
        return self._jobs_page(call, self._session(call, user_required=True))

    @defer.inlineCallbacks
    def _job_action(self, call: _Call):
        session = self._session(call, user_required=True)
        session.check_csrf(call.field("csrf", required=False))
        action = call.field("action", limit=16)
        if action not in menus.JOB_ACTION_KEYS:
            raise BadPanelRequest(f"unknown action {action!r}", field="action")
        chosen = [j for j in call.form.get("job", []) if j]
        for job_id in chosen:
            if not _JOB_ID.match(job_id):
                raise BadPanelRequest("malformed job id", field="job")
        held = {job.job_id: job for job in (yield defer.maybeDeferred(self.services.list_held_jobs,
                                                                      session.user, call.device))}
        if action == "release_all":
            chosen = [job_id for job_id, job in held.items() if job.printable_here]
        for job_id in chosen:
            if job_id not in held:
                raise JobNotFound(job_id, user=session.user.username)
        if not chosen:
            page = yield self._jobs_page(call, session, list(held.values()), "Select at least one job first.")
            return page
        if action == "delete":
            result = yield defer.maybeDeferred(self.services.delete, chosen, session.user)
            deleted = set(result.deleted)
            lines = tuple(ResultLine(held[j].title, j in deleted, "deleted" if j in deleted else "could not be deleted")
                          for j in chosen)
            session.last_result = ResultView(f"Deleted {len(deleted)} of {len(chosen)}", len(deleted) == len(chosen), lines)
            return _Redirect("/panel/result")
        asking = [held[job_id] for job_id in chosen if held[job_id].needs_confirmation
                  or held[job_id].needs_shared_account]
        if asking:
            page = yield self._confirmation_page(call, session, [held[job_id] for job_id in chosen])
            return page
        results = yield self._release(call, session, chosen)
        return self._release_result(call, session, held, results)

    @defer.inlineCallbacks
    def _confirmation_page(self, call: _Call, session: PanelSession, jobs):
        """Before jobs a rule held for confirmation, or sends to a shared account, are
        released: what the rule says, and the accounts the user may charge."""
        needs_account = any(job.needs_shared_account for job in jobs)
        accounts = (yield defer.maybeDeferred(self.services.shared_accounts, session.user)) if needs_account else []
        context = yield self._user_page_context(call, session)
        return _Page("confirm", dict(context, jobs=list(jobs), needs_account=needs_account, accounts=list(accounts)))

    @defer.inlineCallbacks
    def _confirm_release(self, call: _Call):
        session = self._session(call, user_required=True)
        session.check_csrf(call.field("csrf", required=False))
        chosen = [j for j in call.form.get("job", []) if j]
        held = {job.job_id: job for job in (yield defer.maybeDeferred(self.services.list_held_jobs,
                                                                      session.user, call.device))}
        for job_id in chosen:
            if not _JOB_ID.match(job_id) or job_id not in held:
                raise JobNotFound(job_id, user=session.user.username)
        if not chosen:
            return _Redirect("/panel/jobs")
        to_confirm = [job_id for job_id in chosen if held[job_id].needs_confirmation]
        if to_confirm:
            confirmed = yield defer.maybeDeferred(self.services.confirm, to_confirm, session.user)
            log.info("{user} confirmed jobs {job_ids} at {device_id}", user=session.user.username,
                     job_ids=list(confirmed), device_id=call.device.device_id)
        shared = [job_id for job_id in chosen if held[job_id].needs_shared_account]
        own = [job_id for job_id in chosen if not held[job_id].needs_shared_account]
        results = []
        if shared:
            account = call.field("account", limit=255)
            pin = call.field("account_pin", required=False, limit=32) or None
            try:
                results += yield self._release(call, session, shared, account=account, account_pin=pin)
            except AccountRefused:
                if self.throttle.failed(call.device.device_id):
                    log.warn("Logins at {device_id} locked after repeated wrong account PINs",
                             device_id=call.device.device_id)
                raise
        if own:
            results += yield self._release(call, session, own)
        return self._release_result(call, session, held, results)

    @defer.inlineCallbacks
    def _release(self, call: _Call, session: PanelSession, chosen, **account):
        busy = self._releasing.intersection(chosen)
        if busy:
            raise ReleaseInProgress(sorted(busy))
        self._releasing.update(chosen)
        try:
            results = yield defer.maybeDeferred(self.services.release, chosen, call.device, session.user, **account)
        finally:
            self._releasing.difference_update(chosen)
        return list(results)

    def _release_result(self, call: _Call, session: PanelSession, held: dict, results):
        lines = tuple(ResultLine(held[r.job_id].title if r.job_id in held else r.title, r.released,
                                 (r.message or "sent to the printer") if r.released else (r.message or "not printed"))
                      for r in results)
        printed = sum(1 for r in results if r.released)
        all_ok = printed == len(results)
        headline = (f"Printing {printed} job{'s' if printed != 1 else ''}" if all_ok
                    else f"{len(results) - printed} of {len(results)} could not be printed")
        log.info("{user} released {printed} of {count} jobs at {device_id}", user=session.user.username,
                 printed=printed, count=len(results), device_id=call.device.device_id)
        session.last_result = ResultView(headline, all_ok, lines)
        return _Redirect("/panel/result")

    @defer.inlineCallbacks
    def _unclaimed(self, call: _Call):
        session = self._session(call, user_required=True)
        jobs = yield defer.maybeDeferred(self.services.unclaimed_jobs, session.user, call.device)
        context = yield self._user_page_context(call, session)
        return _Page("unclaimed", dict(context, jobs=list(jobs)))

    @defer.inlineCallbacks
    def _claim(self, call: _Call):
        session = self._session(call, user_required=True)
        session.check_csrf(call.field("csrf", required=False))
        chosen = [j for j in call.form.get("job", []) if j]
        for job_id in chosen:
            if not _JOB_ID.match(job_id):
                raise BadPanelRequest("malformed job id", field="job")
        if not chosen:
            return _Redirect("/panel/unclaimed")
        claimed = yield defer.maybeDeferred(self.services.claim, chosen, session.user, call.device)
        page = yield self._jobs_page(call, session, message=(
            f"{len(claimed)} job{'s' if len(claimed) != 1 else ''} now yours." if claimed
            else "Those jobs were taken by someone else or are gone."))
        return page

    @defer.inlineCallbacks
    def _result(self, call: _Call):
        session = self._session(call, user_required=True)
        if session.last_result is None:
            return _Redirect("/panel/jobs")
        context = yield self._user_page_context(call, session)
        view = session.last_result
        return _Page("result", dict(context, headline=view.headline, all_ok=view.all_ok, results=view.results))

    def _logout(self, call: _Call):
        token = self._cookie(call.request, SESSION_COOKIE)
        try:
            session = self.sessions.find(token, call.device.device_id)
            session.check_csrf(call.field("csrf", required=False))
            log.info("{user} logged out at {device_id}", user=getattr(session.user, "username", None),
                     device_id=call.device.device_id)
        except PanelSessionExpired:
            pass
        self.sessions.end(token)
        return _Page("logged_out", dict(refresh_to="/panel/", refresh_after=5))

    def _idle_logout(self, call: _Call):
        self.sessions.end(self._cookie(call.request, SESSION_COOKIE))
        return _Redirect("/panel/?why=idle")
