"""Where scheduled reports and backups go: a local directory, an SFTP server, an SMB
share, or mail. A destination is written as a URL:

- ``/var/reports`` or ``file:///var/reports``
- ``sftp://user@host[:port]/path`` — the server's host key must be in
  ``<data-dir>/ssh_known_hosts`` (OpenSSH format: ``ssh-keyscan -p PORT HOST >> FILE``);
  the password is the secret ``destination/sftp/user@host:port`` (``printgate schedule
  password URL``), or ``?key=/path/to/private_key`` names a key file.
- ``smb://user@host[:port]/share/path`` — password: the secret
  ``destination/smb/user@host:port``.
- ``mailto:finance@example.org[,more@example.org]`` — sent through the gateway's mail
  sender, the files attached.

File destinations are blocking libraries (paramiko, smbprotocol) and are run in the
reactor's thread pool; every file is written under a temporary name and renamed when
complete, so a reader of the share never sees half a report.
"""
from __future__ import annotations

import mimetypes
import os
import shutil
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from printgate_errors import PrintgateError

DEFAULT_PORTS = {"sftp": 22, "smb": 445}


class DestinationError(PrintgateError):
    def __init__(self, destination, problem):
        super().__init__(f"{destination}: {problem}")
        self.destination = destination
        self.problem = problem


@dataclass(frozen=True)
class Destination:
    url: str
    scheme: str
    host: str = ""
    port: int = 0
    user: str = ""
    path: str = ""
    key_file: str | None = None
    recipients: tuple = ()

    @property
    def secret_name(self) -> str:
        return f"destination/{self.scheme}/{self.user}@{self.host}:{self.port}"

    def shown(self) -> str:
        """The URL without anything secret (there is nothing secret in it: passwords
        live in the secret store)."""
        return self.url


def parse_destination(text: str) -> Destination:
    text = str(text).strip()
    if text.startswith("/"):
        return Destination(url=f"file://{text}", scheme="file", path=text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise DestinationError(text, "a file destination is an absolute path: file:///var/reports")
        return Destination(url=text, scheme="file", path=unquote(parts.path))
    if scheme == "mailto":
        recipients = tuple(a.strip() for a in unquote(parts.path).split(",") if a.strip())
        if not recipients or not all("@" in a for a in recipients):
            raise DestinationError(text, "mailto: needs one or more addresses")
        return Destination(url=text, scheme="mailto", recipients=recipients)
    if scheme in ("sftp", "smb"):
        if not parts.hostname or not parts.username:
            raise DestinationError(text, f"write it as {scheme}://user@host[:port]/path")
        if parts.password:
            raise DestinationError(text, "no password in the URL: store it with `printgate schedule password URL`")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise DestinationError(text, "bad port") from None
        path = unquote(parts.path)
        if scheme == "smb" and len([p for p in path.split("/") if p]) < 1:
            raise DestinationError(text, "an SMB destination names a share: smb://user@host/share[/folder]")
        key = parse_qs(parts.query).get("key", [None])[0]
        return Destination(url=text, scheme=scheme, host=parts.hostname, port=port, user=unquote(parts.username),
                           path=path, key_file=key)
    raise DestinationError(text, "unknown destination: use a directory, file://, sftp://, smb:// or mailto:")


# -- blocking deliveries (run in a thread) -------------------------------------------------

def deliver_to_directory(destination: Destination, files: list[Path]) -> None:
    target = Path(destination.path)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for source in files:
            descriptor, temporary = tempfile.mkstemp(prefix=f".{source.name}.", suffix=".part", dir=target)
            try:
                with os.fdopen(descriptor, "wb") as out, open(source, "rb") as data:
                    shutil.copyfileobj(data, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, target / source.name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise DestinationError(destination.url, exc.strerror or str(exc)) from exc


def deliver_by_sftp(destination: Destination, files: list[Path], *, known_hosts: Path, password: str | None,
                    timeout: float = 30.0) -> None:
    import paramiko

    if not known_hosts.exists():
        raise DestinationError(destination.url, f"no known host keys: add the server's to {known_hosts} "
                                                f"(ssh-keyscan -p {destination.port} {destination.host} >> {known_hosts})")
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(destination.host, port=destination.port, username=destination.user, password=password,
                       key_filename=destination.key_file, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, allow_agent=False, look_for_keys=False)
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(timeout)
        folder = PurePosixPath(destination.path or ".")
        _sftp_makedirs(sftp, folder)
        for source in files:
            temporary = folder / f".{source.name}.part"
            sftp.put(str(source), str(temporary), confirm=True)
            sftp.posix_rename(str(temporary), str(folder / source.name))
        sftp.close()
    except DestinationError:
        raise
    except (paramiko.SSHException, OSError) as exc:
        raise DestinationError(destination.url, str(exc) or type(exc).__name__) from exc
    finally:
        client.close()


def _sftp_makedirs(sftp, folder: PurePosixPath) -> None:
    for depth in range(1, len(folder.parts) + 1):
        part = PurePosixPath(*folder.parts[:depth])
        try:
            sftp.stat(str(part))
        except FileNotFoundError:
            sftp.mkdir(str(part))


def deliver_by_smb(destination: Destination, files: list[Path], *, password: str | None,
                   timeout: float = 30.0) -> None:
    import smbclient
    from smbprotocol.exceptions import SMBException

    if password is None:
        raise DestinationError(destination.url, "no password stored for this destination: "
                                                f"printgate schedule password {destination.url}")
    parts = [p for p in destination.path.split("/") if p]
    unc = "\\\\" + destination.host + "\\" + "\\".join(parts)
    try:
        smbclient.register_session(destination.host, username=destination.user, password=password,
                                   port=destination.port, connection_timeout=timeout)
        if len(parts) > 1:
            smbclient.makedirs(unc, exist_ok=True, port=destination.port)
        for source in files:
            temporary = f"{unc}\\.{source.name}.part"
            with open(source, "rb") as data, smbclient.open_file(temporary, mode="wb", port=destination.port) as out:
                shutil.copyfileobj(data, out, 1 << 20)
            smbclient.replace(temporary, f"{unc}\\{source.name}", port=destination.port)
    except (SMBException, OSError, ValueError) as exc:
        raise DestinationError(destination.url, str(exc) or type(exc).__name__) from exc
    finally:
        try:
            smbclient.delete_session(destination.host, port=destination.port)
        except Exception:  # noqa: BLE001 - the session may never have opened
            pass


def mail_message(destination: Destination, files: list[Path], *, subject: str, text: str,
                 mail_from: str) -> EmailMessage:
    """The mail carrying ``files`` as attachments."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = ", ".join(destination.recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid("printgate")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    for source in files:
        kind, _ = mimetypes.guess_type(source.name)
        main, sub = (kind or "application/octet-stream").split("/", 1)
        message.add_attachment(source.read_bytes(), maintype=main, subtype=sub, filename=source.name)
    return message
