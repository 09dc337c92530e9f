"""RAW's only "stored" is an orderly close: a gateway that dies or stops before a job is
recorded must reset the connection, so the sender knows the job was not kept."""
import signal
import socket
import sqlite3

import pytest

from tests.fixtures.gateway import GatewayProcess, start_gateway
from tests.fixtures.lpd_client import raw_print
from tests.fixtures.peers import free_port
from tests.fixtures.tcp_state import wait_until_read

pytestmark = pytest.mark.integration

JOB = b'\x1b%-12345X@PJL SET USERNAME="alice"\r\n\x1bEhello\x0c\x1bE'


def hold_database_write_lock(gateway):
    """Another process takes SQLite's write lock: the gateway's commits wait for it."""
    db = sqlite3.connect(gateway.data_dir / "printgate.sqlite3", timeout=30, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    return db


def test_a_job_read_but_not_recorded_when_the_gateway_is_killed_gets_a_reset_not_a_close(tmp_path):
    gateway = start_gateway(tmp_path)
    db = hold_database_write_lock(gateway)
    try:
        with socket.create_connection(("127.0.0.1", gateway.ports["raw"]), timeout=30) as sock:
            sock.sendall(JOB)
            sock.shutdown(socket.SHUT_WR)
            wait_until_read(sock, gateway.ports["raw"], half_closed=True)
            gateway.kill()
            with pytest.raises(ConnectionResetError):
                sock.recv(1)
    finally:
        db.close()
    restarted = GatewayProcess(data_dir=gateway.data_dir, ports={"lpd": free_port(), "raw": free_port()}).start()
    try:
        assert restarted.jobs() == []
        raw_print("127.0.0.1", restarted.ports["raw"], JOB)  # a stored job still gets its orderly close
        assert [job["owner"] for job in restarted.jobs()] == ["alice"]
    finally:
        restarted.stop()


def test_a_job_still_arriving_when_the_gateway_stops_gets_a_reset_not_a_close(tmp_path):
    gateway = start_gateway(tmp_path)
    with socket.create_connection(("127.0.0.1", gateway.ports["raw"]), timeout=30) as sock:
        sock.sendall(JOB[:20])
        wait_until_read(sock, gateway.ports["raw"], half_closed=False)
        assert gateway.stop(signal.SIGTERM) == 0
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    assert gateway.jobs() == []


def test_a_job_being_recorded_when_the_gateway_stops_is_kept_and_closed_in_order(tmp_path):
    gateway = start_gateway(tmp_path)
    db = hold_database_write_lock(gateway)
    with socket.create_connection(("127.0.0.1", gateway.ports["raw"]), timeout=30) as sock:
        sock.sendall(JOB)
        sock.shutdown(socket.SHUT_WR)
        wait_until_read(sock, gateway.ports["raw"], half_closed=True)
        gateway.process.send_signal(signal.SIGTERM)
        db.close()  # the commit goes through: the job is stored and its sender told so
        assert sock.recv(1) == b""
    assert gateway.process.wait(30) == 0
    assert [job["owner"] for job in gateway.jobs()] == ["alice"]
