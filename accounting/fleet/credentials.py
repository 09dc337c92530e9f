"""SNMP credentials: v1/v2c communities and v3 users, tried in their order. What a
credential is (name, version, user, protocols) is a row; its community or keys are a
secret (``snmp/<name>``), encrypted like every other secret and never listed."""
from __future__ import annotations

import json
import re

from sqlalchemy import delete, func, insert, select, update

from accounting.audit import audit
from accounting.database import Database
from accounting.errors import AccountingError
from accounting.fleet.records import AUTH_PROTOCOLS, PRIV_PROTOCOLS, SNMP_VERSIONS, SnmpCredential
from accounting.schema import snmp_credentials
from accounting.time import utcnow

SECRET_PREFIX = "snmp/"
NAME = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class UnknownCredential(AccountingError):
    def __init__(self, name):
        super().__init__(f"unknown SNMP credential {name!r}")
        self.name = name


def check_credential(credential: SnmpCredential) -> None:
    """Raises ValueError naming what is wrong; SNMPv3 needs authentication (noAuthNoPriv
    sends in the clear and proves nothing) and keys of at least 8 characters (RFC 3414)."""
    if not NAME.match(credential.name):
        raise ValueError(f"a credential name is 1-64 letters, digits, '.', '_' or '-', not {credential.name!r}")
    if credential.version not in SNMP_VERSIONS:
        raise ValueError(f"SNMP version is one of {', '.join(SNMP_VERSIONS)}")
    if credential.version != "3":
        if not credential.community:
            raise ValueError("an SNMPv1/v2c credential needs a community")
        return
    if not credential.user:
        raise ValueError("an SNMPv3 credential needs a user")
    if credential.auth_protocol not in AUTH_PROTOCOLS:
        raise ValueError(f"SNMPv3 authentication is one of {', '.join(AUTH_PROTOCOLS)}")
    if len(credential.auth_key) < 8:
        raise ValueError("an SNMPv3 authentication key has at least 8 characters")
    if credential.priv_protocol:
        if credential.priv_protocol not in PRIV_PROTOCOLS:
            raise ValueError(f"SNMPv3 privacy is one of {', '.join(PRIV_PROTOCOLS)}")
        if len(credential.priv_key) < 8:
            raise ValueError("an SNMPv3 privacy key has at least 8 characters")


class CredentialStore:
    def __init__(self, database: Database, secrets):
        """``secrets`` is a ``SecretStore`` (or a callable returning it, so the key file is
        only read when a credential is used)."""
        self.db = database
        self._secrets = secrets

    @property
    def secrets(self):
        store = self._secrets() if callable(self._secrets) else self._secrets
        if store is None:
            raise AccountingError("no secrets key is configured: SNMP credentials cannot be kept")
        return store

    def add(self, credential: SnmpCredential, *, position: int | None = None, actor: str = "admin") -> None:
        check_credential(credential)
        material = ({"community": credential.community} if credential.version != "3" else
                    {"auth_key": credential.auth_key, "priv_key": credential.priv_key})
        self.secrets.set(SECRET_PREFIX + credential.name, json.dumps(material), actor=actor)
        with self.db.writer.begin() as conn:
            count = conn.execute(select(func.count()).select_from(snmp_credentials)).scalar()
            exists = conn.execute(select(snmp_credentials.c.id).where(
                snmp_credentials.c.name == credential.name)).scalar()
            values = dict(version=credential.version, username=credential.user,
                          auth_protocol=credential.auth_protocol, priv_protocol=credential.priv_protocol)
            if exists:
                conn.execute(update(snmp_credentials).where(snmp_credentials.c.id == exists).values(**values))
            else:
                conn.execute(insert(snmp_credentials).values(name=credential.name, position=count + 1,
                                                             created_at=utcnow(), **values))
            audit(conn, actor=actor, action="snmp-credential.set", target=credential.name,
                  new={"version": credential.version, "user": credential.user,
                       "auth": credential.auth_protocol, "priv": credential.priv_protocol})
        if position is not None:
            self.move(credential.name, position, actor=actor)

    def _rows(self, conn):
        return conn.execute(select(snmp_credentials).order_by(snmp_credentials.c.position,
                                                              snmp_credentials.c.id)).all()

    def move(self, name: str, position: int, *, actor: str = "admin") -> None:
        """Put ``name`` at 1-based ``position`` in the order they are tried."""
        with self.db.writer.begin() as conn:
            rows = self._rows(conn)
            names = [r.name for r in rows]
            if name not in names:
                raise UnknownCredential(name)
            names.remove(name)
            names.insert(max(0, min(len(names), position - 1)), name)
            for number, each in enumerate(names, 1):
                conn.execute(update(snmp_credentials).where(snmp_credentials.c.name == each)
                             .values(position=number))
            audit(conn, actor=actor, action="snmp-credential.move", target=name, new=position)

    def remove(self, name: str, *, actor: str = "admin") -> None:
        with self.db.writer.begin() as conn:
            if not conn.execute(delete(snmp_credentials).where(snmp_credentials.c.name == name)).rowcount:
                raise UnknownCredential(name)
            audit(conn, actor=actor, action="snmp-credential.remove", target=name)
        self.secrets.set(SECRET_PREFIX + name, "", actor=actor)

    def describe(self) -> list[SnmpCredential]:
        """The credentials in order, without their secrets (for lists)."""
        with self.db.reader.connect() as conn:
            return [SnmpCredential(r.name, r.version, user=r.username, auth_protocol=r.auth_protocol,
                                   priv_protocol=r.priv_protocol) for r in self._rows(conn)]

    def load(self) -> list[SnmpCredential]:
        """The credentials in order, with their secrets: for the code that talks SNMP."""
        found = []
        for described in self.describe():
            material = json.loads(self.secrets.reveal(SECRET_PREFIX + described.name) or "{}")
            found.append(SnmpCredential(described.name, described.version, community=material.get("community", ""),
                                        user=described.user, auth_protocol=described.auth_protocol,
                                        auth_key=material.get("auth_key", ""),
                                        priv_protocol=described.priv_protocol,
                                        priv_key=material.get("priv_key", "")))
        return found
