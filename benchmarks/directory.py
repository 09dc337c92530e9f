"""Directory sync beside ``ldapsearch`` (the floor): a full sync of 5,000 and 50,000 users
(the first, into an empty database, and a repeat with nothing changed), and an
incremental sync after 500 entries changed; wall time, CPU time and the peak RSS of the
process that syncs, each sync in a fresh process so its peak is its own.

    python3 benchmarks/directory.py                 # 5,000 and 50,000 users (~3 min)
    python3 benchmarks/directory.py --quick         # 5,000 users only
    python3 benchmarks/directory.py --sizes 50000 --rounds 3 \\
        --tree before=/tmp/printgate-before --tree after=.   # source trees side by side

The floor is OpenLDAP's own client dumping the same entries with the same attributes
over StartTLS with paged results of 1,000 (``ldapsearch -E pr=1000/noprompt``), people
and groups, output to /dev/null. Needs the Debian packages ``slapd`` and ``ldap-utils``.

The machine may be shared, and then wall times stretch with the load: the CPU columns
(the syncing process's own, plus what ``slapd`` spent answering it — the same two
counted for ``ldapsearch``) measure the work whatever the load. With ``--tree``, each
round runs every tree in turn (ABBA order) against the same ``slapd``, each tree's code
on this Python with ``PYTHONPATH`` set to the tree; the best round of each is shown (the
quickest wall time, and the least CPU).

Goals (issue 18): full sync <= 2x ldapsearch; incremental <= 2 s; peak RSS grows by
less than 50 MB from 5,000 to 50,000 users.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--child" in sys.argv:  # the child runs the code of the tree it was given
    sys.path.insert(0, sys.argv[sys.argv.index("--tree-path") + 1])
else:
    sys.path.insert(0, str(ROOT))

from tests.fixtures.certificates import CertificateAuthority  # noqa: E402
from tests.fixtures.slapd import (  # noqa: E402
    GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, DirectoryData, SlapdServer, person_dn,
)

PAGE = 1000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def settings_for(uri: str, ca_file: str):
    from accounting.directory.settings import PRESETS

    return replace(PRESETS["openldap"], servers=(uri,), user_bases=(PEOPLE,), group_bases=(GROUPS,),
                   bind_dn=SERVICE_DN, ca_file=Path(ca_file), page_size=PAGE, timeout=60.0)


def child(args) -> None:
    """One sync in this process; prints {"seconds", "cpu", "rss_mb", summary counts}."""
    from accounting.core import open_core
    from accounting.database import sqlite_url

    data_dir = Path(args.data_dir)
    core = open_core(sqlite_url(data_dir), data_dir=data_dir)
    core.secrets.set("directory/bind", SERVICE_PASSWORD)
    directory = core.attach_directory(settings_for(args.uri, args.ca_file), staging_dir=data_dir)
    started, cpu = time.perf_counter(), time.process_time()
    summary = directory.sync.run(full=args.child == "full")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    core.database.dispose()
    print(json.dumps({"seconds": seconds, "cpu": cpu,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "kind": summary.kind, "added": summary.added, "changed": summary.changed,
                      "unchanged": summary.unchanged, "read": summary.read}))


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_child(kind: str, server: SlapdServer, data_dir: Path, tree: Path) -> dict:
    before = process_cpu(server.process.pid)
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--tree-path", str(tree), "--uri", server.uri,
                           "--ca-file", str(server.ca_file), "--data-dir", str(data_dir)], capture_output=True,
                          text=True, cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), timeout=1800)
    if done.returncode:
        raise SystemExit(done.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu"] = process_cpu(server.process.pid) - before
    return result


def ldapsearch_run(server: SlapdServer) -> dict:
    from accounting.directory.settings import PRESETS

    attributes = PRESETS["openldap"].attributes
    env = dict(os.environ, LDAPTLS_CACERT=str(server.ca_file))
    server_before, own_before = process_cpu(server.process.pid), os.times()
    started = time.perf_counter()
    for base, search_filter, names in ((PEOPLE, PRESETS["openldap"].user_filter, attributes.user_attributes()),
                                       (GROUPS, PRESETS["openldap"].group_filter, attributes.group_attributes())):
        with open(os.devnull, "wb") as sink:
            subprocess.run(["ldapsearch", "-x", "-ZZ", "-H", server.uri, "-D", SERVICE_DN, "-w", SERVICE_PASSWORD,
                            "-b", base, "-E", f"pr={PAGE}/noprompt", search_filter, *names],
                           stdout=sink, check=True, env=env, timeout=600)
    seconds = time.perf_counter() - started
    own = os.times()
    cpu = (own.children_user - own_before.children_user) + (own.children_system - own_before.children_system)
    return {"seconds": seconds, "cpu": cpu, "server_cpu": process_cpu(server.process.pid) - server_before}


def change_entries(server: SlapdServer, count: int, tag: str) -> None:
    ldif = "".join(f"dn: {person_dn(f'user{n:05d}')}\nchangetype: modify\nreplace: cn\ncn: Changed {n} {tag}\n\n"
                   for n in range(1, count + 1))
    server.modify(ldif)


def best(runs: list[dict]) -> dict:
    """The quickest run, with the least CPU of any run (the two may differ on a busy
    machine; each is the best estimate of its own kind)."""
    quickest = dict(min(runs, key=lambda r: r["seconds"]))
    least = min(runs, key=lambda r: r["cpu"] + r["server_cpu"])
    quickest["cpu"], quickest["server_cpu"] = least["cpu"], least["server_cpu"]
    return quickest


def measure(users: int, workdir: Path, authority: CertificateAuthority, trees: dict, rounds: int) -> dict:
    base = workdir / f"n{users}"
    base.mkdir()
    server = SlapdServer(base, authority, name="slapd")
    server.start(DirectoryData(users=users, passwords=0).write(base / "data.ldif"))
    results = {name: {"first": [], "repeat": [], "incremental": []} for name in trees}
    floors = []
    try:
        for round_number in range(rounds):
            order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
            floors.append(ldapsearch_run(server))
            for name in order:
                data_dir = base / f"{name}-{round_number}"
                data_dir.mkdir()
                results[name]["first"].append(run_child("full", server, data_dir, trees[name]))
                results[name]["repeat"].append(run_child("full", server, data_dir, trees[name]))
                change_entries(server, 500, f"{name}-{round_number}")
                incremental = run_child("incremental", server, data_dir, trees[name])
                assert incremental["kind"] == "incremental" and incremental["changed"] == 500, incremental
                results[name]["incremental"].append(incremental)
            floors.append(ldapsearch_run(server))
    finally:
        server.stop()
    return {"users": users, "floor": best(floors),
            "trees": {name: {kind: best(runs) for kind, runs in kinds.items()} for name, kinds in results.items()}}


def print_tables(results: list[dict], trees: dict) -> None:
    print("| users | tree | ldapsearch (floor) | first full sync | ratio | repeat full sync | ratio | "
          "incremental (500 changed) | peak RSS first / repeat / incr. |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        floor = r["floor"]
        for name in trees:
            t = r["trees"][name]
            print(f"| {r['users']:,} | {name} | {floor['seconds']:.2f} s | {t['first']['seconds']:.2f} s | "
                  f"{t['first']['seconds'] / floor['seconds']:.1f}x | {t['repeat']['seconds']:.2f} s | "
                  f"{t['repeat']['seconds'] / floor['seconds']:.1f}x | {t['incremental']['seconds']:.2f} s | "
                  f"{t['first']['rss_mb']:.0f} / {t['repeat']['rss_mb']:.0f} / {t['incremental']['rss_mb']:.0f} MB |")
    print()
    print("CPU seconds, client + slapd (the work, whatever the load):")
    print("| users | tree | ldapsearch + slapd | first full sync | ratio | repeat full sync | ratio | incremental |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        floor = r["floor"]
        floor_total = floor["cpu"] + floor["server_cpu"]

        def total(run):
            return run["cpu"] + run["server_cpu"]

        for name in trees:
            t = r["trees"][name]
            print(f"| {r['users']:,} | {name} | {floor['cpu']:.2f} + {floor['server_cpu']:.2f} s | "
                  f"{t['first']['cpu']:.2f} + {t['first']['server_cpu']:.2f} s | {total(t['first']) / floor_total:.1f}x | "
                  f"{t['repeat']['cpu']:.2f} + {t['repeat']['server_cpu']:.2f} s | "
                  f"{total(t['repeat']) / floor_total:.1f}x | "
                  f"{t['incremental']['cpu']:.2f} + {t['incremental']['server_cpu']:.2f} s |")
    if len(results) == 2:
        small, large = results
        for name in trees:
            for key, label in (("first", "first full"), ("repeat", "repeat full"), ("incremental", "incremental")):
                growth = large["trees"][name][key]["rss_mb"] - small["trees"][name][key]["rss_mb"]
                print(f"{name}: peak RSS growth {small['users']:,} -> {large['users']:,} users ({label}): "
                      f"{growth:+.0f} MB (goal < 50 MB)")
    print("goals: full sync <= 2x ldapsearch; incremental <= 2 s")
    print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, shared machine)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5,000 users only")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                        help="a source tree to run (repeat for several; default: this one)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", choices=("full", "incremental"))
    parser.add_argument("--tree-path")
    parser.add_argument("--uri")
    parser.add_argument("--ca-file")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for tool in ("/usr/sbin/slapd", "ldapsearch"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install -y --no-install-recommends slapd ldap-utils")
    trees = {name: Path(path).resolve() for name, path in (t.split("=", 1) for t in args.tree)} or {"this": ROOT}
    sizes = args.sizes or ((5000,) if args.quick else (5000, 50000))
    workdir = Path(tempfile.mkdtemp(prefix="printgate-bench-directory-"))
    authority = CertificateAuthority.create(workdir / "ca")
    try:
        results = [measure(n, workdir, authority, trees, args.rounds) for n in sizes]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_tables(results, trees)


if __name__ == "__main__":
    main()
