"""Chaos on a real gateway, run by hand (loopback only, bounded, cleans up after itself):

    python3 benchmarks/chaos.py kill [--cycles 20] [--clients 3]       # ~4 min
    python3 benchmarks/chaos.py fuzz [--seconds 120]                   # the time asked, + ~10 s
    python3 benchmarks/chaos.py all  [--cycles 20] [--seconds 120]

``kill``: LPD, RAW and IPP clients (``--clients`` of each) send jobs back to back, each job
with an owner of its own and random bytes, and record every acknowledgement (LPD's last
zero byte, RAW's orderly close, IPP's successful-ok). The gateway is killed with SIGKILL
at random moments ``--cycles`` times and started again on the same ports and data. At the
end every acknowledged job must be held, with its size and sha256 — recorded, and of the
bytes the spool gives back (decrypted from its file or database blob).

``fuzz``: for ``--seconds``, threads send mutated copies of valid requests (an LPD job, an
IPP Print-Job over HTTP, the same over TLS on the HTTPS port, a panel HTTP request, a RAW
job) while an honest client prints an LPD job every 50 ms beside them. It reports the
inputs tried, the tracebacks in the gateway's log, the honest client's acknowledgement
latency (p50, p99, worst) and the gateway's peak RSS.

The goals, printed with the results: 0 acknowledged jobs lost in 20 kill cycles; 0
tracebacks; honest p99 under fuzzing <= 1 s; peak RSS under 300 MB.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import random
import shutil
import socket
import sqlite3
import ssl
import statistics
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.gateway import GatewayProcess  # noqa: E402 - after the path: run as a script

GOAL_LOST = 0
GOAL_TRACEBACKS = 0
GOAL_P99 = 1.0
GOAL_RSS = 300 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the gateway ----------------------------------------------------------------------------

def peak_rss(gateway: GatewayProcess) -> int:
    for line in open(f"/proc/{gateway.process.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# -- clients --------------------------------------------------------------------------------

def document(owner: str, rng: random.Random) -> bytes:
    """A PJL-wrapped PCL job naming its owner (RAW learns it from PJL), of random size:
    mostly small (kept in the database), now and then 1-3 MiB (a spool file)."""
    size = rng.randint(3 << 20, 3 << 21) if rng.random() < 0.05 else rng.randint(200, 60_000)
    head = f'\x1b%-12345X@PJL SET USERNAME="{owner}"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE'.encode()
    return head + rng.randbytes(size) + b"\x1bE\x1b%-12345X"


def lpd_send(port: int, owner: str, data: bytes, *, timeout: float = 30.0, source: str | None = None) -> None:
    control = f"Hchaos\nP{owner}\nJ{owner}\nldfA001chaos\nUdfA001chaos\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as sock:
        for piece in (b"\x02secure\n", b"\x02%d cfA001chaos\n" % len(control), control + b"\x00",
                      b"\x03%d dfA001chaos\n" % len(data), data + b"\x00"):
            sock.sendall(piece)
            if sock.recv(1) != b"\x00":
                raise ConnectionError("negative acknowledgement")


def raw_send(port: int, data: bytes, *, timeout: float = 30.0) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):  # a reset raises: only an orderly close says "stored"
            pass


def _attribute(tag: int, name: str, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(name)) + name.encode() + struct.pack(">H", len(value)) + value


def ipp_print_job(port: int, owner: str, *, request_id: int = 1) -> bytes:
    return (struct.pack(">BBHI", 2, 0, 0x0002, request_id) + b"\x01"
            + _attribute(0x47, "attributes-charset", b"utf-8")
            + _attribute(0x48, "attributes-natural-language", b"en")
            + _attribute(0x45, "printer-uri", f"ipp://127.0.0.1:{port}/printers/secure".encode())
            + _attribute(0x42, "requesting-user-name", owner.encode())
            + _attribute(0x42, "job-name", owner.encode()) + b"\x03")


def ipp_send(port: int, owner: str, data: bytes, *, timeout: float = 30.0) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/printers/secure", body=ipp_print_job(port, owner) + data,
                           headers={"Content-Type": "application/ipp"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or len(body) < 4 or struct.unpack(">H", body[2:4])[0] >= 0x0100:
            raise ConnectionError(f"not stored: HTTP {response.status}, {body[:8].hex()}")
    finally:
        connection.close()


@dataclass
class Acknowledged:
    lock: threading.Lock = field(default_factory=threading.Lock)
    jobs: dict = field(default_factory=dict)  # owner -> (protocol, size, sha256)
    failures: int = 0

    def add(self, owner, protocol, data) -> None:
        with self.lock:
            self.jobs[owner] = (protocol, len(data), hashlib.sha256(data).hexdigest())


def sender(protocol: str, number: int, ports: dict, acknowledged: Acknowledged, stop: threading.Event,
           seed: int) -> None:
    rng = random.Random(seed)
    sequence = 0
    while not stop.is_set():
        sequence += 1
        owner = f"chaos-{protocol}-{number}-{sequence}"
        data = document(owner, rng)
        try:
            if protocol == "lpd":
                lpd_send(ports["lpd"], owner, data)
            elif protocol == "raw":
                raw_send(ports["raw"], data)
            else:
                ipp_send(ports["ipp"], owner, data)
        except (OSError, http.client.HTTPException):
            with acknowledged.lock:
                acknowledged.failures += 1
            stop.wait(0.05)  # the gateway is down, or was killed mid-job: try the next job
            continue
        acknowledged.add(owner, protocol, data)


# -- kill -9 cycles -----------------------------------------------------------------------------

def held_jobs(gateway: GatewayProcess) -> dict:
    """owner -> (size, recorded sha256, sha256 of the bytes the spool gives back)."""
    with sqlite3.connect(gateway.data_dir / "printgate.sqlite3") as db:
        rows = db.execute("SELECT owner, size, sha256, spool_name FROM jobs WHERE state = 'held'").fetchall()
    found = {}
    for owner, size, sha256, spool_name in rows:
        try:
            actual = gateway.stored_sha256(spool_name)
        except Exception as exc:  # noqa: BLE001 - reported as a mismatch
            actual = f"unreadable: {exc}"
        found[owner] = (size, sha256, actual)
    return found


def run_kills(work: Path, *, cycles: int, clients: int, seed: int) -> dict:
    ports = {"lpd": free_port(), "raw": free_port(), "ipp": free_port(), "https": 0}
    gateway = GatewayProcess(data_dir=work / "kill-data", ports=ports)
    gateway.start(timeout=120)
    acknowledged, stop = Acknowledged(), threading.Event()
    rng = random.Random(seed)
    threads = [threading.Thread(target=sender, args=(protocol, n, ports, acknowledged, stop, rng.random()),
                                daemon=True)
               for protocol in ("lpd", "raw", "ipp") for n in range(clients)]
    for thread in threads:
        thread.start()
    restarts = []
    try:
        for cycle in range(cycles):
            time.sleep(rng.uniform(0.5, 3.0))
            gateway.kill()
            started = time.monotonic()
            gateway.start(timeout=120)
            restarts.append(time.monotonic() - started)
            print(f"  kill {cycle + 1}/{cycles}: {len(acknowledged.jobs)} jobs acknowledged so far", flush=True)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        gateway.stop()
    held = held_jobs(gateway)
    lost = [owner for owner in acknowledged.jobs if owner not in held]
    wrong = [owner for owner, (_, size, sha256) in acknowledged.jobs.items()
             if owner in held and held[owner] != (size, sha256, sha256)]
    by_protocol = {p: sum(1 for proto, *_ in acknowledged.jobs.values() if proto == p) for p in ("lpd", "raw", "ipp")}
    return {"cycles": cycles, "acknowledged": by_protocol, "lost": lost, "wrong": wrong,
            "failed_attempts": acknowledged.failures, "restart_s": statistics.median(restarts) if restarts else 0.0,
            "tracebacks": gateway.log().count("Traceback")}


# -- fuzzing --------------------------------------------------------------------------------

def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits of ``data``: flipped bits, bytes replaced, inserted, deleted,
    a slice repeated, a cut, a length field made huge or zero."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not buffer:
            buffer += rng.randbytes(rng.randint(1, 64))
            continue
        at = rng.randrange(len(buffer))
        kind = rng.randrange(7)
        if kind == 0:
            buffer[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            buffer[at] = rng.choice((0, 0xFF, 0x7F, 0x80, 0x0A, 0x0D, 0x20, rng.randrange(256)))
        elif kind == 2:
            buffer[at:at] = rng.randbytes(rng.randint(1, 32))
        elif kind == 3:
            del buffer[at:at + rng.randint(1, 32)]
        elif kind == 4:
            end = min(len(buffer), at + rng.randint(1, 256))
            buffer[at:at] = buffer[at:end] * rng.randint(1, 8)
        elif kind == 5:
            del buffer[at:]
        else:
            buffer[at:at + 4] = rng.choice((b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"99999999", b"-1\r\n"))
    return bytes(buffer)


def seeds(ports: dict) -> dict:
    """Valid requests per target, the material mutations start from."""
    job = document("fuzz", random.Random(7))[:3000]
    control = b"Hfuzz\nPfuzz\nJfuzz\nldfA001fuzz\nUdfA001fuzz\nNfuzz\n"
    lpd = (b"\x02secure\n" + b"\x02%d cfA001fuzz\n" % len(control) + control + b"\x00"
           + b"\x03%d dfA001fuzz\n" % len(job) + job + b"\x00")
    lpd_other = [b"\x03secure\n", b"\x04secure fuzz 12\n", b"\x05secure fuzz 1 2\n", b"\x01secure\n"]
    ipp_body = ipp_print_job(ports["ipp"], "fuzz") + job
    ipp = (f"POST /printers/secure HTTP/1.1\r\nHost: 127.0.0.1:{ports['ipp']}\r\nContent-Type: application/ipp\r\n"
           f"Content-Length: {len(ipp_body)}\r\n\r\n").encode() + ipp_body
    chunked = (b"POST /ipp/print HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ipp\r\n"
               b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n") + \
        b"%x\r\n" % len(ipp_body) + ipp_body + b"\r\n0\r\n\r\n"
    panel = (b"GET /panel/launch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Printgate-HMAC device=x, ts=1, sig=AA\r\n"
             b"\r\n")
    panel_post = (b"POST /panel/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 27\r\n\r\nusername=alice&password=pw1")
    return {"lpd": [lpd] + lpd_other, "ipp": [ipp, chunked], "https": [ipp, chunked, panel, panel_post],
            "raw": [job]}


def fuzzer(target: str, ports: dict, stop: threading.Event, counts: dict, lock: threading.Lock, seed: int) -> None:
    rng = random.Random(seed)
    material = seeds(ports)[target]
    port = ports["lpd" if target == "lpd" else "raw" if target == "raw" else "https" if target == "https" else "ipp"]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    while not stop.is_set():
        data = mutate(rng.choice(material), rng)
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=1.0)
            if target == "https":
                sock = context.wrap_socket(sock, server_hostname="localhost")
            with sock:
                for start in range(0, len(data), 1400):  # in pieces, as a network delivers it
                    sock.sendall(data[start:start + 1400])
                if rng.random() < 0.5:
                    sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
        except (OSError, ssl.SSLError):
            pass
        with lock:
            counts[target] = counts.get(target, 0) + 1


def honest(port: int, stop: threading.Event, latencies: list, failures: list) -> None:
    rng = random.Random(3)
    sequence = 0
    while not stop.is_set():
        sequence += 1
        owner = f"honest-{sequence}"
        data = document(owner, rng)[:20_000]
        started = time.monotonic()
        try:
            lpd_send(port, owner, data, timeout=30.0, source="127.0.0.9")
            latencies.append(time.monotonic() - started)
        except OSError as exc:
            failures.append(str(exc))
        stop.wait(0.05)


def run_fuzz(work: Path, *, seconds: float, seed: int) -> dict:
    ports = {"lpd": free_port(), "raw": free_port(), "ipp": free_port(), "https": free_port()}
    gateway = GatewayProcess(data_dir=work / "fuzz-data", ports=ports)
    gateway.start(timeout=120)
    stop, lock, counts = threading.Event(), threading.Lock(), {}
    latencies, failures = [], []
    rng = random.Random(seed)
    threads = [threading.Thread(target=fuzzer, args=(target, ports, stop, counts, lock, rng.random()), daemon=True)
               for target in ("lpd",) * 4 + ("ipp",) * 4 + ("https",) * 3 + ("raw",)]
    threads.append(threading.Thread(target=honest, args=(ports["lpd"], stop, latencies, failures), daemon=True))
    for thread in threads:
        thread.start()
    try:
        time.sleep(seconds)
        rss = peak_rss(gateway)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        gateway.stop()
    log = gateway.log()
    ordered = sorted(latencies)
    return {"seconds": seconds, "inputs": counts, "tracebacks": log.count("Traceback"),
            "unhandled": log.count("Unhandled error"), "honest_jobs": len(latencies), "honest_failures": failures,
            "p50": ordered[len(ordered) // 2] if ordered else None,
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None,
            "worst": ordered[-1] if ordered else None, "rss": rss}


# -- report ---------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report_kills(result: dict) -> None:
    acknowledged = result["acknowledged"]
    lost, wrong = len(result["lost"]), len(result["wrong"])
    print("\nkill -9 cycles (LPD, RAW, IPP clients; every acknowledged job checked: present, size, sha256 of its "
          "stored bytes)")
    print(f"{'cycles':>6} {'acked LPD':>10} {'acked RAW':>10} {'acked IPP':>10} {'not acked':>10} {'lost':>5} "
          f"{'wrong':>6} {'restart':>8}  goal (0 lost in 20 cycles)")
    print(f"{result['cycles']:>6} {acknowledged['lpd']:>10} {acknowledged['raw']:>10} {acknowledged['ipp']:>10} "
          f"{result['failed_attempts']:>10} {lost:>5} {wrong:>6} {result['restart_s']:>7.1f}s  "
          f"{verdict(lost == GOAL_LOST and wrong == 0 and result['cycles'] >= 20)}")
    for owner in (result["lost"] + result["wrong"])[:20]:
        print(f"    lost or wrong: {owner}")


def report_fuzz(result: dict) -> None:
    inputs = result["inputs"]
    fmt = lambda value: "-" if value is None else f"{value * 1000:.0f} ms"  # noqa: E731
    print(f"\nfuzzing for {result['seconds']:.0f} s (mutated LPD, IPP, IPP+panel over TLS, RAW; an honest LPD client "
          "beside them)")
    print(f"{'inputs LPD':>10} {'IPP':>6} {'HTTPS':>6} {'RAW':>6} {'tracebacks':>10} {'honest jobs':>11} "
          f"{'p50':>7} {'p99':>7} {'worst':>7} {'peak RSS':>9}")
    print(f"{inputs.get('lpd', 0):>10} {inputs.get('ipp', 0):>6} {inputs.get('https', 0):>6} {inputs.get('raw', 0):>6} "
          f"{result['tracebacks']:>10} {result['honest_jobs']:>11} {fmt(result['p50']):>7} {fmt(result['p99']):>7} "
          f"{fmt(result['worst']):>7} {result['rss'] / 2**20:>7.0f} MB")
    p99 = result["p99"] if result["p99"] is not None else float("inf")
    print(f"  goals: 0 tracebacks {verdict(result['tracebacks'] == GOAL_TRACEBACKS)}; honest p99 <= 1 s "
          f"{verdict(p99 <= GOAL_P99)}; RSS < 300 MB {verdict(result['rss'] < GOAL_RSS)}; honest jobs refused: "
          f"{len(result['honest_failures'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("kill", "fuzz", "all"))
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--clients", type=int, default=3, help="clients per protocol in kill mode")
    parser.add_argument("--seconds", type=float, default=120.0, help="fuzzing time")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (data, gateway logs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="printgate-chaos-"))
    ok = True
    try:
        if args.mode in ("kill", "all"):
            result = run_kills(work, cycles=args.cycles, clients=args.clients, seed=args.seed)
            report_kills(result)
            ok = ok and not result["lost"] and not result["wrong"]
        if args.mode in ("fuzz", "all"):
            result = run_fuzz(work, seconds=args.seconds, seed=args.seed)
            report_fuzz(result)
            ok = ok and result["tracebacks"] == 0 and result["rss"] < GOAL_RSS and (
                result["p99"] is not None and result["p99"] <= GOAL_P99)
        print(f"\nload average: {os.getloadavg()[0]:.1f} (the machine may be shared); work directory: "
              f"{work if args.keep else 'removed'}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
