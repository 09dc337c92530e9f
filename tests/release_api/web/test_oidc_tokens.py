"""The ID token checks of the single sign-on client: signature from the provider's keys,
issuer, audience, nonce and expiry (tokens signed here with a key of our own)."""
from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from release_api.web.oidc import OidcClient, OidcFailed

NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = KeySet([KEY]).as_dict(private=False)


def client():
    return OidcClient(issuer="https://idp.test", client_id="printgate", client_secret="x",
                      redirect_uri="https://gw/login/sso/callback", reactor=None, clock=lambda: NOW)


def token(key=KEY, **changes):
    claims = {"iss": "https://idp.test", "aud": "printgate", "sub": "u1", "nonce": "n1", "iat": NOW, "exp": NOW + 300,
              "preferred_username": "bob"}
    claims.update(changes)
    return jwt.encode({"alg": "RS256", "kid": "k1"}, {k: v for k, v in claims.items() if v is not None}, key)


def test_a_good_token_names_the_person():
    assert client().claims_from(token(), JWKS, "n1")["preferred_username"] == "bob"


@pytest.mark.parametrize("changes", [dict(iss="https://evil.test"), dict(aud="someone-else"), dict(nonce="n2"),
                                     dict(exp=NOW - 120), dict(sub=None)])
def test_a_token_with_a_wrong_claim_is_refused(changes):
    with pytest.raises(OidcFailed):
        client().claims_from(token(**changes), JWKS, "n1")


def test_a_token_signed_by_another_key_is_refused():
    with pytest.raises(OidcFailed):
        client().claims_from(token(key=OTHER), JWKS, "n1")


def test_garbage_is_refused():
    with pytest.raises(OidcFailed):
        client().claims_from("not.a.token", JWKS, "n1")
