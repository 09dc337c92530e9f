"""The report writers run over the accounting fixtures: every test on SQLite and on a
real PostgreSQL (tests/accounting/conftest.py)."""
from tests.accounting.conftest import (database, database_url, engine_name, hasher, postgres_server,  # noqa: F401
                                       settings, sqlite_template)
from tests.accounting.finance_scenario import clock  # noqa: F401
