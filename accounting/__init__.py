"""Printgate accounting: who printed what, at what price, against which budget, under
which rule. The only package that talks to the database (SQLAlchemy 2 + Alembic).

One component per aggregate, each synchronous and returning dataclasses
(``accounting.records``): ``jobs`` (JobStore), ``users`` (users, groups, cards, PINs),
``accounts`` (personal and shared), ``ledger`` (append-only money), ``pricing``,
``rules``, ``decisions`` (intake), ``release`` (reserve, charge, refund), ``quotas``,
``devices``, ``logins`` (card/PIN/password with lockouts), ``audit``, ``secrets``,
``retention`` (expiry and purge), ``backup``. ``core.AccountingCore`` holds them all;
``service.AccountingService`` is the Deferred API for the reactor.
"""
