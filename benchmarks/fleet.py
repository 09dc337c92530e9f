"""Fleet benchmark (issue 17): a discovery sweep of N addresses of which half are
simulated printers, against the time the configured rate allows, and a full status poll
of the printers (wall time and gateway CPU per device), beside net-snmp's
``snmpbulkget`` run over the same devices in parallel (the C floor).

    .venv/bin/python -m benchmarks.fleet [--addresses 1000] [--printers 500] [--coefficient 30]

snmpsim serves the printers from ``--simulators`` processes (one engine each, one
endpoint per address: 127.0.20.x and up, one port); the other addresses have nothing
listening. One snmpsim process answers a status GETBULK in ~6 ms of its CPU, so on a
shared machine one process cannot keep up with a sweep at 90 packets/s: the table's
last line shows each side's CPU. Before the sweep, the simulator alone is measured with
net-snmp's ``snmpbulkwalk`` (one process, many requests: no per-request process start,
which is what bounds the ``snmpbulkget`` floor). Goals: sweep wall ≤ 1.1 × packets / rate;
status poll ≤ 10 s wall and ≤ 2 ms of gateway CPU per device."""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from accounting.fleet.records import SnmpCredential
from spooler.snmp.client import Agent, SnmpClient
from spooler.snmp.discovery import Sweep
from spooler.snmp.rate import discovery_rate
from spooler.snmp.reads import read_status
from tests.fixtures.snmp_agents import PrinterSpec, SimulatedDevice, SnmpSimulator, free_udp_port, printer_records
from tests.fixtures.snmp_agents import _answers as answers

CREDENTIAL = SnmpCredential("bench", "2c", community="public")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def addresses(count: int) -> list[str]:
    first = int(ipaddress.IPv4Address("127.0.20.1"))
    return [str(ipaddress.IPv4Address(first + n)) for n in range(count)]


async def sweep(agents, rate, timeout):
    client = SnmpClient(timeout=timeout, retries=1)
    return await Sweep(client, [CREDENTIAL], rate=rate).run(agents)


async def poll(agents, concurrency):
    client = SnmpClient(timeout=5, retries=1)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(agent):
        async with semaphore:
            return await read_status(client, agent, CREDENTIAL)
    await one(agents[0])  # pysnmp's first-use set-up is not per device
    cpu, wall = time.process_time(), time.monotonic()
    results = await asyncio.gather(*(one(a) for a in agents[1:]), return_exceptions=True)
    return time.monotonic() - wall, time.process_time() - cpu, sum(1 for r in results if isinstance(r, Exception))


def simulator_alone(address: str, port: int, simulator) -> tuple[int, float, float]:
    """net-snmp's snmpbulkwalk of one simulated printer's whole MIB: (requests, wall, the
    simulator's CPU seconds)."""
    binary = shutil.which("snmpbulkwalk")
    cpu, wall = process_cpu(simulator.process.pid), time.monotonic()
    done = subprocess.run([binary, "-v2c", "-c", "public", "-Cr10", "-t", "5", "-r", "1", "-d", f"{address}:{port}",
                           "1.3.6.1"], capture_output=True, text=True)
    requests = (done.stdout + done.stderr).count("Sending ")
    return max(1, requests), time.monotonic() - wall, process_cpu(simulator.process.pid) - cpu


def wait_until_answering(addresses_, port: int, timeout: float = 300.0) -> float:
    """Seconds until each simulator (one address of each) answers a GET within 0.3 s: a
    simulator that fell behind still works through the requests the sweep queued."""
    started = time.monotonic()
    for address in addresses_:
        while not answers(address, port, "public") and time.monotonic() - started < timeout:
            time.sleep(0.5)
    return time.monotonic() - started


def bulkget_floor(agents, parallel):
    binary = shutil.which("snmpbulkget")
    script = "\n".join(f"{a.address}:{a.port}" for a in agents[1:])
    wall = time.monotonic()
    done = subprocess.run(
        ["xargs", "-P", str(parallel), "-I{}", binary, "-v2c", "-c", "public", "-t", "5", "-r", "1", "-Cn5", "-Cr10",
         "{}", "1.3.6.1.2.1.25.3.2.1.5.1", "1.3.6.1.2.1.25.3.5.1.1.1", "1.3.6.1.2.1.25.3.5.1.2.1",
         "1.3.6.1.2.1.43.10.2.1.3.1.1", "1.3.6.1.2.1.43.10.2.1.4.1.1", "1.3.6.1.2.1.43.18.1.1.2",
         "1.3.6.1.2.1.43.18.1.1.4", "1.3.6.1.2.1.43.18.1.1.6", "1.3.6.1.2.1.43.18.1.1.7", "1.3.6.1.2.1.43.18.1.1.8",
         "1.3.6.1.2.1.43.11.1.1.6", "1.3.6.1.2.1.43.11.1.1.8", "1.3.6.1.2.1.43.11.1.1.9"],
        input=script, text=True, capture_output=True)
    return time.monotonic() - wall, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--addresses", type=int, default=1000)
    parser.add_argument("--printers", type=int, default=500)
    parser.add_argument("--coefficient", type=float, default=30)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--simulators", type=int, default=4, help="snmpsim processes sharing the printers")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    port = free_udp_port()
    every = addresses(args.addresses)
    printers = every[:args.printers]
    started = time.monotonic()
    simulators = []
    for number in range(args.simulators):
        share = printers[number::args.simulators]
        simulators.append(SnmpSimulator(workdir / f"sim{number}", [SimulatedDevice(printer_records(PrinterSpec()),
                                                                                   [(a, port) for a in share])]))
    for simulator in simulators:
        simulator.start(timeout=600)
    print(f"snmpsim: {args.printers} printers in {args.simulators} process(es), started in "
          f"{time.monotonic() - started:.1f} s")

    def simulators_cpu() -> float:
        return sum(process_cpu(s.process.pid) for s in simulators)

    try:
        alone_requests, alone_wall, alone_cpu = simulator_alone(printers[0], port, simulators[0])
        agents = [Agent(a, port) for a in every]
        rate = discovery_rate(args.coefficient, 1)
        sim_cpu, own_cpu = simulators_cpu(), time.process_time()
        result = asyncio.run(sweep(agents, rate, args.timeout))
        sweep_sim_cpu, sweep_cpu = simulators_cpu() - sim_cpu, time.process_time() - own_cpu
        bound = result.packets / rate
        printer_agents = [Agent(a, port) for a in printers]
        drained = wait_until_answering(printers[:args.simulators], port)
        print(f"simulators answering promptly again {drained:.1f} s after the sweep (requests queued during it)")
        sim_cpu = simulators_cpu()
        poll_wall, poll_cpu, poll_errors = asyncio.run(poll(printer_agents, args.concurrency))
        poll_sim_cpu = simulators_cpu() - sim_cpu
        sim_cpu = simulators_cpu()
        floor_wall, floor_rc = bulkget_floor(printer_agents, args.concurrency)
        floor_sim_cpu = simulators_cpu() - sim_cpu
    finally:
        for simulator in simulators:
            simulator.stop()
        if not os.environ.get("FLEET_BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    polled = len(printer_agents) - 1
    print()
    print(f"| measure | Printgate | bound / C floor | ratio |")
    print(f"|---|---|---|---|")
    print(f"| sweep of {args.addresses} addresses ({len(result.printers)} printers found, {result.packets} packets at "
          f"{rate:g}/s) | {result.elapsed:.1f} s | {bound:.1f} s (packets / rate) | {result.elapsed / bound:.2f}x |")
    print(f"| status poll of {polled} printers, {args.concurrency} at once (wall) | {poll_wall:.2f} s "
          f"({poll_errors} errors) | {floor_wall:.2f} s snmpbulkget x{polled}, -P {args.concurrency} "
          f"(rc {floor_rc}) | {poll_wall / floor_wall:.2f}x |")
    print(f"| gateway CPU per polled device | {1000 * poll_cpu / polled:.2f} ms | goal 2 ms | |")
    if len(result.printers) < len(printers) or any(f.error for f in result.printers):
        print(f"\nNOT A VALID SWEEP: {len(result.printers)} of {len(printers)} printers answered the probe, "
              f"{sum(1 for f in result.printers if f.error)} information reads failed (the simulators fell behind: "
              "see their CPU below; more --simulators, a longer --timeout, or a quieter machine).")
    print()
    print(f"Simulator alone (snmpbulkwalk of one printer, -Cr10): {alone_requests} requests in {alone_wall:.2f} s, "
          f"snmpsim {1000 * alone_cpu / alone_requests:.1f} ms CPU per request")
    print(f"CPU seconds: sweep: client {sweep_cpu:.1f}, snmpsim {sweep_sim_cpu:.1f}; status poll: client "
          f"{poll_cpu:.1f}, snmpsim {poll_sim_cpu:.1f}; snmpbulkget run: snmpsim {floor_sim_cpu:.1f}. "
          f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")


if __name__ == "__main__":
    main()
