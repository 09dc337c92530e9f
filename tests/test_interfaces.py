"""Every implementation of a declared interface between the layers — the gateway's own and
each test fake — has the interface's methods with the same signatures (names, kinds and
defaults of the parameters), so a fake cannot drift from what the real thing offers."""
from __future__ import annotations

import inspect

import pytest

from gateway.fleet_release import FleetRelease, MeterWatch
from gateway.job_desk import GatewayJobDesk
from gateway.notice_triggers import NoticeTriggers
from gateway.panel_services import GatewayPanelServices
from gateway.receive_job import JobReception as GatewayJobReception
from gateway.release_checks import DeviceChecks, NoDeviceChecks, NoPrintWatch, PrintWatch
from gateway.receive_job import ReceptionNotices
from gateway.release_job import ReleaseObserver
from gateway.web_reports import GatewayReportDesk
from gateway.web_services import GatewayWebServices
from release_api.services import PanelServices
from release_api.web.services import Administration, ReportDesk, SelfService, WebLogins
from spooler.job_desk import JobDesk
from spooler.reception import JobReception
from tests.release_api.panel_test_double import InMemoryPanelServicesTestDouble
from tests.spooler.ipp.fakes import FakeJobDesk as IppFakeJobDesk
from tests.gateway.test_release_job import RecordingObserver
from tests.spooler.support import FakeJobDesk


def interface_methods(interface):
    return {name: member for name, member in vars(interface).items()
            if callable(member) and not name.startswith("_")}


def shape(function):
    """The parameters as (name, kind, default), without ``self`` and annotations."""
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return [(p.name, p.kind, p.default) for p in parameters]


IMPLEMENTATIONS = [
    (JobDesk, GatewayJobDesk),
    (JobDesk, FakeJobDesk),
    (JobDesk, IppFakeJobDesk),
    (JobReception, GatewayJobReception),
    (PanelServices, GatewayPanelServices),
    (PanelServices, InMemoryPanelServicesTestDouble),
    (DeviceChecks, FleetRelease),
    (DeviceChecks, NoDeviceChecks),
    (PrintWatch, MeterWatch),
    (PrintWatch, NoPrintWatch),
    (ReleaseObserver, NoticeTriggers),
    (ReleaseObserver, RecordingObserver),
    (ReceptionNotices, NoticeTriggers),
    (WebLogins, GatewayWebServices),
    (SelfService, GatewayWebServices),
    (Administration, GatewayWebServices),
    (ReportDesk, GatewayReportDesk),
]


@pytest.mark.parametrize(("interface", "implementation"), IMPLEMENTATIONS,
                         ids=[f"{i.__name__}-{c.__module__}.{c.__name__}" for i, c in IMPLEMENTATIONS])
def test_the_implementation_matches_the_interface(interface, implementation):
    for name, declared in interface_methods(interface).items():
        assert hasattr(implementation, name), f"{implementation.__name__} lacks {name}"
        assert shape(getattr(implementation, name)) == shape(declared), f"{implementation.__name__}.{name}"


def test_the_check_sees_a_parameter_that_drifted():
    class Drifted(FakeJobDesk):
        def end_job(self, job_id, state, actor, reason=""):  # actor no longer keyword-only
            raise NotImplementedError

    assert shape(Drifted.end_job) != shape(JobDesk.end_job)
