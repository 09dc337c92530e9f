"""``printgate report``, ``period`` and ``schedule`` as a person runs them, on a data
directory holding a known November."""
from __future__ import annotations

import csv
import io
import json

import pytest

from accounting.core import AccountingCore, AccountingSettings
from accounting.database import Database, migrate, sqlite_url
from accounting.passwords import SecretHasher, fast_hasher
from gateway.cli import main
from tests.accounting.finance_scenario import build_history, clock  # noqa: F401


@pytest.fixture
def data(tmp_path, clock):
    data = tmp_path / "data"
    data.mkdir()
    database = Database(sqlite_url(data))
    migrate(database.writer)
    core = AccountingCore(database, AccountingSettings(timezone="UTC", rule_cache_seconds=0),
                          hasher=SecretHasher(fast_hasher()))
    core.history = build_history(core, clock)
    database.dispose()
    return data


@pytest.fixture
def run(data, capsysbinary):
    def run(*argv):
        try:
            code = main(["--data-dir", str(data), *argv])
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
        captured = capsysbinary.readouterr()
        return code, captured.out, captured.err.decode()

    return run


NOVEMBER = ("--from", "2026-11-01", "--to", "2026-12-01")


def test_a_chargeback_is_written_to_the_file_named(run, tmp_path):
    target = tmp_path / "cb.csv"
    code, _, err = run("report", "chargeback", *NOVEMBER, "--by", "cost-center,user", "--output", str(target))
    assert code == 0 and "written to" in err
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0][:2] == ["Cost center", "User"] and rows[-1][0] == "Total"


def test_without_an_output_file_the_report_goes_to_standard_output(run):
    code, out, err = run("report", "jobs", *NOVEMBER, "--format", "json")
    assert code == 0 and err == ""
    assert json.loads(out)["rows"][0]["name"] == "=HYPERLINK(\"http://x\")"


def test_xlsx_and_pdf_can_go_to_standard_output_too(run):
    assert run("report", "chargeback", *NOVEMBER, "--format", "xlsx")[1][:2] == b"PK"
    assert run("report", "usage", *NOVEMBER, "--bucket", "week", "--format", "pdf")[1][:5] == b"%PDF-"


@pytest.mark.parametrize("argv, message", [
    (("report", "chargeback", "--from", "2026-11-31", "--to", "2026-12-01"), "'2026-11-31': not a date"),
    (("report", "jobs", "--from", "2026-12-01", "--to", "2026-11-01"), "must be after --from 2026-12-01"),
    (("report", "chargeback", *NOVEMBER, "--by", "colour"), "unknown grouping 'colour'"),
    (("report", "chargeback", *NOVEMBER, "--by", "user,device,queue"), "unknown grouping"),
])
def test_bad_dates_and_groupings_are_one_clear_line_and_a_failure(run, tmp_path, argv, message):
    target = tmp_path / "never.csv"
    code, _, err = run(*argv, "--output", str(target))
    assert code == 1 and err.startswith("printgate: ") and message in err and err.count("\n") == 1
    assert not target.exists()


def test_an_output_in_a_missing_directory_fails_without_leaving_anything(run, tmp_path):
    code, _, err = run("report", "chargeback", *NOVEMBER, "--output", str(tmp_path / "nowhere" / "cb.csv"))
    assert code == 1 and err.startswith("printgate: ")


def test_why_price_explains_a_job(run, data):
    code, out, _ = run("report", "why-price", "5")
    text = out.decode()
    assert code == 0 and "price list colour-floor" in text and "mono sides, A3" in text
    assert "rule posters-mono (change): mono=True" in text or "rule posters-mono" in text


def test_a_month_is_closed_listed_and_corrected_from_the_command_line(run):
    code, out, _ = run("period", "close", "2026-11")
    assert code == 0 and b"2026-11 closed" in out
    assert json.loads(run("period", "list", "--json")[1])[0]["period"] == "2026-11"
    code, _, err = run("period", "close", "2026-11")
    assert code == 1 and "already closed" in err
    code, out, _ = run("period", "correct", "1", "0.05", "--reason", "goodwill")
    assert code == 0 and b"correcting entry 1" in out


def test_the_current_month_cannot_be_closed(run):
    from datetime import datetime, timezone

    code, _, err = run("period", "close", datetime.now(timezone.utc).strftime("%Y-%m"))
    assert code == 1 and "has not ended" in err


def test_schedules_are_added_listed_run_now_and_removed(run, tmp_path):
    code, out, _ = run("schedule", "add", "report", "monthly-cb", "--every", "monthly", "--day", "1", "--at",
                       "06:30", "--format", "pdf", "--to", str(tmp_path / "out"), "--to", "mailto:fin@example.org")
    assert code == 0 and b'"30 6 1 * *"' in out
    [schedule] = json.loads(run("schedule", "list", "--json")[1])
    assert (schedule["kind"], schedule["params"]["period"], schedule["last_run"]) == ("report", "previous-month", None)
    assert run("schedule", "run", "monthly-cb")[0] == 0
    assert b"never" in run("schedule", "list")[1]
    assert run("schedule", "remove", "monthly-cb")[0] == 0
    assert json.loads(run("schedule", "list", "--json")[1]) == []


@pytest.mark.parametrize("argv, message", [
    (("--every", "hourly"), "invalid choice"),
    (("--cron", "61 * * * *"), "not a cron expression"),
    (("--every", "daily", "--to", "ftp://x/y"), "unknown destination"),
])
def test_bad_schedules_are_refused(run, argv, message):
    code, _, err = run("schedule", "add", "backup", "b", *argv, *(() if "--to" in argv else ("--to", "/tmp/x")))
    assert code != 0 and message in err


def test_a_destination_password_is_kept_encrypted(run, monkeypatch, data):
    monkeypatch.setattr("sys.stdin", io.StringIO("hunter2\n"))
    code, out, _ = run("schedule", "password", "smb://svc@nas/finance")
    assert code == 0 and b"svc@nas:445" in out
    import sqlite3

    with sqlite3.connect(data / "printgate.sqlite3") as db:
        [(name, ciphertext)] = db.execute("SELECT name, ciphertext FROM secrets").fetchall()
    assert name == "destination/smb/svc@nas:445" and b"hunter2" not in ciphertext


def test_a_progress_bar_shows_on_a_terminal_and_only_there(data, tmp_path):
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "gateway", "--data-dir", str(data), "report", "jobs", *NOVEMBER, "--output"]
    env = dict(os.environ, PYTHONPATH=str(root))
    leader, follower = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size
    with subprocess.Popen([*command, str(tmp_path / "a.csv")], stderr=follower, cwd=root, env=env) as process:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    os.close(leader)
    piped = subprocess.run([*command, str(tmp_path / "b.csv")], capture_output=True, cwd=root, env=env)
    assert process.returncode == 0 and b"rows" in shown
    assert piped.returncode == 0 and b"rows" not in piped.stderr and piped.stderr.startswith(b"Job log")


def test_a_fleet_export_schedule_keeps_its_format_and_jitter_and_starts_within_the_window(run, tmp_path):
    from datetime import datetime, timedelta

    code, out, _ = run("schedule", "add", "fleet-export", "printers", "--format", "xml", "--every", "daily", "--at",
                       "03:00", "--jitter-minutes", "45", "--to", "sftp://fleet@files.example.org/printers")
    assert code == 0 and b'fleet-export at "0 3 * * *"' in out
    [schedule] = json.loads(run("schedule", "list", "--json")[1])
    assert (schedule["kind"], schedule["params"]) == ("fleet-export", {"format": "xml", "jitter_minutes": 45.0})
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    slot = next_run.replace(hour=3, minute=0, second=0, microsecond=0)
    assert slot <= next_run <= slot + timedelta(minutes=45)
    assert b"fleet-export" in run("schedule", "list")[1]


def test_a_fleet_export_schedule_takes_its_jitter_from_the_config_by_default(run, tmp_path):
    config = tmp_path / "printgate.toml"
    config.write_text("[fleet.export]\njitter_minutes = 7\n")
    assert run("--config", str(config), "schedule", "add", "fleet-export", "printers", "--every", "weekly",
               "--to", str(tmp_path / "exports"))[0] == 0
    [schedule] = json.loads(run("--config", str(config), "schedule", "list", "--json")[1])
    assert schedule["params"] == {"format": "csv", "jitter_minutes": 7.0}


def test_a_fleet_export_jitter_beyond_a_day_is_refused(run, tmp_path):
    code, _, err = run("schedule", "add", "fleet-export", "printers", "--every", "daily", "--jitter-minutes", "2000",
                       "--to", str(tmp_path / "exports"))
    assert code == 1 and "--jitter-minutes is 0 to 1440" in err
