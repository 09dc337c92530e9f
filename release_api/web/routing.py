"""The route table of the web pages and who may open each route.

Pages declare themselves with ``@route(path, *methods, access=...)``; ``WebApp`` puts
every declared route on a Klein router (werkzeug routing on twisted.web), whose
``url_map`` is the one table both the server and the tests walk. ``access`` is checked
before a handler runs, in one place (``WebApp``):

``PUBLIC``     anyone (login, static files; the handler checks the login state itself)
``SIGNED_IN``  any person logged in (their own jobs, history, money, cards, PIN)
``FINANCE``    finance or admin: money, the ledger, the audit log, reports; and reading
               the admin pages (finance is read-only there)
``ADMIN``      admin only: every change on the admin pages, the access log, settings
"""
from __future__ import annotations

from dataclasses import dataclass

PUBLIC, SIGNED_IN, FINANCE, ADMIN = "public", "signed-in", "finance", "admin"
#: Which roles pass each access level (everyone signed in has the role "user").
ROLES_ALLOWED = {
    SIGNED_IN: frozenset({"user", "finance", "admin"}),
    FINANCE: frozenset({"finance", "admin"}),
    ADMIN: frozenset({"admin"}),
}


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    access: str
    name: str


def route(path: str, *methods: str, access: str):
    """Declare a page handler: ``handler(self, call, **url_values)``."""
    if access not in (PUBLIC, SIGNED_IN, FINANCE, ADMIN):
        raise ValueError(f"unknown access level {access!r}")

    def declare(function):
        declared = getattr(function, "web_routes", [])
        function.web_routes = declared + [Route(path, tuple(methods or ("GET",)), access, function.__name__)]
        return function
    return declare


def declared_routes(cls) -> list[tuple[Route, str]]:
    """Every (route, attribute name) declared on ``cls`` and its bases."""
    found, seen = [], set()
    for klass in cls.__mro__:
        for attribute, value in vars(klass).items():
            if attribute in seen:
                continue
            for declared in getattr(value, "web_routes", ()):
                seen.add(attribute)
                found.append((declared, attribute))
    return found


def allows(access: str, roles) -> bool:
    """Whether a signed-in person with ``roles`` (including "user") may open a route."""
    return access == PUBLIC or bool(ROLES_ALLOWED[access] & set(roles))
