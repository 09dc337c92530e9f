#!/usr/bin/env python3
"""Intake benchmark: Printgate against a throwaway CUPS and a plain receive+fsync sink.

    python3 benchmarks/intake.py [--quick] [--no-profile] [--duration S]

Run by hand, never by the test suite. Everything is on 127.0.0.1, in one temp directory
that is removed at the end, with bounded durations; it stops by itself. In one run:

- Small jobs (10 KiB) per second at concurrency 1/8/16/64 (8 is where the issues measured
  the peers their goals are set against) with p50/p99 acknowledgement
  latency over LPD, RAW (and IPP when the gateway has an IPP listener), against:
  * the Printgate gateway (a ``python3 -m gateway serve`` subprocess with its own data dir;
    every job is fsynced before its acknowledgement),
  * a throwaway ``cupsd`` (own config/state/cache/spool dirs, raw queue ``bench`` to
    ``file:/dev/null``, jobs held), over IPP Print-Job and over LPD via ``cups-lpd`` run
    from an inetd-style wrapper (``benchmarks/cups_peer.py``); restarted empty before
    each of its cells, since it slows as its held queue grows (``--cupsd-keeps-jobs``
    keeps one cupsd for the whole run),
  * ``ippeveprinter`` over IPP,
  * a "receive to disk + fsync" sink (``benchmarks/fsync_sink.py``): the physical limit,
  * for RAW, the same sink on one Twisted asyncio reactor (``benchmarks/twisted_sink.py``):
    what the gateway's own framework reaches with none of the gateway's work; and the
    "Twisted+SQLite floor" (``twisted_sink.py --sqlite``): the gateway's shape (one reactor,
    one thread recording jobs in SQLite by group commit) with none of its work.
- Large jobs (200 MiB) in MB/s (10^6 bytes/s) over the same protocols, the targets of a
  protocol taking turns job by job, so that all of them meet the same (wandering) disk.
- A py-spy profile of the gateway under the small-job RAW and LPD loads (if py-spy is
  installed: ``pip install py-spy``), printed as the top functions.

The load client (``benchmarks/load_client.py``) is a separate asyncio process. cups-lpd
acknowledges a job before it hands it to cupsd, so its rows are timed until cupsd has
spooled every acknowledged job (its document file exists), not at the acknowledgement.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cups_peer import QUEUE as CUPS_QUEUE  # noqa: E402
from benchmarks.cups_peer import Cupsd, CupsLpd, IppEvePrinter, free_port, stop_process, wait_port  # noqa: E402

LOAD_CLIENT = str(ROOT / "benchmarks" / "load_client.py")
SMALL = 10 * 1024
LARGE = 200 * 1024 * 1024
HOST = "127.0.0.1"
CLK = os.sysconf("SC_CLK_TCK")


# -- targets ---------------------------------------------------------------------------

class Gateway:
    def __init__(self, root: Path):
        self.root = root
        self.data_dir = root / "data"
        self.ports = {"lpd": free_port(), "raw": free_port(), "ipp": free_port()}
        self.proc = None
        self.listening: dict[str, int] = {}
        self.log_path = root / "gateway.log"

    def start(self, timeout: float = 30.0) -> "Gateway":
        self.root.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "gateway", "--data-dir", str(self.data_dir), "serve", "--bind", HOST,
                "--lpd-port", str(self.ports["lpd"]), "--raw-port", str(self.ports["raw"]),
                "--ipp-port", str(self.ports["ipp"]), "--https-port", "0"]
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=ROOT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            text = self.log()
            if "Printgate is running" in text and "Stop with Ctrl-C" in text:
                for name, port in re.findall(r"^\s+(LPD|RAW|IPP|HTTPS)\s+listening on \S+ port (\d+)", text, re.M):
                    self.listening[name.lower()] = int(port)
                return self
            time.sleep(0.05)
        raise RuntimeError(f"gateway did not start in {timeout} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc, 30.0)


class Sink:
    """A sink script of this directory, run as its own process: ``fsync_sink.py`` (RAW and
    LPD, a thread per connection) or ``twisted_sink.py`` (RAW on one Twisted reactor)."""

    def __init__(self, root: Path, script: str = "fsync_sink.py", *, lpd: bool = True,
                 what: str = "fsync sink", options: tuple = ()):
        self.root = root
        self.script, self.what, self.options = script, what, list(options)
        self.raw_port = free_port()
        self.lpd_port = free_port() if lpd else None
        self.proc = None

    def start(self) -> "Sink":
        self.root.mkdir(parents=True, exist_ok=True)
        ports = [str(self.raw_port)] + ([str(self.lpd_port)] if self.lpd_port else [])
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / self.script), str(self.root / "files"), *ports, *self.options],
            stdout=subprocess.PIPE, stderr=open(self.root / "sink.err", "ab"), stdin=subprocess.DEVNULL, text=True,
            env=env)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{self.what} did not start")
        wait_port(self.lpd_port or self.raw_port, self.proc, 10, self.what)
        return self

    def stop(self) -> None:
        stop_process(self.proc)


def cpu_seconds(pids) -> float:
    """utime+stime of the processes and of their reaped children."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / CLK


def cupsd_spooled(cupsd: Cupsd) -> int:
    try:
        return sum(1 for e in os.scandir(cupsd.root / "spool") if e.name.startswith("d"))
    except OSError:
        return 0


# -- one measurement ------------------------------------------------------------------

def run_client(proto, port, *, size, concurrency=1, duration=3.0, large_jobs=0, queue="secure",
               resource="/printers/secure", printer_uri=None, timeout=None, document_format=None) -> dict:
    cmd = [sys.executable, LOAD_CLIENT, proto, HOST, str(port), "--size", str(size), "--queue", queue,
           "--resource", resource, "--concurrency", str(concurrency), "--duration", str(duration)]
    if printer_uri:
        cmd += ["--printer-uri", printer_uri]
    if document_format:
        cmd += ["--document-format", document_format]
    if large_jobs:
        cmd += ["--large", "--jobs", str(large_jobs), "--timeout", "300"]
    limit = timeout or (duration + 120 if not large_jobs else 300 * large_jobs + 60)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"jobs": 0, "errors": 1, "first_errors": [f"client timed out after {limit} s"], "elapsed": limit}
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"jobs": 0, "errors": 1, "first_errors": [f"client failed: {out.stderr.strip()[-300:]}"],
                "elapsed": 0}


class Bench:
    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.notes: list[str] = []
        self.gateway = self.sink = self.twisted_sink = self.sqlite_floor = self.cupsd = self.cups_lpd = self.eve = None
        self.gateway_ipp = None  # port when the gateway's IPP listener answers Print-Job
        self.profiles: dict[str, str] = {}

    # targets: name -> (proto, port, client kwargs, pids for CPU, kind)
    def start(self) -> None:
        self.gateway = Gateway(self.tmp / "gateway").start()
        self.sink = Sink(self.tmp / "sink").start()
        try:
            self.twisted_sink = Sink(self.tmp / "twisted-sink", "twisted_sink.py", lpd=False,
                                     what="Twisted sink").start()
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"Twisted sink not measured: {exc}")
        try:
            self.sqlite_floor = Sink(self.tmp / "twisted-sqlite-floor", "twisted_sink.py", lpd=False,
                                     what="Twisted+SQLite floor", options=("--sqlite",)).start()
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"Twisted+SQLite floor not measured: {exc}")
        try:
            self.cupsd = Cupsd(self.tmp / "cupsd").start()
            self.cups_lpd = CupsLpd(self.tmp / "cups-lpd", self.cupsd).start()
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"cupsd/cups-lpd not measured: {exc}")
            self.cupsd = self.cups_lpd = None
        try:
            self.eve = IppEvePrinter(self.tmp / "ippeveprinter").start()
        except Exception as exc:  # noqa: BLE001
            self.notes.append(f"ippeveprinter not measured: {exc}")
            self.eve = None
        ipp = self.gateway.listening.get("ipp")
        if not (ROOT / "spooler" / "ipp").is_dir():
            self.notes.append("gateway IPP: n/a (no spooler/ipp)")
        elif ipp is None:
            self.notes.append("gateway IPP: n/a (serve accepts --ipp-port but started no IPP listener)")
        else:
            probe = run_client("ipp", ipp, size=SMALL, duration=5, resource="/printers/secure", timeout=30)
            probe_ok = probe.get("jobs", 0) > 0 and not probe.get("errors")
            if probe_ok:
                self.gateway_ipp = ipp
            else:
                self.notes.append(f"gateway IPP: n/a (listener on {ipp} but Print-Job failed: "
                                  f"{(probe.get('first_errors') or ['?'])[0]})")

    def stop(self) -> None:
        for target in (self.eve, self.cups_lpd, self.cupsd, self.sqlite_floor, self.twisted_sink, self.sink,
                       self.gateway):
            if target is not None:
                try:
                    target.stop()
                except Exception as exc:  # noqa: BLE001
                    print(f"stopping {type(target).__name__}: {exc}", file=sys.stderr)

    def targets(self, proto: str):
        """(label, port, client kwargs, server pids, is cups-lpd)"""
        g, s = self.gateway, self.sink
        gw = [g.proc.pid]
        if proto == "lpd":
            yield "Printgate LPD", g.ports["lpd"], {"queue": "secure"}, gw, "gateway"
            if self.cups_lpd:
                yield "cupsd via cups-lpd", self.cups_lpd.port, {"queue": CUPS_QUEUE}, \
                    [self.cupsd.proc.pid, self.cups_lpd.proc.pid], "cups-lpd"
            yield "fsync sink LPD", s.lpd_port, {}, [s.proc.pid], "sink"
        elif proto == "raw":
            yield "Printgate RAW", g.ports["raw"], {}, gw, "gateway"
            yield "fsync sink RAW", s.raw_port, {}, [s.proc.pid], "sink"
            if self.twisted_sink:
                yield "Twisted floor RAW", self.twisted_sink.raw_port, {}, [self.twisted_sink.proc.pid], "floor"
            if self.sqlite_floor:
                yield "Twisted+SQLite floor", self.sqlite_floor.raw_port, {}, [self.sqlite_floor.proc.pid], "floor"
        else:
            yield "Printgate IPP", self.gateway_ipp, {"resource": "/printers/secure"}, gw, "gateway"
            if self.cupsd:
                yield "cupsd IPP (held)", self.cupsd.port, \
                    {"resource": f"/printers/{CUPS_QUEUE}", "printer_uri": self.cupsd.printer_uri}, \
                    [self.cupsd.proc.pid], "cupsd"
            if self.eve:
                yield "ippeveprinter IPP", self.eve.port, \
                    {"resource": "/ipp/print", "printer_uri": self.eve.printer_uri,
                     "document_format": "application/vnd.hp-PCL"}, [self.eve.proc.pid], "eve"

    def measure(self, proto, label, port, kwargs, pids, kind, *, concurrency) -> dict:
        """One small-job cell."""
        if port is None:
            return {"label": label, "kind": kind, "na": True, "concurrency": concurrency}
        pids = self.fresh_cupsd(kind, pids)
        before = cupsd_spooled(self.cupsd) if kind == "cups-lpd" else 0
        cpu0 = cpu_seconds(pids)
        r = run_client(proto, port, size=SMALL, concurrency=concurrency, duration=self.args.duration, **kwargs)
        if kind == "cups-lpd" and r.get("jobs"):
            r["acked_elapsed"] = r["elapsed"]
            r["spooled"], reached = self.wait_cupsd(before + r["jobs"], 60)
            r["spooled"] -= before
            r["elapsed"] = reached - r["t_start"]
            if r["spooled"] < r["jobs"]:
                r["first_errors"] = r.get("first_errors", []) + [f"cupsd spooled only {r['spooled']} of {r['jobs']}"]
                r["errors"] = r.get("errors", 0) + r["jobs"] - r["spooled"]
                r["jobs"] = r["spooled"]
        r.update(label=label, kind=kind, cpu=cpu_seconds(pids) - cpu0, concurrency=concurrency)
        return r

    def fresh_cupsd(self, kind, pids):
        """Before a cupsd cell: cupsd restarted with no jobs (unless --cupsd-keeps-jobs);
        returns the pids to measure, which the restart changed."""
        if kind not in ("cupsd", "cups-lpd") or self.args.cupsd_keeps_jobs or self.cupsd is None:
            return pids
        self.cupsd.restart_empty()
        return [self.cupsd.proc.pid] + ([self.cups_lpd.proc.pid] if kind == "cups-lpd" else [])

    def wait_cupsd(self, target: int, timeout: float):
        deadline = time.time() + timeout
        while True:
            count = cupsd_spooled(self.cupsd)
            now = time.time()
            if count >= target or now > deadline:
                return count, now
            time.sleep(0.005)

    def large_round_robin(self, proto, targets) -> list[dict]:
        """Large jobs taking turns: one job for each target in turn, ``large_jobs + 1``
        rounds, the first a warm-up, each job from a client process of its own. The disk
        here is shared and its speed wanders (one sink gave 370 to 940 MB/s within a
        minute): measured in turns, every target meets the same disk. A job's time ends
        at its acknowledgement (cups-lpd: when cupsd has spooled it)."""
        state = []
        for label, port, kwargs, pids, kind in targets:
            if port is None:
                state.append({"label": label, "kind": kind, "na": True, "proto": proto})
                continue
            pids = self.fresh_cupsd(kind, pids)
            state.append({"label": label, "kind": kind, "proto": proto, "port": port, "kwargs": kwargs,
                          "pids": pids, "client": kwargs.pop("client_proto", proto), "times": [],
                          "errors": [], "cpu": 0.0})
        for n in range(self.args.large_jobs + 1):
            for t in state:
                if t.get("na"):
                    continue
                before = cupsd_spooled(self.cupsd) if t["kind"] == "cups-lpd" else 0
                cpu0 = cpu_seconds(t["pids"])
                r = run_client(t["client"], t["port"], size=LARGE, large_jobs=1, **t["kwargs"])
                if not r.get("jobs"):
                    t["errors"] += r.get("first_errors") or ["failed"]
                    continue
                took = r["latencies"][0]
                if t["kind"] == "cups-lpd":
                    count, reached = self.wait_cupsd(before + 1, 120)
                    if count < before + 1:
                        t["errors"].append("cupsd did not spool the job within 120 s")
                        continue
                    took = reached - r["t_start"]
                t["cpu"] += cpu_seconds(t["pids"]) - cpu0
                if n > 0:
                    t["times"].append(took)
        rows = []
        for t in state:
            if t.get("na"):
                rows.append(t)
                continue
            st = sorted(t["times"])
            rows.append({"label": t["label"], "kind": t["kind"], "proto": proto, "jobs": len(st),
                         "errors": len(t["errors"]), "first_errors": t["errors"][:3], "size": LARGE,
                         "times": t["times"], "p50": st[len(st) // 2] if st else None,
                         "cpu": t["cpu"] / (self.args.large_jobs + 1)})
        return rows

    # -- workloads ---------------------------------------------------------------------

    def small(self, proto: str) -> list[dict]:
        rows = []
        for concurrency in self.args.concurrency:
            for label, port, kwargs, pids, kind in self.targets(proto):
                best = None
                for _ in range(self.args.repeat):  # best of N: the machine is shared
                    r = self.measure(proto, label, port, kwargs, pids, kind, concurrency=concurrency)
                    self.progress(r)
                    if best is None or (rate(r) or 0) > (rate(best) or 0):
                        best = r
                rows.append(best)
        return rows

    def large(self) -> list[dict]:
        rows = []
        for proto in ("lpd", "raw", "ipp"):
            # A target that keeps jobs in memory (the Twisted floor) has no large row.
            targets = [t for t in self.targets(proto) if t[4] != "floor"]
            if proto == "ipp":  # the IPP goal is set against the plain sink: it takes turns too
                targets.append(("fsync sink RAW (beside IPP)", self.sink.raw_port, {"client_proto": "raw"},
                                [self.sink.proc.pid], "sink"))
            for r in self.large_round_robin(proto, targets):
                rows.append(r)
                self.progress(r)
        return rows

    def progress(self, r) -> None:
        if r.get("na"):
            print(f"  .. {r['label']}: n/a", file=sys.stderr, flush=True)
            return
        print(f"  .. {r['label']} c={r.get('concurrency', 1)}: {r.get('jobs')} jobs in "
              f"{r.get('elapsed') or sum(r.get('times') or [0]):.2f} s"
              f"{' errors ' + str(r.get('first_errors')) if r.get('errors') else ''}", file=sys.stderr, flush=True)

    # -- profile ---------------------------------------------------------------------

    def profile(self) -> None:
        pyspy = shutil.which("py-spy")
        if not pyspy:
            self.notes.append("profile: py-spy not installed (pip install py-spy)")
            return
        duration = max(3, int(self.args.duration * 2))
        for proto in ("raw", "lpd"):
            for mode in ("wall", "gil"):
                out = self.tmp / f"profile-{proto}-{mode}.txt"
                cmd = [pyspy, "record", "-p", str(self.gateway.proc.pid), "-d", str(duration), "-r", "200",
                       "--format", "raw", "-o", str(out)] + (["--gil"] if mode == "gil" else [])
                spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                time.sleep(0.5)
                run_client(proto, self.gateway.ports[proto], size=SMALL, concurrency=16, duration=duration)
                try:
                    _, err = spy.communicate(timeout=duration + 60)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    _, err = spy.communicate()
                if out.exists():
                    self.profiles[(proto, mode)] = out.read_text()
                else:
                    self.notes.append(f"profile {proto} {mode}: py-spy failed: {err.strip()[-300:]}")


# -- report ------------------------------------------------------------------------------

def fmt_rate(r):
    if r.get("na"):
        return "n/a"
    if not r.get("jobs"):
        return "failed"
    return f"{r['jobs'] / r['elapsed']:.0f}" if r["elapsed"] else "?"


def rate(r):
    if not r or r.get("na") or not r.get("jobs") or not r.get("elapsed"):
        return None
    return r["jobs"] / r["elapsed"]


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def ms(v):
    return f"{v * 1000:.1f}" if v is not None else "-"


def print_table(title, header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(f"\n{title}")
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def small_table(proto, rows, goal):
    by = {(r["label"], r["concurrency"]): r for r in rows}
    sink_label = {"lpd": "fsync sink LPD", "raw": "fsync sink RAW", "ipp": "fsync sink RAW"}[proto]
    cups_label = {"lpd": "cupsd via cups-lpd", "raw": None, "ipp": "cupsd IPP (held)"}[proto]
    out = []
    for r in rows:
        c = r["concurrency"]
        sink = rate(by.get((sink_label, c))) if proto != "ipp" else rate(SINK_RAW_SMALL.get(c))
        cups = rate(by.get((cups_label, c))) if cups_label else None
        mine = rate(r)
        g = ""
        if r["kind"] == "gateway":
            g = goal(mine, sink, cups) if mine else "n/a"
        cpu = f"{r['cpu'] * 1000 / r['jobs']:.2f}" if r.get("jobs") and r.get("cpu") is not None else "-"
        err = str(r.get("errors", "")) if not r.get("na") else ""
        if r.get("first_errors"):
            FIRST_ERRORS.append(f"{r['label']} c={c}: {r['first_errors'][0]}")
        if r.get("busy_retries"):
            FIRST_ERRORS.append(f"{r['label']} c={c}: no error, but {r['busy_retries']} server-error-busy answers "
                                "retried after 1 ms (latency includes the retries)")
        out.append([r["label"], c, fmt_rate(r), ms(r.get("p50")), ms(r.get("p99")),
                    ratio(mine, sink), ratio(mine, cups) if cups_label else "-", cpu, err, g])
    return out


SINK_RAW_SMALL: dict = {}
LOAD_AT_START = None
FIRST_ERRORS: list = []


def goal_text(value, target, need):
    if value is None or target is None:
        return f"goal >= {need:.2f}x: -"
    x = value / target
    return f"goal >= {need:.2f}x: {x:.2f}x {'MET' if x >= need else 'NOT MET'}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short run: 1 s per cell, 1 large job")
    p.add_argument("--duration", type=float, default=None, help="seconds per small-job cell (default 3, quick 1)")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per small-job cell, best kept (default 2, quick 1): the machine is shared")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--cupsd-keeps-jobs", action="store_true",
                   help="do not restart cupsd empty before each of its cells (it slows as its held queue grows)")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (logs)")
    args = p.parse_args(argv)
    args.duration = args.duration or (1.0 if args.quick else 3.0)
    args.large_jobs = 1 if args.quick else 3
    args.repeat = args.repeat or (1 if args.quick else 2)
    args.concurrency = [1, 8, 16, 64]

    global LOAD_AT_START
    LOAD_AT_START = tuple(round(x, 2) for x in os.getloadavg())
    tmp = Path(tempfile.mkdtemp(prefix="printgate-bench-"))
    bench = Bench(args, tmp)
    t0 = time.time()
    try:
        print(f"temp dir {tmp}; starting gateway, fsync sink, cupsd, cups-lpd wrapper, ippeveprinter",
              file=sys.stderr, flush=True)
        bench.start()
        results = {}
        for proto in ("lpd", "raw"):
            print(f"small {proto.upper()}", file=sys.stderr, flush=True)
            results[proto] = bench.small(proto)
        for r in results["raw"]:
            if r["label"] == "fsync sink RAW":
                SINK_RAW_SMALL[r["concurrency"]] = r
        print("small IPP", file=sys.stderr, flush=True)
        results["ipp"] = bench.small("ipp")
        print("large", file=sys.stderr, flush=True)
        results["large"] = bench.large()
        if not args.no_profile:
            print("profile", file=sys.stderr, flush=True)
            bench.profile()
        report(bench, results, args, time.time() - t0)
    finally:
        bench.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(bench, results, args, total):
    import platform

    print(f"\nPrintgate intake benchmark  ({'quick' if args.quick else 'full'}: {args.duration:g} s per small-job cell, "
          f"best of {args.repeat}, "
          f"{args.large_jobs} large job(s) after 1 warm-up; {os.cpu_count()} CPUs; Python {platform.python_version()}; "
          f"wall {total:.0f} s)")
    print("Small jobs: 10 KiB PJL/PCL, c = concurrent clients; latency = connect .. acknowledgement; "
          "srv CPU = server-side CPU ms per job. The issues' peer figures were measured at c = 8.")
    header = ["target", "c", "jobs/s", "p50 ms", "p99 ms", "vs fsync sink", "vs cupsd", "srv CPU ms/job", "errors", "goal"]
    print_table("LPD small jobs (cupsd via cups-lpd: jobs/s timed until cupsd has spooled every acknowledged job; "
                "its p50/p99 are cups-lpd's acknowledgements, which come before cupsd has the job)", header,
                small_table("lpd", results["lpd"], lambda m, s, c: goal_text(m, c, 3.0) + " vs cupsd"))
    print_table("RAW small jobs", header,
                small_table("raw", results["raw"], lambda m, s, c: goal_text(m, s, 0.8) + " vs sink"))
    print_table("IPP Print-Job small jobs (keep-alive; 'vs fsync sink' = vs the RAW sink)", header,
                small_table("ipp", results["ipp"], lambda m, s, c: goal_text(m, c, 1.0) + " vs cupsd held"))

    print_large(results["large"])
    for r in results["large"]:
        if r.get("first_errors"):
            FIRST_ERRORS.append(f"{r['label']} large: {r['first_errors'][0]}")
    notes = bench.notes + [f"{e}" for e in FIRST_ERRORS]
    notes.append(f"load average at start {LOAD_AT_START}, at end {tuple(round(x, 2) for x in os.getloadavg())} "
                 "(the machine is shared: other work running at the same time skews every row)")
    if notes:
        print("\nNotes:")
        for n in notes:
            print(f"  - {n}")
    for (proto, mode), text in bench.profiles.items():
        print_profile(proto, mode, text)


def print_large(large):
    by = {r["label"]: r for r in large}
    sink_for = {"lpd": "fsync sink LPD", "raw": "fsync sink RAW", "ipp": "fsync sink RAW (beside IPP)"}
    cups_for = {"lpd": "cupsd via cups-lpd", "raw": None, "ipp": "cupsd IPP (held)"}
    rows = []
    for r in large:
        if r.get("na"):
            rows.append([r["label"], "n/a", "-", "-", "-", "-", "-", ""])
            continue
        mine = large_mbps(r)
        sink = large_mbps(by.get(sink_for[r["proto"]]))
        cups = large_mbps(by.get(cups_for[r["proto"]])) if cups_for[r["proto"]] else None
        g = goal_text(mine, sink, 0.7) + " vs sink" if r["kind"] == "gateway" else ""
        rows.append([r["label"], f"{mine:.0f}" if mine else "failed", ms(r.get("p50")), ratio(mine, sink),
                     ratio(mine, cups) if cups_for[r["proto"]] else "-",
                     f"{r['cpu']:.2f}", str(r.get("errors", 0)), g])
    print_table("Large jobs (200 MiB; MB/s = 10^6 B/s over the measured jobs, first job = warm-up not counted)",
                ["target", "MB/s", "p50 ms/job", "vs fsync sink", "vs cupsd", "srv CPU s/job", "errors", "goal"], rows)


def large_mbps(r):
    if not r or r.get("na") or not r.get("times"):
        return None
    return r["size"] * len(r["times"]) / sum(r["times"]) / 1e6


def print_profile(proto, mode, text, top=15):
    selfc, incl = collections.Counter(), collections.Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        selfc[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    what = ("samples of threads holding the GIL (Python CPU)" if mode == "gil"
            else "samples of non-idle threads, incl. blocked in fsync/sqlite")
    print(f"\nProfile of the gateway under small-job {proto.upper()} load, c=16, py-spy --{mode}: {total} {what}")
    print("  self %  function (file)")
    for f, n in selfc.most_common(top):
        print(f"  {100 * n / total:5.1f}  {f}")
    print("  incl %  function (file)  [inclusive, spooler/accounting/twisted frames only]")
    shown = 0
    for f, n in incl.most_common():
        if any(k in f for k in ("spooler/", "accounting/", "twisted/")) and shown < top:
            print(f"  {100 * n / total:5.1f}  {f}")
            shown += 1


if __name__ == "__main__":
    sys.exit(main())
