"""The web site: every page mixin on one ``WebApp``, so one route table holds them all."""
from __future__ import annotations

from release_api.web.app import WebApp
from release_api.web.pages_admin import AdminPages
from release_api.web.pages_finance import FinancePages
from release_api.web.pages_login import LoginPages
from release_api.web.pages_self import SelfServicePages


class WebSite(LoginPages, SelfServicePages, AdminPages, FinancePages, WebApp):
    """``WebSite(logins, self_service, administration, ...)``; see ``WebApp`` for the
    options. ``reports``: the ``ReportDesk`` (issue 15's reports; None: not offered)."""

    def __init__(self, logins, self_service, administration, *, reports=None, **options):
        super().__init__(logins, self_service, administration, **options)
        self.reports = reports
