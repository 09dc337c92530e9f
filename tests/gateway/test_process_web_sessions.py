"""The gateway gives its web sessions the lifetimes of ``[web]``."""
from gateway.process import Gateway
from spooler.config import GatewayConfig


def test_the_web_sessions_end_after_the_configured_idle_time_and_lifetime():
    config = GatewayConfig()
    config.web_idle_minutes, config.web_session_hours = 5, 2
    sessions = Gateway(config, reactor=object()).build_web_sessions()
    assert (sessions.idle_timeout, sessions.max_age) == (5 * 60, 2 * 3600)


def test_by_default_a_web_session_ends_after_15_idle_minutes_or_8_hours():
    sessions = Gateway(GatewayConfig(), reactor=object()).build_web_sessions()
    assert (sessions.idle_timeout, sessions.max_age) == (15 * 60, 8 * 3600)
