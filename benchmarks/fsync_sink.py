"""The physical limit for the intake benchmark: a plain "receive to disk + fsync" loopback
sink, run as its own process (``python3 benchmarks/fsync_sink.py DIR RAW_PORT LPD_PORT``).

- RAW: receive until the client half-closes, writing to a new file as bytes arrive;
  fsync, close the file, then close the connection (the client's acknowledgement).
- LPD: the minimum of RFC 1179 for one job per connection: ``\\x02queue\\n`` (ack), then
  ``\\x02``/``\\x03`` receive-file subcommands (ack), each file's bytes + zero byte (ack);
  data files go to a file which is fsynced before their final ack. Control files are read
  and dropped.

One thread per connection (fsync releases the GIL, so concurrent fsyncs overlap). Small
files are kept (like held jobs); files over 1 MiB are unlinked after the acknowledgement.
That keeps the sink at its best: a sink that kept its 200 MiB files wrote the next one at
about 280 MB/s instead of 750-950 here, most of its CPU in the kernel copying into page
cache pages not used before (probably the VM's host backing guest memory on first
touch); an unlinked file's pages are the ones the next file gets. Prints "ready" when listening; stops on SIGTERM.
"""
from __future__ import annotations

import itertools
import os
import signal
import socket
import sys
import threading

CHUNK = 256 * 1024
BIG = 1 << 20
_counter = itertools.count()


def _new_file(directory: str):
    path = os.path.join(directory, f"job{next(_counter):09d}")
    return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _write_all(fd: int, view) -> None:
    while view:
        n = os.write(fd, view)
        view = view[n:]


def handle_raw(conn: socket.socket, directory: str) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    path, fd = _new_file(directory)
    size = 0
    try:
        while True:
            n = conn.recv_into(buf)
            if not n:
                break
            _write_all(fd, view[:n])
            size += n
        os.fsync(fd)
    finally:
        os.close(fd)
    conn.close()
    if size > BIG:
        os.unlink(path)


def _read_line(conn: socket.socket, pending: bytearray) -> bytes | None:
    while True:
        i = pending.find(b"\n")
        if i >= 0:
            line = bytes(pending[:i])
            del pending[: i + 1]
            return line
        chunk = conn.recv(4096)
        if not chunk:
            return None
        pending += chunk


def handle_lpd(conn: socket.socket, directory: str) -> None:
    pending = bytearray()
    line = _read_line(conn, pending)
    if not line or line[:1] != b"\x02":
        conn.close()
        return
    conn.sendall(b"\x00")
    buf = bytearray(CHUNK)
    big: list[str] = []
    while True:
        line = _read_line(conn, pending)
        if not line:
            break
        code = line[:1]
        if code not in (b"\x02", b"\x03"):
            conn.sendall(b"\x01")
            break
        length = int(line[1:].split(b" ", 1)[0])
        conn.sendall(b"\x00")
        remaining = length + 1  # the file and its terminating zero byte
        fd = None
        if code == b"\x03":
            path, fd = _new_file(directory)
        try:
            if pending:
                take = min(len(pending), remaining)
                if fd is not None:
                    _write_all(fd, memoryview(pending)[: min(take, length)])
                del pending[:take]
                remaining -= take
            written = length + 1 - remaining
            view = memoryview(buf)
            while remaining:
                n = conn.recv_into(buf, min(CHUNK, remaining))
                if not n:
                    raise ConnectionError("short file")
                if fd is not None:
                    data_part = max(0, min(n, length - written))
                    if data_part:
                        _write_all(fd, view[:data_part])
                written += n
                remaining -= n
            if fd is not None:
                os.fsync(fd)
        finally:
            if fd is not None:
                os.close(fd)
        if fd is not None and length > BIG:
            big.append(path)
        conn.sendall(b"\x00")
    conn.close()
    for path in big:
        os.unlink(path)


def serve(port: int, handler, directory: str) -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)

    def run(conn):
        try:
            handler(conn, directory)
        except Exception as exc:  # noqa: BLE001 - a benchmark sink: report and go on
            print(f"{handler.__name__}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            conn.close()

    def accept_loop():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return listener


def main() -> None:
    directory, raw_port, lpd_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(directory, exist_ok=True)
    serve(raw_port, handle_raw, directory)
    serve(lpd_port, handle_lpd, directory)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass


if __name__ == "__main__":
    main()
