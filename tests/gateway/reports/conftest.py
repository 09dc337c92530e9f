"""The report writers run over the accounting fixtures: every test on SQLite and on a
real PostgreSQL (tests/accounting/conftest.py), with the finance scenario's history."""
import pytest

from accounting.core import AccountingCore
from tests.accounting.conftest import (database, database_url, engine_name, hasher, postgres_server,  # noqa: F401
                                       settings, sqlite_template)
from tests.accounting.finance_scenario import build_history, clock  # noqa: F401


@pytest.fixture
def core(database, settings, hasher, clock):
    """A month of history in Paris time (tests.accounting.finance_scenario)."""
    settings.timezone = "Europe/Paris"
    core = AccountingCore(database, settings, hasher=hasher)
    core.history = build_history(core, clock)
    return core
