"""The accounting command groups, run in-process against a data directory."""
import json

import pytest

from accounting.listings import newest_revision
from gateway.cli import main


@pytest.fixture
def run(tmp_path, capsys):
    data = tmp_path / "data"

    def run(*argv, stdin=None, monkeypatch=None):
        code = main(["--data-dir", str(data), *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.data = data
    return run


def test_users_add_list_and_add_card(run):
    assert run("users", "add", "alice", "--full-name", "Alice A", "--group", "staff", "--card", "04ab",
               "--balance", "5.00")[0] == 0
    code, out, _ = run("users", "list", "--json")
    [alice] = json.loads(out)
    assert (alice["username"], alice["cards"], alice["groups"], alice["balance"]) == ("alice", ["04AB"], ["staff"], 500)


def test_unknown_user_and_duplicate_card_are_clear_errors(run):
    run("users", "add", "alice", "--card", "C1")
    run("users", "add", "bob")
    assert run("users", "add-card", "carol", "C9")[2] == "printgate: unknown user 'carol'\n"
    code, _, err = run("users", "add-card", "bob", "c1")
    assert code == 1 and err == "printgate: card 'C1' is already registered to alice\n"


def test_users_import_reports_the_bad_line_and_imports_nothing(run, tmp_path):
    csv_file = tmp_path / "users.csv"
    csv_file.write_text("username,email,cards,balance\nalice,a@x.org,C1,1.50\nbob,b@x.org,C1,0\n")
    code, _, err = run("users", "import", str(csv_file))
    assert code == 1 and err.startswith("printgate: line 3:") and "C1" in err
    assert json.loads(run("users", "list", "--json")[1]) == []
    csv_file.write_text("username,email,cards,balance\nalice,a@x.org,C1,1.50\nbob,b@x.org,C2,0\n")
    assert run("users", "import", str(csv_file))[1] == "2 users imported\n"
    assert json.loads(run("accounts", "list", "--json")[1])[0]["balance"] == 150


def test_users_set_pin_reads_stdin(run, monkeypatch):
    import io

    run("users", "add", "alice")
    monkeypatch.setattr("sys.stdin", io.StringIO("2468\n"))
    assert run("users", "set-pin", "alice", "--stdin")[0] == 0
    assert json.loads(run("users", "list", "--json")[1])[0]["has_pin"] is True


def test_accounts_topup_adjust_and_ledger_show(run):
    run("users", "add", "alice")
    assert run("accounts", "topup", "alice", "10.00")[1] == "alice: +10.00, balance 10.00\n"
    assert run("accounts", "adjust", "alice", "-2.5", "--reason", "wrong top-up")[0] == 0
    assert run("accounts", "adjust", "alice", "1.005", "--reason", "x")[2] == "printgate: '1.005' has more than 2 decimals\n"
    entries = json.loads(run("ledger", "show", "alice", "--json")[1])
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [("topup", 1000, 1000),
                                                                              ("adjustment", -250, 750)]
    assert "wrong top-up" in run("ledger", "show", "alice")[1]
    assert run("ledger", "show", "nobody")[2] == "printgate: unknown account 'nobody'\n"


def test_shared_accounts_from_the_cli(run):
    run("users", "add", "alice")
    assert run("accounts", "add-shared", "cc-100", "--overdraft", "50")[0] == 0
    assert run("accounts", "allow", "cc-100", "--user", "alice")[0] == 0
    rows = {a["name"]: a for a in json.loads(run("accounts", "list", "--json")[1])}
    assert rows["cc-100"]["kind"] == "shared" and rows["cc-100"]["overdraft_limit"] == 5000


def test_prices_set_list_and_quote(run):
    assert run("prices", "set", "std", "--mono", "0.05", "--color", "0.2", "--media", "A3:0.1:0.4",
               "--default")[0] == 0
    listed = json.loads(run("prices", "list", "--json")[1])[0]
    assert listed["per_side_milli"]["*/mono"] == 5000 and listed["per_side_milli"]["A3/color"] == 40000
    assert run("prices", "quote", "--pages", "10", "--color-pages", "2")[1] == "0.80 EUR (std)\n"
    assert run("prices", "set", "x", "--mono", "0.0000001")[0] == 1


def test_rules_add_list_test_and_remove(run):
    assert run("rules", "add", "big", "--action", "deny", "--when", '{"pages": {"min": 50}}')[0] == 0
    assert run("rules", "add", "bad", "--action", "deny", "--when", '{"colour": true}')[2].startswith(
        "printgate: rule 'bad': unknown condition")
    assert run("rules", "add", "bad", "--action", "deny", "--when", "{not json")[0] == 1
    assert json.loads(run("rules", "list", "--json")[1])[0]["name"] == "big"
    code, out, _ = run("rules", "test", "big", "--since", "2026-01-01")
    assert code == 0 and "0 matched" in out
    assert run("rules", "test", "mono", "--action", "force-mono", "--when", '{"color": true}',
               "--since", "2026-01-01")[0] == 0
    assert run("rules", "disable", "big")[0] == 0
    assert run("rules", "remove", "big")[0] == 0
    assert json.loads(run("rules", "list", "--json")[1]) == []


def test_backup_and_restore_of_sqlite(run, tmp_path):
    run("users", "add", "alice", "--balance", "3.00")
    assert run("backup", "--to", str(tmp_path / "bk"))[0] == 0
    manifest = json.loads((tmp_path / "bk" / "MANIFEST.json").read_text())
    assert (manifest["engine"], manifest["revision"]) == ("sqlite", newest_revision())
    run("accounts", "topup", "alice", "100")
    assert run("backup", "--to", str(tmp_path / "bk"))[2].endswith("is not empty\n")
    assert run("backup", "--restore-from", str(tmp_path / "bk"))[0] == 0
    assert json.loads(run("accounts", "list", "--json")[1])[0]["balance"] == 300


def test_backup_while_another_connection_writes(run, tmp_path):
    import threading

    from accounting.core import open_core
    from accounting.database import sqlite_url

    run("users", "add", "alice")
    core = open_core(sqlite_url(run.data))
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            core.ledger.topup("alice", 1, actor="t")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert run("backup", "--to", str(tmp_path / "bk"))[0] == 0
    finally:
        stop.set()
        thread.join()
    core.database.dispose()
    from accounting.database import Database
    from accounting.ledger import Ledger

    copy = Database(f"sqlite:///{tmp_path / 'bk' / 'printgate.sqlite3'}")
    assert Ledger(copy).unbalanced_accounts() == []
    copy.dispose()
