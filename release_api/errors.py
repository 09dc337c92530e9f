"""Errors of the HTTPS release API. Each maps to one HTTP status (and a panel message)
in one place: ``release_api/panel.py``'s ``ERROR_RESPONSES`` table."""
from __future__ import annotations

from printgate_errors import PrintgateError


class ReleaseApiError(PrintgateError):
    """Base of the release API's errors."""


# -- device authentication -------------------------------------------------------------
class DeviceAuthError(ReleaseApiError):
    """A request could not be authenticated as a registered device."""

    def __init__(self, message: str, *, device_id: str | None = None):
        super().__init__(message)
        self.device_id = device_id


class MissingDeviceAuthorization(DeviceAuthError):
    pass


class RelaunchNeeded(ReleaseApiError):
    """A panel page was asked for without a signature and without a valid device cookie
    (none yet, expired, or made with a key since rotated): the panel is sent back to its
    signed launch."""


class MalformedDeviceAuthorization(DeviceAuthError):
    pass


class UnknownDevice(DeviceAuthError):
    """Not registered, or revoked: the secret lookup returned nothing."""


class BadDeviceSignature(DeviceAuthError):
    pass


class StaleDeviceRequest(DeviceAuthError):
    def __init__(self, message: str, *, device_id: str | None = None, skew: float = 0.0):
        super().__init__(message, device_id=device_id)
        self.skew = skew


class ReplayedDeviceRequest(DeviceAuthError):
    def __init__(self, message: str, *, device_id: str | None = None, nonce: str = ""):
        super().__init__(message, device_id=device_id)
        self.nonce = nonce


# -- panel sessions and forms ---------------------------------------------------------
class PanelSessionExpired(ReleaseApiError):
    """No panel session, an expired one, or one bound to another device."""


class CsrfRejected(ReleaseApiError):
    pass


class BadPanelRequest(ReleaseApiError):
    """A form field is missing or malformed."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


# -- what the services raise (the accounting-backed adapter maps its errors to these) ---
class LoginFailed(ReleaseApiError):
    """Wrong PIN, password or card; ``user`` when known, for the audit log."""

    def __init__(self, message: str = "login failed", *, user: str | None = None):
        super().__init__(message)
        self.user = user


class UnknownCard(ReleaseApiError):
    """A card no account has: the panel offers to link it (first use)."""

    def __init__(self, card_number: str):
        super().__init__("this card is not linked to an account yet")
        self.card_number = card_number


class LockedOut(ReleaseApiError):
    """Too many failed logins for this user or at this device."""

    def __init__(self, message: str = "too many attempts", *, retry_after: int = 60, user: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.user = user


class AccountRefused(ReleaseApiError):
    """The shared account chosen cannot be charged by this user, or its PIN was wrong
    (deliberately not told apart)."""

    def __init__(self, account: str, *, user: str | None = None):
        super().__init__(f"account {account!r} cannot be charged by this user")
        self.account = account
        self.user = user


class JobNotFound(ReleaseApiError):
    def __init__(self, job_id: str, *, user: str | None = None):
        super().__init__(f"no held job {job_id} for this user")
        self.job_id = job_id
        self.user = user


class ReleaseInProgress(ReleaseApiError):
    """The same job is already being released (double tap, retried request)."""

    def __init__(self, job_ids):
        super().__init__("already being released")
        self.job_ids = tuple(job_ids)


class TlsSetupError(ReleaseApiError):
    def __init__(self, message: str, *, path=None):
        super().__init__(message)
        self.path = path
