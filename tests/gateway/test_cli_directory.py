"""``printgate directory`` against a real slapd: the summary, a dry run, a failure's exit
status, ``test USER``, and the progress bar shown on a terminal only."""
from __future__ import annotations

import io

import pytest

from gateway.cli import main
from tests.fixtures.certificates import CertificateAuthority
from tests.fixtures.slapd import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, DirectoryData, SlapdServer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    authority = CertificateAuthority.create(tmp_path / "ca")
    server = SlapdServer(tmp_path, authority).start(DirectoryData(users=12).write(tmp_path / "d.ldif"))
    config = tmp_path / "printgate.toml"
    config.write_text(f'[directory]\nservers = ["{server.uri}"]\nuser_bases = ["{PEOPLE}"]\n'
                      f'group_bases = ["{GROUPS}"]\nbind_dn = "{SERVICE_DN}"\nca_file = "{authority.ca_file}"\n')
    base = ["--data-dir", str(tmp_path / "data"), "--config", str(config)]
    monkeypatch.setattr("sys.stdin", io.StringIO(SERVICE_PASSWORD + "\n"))
    assert main(base + ["secrets", "set", "directory/bind"]) == 0
    yield base, server
    server.stop()


def test_a_dry_run_then_a_sync_print_their_summaries(setup, capsys):
    base, _ = setup
    assert main(base + ["directory", "sync", "--dry-run"]) == 0
    assert "Would do (dry run): 12 added, 0 changed, 0 disabled" in capsys.readouterr().out
    assert main(base + ["directory", "sync"]) == 0
    assert "12 added, 0 changed, 0 disabled, 0 enabled, 0 unchanged" in capsys.readouterr().out
    assert main(base + ["directory", "sync", "--full"]) == 0
    assert "0 added, 0 changed, 0 disabled, 0 enabled, 12 unchanged" in capsys.readouterr().out


def test_a_failed_sync_exits_1_and_says_nothing_changed(setup, capsys):
    base, server = setup
    server.stop()
    assert main(base + ["directory", "sync"]) == 1
    assert "nothing changed" in capsys.readouterr().err


def test_test_user_shows_what_would_be_imported(setup, capsys):
    base, _ = setup
    assert main(base + ["directory", "test", "user00007"]) == 0
    out = capsys.readouterr().out
    assert "full name:   User 7" in out and "cards:       0000100007" in out and "dept-7" in out


def test_the_progress_bar_is_drawn_on_a_terminal_only():
    from gateway.cli.directory import _Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = _Progress(stream, mininterval=0)
        progress("users", 500)
        progress("users", 1000)
        progress.close()
    assert "reading users" in terminal.getvalue() and "1000" in terminal.getvalue()
    assert pipe.getvalue() == ""
