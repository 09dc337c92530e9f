"""Device request authentication: HMAC, clock skew, replays, revocation, bad headers."""
import pytest

from release_api.device_auth import (
    DeviceRequestSigner, DeviceRequestVerifier, NonceCache, parse_authorization,
)
from release_api.errors import (
    BadDeviceSignature, DeviceAuthError, MalformedDeviceAuthorization, MissingDeviceAuthorization,
    ReplayedDeviceRequest, StaleDeviceRequest, UnknownDevice,
)

SECRETS = {"mfp-3f": b"s3cret-of-the-third-floor", "old": None}


class Clock:
    now = 1_800_000_000.0

    def __call__(self):
        return self.now


def make(capacity=1000):
    clock = Clock()
    verifier = DeviceRequestVerifier(SECRETS.get, clock=clock, max_skew=120, nonce_capacity=capacity)
    signer = DeviceRequestSigner("mfp-3f", SECRETS["mfp-3f"], clock=clock)
    return verifier, signer, clock


def test_a_signed_request_is_the_device_it_claims():
    verifier, signer, _ = make()
    header = signer.authorization("POST", "/panel/login/card?x=1", b"card=123")
    device = verifier.verify(method="POST", path="/panel/login/card?x=1", authorization=header, body=b"card=123")
    assert device.device_id == "mfp-3f"


@pytest.mark.parametrize("change", [
    dict(method="GET"), dict(path="/panel/login/pin"), dict(body=b"card=124"),
])
def test_changing_method_path_or_body_breaks_the_signature(change):
    verifier, signer, _ = make()
    request = dict(method="POST", path="/panel/login/card", body=b"card=123")
    header = signer.authorization(request["method"], request["path"], request["body"])
    request.update(change)
    with pytest.raises(BadDeviceSignature):
        verifier.verify(authorization=header, **request)


def test_the_same_request_twice_is_a_replay():
    verifier, signer, _ = make()
    header = signer.authorization("GET", "/panel/")
    verifier.verify(method="GET", path="/panel/", authorization=header)
    with pytest.raises(ReplayedDeviceRequest):
        verifier.verify(method="GET", path="/panel/", authorization=header)


def test_a_request_outside_the_skew_window_is_stale_both_ways():
    verifier, signer, clock = make()
    header = signer.authorization("GET", "/panel/")
    clock.now += 121
    with pytest.raises(StaleDeviceRequest) as caught:
        verifier.verify(method="GET", path="/panel/", authorization=header)
    assert caught.value.skew == pytest.approx(-121)
    clock.now -= 400
    with pytest.raises(StaleDeviceRequest):
        verifier.verify(method="GET", path="/panel/", authorization=header)


def test_an_unregistered_or_revoked_device_gets_unknown_device():
    verifier, _, clock = make()
    for device in ("nobody", "old"):
        header = DeviceRequestSigner(device, b"whatever", clock=clock).authorization("GET", "/panel/")
        with pytest.raises(UnknownDevice) as caught:
            verifier.verify(method="GET", path="/panel/", authorization=header)
        assert caught.value.device_id == device


def test_a_wrong_secret_is_a_bad_signature():
    verifier, _, clock = make()
    header = DeviceRequestSigner("mfp-3f", b"guess", clock=clock).authorization("GET", "/panel/")
    with pytest.raises(BadDeviceSignature):
        verifier.verify(method="GET", path="/panel/", authorization=header)


@pytest.mark.parametrize("header, error", [
    (None, MissingDeviceAuthorization),
    ("Basic dXNlcjpwYXNz", MissingDeviceAuthorization),
    ('Printgate-HMAC device="a", ts="1"', MalformedDeviceAuthorization),
    ('Printgate-HMAC device="a b", ts="1", nonce="aaaaaaaaaaaaaaaa", sig="' + "A" * 43 + '"', MalformedDeviceAuthorization),
    ('Printgate-HMAC device="a", ts="-1", nonce="aaaaaaaaaaaaaaaa", sig="' + "A" * 43 + '"', MalformedDeviceAuthorization),
    ('Printgate-HMAC device="a", ts="1", nonce="short", sig="' + "A" * 43 + '"', MalformedDeviceAuthorization),
    ('Printgate-HMAC device="a", device="b", ts="1", nonce="aaaaaaaaaaaaaaaa", sig="x"', MalformedDeviceAuthorization),
    ("Printgate-HMAC " + "x" * 2000, MalformedDeviceAuthorization),
    (b"Printgate-HMAC \xff", MalformedDeviceAuthorization),
])
def test_bad_headers_are_specific_errors(header, error):
    with pytest.raises(error):
        parse_authorization(header)


def test_every_error_is_a_device_auth_error():
    for error in (BadDeviceSignature, MalformedDeviceAuthorization, MissingDeviceAuthorization,
                  ReplayedDeviceRequest, StaleDeviceRequest, UnknownDevice):
        assert issubclass(error, DeviceAuthError)


def test_the_nonce_cache_stays_bounded_and_refuses_what_it_forgot():
    cache = NonceCache(capacity=3)
    for i in range(5):
        assert cache.check_and_remember("d", f"n{i}", 100 + i)
    assert len(cache) == 3
    assert not cache.check_and_remember("d", "n0", 100)   # evicted, but still refused
    assert not cache.check_and_remember("d", "fresh", 101)  # at or below the floor
    assert cache.check_and_remember("d", "fresh", 105)


def test_old_nonces_are_forgotten_once_their_window_has_passed():
    verifier, signer, clock = make()
    for _ in range(10):
        header = signer.authorization("GET", "/panel/")
        verifier.verify(method="GET", path="/panel/", authorization=header)
    assert len(verifier.nonces) == 10
    clock.now += 500
    verifier.verify(method="GET", path="/panel/", authorization=signer.authorization("GET", "/panel/"))
    assert len(verifier.nonces) == 1
