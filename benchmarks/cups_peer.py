"""Throwaway CUPS peers for the intake benchmark, all on loopback and all in a temp dir:

- ``Cupsd``: a private ``cupsd -f`` with its own config/state/cache/spool/log directories
  and one raw queue ``bench`` to ``file:/dev/null`` whose jobs are held
  (``job-hold-until-default=indefinite``), so the benchmark measures intake, not printing.
- ``CupsLpd``: an inetd-style wrapper (``python3 benchmarks/cups_peer.py lpd-inetd ...``)
  that accepts on a loopback port and runs ``/usr/lib/cups/daemon/cups-lpd`` per
  connection with the socket as stdin/stdout and ``CUPS_SERVER`` pointing at the cupsd.
- ``IppEvePrinter``: ``ippeveprinter`` with a private ``dbus-daemon --session`` and ``-r off``.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

CUPS_LPD = "/usr/lib/cups/daemon/cups-lpd"
QUEUE = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


CUPSD_CONF = """\
LogLevel warn
AccessLogLevel config
MaxLogSize 0
Listen 127.0.0.1:{port}
Browsing No
BrowseLocalProtocols none
DefaultShared Yes
WebInterface No
DefaultAuthType Basic
MaxClients 2000
MaxClientsPerHost 2000
MaxJobs 0
MaxJobsPerPrinter 0
MaxJobsPerUser 0
MaxActiveJobs 0
MaxHoldTime 0
PreserveJobHistory No
PreserveJobFiles No
Timeout 120
KeepAlive On
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """\
ServerRoot {root}/conf
RequestRoot {root}/spool
TempDir {root}/spool/tmp
CacheDir {root}/cache
StateDir {root}/state
DataDir /usr/share/cups
ServerBin /usr/lib/cups
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
FileDevice Yes
Sandboxing Relaxed
SystemGroup root
"""

PRINTERS_CONF = """\
<Printer {queue}>
PrinterId 1
Info Printgate benchmark raw queue
DeviceURI file:/dev/null
State Idle
StateTime 0
Type 8400900
Accepting Yes
Shared Yes
JobSheets none none
QuotaPeriod 0
PageLimit 0
KLimit 0
OpPolicy default
ErrorPolicy stop-printer
</Printer>
"""


class Cupsd:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def printer_uri(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/printers/{QUEUE}"

    def start(self, timeout: float = 20.0) -> "Cupsd":
        for sub in ("conf", "conf/ppd", "conf/ssl", "spool/tmp", "cache", "state/certs", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "spool/tmp", 0o1777)
        conf = self.root / "conf"
        (conf / "cupsd.conf").write_text(CUPSD_CONF.format(port=self.port))
        (conf / "cups-files.conf").write_text(CUPS_FILES_CONF.format(root=self.root))
        (conf / "printers.conf").write_text(PRINTERS_CONF.format(queue=QUEUE))
        for name in ("raw.convs", "raw.types"):
            if Path("/etc/cups", name).exists():
                shutil.copy(Path("/etc/cups", name), conf / name)
        log = open(self.root / "log/cupsd.out", "ab")
        self.proc = subprocess.Popen(
            ["/usr/sbin/cupsd", "-f", "-c", str(conf / "cupsd.conf"), "-s", str(conf / "cups-files.conf")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            wait_port(self.port, self.proc, timeout, "cupsd")
            # Hold every job: intake is measured, printing is not.
            subprocess.run(
                ["lpadmin", "-h", self.server, "-p", QUEUE, "-o", "job-hold-until-default=indefinite"],
                check=True, capture_output=True, timeout=30, env=dict(os.environ, CUPS_SERVER=self.server),
            )
        except Exception:
            self.stop()
            raise RuntimeError(f"cupsd failed to start; see {self.root}/log") from None
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def restart_empty(self) -> None:
        """Stop, drop every job it holds (spool, job cache), start again on the same port:
        cupsd keeps its jobs in memory and slows as its held queue grows (measured: from
        about 1,300 to about 400 jobs/s after some 20,000 held jobs), so each cell starts it
        empty, as the issues' peer figure was taken."""
        self.stop()
        for sub in ("spool", "cache", "state"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        self.start()


class CupsLpd:
    """The inetd-style wrapper, run as its own process (so its accept/spawn loop does not
    share a core with the load client)."""

    def __init__(self, root: Path, cupsd: Cupsd):
        self.root = Path(root)
        self.cupsd = cupsd
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "CupsLpd":
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "cups-lpd-inetd.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "lpd-inetd", str(self.port), self.cupsd.server],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_port(self.port, self.proc, timeout, "cups-lpd wrapper")
        return self

    def stop(self) -> None:
        stop_process(self.proc)


def lpd_inetd(port: int, cups_server: str) -> None:
    """accept() on 127.0.0.1:port; per connection spawn cups-lpd with the socket as
    stdin/stdout (what inetd does with ``nowait``); reap children as they exit."""
    env = dict(os.environ, CUPS_SERVER=cups_server)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    running = True

    def stop(*_):
        nonlocal running
        running = False
        listener.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_WRONLY)
    while running:
        try:
            conn, _ = listener.accept()
        except OSError:
            break
        fd = conn.fileno()
        try:
            os.posix_spawn(CUPS_LPD, [CUPS_LPD, "-o", "document-format=application/octet-stream"], env,
                           file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, fd, 1),
                                         (os.POSIX_SPAWN_DUP2, devnull, 2)])
        except OSError as exc:
            print(f"spawn failed: {exc}", flush=True)
        conn.close()
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass


class IppEvePrinter:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.dbus: subprocess.Popen | None = None

    @property
    def printer_uri(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/ipp/print"

    def start(self, timeout: float = 20.0) -> "IppEvePrinter":
        spool = self.root / "spool"
        spool.mkdir(parents=True, exist_ok=True)
        self.dbus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nosyslog", "--print-address=1",
             f"--address=unix:path={self.root}/dbus.sock"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        )
        address = self.dbus.stdout.readline().strip()
        # avahi-client wants a system bus too: give it the private one (PEERS.md: -r off).
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address, DBUS_SYSTEM_BUS_ADDRESS=address)
        log = open(self.root / "ippeveprinter.log", "ab")
        self.proc = subprocess.Popen(
            ["ippeveprinter", "-p", str(self.port), "-d", str(spool), "-f", "application/octet-stream,application/vnd.hp-PCL",
             "-c", "/bin/true", "-r", "off", "bench"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
        try:
            wait_port(self.port, self.proc, timeout, "ippeveprinter")
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        stop_process(self.dbus)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "lpd-inetd":
        lpd_inetd(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: cups_peer.py lpd-inetd PORT CUPS_SERVER")
