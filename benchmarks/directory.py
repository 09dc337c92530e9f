"""Directory sync beside ``ldapsearch`` (the floor): a full sync of 5,000 and 50,000 users
(the first, into an empty database, and a repeat with nothing changed), and an
incremental sync after 500 entries changed; wall time and the peak RSS of the process
that syncs, each sync in a fresh process so its peak is its own.

    python3 benchmarks/directory.py            # 5,000 and 50,000 users (~3 min)
    python3 benchmarks/directory.py --quick    # 5,000 users only

The floor is OpenLDAP's own client dumping the same entries with the same attributes
over StartTLS with paged results of 1,000 (``ldapsearch -E pr=1000/noprompt``), people
and groups, output to /dev/null. Needs the Debian packages ``slapd`` and ``ldap-utils``.
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
sys.path.insert(0, str(ROOT))

from tests.fixtures.certificates import CertificateAuthority  # noqa: E402
from tests.fixtures.slapd import (  # noqa: E402
    GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, DirectoryData, SlapdServer, person_dn,
)

PAGE = 1000


def settings_for(uri: str, ca_file: str):
    from accounting.directory.settings import PRESETS

    return replace(PRESETS["openldap"], servers=(uri,), user_bases=(PEOPLE,), group_bases=(GROUPS,),
                   bind_dn=SERVICE_DN, ca_file=Path(ca_file), page_size=PAGE, timeout=60.0)


def child(args) -> None:
    """One sync in this process; prints {"seconds", "rss_mb", summary counts}."""
    from accounting.core import open_core
    from accounting.database import sqlite_url

    data_dir = Path(args.data_dir)
    core = open_core(sqlite_url(data_dir), data_dir=data_dir)
    core.secrets.set("directory/bind", SERVICE_PASSWORD)
    directory = core.attach_directory(settings_for(args.uri, args.ca_file), staging_dir=data_dir)
    started = time.perf_counter()
    summary = directory.sync.run(full=args.child == "full")
    seconds = time.perf_counter() - started
    core.database.dispose()
    print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "kind": summary.kind, "added": summary.added, "changed": summary.changed,
                      "unchanged": summary.unchanged, "read": summary.read}))


def run_child(kind: str, server: SlapdServer, data_dir: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--uri", server.uri, "--ca-file",
                           str(server.ca_file), "--data-dir", str(data_dir)], capture_output=True, text=True,
                          cwd=ROOT, timeout=1800)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ldapsearch_seconds(server: SlapdServer, runs: int = 2) -> float:
    from accounting.directory.settings import PRESETS

    attributes = PRESETS["openldap"].attributes
    env = dict(os.environ, LDAPTLS_CACERT=str(server.ca_file))
    best = None
    for _ in range(runs):
        started = time.perf_counter()
        for base, search_filter, names in ((PEOPLE, PRESETS["openldap"].user_filter, attributes.user_attributes()),
                                           (GROUPS, PRESETS["openldap"].group_filter, attributes.group_attributes())):
            with open(os.devnull, "wb") as sink:
                subprocess.run(["ldapsearch", "-x", "-ZZ", "-H", server.uri, "-D", SERVICE_DN, "-w", SERVICE_PASSWORD,
                                "-b", base, "-E", f"pr={PAGE}/noprompt", search_filter, *names],
                               stdout=sink, check=True, env=env, timeout=600)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def change_entries(server: SlapdServer, count: int) -> None:
    ldif = "".join(f"dn: {person_dn(f'user{n:05d}')}\nchangetype: modify\nreplace: cn\ncn: Changed {n}\n\n"
                   for n in range(1, count + 1))
    server.modify(ldif)


def measure(users: int, workdir: Path, authority: CertificateAuthority) -> dict:
    base = workdir / f"n{users}"
    base.mkdir()
    server = SlapdServer(base, authority, name="slapd")
    server.start(DirectoryData(users=users, passwords=0).write(base / "data.ldif"))
    try:
        floor = ldapsearch_seconds(server)
        data_dir = base / "gateway"
        data_dir.mkdir()
        first = run_child("full", server, data_dir)
        repeat = run_child("full", server, data_dir)
        change_entries(server, 500)
        incremental = run_child("incremental", server, data_dir)
        assert incremental["kind"] == "incremental" and incremental["changed"] == 500, incremental
        return {"users": users, "floor": floor, "first": first, "repeat": repeat, "incremental": incremental}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", choices=("full", "incremental"))
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
    workdir = Path(tempfile.mkdtemp(prefix="printgate-bench-directory-"))
    authority = CertificateAuthority.create(workdir / "ca")
    sizes = (5000,) if args.quick else (5000, 50000)
    try:
        results = [measure(n, workdir, authority) for n in sizes]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("| users | ldapsearch (floor) | first full sync | ratio | repeat full sync | ratio | "
          "incremental (500 changed) | peak RSS first / repeat / incr. |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['users']:,} | {r['floor']:.2f} s | {r['first']['seconds']:.2f} s | "
              f"{r['first']['seconds'] / r['floor']:.1f}x | {r['repeat']['seconds']:.2f} s | "
              f"{r['repeat']['seconds'] / r['floor']:.1f}x | {r['incremental']['seconds']:.2f} s | "
              f"{r['first']['rss_mb']:.0f} / {r['repeat']['rss_mb']:.0f} / {r['incremental']['rss_mb']:.0f} MB |")
    if len(results) == 2:
        small, large = results
        for key, name in (("first", "first full"), ("repeat", "repeat full"), ("incremental", "incremental")):
            print(f"peak RSS growth 5,000 -> 50,000 users ({name}): "
                  f"{large[key]['rss_mb'] - small[key]['rss_mb']:+.0f} MB (goal < 50 MB)")
    print("goals: full sync <= 2x ldapsearch; incremental <= 2 s")
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores, shared machine)")


if __name__ == "__main__":
    main()
