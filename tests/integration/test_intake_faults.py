"""Faults on a real gateway process: crashes, shutdown, a full disk, oversized jobs."""
import hashlib
import os
import signal
import socket
import subprocess
import time

import pytest

from tests.fixtures.gateway import GatewayProcess, start_gateway
from tests.fixtures.lpd_client import LpdRefused, lpd_print, lpd_stream_start, raw_print
from tests.fixtures.peers import free_port

pytestmark = pytest.mark.integration
MiB = 1 << 20


def spool_files(data_dir):
    return sorted(p.name for p in (data_dir / "spool" / "jobs").glob("*"))


def temporaries(data_dir):
    return sorted(p.name for p in (data_dir / "spool" / "tmp").glob("*"))


def test_kill_9_during_a_large_transfer_keeps_every_acknowledged_job_and_nothing_partial(tmp_path):
    gateway = start_gateway(tmp_path)
    acknowledged = {}
    for n in range(5):
        data = os.urandom(10_000 + n)
        lpd_print("127.0.0.1", gateway.ports["lpd"], data, user=f"user{n}", job=n)
        acknowledged[f"user{n}"] = hashlib.sha256(data).hexdigest()
    sock = lpd_stream_start("127.0.0.1", gateway.ports["lpd"], total=200 * MiB)
    block = os.urandom(MiB)
    for _ in range(60):
        sock.sendall(block)
    deadline = time.monotonic() + 10
    while not temporaries(gateway.data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert temporaries(gateway.data_dir), "the large job should be mid-receive"
    gateway.kill()
    sock.close()
    assert temporaries(gateway.data_dir)  # what the crash left behind

    restarted = GatewayProcess(data_dir=gateway.data_dir, ports={"lpd": free_port(), "raw": free_port()}).start()
    try:
        jobs = restarted.jobs()
        assert {job["owner"]: job["sha256"] for job in jobs} == acknowledged
        assert temporaries(gateway.data_dir) == []
        # Small jobs' bytes are kept in the database with their records, not as files.
        assert spool_files(gateway.data_dir) == []
        assert {job["owner"]: restarted.stored_sha256(job["spool_name"]) for job in jobs} == acknowledged
        assert "unfinished receive" in restarted.log()
    finally:
        restarted.stop()


def test_sigterm_exits_zero_and_discards_a_receive_in_progress(tmp_path):
    gateway = start_gateway(tmp_path)
    lpd_print("127.0.0.1", gateway.ports["lpd"], b"kept", user="kept")
    sock = lpd_stream_start("127.0.0.1", gateway.ports["lpd"], total=50 * MiB)
    sock.sendall(b"x" * MiB)
    time.sleep(0.3)
    assert gateway.stop(signal.SIGTERM) == 0
    sock.close()
    assert temporaries(gateway.data_dir) == []
    [kept] = gateway.jobs()
    assert gateway.stored_sha256(kept["spool_name"]) == hashlib.sha256(b"kept").hexdigest()
    assert "discarded 1 job" in gateway.log()


def test_a_job_over_the_configured_maximum_is_refused_with_a_negative_ack(tmp_path):
    gateway = start_gateway(tmp_path, config_text="[server]\nmax_job_size = 100000\n")
    try:
        with pytest.raises(LpdRefused):
            lpd_print("127.0.0.1", gateway.ports["lpd"], b"a" * 200_000)
        lpd_print("127.0.0.1", gateway.ports["lpd"], b"a" * 1000)
        assert len(gateway.jobs()) == 1
        assert "JobTooLarge" in gateway.log()
    finally:
        gateway.stop()


@pytest.fixture
def tiny_disk(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True)
    if result.returncode != 0:
        pytest.fail(f"mounting a tmpfs needs root: {result.stderr.decode().strip()}", pytrace=False)
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)])


def test_a_full_disk_mid_job_gives_a_negative_ack_and_the_gateway_keeps_serving(tmp_path, tiny_disk):
    gateway = GatewayProcess(data_dir=tiny_disk / "data", ports={"lpd": free_port(), "raw": free_port()}).start()
    try:
        with pytest.raises((LpdRefused, ConnectionError, socket.timeout)):
            lpd_print("127.0.0.1", gateway.ports["lpd"], os.urandom(5 * MiB), user="big")
        assert temporaries(gateway.data_dir) == []
        lpd_print("127.0.0.1", gateway.ports["lpd"], b"small job", user="small")
        raw_print("127.0.0.1", gateway.ports["raw"], b"\x1b%-12345X@PJL SET USERNAME=\"rawuser\"\n%!PS\n")
        assert sorted(job["owner"] for job in gateway.jobs()) == ["rawuser", "small"]
        assert "SpoolWriteError" in gateway.log()
    finally:
        gateway.stop()


def test_a_connection_with_malformed_framing_leaves_nothing_on_a_real_server(tmp_path):
    gateway = start_gateway(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", gateway.ports["lpd"]), timeout=10) as sock:
            sock.sendall(b"\x02secure\n")
            assert sock.recv(1) == b"\x00"
            sock.sendall(b"\x03twelve dfA001h\n")
            assert sock.recv(1) not in (b"", b"\x00")
            assert sock.recv(1) == b""  # closed
        assert gateway.jobs() == [] and temporaries(gateway.data_dir) == []
        assert "BadCount" in gateway.log()
    finally:
        gateway.stop()


def peak_rss_bytes(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def test_memory_stays_flat_while_a_large_job_streams_in(tmp_path):
    gateway = start_gateway(tmp_path)
    try:
        baseline = peak_rss_bytes(gateway.process.pid)
        sock = lpd_stream_start("127.0.0.1", gateway.ports["lpd"], total=400 * MiB)
        block = os.urandom(4 * MiB)
        for _ in range(100):
            sock.sendall(block)
        sock.sendall(b"\x00")
        assert sock.recv(1) == b"\x00"
        sock.close()
        [job] = gateway.jobs()
        assert job["size"] == 400 * MiB
        grown = peak_rss_bytes(gateway.process.pid) - baseline
        assert grown < 64 * MiB, f"the gateway grew by {grown / MiB:.0f} MiB for a 400 MiB job"
    finally:
        gateway.stop()
