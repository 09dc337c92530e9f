"""Logging in and out: password (throttled, one answer for every failure, after the same
time), then for admins and finance the TOTP second factor (enrolled at the first login,
with a QR code made here and recovery codes), and single sign-on by OpenID Connect.

There is no set-up page: the first admin is made with ``printgate users add`` and
``printgate users grant USER admin``.
"""
from __future__ import annotations

import segno
from twisted.internet import defer

from release_api.errors import LockedOut, LoginFailed
from release_api.web.app import Call, Redirect
from release_api.web.routing import PUBLIC, SIGNED_IN, route
from release_api.web.services import SecondFactorRejected
from release_api.web.render import stylesheet

FAILED_LOGIN = "The username or password was not accepted. After several failures, logins wait a few minutes."
MAX_SECOND_FACTOR_FAILURES = 5


def safe_next(path: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme) may follow a login."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or path.startswith("/login"):
        return "/"
    return path[:512]


class LoginPages:
    @route("/static/web.css", access=PUBLIC)
    def static_css(self, call: Call):
        call.request.setHeader(b"content-type", b"text/css; charset=utf-8")
        call.request.setHeader(b"cache-control", b"public, max-age=3600")
        return stylesheet()

    @route("/login", access=PUBLIC)
    def login_form(self, call: Call):
        session = call.session
        if session is not None and session.signed_in:
            return Redirect("/")
        session = self.anonymous_session(call)
        session.next_path = safe_next(call.arg("next"))
        return self.page(call, "login.html", sso=self.oidc is not None, message="")

    @route("/login", "POST", access=PUBLIC)
    @defer.inlineCallbacks
    def login(self, call: Call):
        started = self.reactor.seconds()
        username = call.field("username", required=False, limit=255)
        password = call.field("password", required=False, limit=1024, strip=False)
        try:
            if not username or not password:
                raise LoginFailed(user=username or None)
            user = yield defer.maybeDeferred(self.logins.verify_password, username, password, address=call.address)
        except (LoginFailed, LockedOut) as error:
            yield self.record(call, "login-failed", type(error).__name__, username=username or "(empty)")
            yield self.floor(started)
            return self.page(call, "login.html", 401, sso=self.oidc is not None, message=FAILED_LOGIN)
        return (yield self.signed_in(call, user, "password"))

    @defer.inlineCallbacks
    def signed_in(self, call: Call, user, method: str):
        """After the first factor: a new session; privileged people go on to TOTP."""
        if not user.privileged:
            session = self.start_session(call, user, elevated=True)
            yield self.record(call, "login", method)
            return Redirect(session.next_path or "/")
        session = self.start_session(call, user, elevated=False)
        enrolled = yield defer.maybeDeferred(self.logins.second_factor_enrolled, user.username)
        yield self.record(call, "login", f"{method}; second factor {'asked' if enrolled else 'to enrol'}")
        return Redirect("/login/second-factor" if enrolled else "/login/enrol")

    def _pending(self, call: Call):
        session = call.session
        if session is None or session.user is None:
            return None
        if session.signed_in:
            return None
        return session

    @route("/login/second-factor", access=PUBLIC)
    def second_factor_form(self, call: Call):
        if self._pending(call) is None:
            return Redirect("/login")
        return self.page(call, "second_factor.html", message="")

    @route("/login/second-factor", "POST", access=PUBLIC)
    @defer.inlineCallbacks
    def second_factor(self, call: Call):
        session = self._pending(call)
        if session is None:
            return Redirect("/login")
        code = call.field("code", required=False, limit=32)
        try:
            yield defer.maybeDeferred(self.logins.verify_second_factor, session.user.username, code)
        except SecondFactorRejected:
            session.second_factor_failures += 1
            yield self.record(call, "second-factor-failed", f"attempt {session.second_factor_failures}")
            if session.second_factor_failures >= MAX_SECOND_FACTOR_FAILURES:
                self.sessions.end(session)
                return Redirect("/login")
            return self.page(call, "second_factor.html", 401, message="That code was not accepted.")
        fresh = self.start_session(call, session.user, elevated=True)
        yield self.record(call, "second-factor", "roles " + ",".join(sorted(session.user.roles)))
        return Redirect(fresh.next_path or "/")

    @route("/login/enrol", access=PUBLIC)
    @defer.inlineCallbacks
    def enrol_form(self, call: Call):
        session = self._pending(call)
        if session is None:
            return Redirect("/login")
        enrolled = yield defer.maybeDeferred(self.logins.second_factor_enrolled, session.user.username)
        if enrolled:
            return Redirect("/login/second-factor")
        if session.enrolment is None:
            session.enrolment = yield defer.maybeDeferred(self.logins.begin_enrolment, session.user.username)
        qr = segno.make(session.enrolment.uri, error="m").svg_data_uri(scale=5, border=2)
        return self.page(call, "enrol.html", secret=session.enrolment.secret, qr=qr, message="")

    @route("/login/enrol", "POST", access=PUBLIC)
    @defer.inlineCallbacks
    def enrol(self, call: Call):
        session = self._pending(call)
        if session is None or session.enrolment is None:
            return Redirect("/login")
        try:
            codes = yield defer.maybeDeferred(self.logins.confirm_enrolment, session.user.username,
                                              session.enrolment.secret, call.field("code", required=False, limit=32))
        except SecondFactorRejected:
            qr = segno.make(session.enrolment.uri, error="m").svg_data_uri(scale=5, border=2)
            return self.page(call, "enrol.html", 401, secret=session.enrolment.secret, qr=qr,
                             message="That code was not accepted: check the phone's clock and try the next one.")
        fresh = self.start_session(call, session.user, elevated=True)
        yield self.record(call, "second-factor", "enrolled")
        return self.page(call, "recovery_codes.html", codes=list(codes), next_path=fresh.next_path or "/",
                         session=fresh)

    @route("/logout", "POST", access=SIGNED_IN)
    @defer.inlineCallbacks
    def logout(self, call: Call):
        yield self.record(call, "logout")
        self.sessions.end(call.session)
        self.clear_session_cookie(call.request)
        return Redirect("/login")

    @route("/login/cancel", "POST", access=PUBLIC)
    def cancel_login(self, call: Call):
        """Leave a half-finished login (second factor not given)."""
        if call.session is not None and call.session.signed_in:
            return Redirect("/")
        self.sessions.end(call.session)
        self.clear_session_cookie(call.request)
        return Redirect("/login")

    # -- single sign-on ---------------------------------------------------------------------
    @route("/login/sso", access=PUBLIC)
    @defer.inlineCallbacks
    def sso_start(self, call: Call):
        if self.oidc is None:
            return self.page(call, "error.html", 404, title="Not here", text="Single sign-on is not set up.")
        if call.session is not None and call.session.signed_in:
            return Redirect("/")
        session = self.anonymous_session(call, sso=True)
        session.next_path = safe_next(call.arg("next"))
        location = yield self.oidc.start(session)
        return Redirect(location)

    @route("/login/sso/callback", access=PUBLIC)
    @defer.inlineCallbacks
    def sso_callback(self, call: Call):
        if self.oidc is None:
            return Redirect("/login")
        call.session = self.sso_session(call)
        self.set_sso_cookie(call.request, None)
        if call.session is None:
            return Redirect("/login")
        try:
            username = yield self.oidc.finish(call.session, call.arg("state", limit=512), call.arg("code", limit=2048),
                                              call.arg("error", limit=128))
            user = yield defer.maybeDeferred(self.logins.identity, username)
            if user is None:
                raise LoginFailed(user=username)
        except Exception as error:  # noqa: BLE001 - every failure of a provider answers alike
            yield self.record(call, "login-failed", f"sso: {type(error).__name__}: {error}"[:200],
                              username=getattr(error, "user", None) or "(sso)")
            return self.page(call, "login.html", 401, sso=True,
                             message="Single sign-on did not log you in. Try again, or use your password.")
        answer = yield self.signed_in(call, user, "sso")
        # We were reached by the provider's (cross-site) redirect: the new session's Strict
        # cookie is sent from the next navigation on, which this page makes on our own site.
        return self.page(call, "continue.html", location=answer.location)
