#!/usr/bin/env python3
"""Interleaved A/B of the gateway's intake: the same load against gateways started from
two (or more) source trees, taking turns, so a machine whose speed wanders treats every
variant alike.

    python3 benchmarks/ab_intake.py --tree with=/work/main --tree without=/tmp/plain \\
        [--rounds 6] [--duration 3] [--concurrency 1 8] [--protocols lpd raw ipp]

Run by hand, never by the tests. Each round starts a fresh gateway per tree (order ABBA,
then BAAB, ...) with its own data directory, runs ``load_client.py`` for each protocol and
concurrency, and stops it. It prints, per cell, every round's jobs/s and the gateway's CPU
per job, the means, and each tree's ratio to the first. A tree is run with this Python
(its venv) and ``PYTHONPATH`` set to the tree, so the compiled analyzer must be built in
it (``setup.py build_ext --inplace``) or copied there.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.cups_peer import free_port, stop_process  # noqa: E402
from benchmarks.intake import SMALL, cpu_seconds, run_client  # noqa: E402

HOST = "127.0.0.1"


class TreeGateway:
    def __init__(self, tree: Path, root: Path):
        self.tree, self.root = tree, root
        self.ports = {"lpd": free_port(), "raw": free_port(), "ipp": free_port()}
        self.proc = None

    def start(self, timeout: float = 60.0) -> "TreeGateway":
        self.root.mkdir(parents=True)
        log_path = self.root / "gateway.log"
        # Trees from before the application layer had its package ran ``-m spooler``.
        module = "gateway" if (self.tree / "gateway" / "__main__.py").exists() else "spooler"
        args = [sys.executable, "-m", module, "--data-dir", str(self.root / "data"), "serve", "--bind", HOST,
                "--https-port", "0"] + [arg for name, port in self.ports.items()
                                        for arg in (f"--{name}-port", str(port))]
        env = dict(os.environ, PYTHONPATH=str(self.tree))
        self.proc = subprocess.Popen(args, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.tree, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway from {self.tree} exited:\n{text[-3000:]}")
            if "Stop with Ctrl-C" in text:
                found = re.findall(r"^\s+(LPD|RAW|IPP)\s+listening on \S+ port (\d+)", text, re.M)
                assert {name.lower(): int(port) for name, port in found} == self.ports, text
                return self
            time.sleep(0.05)
        raise RuntimeError(f"gateway from {self.tree} did not start")

    def stop(self) -> None:
        stop_process(self.proc, 30.0)


def measure(gateway: TreeGateway, proto: str, concurrency: int, duration: float) -> tuple[float, float, int]:
    before = cpu_seconds([gateway.proc.pid])
    result = run_client(proto, gateway.ports[proto], size=SMALL, concurrency=concurrency, duration=duration)
    used = cpu_seconds([gateway.proc.pid]) - before
    jobs = result.get("jobs", 0)
    rate = jobs / result["elapsed"] if result.get("elapsed") else 0.0
    return rate, (used / jobs * 1000 if jobs else float("nan")), result.get("errors", 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--protocols", nargs="+", default=["lpd", "raw", "ipp"])
    args = parser.parse_args()
    trees = [(name, Path(path).resolve()) for name, _, path in (t.partition("=") for t in args.tree)]
    cells = [(proto, c) for proto in args.protocols for c in args.concurrency]
    rates = {(name, cell): [] for name, _ in trees for cell in cells}
    cpus = {(name, cell): [] for name, _ in trees for cell in cells}
    errors = 0
    with tempfile.TemporaryDirectory(prefix="printgate-ab-") as tmp:
        for round_number in range(args.rounds):
            order = trees if round_number % 2 == 0 else list(reversed(trees))
            for name, tree in order:
                gateway = TreeGateway(tree, Path(tmp) / f"{round_number}-{name}").start()
                try:
                    for cell in cells:
                        rate, cpu, failed = measure(gateway, *cell, args.duration)
                        rates[name, cell].append(rate)
                        cpus[name, cell].append(cpu)
                        errors += failed
                finally:
                    gateway.stop()
            print(f"round {round_number + 1}/{args.rounds} done (load average {os.getloadavg()[0]:.2f})",
                  file=sys.stderr, flush=True)
    first = trees[0][0]
    print(f"{'cell':<10} {'tree':<12} {'jobs/s per round':<48} {'mean':>7} {'ratio':>6} {'CPU ms/job':>10} {'ratio':>6}")
    for cell in cells:
        for name, _ in trees:
            mean_rate = statistics.fmean(rates[name, cell])
            mean_cpu = statistics.fmean(cpus[name, cell])
            base_rate = statistics.fmean(rates[first, cell])
            base_cpu = statistics.fmean(cpus[first, cell])
            rounds = " ".join(f"{r:.0f}" for r in rates[name, cell])
            print(f"{cell[0].upper()} c={cell[1]:<4} {name:<12} {rounds:<48} {mean_rate:>7.0f} "
                  f"{mean_rate / base_rate:>5.2f}x {mean_cpu:>10.3f} {mean_cpu / base_cpu:>5.2f}x")
    print(f"errors: {errors}; load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
