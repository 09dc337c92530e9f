"""The configured time zone: an IANA name from ``[server] timezone``, else the machine's."""
from pathlib import Path

import pytest

from accounting.time import UnknownTimeZone, machine_zone_name, zone
from spooler.config import ConfigError, load_config


def test_tz_names_the_machine_zone_when_set():
    assert machine_zone_name(environ={"TZ": ":Europe/Paris"}) == "Europe/Paris"


def test_otherwise_the_localtime_link_names_it(tmp_path):
    link = tmp_path / "localtime"
    link.symlink_to(Path("/usr/share/zoneinfo/Europe/Paris"))
    assert machine_zone_name(link, environ={}) == "Europe/Paris"


def test_without_either_the_zone_is_utc(tmp_path):
    assert machine_zone_name(tmp_path / "missing", environ={"TZ": "Not/AZone"}) == "UTC"


def test_an_unknown_zone_is_a_clear_error():
    with pytest.raises(UnknownTimeZone):
        zone("Mars/Olympus_Mons")


def test_the_server_section_sets_the_zone(tmp_path):
    path = tmp_path / "printgate.toml"
    path.write_text('[server]\ntimezone = "Asia/Kolkata"\n')
    assert load_config(path).timezone == "Asia/Kolkata"
    path.write_text('[server]\ntimezone = "Europe/Atlantis"\n')
    with pytest.raises(ConfigError, match="server.timezone"):
        load_config(path)
