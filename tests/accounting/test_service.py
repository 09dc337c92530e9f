"""The Deferred API delegates to the synchronous components in the thread pool."""
import pytest
from twisted.python.failure import Failure

from accounting.errors import InsufficientFunds
from accounting.pricing import PriceList
from accounting.service import AccountingService
from tests.accounting.conftest import new_job


class ImmediateReactor:
    def callFromThread(self, function, *args, **kwargs):
        function(*args, **kwargs)


class ImmediatePool:
    def callInThreadWithCallback(self, on_result, function, *args, **kwargs):
        try:
            result = function(*args, **kwargs)
        except BaseException:
            on_result(False, Failure())
        else:
            on_result(True, result)


def result_of(deferred):
    outcome = []
    deferred.addBoth(outcome.append)
    [value] = outcome
    if isinstance(value, Failure):
        value.raiseException()
    return value


@pytest.fixture
def service(database, core):
    core.prices.save(PriceList(name="std", is_default=True, items={("*", False): 10_000}))
    core.users.add_user("alice", balance=100, cards=("C1",), pin="1234")
    return AccountingService(database, reactor=ImmediateReactor(), threadpool=ImmediatePool(), core=core)


def test_intake_then_release_through_the_service(service):
    job = new_job(pages=3)
    job.decision = result_of(service.decide(job))
    [held] = result_of(service.record_jobs([job]))
    assert held.price_estimate == 30
    assert result_of(service.authenticate_card("c1", device="mfp")).username == "alice"
    result_of(service.start_release(held.id, "mfp", "alice"))
    entry = result_of(service.charge_release(held.id, "mfp", "key", "alice"))
    assert entry.amount == -30
    assert [e.amount for e in result_of(service.ledger_entries("alice"))] == [100, -30]


def test_errors_arrive_as_failures(service):
    [held] = result_of(service.record_jobs([new_job(pages=30)]))
    with pytest.raises(InsufficientFunds):
        result_of(service.start_release(held.id, "mfp", "alice"))
    back = result_of(service.start_release(held.id, "mfp", "alice").addErrback(lambda f: "refused"))
    assert back == "refused"


def test_failed_release_and_expiry_through_the_service(service):
    [held] = result_of(service.record_jobs([new_job(pages=1)]))
    result_of(service.start_release(held.id, "mfp", "alice"))
    assert result_of(service.fail_release(held.id, "offline")).state == "held"
    assert result_of(service.expire_jobs(held.received_at.replace(year=2027)))[0].id == held.id

