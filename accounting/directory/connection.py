"""Talking to the directory with ldap3: servers tried in order (failover), TLS that
verifies the server against the configured CA (ldaps://, or StartTLS before any bind),
binds (SIMPLE, SASL DIGEST-MD5, SASL GSSAPI), and paged searches (RFC 2696).

Everything here blocks: the gateway calls it from the reactor's thread pool, the CLI
directly. Referrals are never followed (a referral could send the service account's
password to a server nobody configured); they are counted and reported. Search entries
are decoded by ``accounting.directory.ber`` (or its compiled twin) rather than ldap3's
general decoder, which is ten times slower on the entries a full sync reads, and a paged
search asks for its next page before the caller reads the current one, so that the
server prepares a page while the sync works on the last.
"""
from __future__ import annotations

import os
import ssl
from hashlib import blake2b
from dataclasses import dataclass, field
from typing import Iterator

import ldap3
from ldap3.core.exceptions import (
    LDAPException, LDAPInvalidCredentialsResult, LDAPOperationResult, LDAPSocketReceiveError,
)
from ldap3.operation.search import search_operation
from ldap3.protocol.rfc2696 import paged_search_control
from ldap3.strategy.base import RESPONSE_COMPLETE, SESSION_TERMINATED_BY_SERVER
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.asn1 import decode_message_fast
from ldap3.utils.dn import safe_dn

from accounting.directory.ber import SEARCH_RESULT_ENTRY

#: The compiled twin of ``accounting.directory.ber`` (``ext/_ber.pyx``) reads the entries
#: when it is built and ``PRINTGATE_NO_EXTENSIONS`` is not set; else the reference does.
#: ``BER_BACKEND`` says which (the test suite fails when the twin is missing unless
#: ``PRINTGATE_NO_EXTENSIONS`` is set, as for the page analyzer).
if os.environ.get("PRINTGATE_NO_EXTENSIONS"):
    from accounting.directory.ber import decode_search_entry, message_header, search_entry_dn, split_messages
    BER_BACKEND = "reference"
else:
    try:
        from accounting.directory._ber import decode_search_entry, message_header, search_entry_dn, split_messages
        BER_BACKEND = "cython"
    except ImportError:
        from accounting.directory.ber import decode_search_entry, message_header, search_entry_dn, split_messages
        BER_BACKEND = "reference"
from accounting.directory.errors import DirectoryUnavailable, MalformedReply, PlaintextRefused
from accounting.directory.settings import DirectorySettings

PAGED_RESULTS = "1.2.840.113556.1.4.319"
MORE = ("searchResEntry", "searchResRef", "intermediateResponse")
#: Bytes asked of the socket at once (ldap3 asks 4 KiB: a call per entry or two).
RECEIVE_SIZE = 256 * 1024


_LOWER: dict[str, str] = {}


class Entry:
    """One directory entry: its DN and its attributes' values as bytes (names in lower
    case). A full sync makes one per user, so it is kept small. An entry read off the
    wire keeps the message and reads it only when asked (``MalformedReply`` then): a
    sync that recognizes an entry by its ``digest`` never reads it. ``start`` is where
    the message's protocolOp begins, as the receiving strategy found it (its header is
    read once per entry, not again for the DN and again for the digest)."""

    __slots__ = ("_dn", "_attributes", "message", "start")

    def __init__(self, dn: str | None = None, attributes: dict[str, list[bytes]] | None = None, *,
                 message: bytes | None = None, start: int | None = None):
        self._dn = dn
        self._attributes = attributes
        self.message = message
        self.start = start

    @property
    def dn(self) -> str:
        if self._dn is None:
            self._dn = search_entry_dn(self.message, self.start)
        return self._dn

    @property
    def attributes(self) -> dict[str, list[bytes]]:
        if self._attributes is None:
            _, self._dn, self._attributes = decode_search_entry(self.message)
        return self._attributes

    def digest(self, key: bytes) -> int | None:
        """A keyed 64-bit digest (signed) of the entry as the server sent it, or None for
        an entry not read off the wire."""
        if self.message is None:
            return None
        start = self.start
        if start is None:
            start = self.start = message_header(self.message)[2]
        return int.from_bytes(blake2b(memoryview(self.message)[start:], digest_size=8, key=key).digest(), "big",
                              signed=True)

    def values(self, name: str | None) -> list[bytes]:
        if not name:
            return []
        key = _LOWER.get(name)
        if key is None:
            key = _LOWER[name] = name.lower()
        return self.attributes.get(key, ())


class _LeanSearchStrategy(SyncStrategy):
    """ldap3's synchronous strategy reading the socket 256 KiB at a time, with search
    entries kept as the raw message (``{"type": "searchResEntry", "raw": bytes, "start":
    offset of its protocolOp}``, read by ``accounting.directory.ber`` when the caller gets
    to them); every other message as ldap3 reads it."""

    def __init__(self, connection):
        super().__init__(connection)
        self._unread = bytearray()

    def receiving(self):
        connection = self.connection
        if connection.sasl_mechanism == ldap3.DIGEST_MD5 and connection._digest_md5_kis \
                and not connection.sasl_in_progress:
            return super().receiving()  # DIGEST-MD5 integrity: ldap3 checks each packet's signature
        while True:
            messages = split_messages(self._unread)
            if messages:
                return messages
            try:
                data = connection.socket.recv(RECEIVE_SIZE)
            except (OSError, AttributeError) as exc:
                connection.last_error = f"error receiving data: {exc}"
                try:
                    self.close()
                except (OSError, LDAPException):
                    pass
                raise LDAPSocketReceiveError(connection.last_error) from None
            if not data:
                return []
            self._unread += data

    def _get_response(self, message_id, timeout):
        responses = []
        while True:
            received = self.receiving()
            if not received:
                return SESSION_TERMINATED_BY_SERVER
            for message in received:
                found_id, operation, start = message_header(message)
                if operation == SEARCH_RESULT_ENTRY:
                    if found_id == message_id:  # else: of a search abandoned earlier
                        responses.append({"type": "searchResEntry", "raw": message, "start": start})
                    continue
                decoded = decode_message_fast(message)
                response = self.decode_response_fast(decoded)
                if int(decoded["messageID"]) == 0:
                    return SESSION_TERMINATED_BY_SERVER  # notice of disconnection (RFC 4511 §4.4.1)
                if int(decoded["messageID"]) != message_id:
                    continue
                responses.append(response)
                if response["type"] not in MORE:
                    responses.append(RESPONSE_COMPLETE)
                    return responses


def _use_lean_strategy(connection: ldap3.Connection) -> None:
    connection.strategy = _LeanSearchStrategy(connection)
    for name in ("send", "open", "get_response", "post_send_single_response", "post_send_search"):
        setattr(connection, name, getattr(connection.strategy, name))


@dataclass
class DirectorySession:
    """A bound connection to one server."""

    uri: str
    connection: ldap3.Connection
    settings: DirectorySettings
    references: list[str] = field(default_factory=list)

    def paged_search(self, base: str, search_filter: str, attributes: list[str], *,
                     page_size: int | None = None) -> Iterator[Entry]:
        """Every entry under ``base`` matching ``search_filter``, a page at a time;
        references (referrals) are skipped and kept in ``self.references``. The next
        page is asked for as soon as a page has arrived, before its entries are read and
        handed out: the server works on it meanwhile."""
        page_size = page_size or self.settings.page_size
        request = self._search_request(base, search_filter, attributes or ["1.1"])
        pending = self._send_page(request, page_size, None, base)
        try:
            while pending is not None:
                page, result = self._receive_page(pending, base)
                cookie = (result.get("controls") or {}).get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
                pending = self._send_page(request, page_size, cookie, base) if cookie else None
                # Each entry is read when the caller gets to it and let go once the caller
                # is done with it (a page of big groups is not held whole, read).
                page.reverse()
                while page:
                    response = page.pop()
                    if response["type"] == "searchResEntry":
                        yield self._entry(response)
                    elif response["type"] == "searchResRef":
                        self.references.extend(str(uri) for uri in response.get("uri", ()))
                    del response
        finally:
            if pending is not None:  # the caller stopped early: the server may stop too
                try:
                    self.connection.abandon(pending)
                except (LDAPException, OSError):
                    pass

    def _search_request(self, base: str, search_filter: str, attributes: list[str]):
        connection = self.connection
        try:
            return search_operation(safe_dn(base) if connection.check_names else base, search_filter,
                                    ldap3.SUBTREE, ldap3.DEREF_NEVER, attributes, 0, 0, False,
                                    connection.auto_escape, connection.auto_encode, None,
                                    validator=connection.server.custom_validator, check_names=connection.check_names)
        except LDAPException as exc:
            raise DirectoryUnavailable([(self.uri, f"search under {base} failed: {exc}")]) from None

    def _send_page(self, request, page_size: int, cookie, base: str) -> int:
        try:
            return self.connection.send("searchRequest", request, [paged_search_control(False, page_size, cookie)])
        except (LDAPException, OSError) as exc:
            raise DirectoryUnavailable([(self.uri, f"search under {base} failed: {exc}")]) from None

    def _receive_page(self, message_id: int, base: str) -> tuple[list, dict]:
        try:
            page = self.connection.post_send_search(message_id)
        except LDAPOperationResult as exc:
            raise DirectoryUnavailable([(self.uri, f"search under {base} failed: {exc.description} "
                                                  f"{exc.message or ''}".strip())]) from None
        except (LDAPException, MalformedReply, OSError) as exc:
            raise DirectoryUnavailable([(self.uri, f"search under {base} failed: {exc}")]) from None
        result = self.connection.result or {}
        self.connection.response = None
        return page, result

    @staticmethod
    def _entry(response: dict) -> Entry:
        return Entry(message=response["raw"], start=response.get("start"))

    def read(self, dn: str, attributes: list[str]) -> Entry | None:
        """One entry by DN (base scope); None when it does not exist."""
        try:
            self.connection.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=attributes)
        except LDAPOperationResult as exc:
            if exc.result == 32:  # noSuchObject
                return None
            raise DirectoryUnavailable([(self.uri, f"reading {dn} failed: {exc.description}")]) from None
        except (LDAPException, MalformedReply, OSError) as exc:
            raise DirectoryUnavailable([(self.uri, f"reading {dn} failed: {exc}")]) from None
        for response in self.connection.response or ():
            if response["type"] == "searchResEntry":
                return self._entry(response)
        return None

    def server_clock(self) -> str | None:
        """The server's own time as GeneralizedTime (``YYYYmmddHHMMSSZ``), so that an
        incremental sync asks for "changed since" in the server's clock, not ours:
        Active Directory's rootDSE ``currentTime``, else OpenLDAP's monitor
        (``cn=Current,cn=Time,cn=Monitor``). None when neither can be read."""
        for dn, attribute in (("", "currentTime"), ("cn=Current,cn=Time,cn=Monitor", "monitorTimestamp")):
            try:
                entry = self.read(dn, [attribute])
            except DirectoryUnavailable:
                continue
            values = entry.values(attribute) if entry else []
            if values:
                text = values[0].decode("ascii", "replace")
                return text[:14] + "Z" if len(text) >= 14 and text[:14].isdigit() else None
        return None

    def close(self) -> None:
        try:
            self.connection.unbind()
        except (LDAPException, OSError):
            pass


class DirectoryClient:
    """Opens bound sessions, trying the configured servers in order."""

    def __init__(self, settings: DirectorySettings, *, password_source=None):
        """``password_source()`` returns the service account's password (read from the
        secret store when a session is opened, so a changed secret is used at once)."""
        self.settings = settings
        self.password_source = password_source

    def _tls(self) -> ldap3.Tls:
        ca = str(self.settings.ca_file) if self.settings.ca_file else None
        return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca, version=ssl.PROTOCOL_TLS_CLIENT)

    def _connect(self, uri: str, user: str | None, password: str | None, method: str) -> ldap3.Connection:
        settings = self.settings
        secure = uri.lower().startswith("ldaps://")
        if not secure and not settings.starttls and not settings.allow_plaintext:
            raise PlaintextRefused(uri)
        server = ldap3.Server(uri, use_ssl=secure, tls=self._tls(), get_info=ldap3.NONE,
                              connect_timeout=settings.timeout)
        options = dict(raise_exceptions=True, auto_referrals=False, auto_range=False, return_empty_attributes=False,
                       receive_timeout=max(1, round(settings.timeout)), read_only=True, check_names=True)
        if method == "simple":
            connection = ldap3.Connection(server, user=user, password=password, authentication=ldap3.SIMPLE, **options)
        elif method == "digest-md5":
            connection = ldap3.Connection(server, authentication=ldap3.SASL, sasl_mechanism=ldap3.DIGEST_MD5,
                                          sasl_credentials=(None, user, password, None), **options)
        else:
            connection = ldap3.Connection(server, authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS, **options)
        _use_lean_strategy(connection)
        connection.open()
        if not secure and settings.starttls:
            connection.start_tls()
        return connection

    def open(self) -> DirectorySession:
        """A session bound as the service account (or anonymously when no bind DN is
        configured and the method is SIMPLE), on the first server that works."""
        settings = self.settings
        password = None
        if settings.bind_dn and settings.bind_method != "gssapi":
            password = self.password_source() if self.password_source else None
            if not password:
                raise DirectoryUnavailable([("(all)", f"no password stored for the bind DN "
                                                      f"(secret {settings.password_secret!r})")])
        tried = []
        for uri in settings.servers:
            connection = None
            try:
                connection = self._connect(uri, settings.bind_dn, password, settings.bind_method)
                connection.bind()
                return DirectorySession(uri, connection, settings)
            except PlaintextRefused as exc:
                tried.append((uri, str(exc)))
            except (LDAPException, MalformedReply, OSError, ImportError) as exc:
                tried.append((uri, _reason(exc)))
            if connection is not None:
                connection.unbind()
        raise DirectoryUnavailable(tried)

    def check_password(self, dn: str, username: str, password: str) -> bool:
        """Whether ``password`` is ``dn``'s (SIMPLE bind as the DN, or DIGEST-MD5 as the
        user name), on the first server that answers. An empty password is never sent:
        LDAP treats a SIMPLE bind without one as anonymous, which succeeds."""
        if not password:
            return False
        method = self.settings.login_method
        tried = []
        for uri in self.settings.servers:
            connection = None
            try:
                connection = self._connect(uri, dn if method == "simple" else username, password, method)
                connection.bind()
                return True
            except LDAPInvalidCredentialsResult:
                return False
            except PlaintextRefused as exc:
                tried.append((uri, str(exc)))
            except LDAPOperationResult as exc:
                if exc.result in (48, 49, 50, 53):  # inappropriateAuth, invalidCredentials, insufficientAccess, unwilling
                    return False
                tried.append((uri, _reason(exc)))
            except (LDAPException, MalformedReply, OSError, ImportError) as exc:
                tried.append((uri, _reason(exc)))
            finally:
                if connection is not None:
                    try:
                        connection.unbind()
                    except (LDAPException, OSError):
                        pass
        raise DirectoryUnavailable(tried)


def _reason(exc: Exception) -> str:
    if isinstance(exc, LDAPOperationResult):
        return f"{exc.description}: {exc.message}".rstrip(": ")
    if isinstance(exc, ImportError):
        return f"SASL GSSAPI needs the python 'gssapi' package: pip install '.[kerberos]' ({exc})"
    return str(exc) or type(exc).__name__
