"""Single sign-on by OpenID Connect: the authorization code flow with PKCE, Authlib as the
client, the ID token checked with joserfc (Authlib's own JOSE library).

``start`` makes the provider's login URL with a fresh ``state``, ``nonce`` and PKCE
verifier kept in the (anonymous) web session; ``finish`` takes the code back once: the
state must match, the code is exchanged at the token endpoint (client secret, verifier),
and the ID token must be signed by a key of the provider's JWKS, issued by the
configured issuer, for this client, with our nonce, and current. The person is the
claim ``username_claim`` (default ``preferred_username``): a local user of that name
must exist and be enabled (checked by the login page), so the provider proves who
someone is but never creates an account or a role.

HTTP to the provider (discovery, token, JWKS) is blocking ``requests`` run in the
reactor's thread pool, bounded by ``timeout``.
"""
from __future__ import annotations

import hmac
import secrets
import time

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from twisted.internet import defer, threads

from release_api.errors import ReleaseApiError

#: A login started this long ago can no longer be finished.
MAX_LOGIN_SECONDS = 600


class OidcFailed(ReleaseApiError):
    def __init__(self, reason: str):
        super().__init__(f"single sign-on failed: {reason}")
        self.reason = reason


class OidcClient:
    def __init__(self, *, issuer: str, client_id: str, client_secret: str, redirect_uri: str, reactor,
                 username_claim: str = "preferred_username", scope: str = "openid profile",
                 ca_file: str | None = None, timeout: float = 10.0, clock=time.time):
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.reactor = reactor
        self.username_claim = username_claim
        self.scope = scope
        self.verify = ca_file or True
        self.timeout = timeout
        self.clock = clock
        self._metadata: dict | None = None

    def _blocking(self, function, *args, **kwargs):
        return threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(), function, *args, **kwargs)

    def _get_json(self, url: str) -> dict:
        answer = requests.get(url, timeout=self.timeout, verify=self.verify)
        answer.raise_for_status()
        return answer.json()

    def _session(self) -> OAuth2Session:
        client = OAuth2Session(self.client_id, self.client_secret, scope=self.scope, redirect_uri=self.redirect_uri,
                               code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
        client.verify = self.verify
        return client

    @defer.inlineCallbacks
    def metadata(self):
        """The provider's discovery document (read once)."""
        if self._metadata is None:
            found = yield self._blocking(self._get_json, f"{self.issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.issuer:
                raise OidcFailed(f"the provider calls itself {found.get('issuer')!r}, not {self.issuer!r}")
            self._metadata = found
        return self._metadata

    @defer.inlineCallbacks
    def start(self, session) -> str:
        meta = yield self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        url, _ = self._session().create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce,
                                                          code_verifier=verifier)
        session.oidc = {"state": state, "nonce": nonce, "verifier": verifier, "started": self.clock()}
        return url

    @defer.inlineCallbacks
    def finish(self, session, state: str | None, code: str | None, error: str | None) -> str:
        """The username the provider vouches for; ``OidcFailed`` otherwise."""
        pending, session.oidc = session.oidc, {}
        if error:
            raise OidcFailed(f"the provider said {error}")
        if not pending or not state or not hmac.compare_digest(state.encode(), pending["state"].encode()):
            raise OidcFailed("no login of this browser is waiting for that answer")
        if self.clock() - pending["started"] > MAX_LOGIN_SECONDS:
            raise OidcFailed("the login took too long")
        if not code:
            raise OidcFailed("no code")
        meta = yield self.metadata()
        try:
            token = yield self._blocking(self._session().fetch_token, meta["token_endpoint"], code=code,
                                         code_verifier=pending["verifier"], timeout=self.timeout)
            keys = yield self._blocking(self._get_json, meta["jwks_uri"])
        except (requests.RequestException, ValueError) as failure:
            raise OidcFailed(f"the provider did not answer as expected ({type(failure).__name__})") from None
        if "id_token" not in token:
            raise OidcFailed("no ID token")
        claims = self.claims_from(token["id_token"], keys, pending["nonce"])
        username = claims.get(self.username_claim)
        if username is None and meta.get("userinfo_endpoint"):
            # Providers may keep profile claims out of the ID token: ask the userinfo
            # endpoint, whose answer must be about the same subject.
            try:
                info = yield self._blocking(self._userinfo, meta["userinfo_endpoint"], token["access_token"])
            except (requests.RequestException, ValueError, KeyError) as failure:
                raise OidcFailed(f"the userinfo endpoint did not answer ({type(failure).__name__})") from None
            if info.get("sub") != claims["sub"]:
                raise OidcFailed("the userinfo answer is about someone else")
            username = info.get(self.username_claim)
        if not isinstance(username, str) or not username:
            raise OidcFailed(f"the provider does not say {self.username_claim}")
        return username

    def _userinfo(self, url: str, access_token: str) -> dict:
        answer = requests.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=self.timeout,
                              verify=self.verify)
        answer.raise_for_status()
        return answer.json()

    def claims_from(self, id_token: str, jwks: dict, nonce: str) -> dict:
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(jwks))
            jwt.JWTClaimsRegistry(
                now=int(self.clock()), leeway=60,
                iss={"essential": True, "value": self.issuer}, aud={"essential": True, "value": self.client_id},
                nonce={"essential": True, "value": nonce}, sub={"essential": True}, exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError, KeyError) as failure:
            raise OidcFailed(f"the ID token is not valid ({type(failure).__name__}: {failure})") from None
        return decoded.claims
