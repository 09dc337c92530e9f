"""The admin's day one with the ``printgate`` command (issue 14.9-14.14): where the data
lives, the commands an admin needs, what the listings say, pipes, help, file modes.
Commands that depend on the process (its directory, stdin, a pipe, the umask) run as a
real ``printgate`` process; the rest in-process."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from accounting.rules import ACTIONS, CONDITIONS
from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]


def printgate(*argv, cwd, env=None, stdin=subprocess.DEVNULL, input=None, umask=-1):
    """``python -m gateway ARGV`` as a separate process (``input`` replaces ``stdin``)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRINTGATE_")}
    environment.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "gateway", *argv], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=120, umask=umask,
                          **({"input": input} if input is not None else {"stdin": stdin}))


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def run(data, capsys):
    def run(*argv):
        code = main(["--data-dir", str(data), *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def elsewhere(tmp_path):
    """A directory with nothing of Printgate in it, like ``cd ~``."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_a_read_command_run_from_another_directory_finds_the_data_directory_in_the_environment(run, data,
                                                                                              elsewhere):
    run("users", "add", "alice")
    result = printgate("users", "list", cwd=elsewhere, env={"PRINTGATE_DATA_DIR": str(data)})
    assert result.returncode == 0 and "alice" in result.stdout
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("command", [("users", "list"), ("jobs", "list"), ("accounts", "list"), ("rules", "list")])
def test_a_read_command_without_a_database_says_where_it_looked_and_creates_nothing(tmp_path, elsewhere, command):
    missing = tmp_path / "nowhere"
    result = printgate(*command, cwd=elsewhere, env={"PRINTGATE_DATA_DIR": str(missing)})
    assert result.returncode == 1
    assert f"no Printgate database in {missing}" in result.stderr and "PRINTGATE_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stderr
    assert not missing.exists() and list(elsewhere.iterdir()) == []


def test_the_config_file_names_the_data_directory_relative_to_itself(run, data, tmp_path, elsewhere):
    run("users", "add", "alice")
    config = tmp_path / "printgate.toml"
    config.write_text('[server]\ndata_dir = "data"\n')
    result = printgate("users", "list", cwd=elsewhere, env={"PRINTGATE_CONFIG": str(config)})
    assert result.returncode == 0 and "alice" in result.stdout


def test_set_pin_without_a_terminal_is_a_clear_error_and_pin_stdin_sets_it(run, data, elsewhere):
    run("users", "add", "alice")
    without = printgate("--data-dir", str(data), "users", "set-pin", "alice", cwd=elsewhere)
    assert without.returncode == 1 and "Traceback" not in without.stderr
    assert without.stderr == "printgate: no PIN on standard input (pipe it in as one line)\n"
    piped = printgate("--data-dir", str(data), "users", "set-pin", "alice", "--pin-stdin", cwd=elsewhere,
                      input="2468\n")
    assert piped.returncode == 0, piped.stderr
    assert json.loads(run("users", "list", "--json")[1])[0]["has_pin"] is True


def test_set_password_from_stdin_lets_the_user_log_in_with_it(run, data, elsewhere):
    from accounting.core import open_core

    run("users", "add", "alice")
    result = printgate("--data-dir", str(data), "users", "set-password", "alice", "--password-stdin", cwd=elsewhere,
                       input="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    core = open_core(f"sqlite:///{data / 'printgate.sqlite3'}")
    try:
        assert core.verify_password("alice", "correct horse battery").username == "alice"
    finally:
        core.database.dispose()


def test_users_are_disabled_enabled_and_deleted_with_their_history_kept(run):
    run("users", "add", "alice", "--card", "C1", "--balance", "2.00")
    run("users", "add", "bob", "--card", "C2")
    assert run("users", "disable", "bob")[0] == 0
    assert run("users", "remove-card", "c1") == (0, "card removed from alice\n", "")
    assert run("users", "delete", "alice")[0] == 0
    assert [u["username"] for u in json.loads(run("users", "list", "--json")[1])] == ["bob"]
    everyone = {u["username"]: u for u in json.loads(run("users", "list", "--all", "--json")[1])}
    assert (everyone["alice"]["deleted"], everyone["alice"]["cards"]) == (True, [])
    assert everyone["bob"]["enabled"] is False
    assert run("users", "enable", "alice")[2] == "printgate: user 'alice' was deleted; only their history is kept\n"
    assert run("users", "enable", "bob")[0] == 0
    assert "2.00" in run("ledger", "show", "alice")[1]
    assert run("users", "remove-card", "C9")[2] == "printgate: no user has card 'C9'\n"


def test_rules_are_edited_and_reordered(run):
    run("rules", "add", "big", "--action", "deny", "--when", '{"pages": {"min": 50}}')
    run("rules", "add", "mono", "--action", "force-mono")
    assert run("rules", "edit", "big", "--when", '{"pages": {"min": 80}}', "--message", "Too big")[0] == 0
    assert run("rules", "move", "mono", "--first")[1] == "rules are now tried in this order: mono, big\n"
    rules = json.loads(run("rules", "list", "--json")[1])
    assert [(r["name"], r["action"], r["conditions"], r["params"]) for r in rules] == [
        ("mono", "force-mono", {}, {}), ("big", "deny", {"pages": {"min": 80}}, {"message": "Too big"})]


def test_a_device_is_edited_and_keeps_its_panel_secret(run, data):
    import base64

    from accounting.core import open_core
    from gateway.register_device import panel_credential

    secret = json.loads(run("devices", "add", "mfp", "--endpoint", "ipp://127.0.0.1:8631/ipp/print", "--json")[1])[
        "secret"]
    assert run("devices", "edit", "mfp", "--protocol", "raw", "--endpoint", "127.0.0.1:9100", "--color",
               "--screen", "1024x600")[0] == 0
    [listed] = json.loads(run("devices", "list", "--json")[1])
    assert (listed["protocol"], listed["endpoint"], listed["color"], listed["screen"], listed["panel"]) == (
        "raw", "127.0.0.1:9100", True, "1024x600", "active")
    core = open_core(f"sqlite:///{data / 'printgate.sqlite3'}", data_dir=data)
    try:
        assert panel_credential(core, "mfp").secret == base64.urlsafe_b64decode(secret)
    finally:
        core.database.dispose()
    code, _, err = run("devices", "edit", "mfp", "--screen", "2x2")
    assert code == 1 and "panel screen" in err


def test_an_ipps_printers_certificate_check_is_edited_without_a_new_panel_secret(run, data, tmp_path):
    import base64

    from accounting.core import open_core
    from gateway.register_device import device_trust, panel_credential
    from spooler.forward.job import PrinterTrust

    def stored():
        core = open_core(f"sqlite:///{data / 'printgate.sqlite3'}", data_dir=data)
        try:
            return device_trust(core, "mfp"), panel_credential(core, "mfp").secret
        finally:
            core.database.dispose()

    secret = base64.urlsafe_b64decode(json.loads(run(
        "devices", "add", "mfp", "--endpoint", "ipps://127.0.0.1:8631/ipp/print", "--tls-fingerprint", "ab" * 32,
        "--json")[1])["secret"])
    code, out, _ = run("devices", "edit", "mfp", "--endpoint", "ipps://10.0.3.21:631/ipp/print",
                       "--tls-fingerprint", ":".join(["CD"] * 32))
    assert code == 0 and "pinned certificate fingerprint" in out
    assert stored() == (PrinterTrust(fingerprint="cd" * 32), secret)

    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    code, _, err = run("devices", "edit", "mfp", "--tls-ca", str(ca))
    assert code == 1 and "no PEM certificate" in err
    assert stored()[0] == PrinterTrust(fingerprint="cd" * 32)  # a bad CA file changes nothing

    code, _, err = run("devices", "edit", "mfp", "--protocol", "lpd", "--endpoint", "127.0.0.1/q",
                       "--tls-fingerprint", "ef" * 32)
    assert code == 1 and "ipps://" in err
    [listed] = json.loads(run("devices", "list", "--json")[1])
    assert listed["endpoint"] == "ipps://10.0.3.21:631/ipp/print"  # refused as a whole

    assert run("devices", "edit", "mfp", "--tls-system-trust")[0] == 0
    assert stored() == (None, secret)
    code, _, err = run("devices", "edit", "mfp", "--tls-system-trust")
    assert code == 1 and "already uses the system's trust store" in err


def test_piping_a_listing_to_head_prints_no_broken_pipe(run, data, tmp_path):
    rows = "\n".join(f"user{i:04d},User {i},cc{i % 9},g{i % 5}" for i in range(2000))
    (tmp_path / "users.csv").write_text("username,full_name,cost_center,groups\n" + rows + "\n")
    assert run("users", "import", str(tmp_path / "users.csv"))[0] == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTGATE_")}
    env["PYTHONPATH"] = str(ROOT)
    for listing in ("users list", "users list --json"):
        result = subprocess.run(
            f"{sys.executable} -m gateway --data-dir {data} {listing} 2>{tmp_path / 'err'} | head -1",
            shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert result.stdout.count("\n") == 1
        assert (tmp_path / "err").read_text() == ""


def test_jobs_list_shows_the_price_with_currency_the_copies_asked_and_forced_changes(run, data):
    from accounting.core import open_core
    from accounting.pricing import PriceList
    from accounting.rules import Rule
    from tests.accounting.conftest import new_job

    run("users", "add", "alice", "--balance", "50.00")
    core = open_core(f"sqlite:///{data / 'printgate.sqlite3'}")
    try:
        core.prices.save(PriceList(name="std", currency="CHF", items={("*", False): 10_000, ("*", True): 40_000},
                                   is_default=True))
        core.rules.add(Rule(name="mono", action="force-mono"))
        core.rules.add(Rule(name="two", action="cap-copies", params={"copies": 2}))
        job = new_job("alice", pages=3, color_pages=3, copies_requested=5, title="")
        job.decision = core.decide(job)
        core.jobs.record_jobs([job])
    finally:
        core.database.dispose()
    header, row = run("jobs", "list")[1].splitlines()
    columns = header.split()
    assert columns[:10] == ["ID", "OWNER", "STATE", "PROTO", "PAGES", "COPIES", "COLOR", "PRICE", "FORCED", "RECEIVED"]
    assert " 5→2 " in row and " mono " in row and "0.60 CHF" in row and "mono,copies≤2" in row
    assert "PDF from ws1, " in row  # a job without a title is named by its kind, origin and time


def test_users_list_shows_the_number_typed_on_the_pin_pad(run, data):
    from accounting.core import open_core

    run("users", "add", "bob")
    run("users", "add", "alice")
    header, *rows = run("users", "list")[1].splitlines()
    assert header.split()[0] == "NUMBER"
    number = int(next(r for r in rows if " alice " in r).split()[0])
    core = open_core(f"sqlite:///{data / 'printgate.sqlite3'}")
    try:
        core.users.set_pin("alice", "2468")
        assert core.authenticate_pin(number, "2468").username == "alice"  # what the PIN pad sends
    finally:
        core.database.dispose()


def test_the_pin_pad_asks_for_the_user_number_then_the_pin():
    from panel_menus.render import PanelRenderer

    html = PanelRenderer().render("pin", "800x480", csrf="t", digits=0, refresh_to="/panel/")
    assert "Your user number, then your PIN" in html


def test_rules_add_help_lists_every_condition_and_action_with_an_example(elsewhere):
    result = printgate("rules", "add", "--help", cwd=elsewhere)
    assert result.returncode == 0
    text = result.stdout
    for name in (*CONDITIONS, *ACTIONS):
        line = next((line for line in text.splitlines() if line.strip().startswith(name + " ")), None)
        assert line is not None, f"{name} is not in `printgate rules add --help`"
    assert text.count("e.g. ") == len(CONDITIONS) + len(ACTIONS)


def test_the_readme_lists_every_rule_condition_and_action_with_an_example():
    readme = (ROOT / "README.md").read_text()
    for name in (*CONDITIONS, *ACTIONS):
        assert f"| `{name}` |" in readme, f"the README's rule tables lack {name}"
    rows = [line for line in readme.splitlines() if line.startswith("| `") and "`" in line.split("|")[3]]
    assert len([r for r in rows if r.split("|")[1].strip(" `") in (*CONDITIONS, *ACTIONS)]) >= \
        len(CONDITIONS) + len(ACTIONS)


def test_files_holding_money_or_secrets_are_the_owners_only_whatever_the_umask(tmp_path, elsewhere):
    data = tmp_path / "data"
    backup = tmp_path / "backup"
    for argv, text in ((("users", "add", "alice", "--balance", "5.00"), None),
                       (("secrets", "set", "smtp.password"), "relay-password\n"),
                       (("backup", "--to", str(backup)), None)):
        result = printgate("--data-dir", str(data), *argv, cwd=elsewhere, input=text, umask=0)
        assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    secret_files = [p for p in data.iterdir() if p.name.startswith("printgate.sqlite3") or p.name.endswith(".key")]
    assert {p.name for p in secret_files} >= {"printgate.sqlite3", "secrets.key"}
    for path in secret_files + list(backup.iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
