"""``[web]``: how long a web session lives without a request and at most."""
import pytest

from spooler.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "printgate.toml"
    path.write_text(text)
    return path


def test_web_sessions_last_15_idle_minutes_and_8_hours_unless_configured(tmp_path):
    config = load_config(write(tmp_path, ""), tmp_path / "data", environ={})
    assert (config.web_idle_minutes, config.web_session_hours) == (15, 8)


def test_web_session_lifetimes_are_read(tmp_path):
    config = load_config(write(tmp_path, "[web]\nidle_minutes = 5\nsession_hours = 2\n"), tmp_path / "data",
                         environ={})
    assert (config.web_idle_minutes, config.web_session_hours) == (5, 2)


@pytest.mark.parametrize("text, key", [
    ("[web]\nidle_minutes = 0\n", "web.idle_minutes"),
    ("[web]\nidle_minutes = \"15\"\n", "web.idle_minutes"),
    ("[web]\nsession_hours = 200\n", "web.session_hours"),
    ("[web]\nidle_minutes = 180\nsession_hours = 2\n", "web.idle_minutes"),
    ("[web]\nidle = 5\n", "web.idle"),
])
def test_a_web_session_lifetime_out_of_range_or_unknown_is_refused(tmp_path, text, key):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), tmp_path / "data", environ={})
    assert caught.value.key == key
