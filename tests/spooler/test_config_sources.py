"""Where the configuration takes the data directory, the time zone and the retention from."""
import sys
from pathlib import Path

import pytest

from spooler.config import ConfigError, install_data_dir, load_config


def write(tmp_path, text):
    path = tmp_path / "etc" / "printgate.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_the_flag_wins_over_the_environment_which_wins_over_the_file(tmp_path):
    config_file = write(tmp_path, '[server]\ndata_dir = "../var/printgate"\n')
    from_file = load_config(config_file, environ={})
    assert from_file.data_dir == tmp_path / "var" / "printgate"
    assert from_file.data_dir_source == f"[server] data_dir in {config_file}"
    from_environment = load_config(config_file, environ={"PRINTGATE_DATA_DIR": "/srv/pg"})
    assert (from_environment.data_dir, from_environment.data_dir_source) == (Path("/srv/pg"), "PRINTGATE_DATA_DIR")
    from_flag = load_config(config_file, tmp_path / "flag", environ={"PRINTGATE_DATA_DIR": "/srv/pg"})
    assert (from_flag.data_dir, from_flag.data_dir_source) == (tmp_path / "flag", "--data-dir")


def test_the_config_file_may_come_from_the_environment(tmp_path):
    config_file = write(tmp_path, '[server]\ndata_dir = "data"\n')
    assert load_config(None, environ={"PRINTGATE_CONFIG": str(config_file)}).data_dir == config_file.parent / "data"


def test_without_any_the_data_directory_is_beside_the_installs_virtual_environment(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "clone" / ".venv"))
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    assert install_data_dir() == tmp_path / "clone" / "printgate-data"
    config = load_config(None, environ={})
    assert (config.data_dir, config.data_dir_source) == (tmp_path / "clone" / "printgate-data",
                                                         "the install's default")
    monkeypatch.setattr(sys, "prefix", "/usr")
    assert install_data_dir() == Path("/var/lib/printgate")


def test_the_time_zone_is_an_iana_name(tmp_path):
    assert load_config(write(tmp_path, '[server]\ntimezone = "Europe/Paris"\n'), environ={}).timezone == "Europe/Paris"
    with pytest.raises(ConfigError, match="server.timezone"):
        load_config(write(tmp_path, '[server]\ntimezone = "Mars/Olympus"\n'), environ={})


@pytest.mark.parametrize("days", [29, 2001, "90", True])
def test_a_retention_outside_30_to_2000_days_is_refused(tmp_path, days):
    value = f'"{days}"' if isinstance(days, str) else str(days).lower()
    with pytest.raises(ConfigError, match="retention.days"):
        load_config(write(tmp_path, f"[retention]\ndays = {value}\n"), environ={})


def test_retention_days_and_the_smtp_password_secret_are_read(tmp_path):
    config = load_config(write(tmp_path, '[retention]\ndays = 400\n[mail]\nhost = "mail"\n'
                                         'password_secret = "relay/password"\n'), environ={})
    assert (config.retention_days, config.mail.password_secret) == (400, "relay/password")
