"""Device request authentication, sans-IO: every panel request carries

    Authorization: Printgate-HMAC device="<id>", ts="<unix seconds>", nonce="<random>", sig="<base64url>"

where ``sig`` is HMAC-SHA256 with the device's secret over the canonical string::

    PRINTGATE-HMAC-SHA256 \\n <device id> \\n <METHOD> \\n <path?query> \\n <ts> \\n <nonce> \\n <hex sha256(body)>

The verifier checks, in this order: the header parses (bounded sizes, strict alphabets);
the timestamp is within ``max_skew`` seconds of our clock; the device is known (the lookup
returns its secret; ``None`` means unregistered or revoked); the signature matches
(constant-time); the nonce was not seen before. Nonces are remembered in a bounded cache;
when it is full the oldest is evicted and every timestamp at or before the evicted one is
refused from then on, so eviction can never reopen a replay window.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from release_api.errors import (
    BadDeviceSignature, MalformedDeviceAuthorization, MissingDeviceAuthorization, ReplayedDeviceRequest,
    StaleDeviceRequest, UnknownDevice,
)

SCHEME = "Printgate-HMAC"
ALGORITHM = "PRINTGATE-HMAC-SHA256"
MAX_HEADER = 1024
_DEVICE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
_TS = re.compile(r"^\d{1,12}$")
_SIG = re.compile(r"^[A-Za-z0-9_\-]{43}=?$")
_PARAM = re.compile(r'\s*([a-z]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))\s*(?:,|$)')


@dataclass(frozen=True)
class DeviceAuthorization:
    device_id: str
    timestamp: int
    nonce: str
    signature: bytes


@dataclass(frozen=True)
class AuthenticatedDevice:
    device_id: str
    timestamp: int


def canonical_request(device_id: str, method: str, path: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    return "\n".join([ALGORITHM, device_id, method.upper(), path, str(timestamp), nonce,
                      hashlib.sha256(body).hexdigest()]).encode("utf-8")


def sign(secret: bytes, device_id: str, method: str, path: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    return hmac.new(secret, canonical_request(device_id, method, path, timestamp, nonce, body), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def parse_authorization(header: str | bytes | None) -> DeviceAuthorization:
    if header is None or header == b"" or header == "":
        raise MissingDeviceAuthorization("no device authorization")
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedDeviceAuthorization("authorization is not ASCII") from None
    if len(header) > MAX_HEADER:
        raise MalformedDeviceAuthorization("authorization header too long")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != SCHEME.lower():
        raise MissingDeviceAuthorization(f"authorization scheme is not {SCHEME}")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match or match.end() == pos:
            raise MalformedDeviceAuthorization("authorization parameters do not parse")
        key = match.group(1)
        if key in params:
            raise MalformedDeviceAuthorization(f"authorization parameter {key} given twice")
        params[key] = match.group(2) if match.group(2) is not None else match.group(3)
        pos = match.end()
    missing = {"device", "ts", "nonce", "sig"} - params.keys()
    if missing:
        raise MalformedDeviceAuthorization(f"authorization lacks {', '.join(sorted(missing))}")
    device, ts, nonce, sig = params["device"], params["ts"], params["nonce"], params["sig"]
    if not _DEVICE.match(device):
        raise MalformedDeviceAuthorization("bad device id")
    if not _TS.match(ts):
        raise MalformedDeviceAuthorization("bad timestamp", device_id=device)
    if not _NONCE.match(nonce):
        raise MalformedDeviceAuthorization("bad nonce", device_id=device)
    if not _SIG.match(sig):
        raise MalformedDeviceAuthorization("bad signature encoding", device_id=device)
    signature = base64.urlsafe_b64decode(sig.rstrip("=") + "=")
    return DeviceAuthorization(device_id=device, timestamp=int(ts), nonce=nonce, signature=signature)


class NonceCache:
    """Seen ``(device, nonce)`` pairs, at most ``capacity``; see the module docstring."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.floor = -1  # timestamps at or below this are refused

    def __len__(self):
        return len(self._seen)

    def forget_older_than(self, timestamp: int) -> None:
        while self._seen:
            key, seen_ts = next(iter(self._seen.items()))
            if seen_ts >= timestamp:
                break
            del self._seen[key]

    def check_and_remember(self, device_id: str, nonce: str, timestamp: int) -> bool:
        """``False`` if this nonce was seen (or might have been, below the floor)."""
        key = (device_id, nonce)
        if timestamp <= self.floor or key in self._seen:
            return False
        self._seen[key] = timestamp
        while len(self._seen) > self.capacity:
            _, evicted_ts = self._seen.popitem(last=False)
            self.floor = max(self.floor, evicted_ts)
        return True


class DeviceRequestVerifier:
    def __init__(self, secret_for: Callable[[str], bytes | None], *, clock: Callable[[], float] = time.time,
                 max_skew: int = 300, nonce_capacity: int = 100_000):
        self.secret_for = secret_for
        self.clock = clock
        self.max_skew = max_skew
        self.nonces = NonceCache(nonce_capacity)

    def check_time(self, auth: DeviceAuthorization) -> None:
        now = self.clock()
        skew = auth.timestamp - now
        if abs(skew) > self.max_skew:
            raise StaleDeviceRequest(f"request time is {skew:+.0f} s from ours (allowed ±{self.max_skew} s)",
                                     device_id=auth.device_id, skew=skew)

    def verify_with_secret(self, auth: DeviceAuthorization, secret: bytes | None, *, method: str, path: str,
                           body: bytes) -> AuthenticatedDevice:
        """Everything after the lookup: for callers that fetch the secret asynchronously."""
        self.check_time(auth)
        if not secret:
            raise UnknownDevice(f"device {auth.device_id} is not registered or was revoked", device_id=auth.device_id)
        expected = sign(secret, auth.device_id, method, path, auth.timestamp, auth.nonce, body)
        if not hmac.compare_digest(expected, auth.signature):
            raise BadDeviceSignature("signature does not match", device_id=auth.device_id)
        self.nonces.forget_older_than(int(self.clock()) - self.max_skew)
        if not self.nonces.check_and_remember(auth.device_id, auth.nonce, auth.timestamp):
            raise ReplayedDeviceRequest("request was already seen", device_id=auth.device_id, nonce=auth.nonce)
        return AuthenticatedDevice(device_id=auth.device_id, timestamp=auth.timestamp)

    def verify(self, *, method: str, path: str, authorization, body: bytes = b"") -> AuthenticatedDevice:
        auth = parse_authorization(authorization)
        self.check_time(auth)
        return self.verify_with_secret(auth, self.secret_for(auth.device_id), method=method, path=path, body=body)


class DeviceRequestSigner:
    """The device side: tests, and the panel's device agent."""

    def __init__(self, device_id: str, secret: bytes, *, clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] = lambda: secrets.token_urlsafe(18)):
        if not _DEVICE.match(device_id):
            raise ValueError(f"bad device id {device_id!r}")
        self.device_id = device_id
        self.secret = secret
        self.clock = clock
        self.nonce = nonce

    def authorization(self, method: str, path: str, body: bytes = b"") -> str:
        ts = int(self.clock())
        nonce = self.nonce()
        signature = sign(self.secret, self.device_id, method, path, ts, nonce, body)
        return f'{SCHEME} device="{self.device_id}", ts="{ts}", nonce="{nonce}", sig="{_b64(signature)}"'
