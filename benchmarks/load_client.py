"""The lean load client of the intake benchmark, run as its own process so it does not
share an interpreter with any server:

    python3 benchmarks/load_client.py PROTO HOST PORT --size N --concurrency C
        --duration S --max-jobs M [--queue Q] [--resource /printers/x]

PROTO is ``raw``, ``lpd`` or ``ipp``. Small jobs: asyncio with bare Protocols, C workers
each sending jobs back to back until the duration is up (one connection per job for
RAW/LPD, one HTTP/1.1 keep-alive connection per worker for IPP). ``--large`` sends
``--jobs`` jobs of ``--size`` bytes one after another with blocking sockets (no copies of
the payload). Prints one JSON line: jobs, errors, elapsed, latencies (p50/p99, seconds).

The acknowledgement a latency ends at: RAW, the server closing the connection after the
client's half-close; LPD, the zero byte after the data file; IPP, the whole Print-Job
response (status successful-ok*).
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import struct
import sys
import time

USER = "bench"


def make_document(size: int) -> bytes:
    """A PJL-wrapped PCL 5 text job of exactly ``size`` bytes (what the analyzer sees on a
    real queue); the owner is named in PJL so RAW jobs have one."""
    head = (b"\x1b%-12345X@PJL JOB NAME=\"bench\"\r\n@PJL SET USERNAME=\"bench\"\r\n"
            b"@PJL ENTER LANGUAGE=PCL\r\n\x1bE")
    tail = b"\x0c\x1bE\x1b%-12345X@PJL EOJ\r\n\x1b%-12345X"
    line = b"Printgate intake benchmark line of text 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
    page = line * 60 + b"\x0c"
    body_len = max(0, size - len(head) - len(tail))
    body = (page * (body_len // len(page) + 1))[:body_len]
    return (head + body + tail)[:size] if size >= len(head) + len(tail) else (b"x" * size)


# -- IPP -----------------------------------------------------------------------------

def _attr(tag: int, name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return struct.pack(">BH", tag, len(n)) + n + struct.pack(">H", len(v)) + v


def ipp_print_job_header(printer_uri: str, request_id: int, job_name: str = "bench",
                         document_format: str = "application/octet-stream") -> bytes:
    return (struct.pack(">BBHI", 1, 1, 0x0002, request_id) + b"\x01"
            + _attr(0x47, "attributes-charset", "utf-8")
            + _attr(0x48, "attributes-natural-language", "en")
            + _attr(0x45, "printer-uri", printer_uri)
            + _attr(0x42, "requesting-user-name", USER)
            + _attr(0x42, "job-name", job_name)
            + _attr(0x49, "document-format", document_format)
            + b"\x03")


def http_post_head(host_port: str, resource: str, length: int) -> bytes:
    return (f"POST {resource} HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/ipp\r\n"
            f"Content-Length: {length}\r\nConnection: keep-alive\r\n\r\n").encode()


class HttpResponseParser:
    """Just enough HTTP/1.1 response parsing: Content-Length or chunked bodies."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes):
        """Returns (status, body, close) once a whole response is buffered, else None."""
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for h in head[1:]:
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        close = headers.get("connection", "").lower() == "close"
        pos = end + 4
        if status == 100:
            del self.buf[:pos]
            return self.feed(b"")
        if "content-length" in headers:
            n = int(headers["content-length"])
            if len(self.buf) - pos < n:
                return None
            body = bytes(self.buf[pos:pos + n])
            del self.buf[:pos + n]
            return status, body, close
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            p = pos
            while True:
                e = self.buf.find(b"\r\n", p)
                if e < 0:
                    return None
                size = int(bytes(self.buf[p:e]).split(b";")[0], 16)
                if size == 0:
                    t = self.buf.find(b"\r\n\r\n", e)  # no trailers expected
                    if t < 0:
                        return None
                    del self.buf[:t + 4]
                    return status, bytes(body), close
                if len(self.buf) < e + 2 + size + 2:
                    return None
                body += self.buf[e + 2:e + 2 + size]
                p = e + 2 + size + 2
        return status, b"", True  # no length: not expected from these servers


IPP_BUSY = 0x0507  # server-error-busy


def ipp_ok(status: int, body: bytes) -> bool:
    return status == 200 and len(body) >= 4 and struct.unpack(">H", body[2:4])[0] < 0x0100


# -- small jobs (asyncio) -----------------------------------------------------------

class JobFailed(Exception):
    pass


class RawJob(asyncio.Protocol):
    def __init__(self, data, done):
        self.data, self.done = data, done

    def connection_made(self, transport):
        transport.write(self.data)
        transport.write_eof()

    def data_received(self, data):
        pass

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        if not self.done.done():
            if exc:
                self.done.set_exception(exc)
            else:
                self.done.set_result(None)


class LpdJob(asyncio.Protocol):
    def __init__(self, steps, done):
        self.steps, self.done, self.i = steps, done, 0

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.steps[0])

    def data_received(self, data):
        for b in data:
            if b != 0:
                self._fail(JobFailed(f"LPD negative acknowledgement {b} at step {self.i}"))
                return
            self.i += 1
            if self.i < len(self.steps):
                self.transport.write(self.steps[self.i])
            elif not self.done.done():
                self.done.set_result(None)
                self.transport.close()

    def _fail(self, exc):
        if not self.done.done():
            self.done.set_exception(exc)
        self.transport.abort()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_exception(JobFailed(f"LPD connection lost at step {self.i}: {exc}"))


def lpd_steps(queue: str, data: bytes, job: int) -> list[bytes]:
    control = (f"Hbenchhost\nP{USER}\nJbench\nldfA{job:03d}benchhost\nUdfA{job:03d}benchhost\nNbench\n").encode()
    return [b"\x02" + queue.encode() + b"\n",
            b"\x02%d cfA%03dbenchhost\n" % (len(control), job), control + b"\x00",
            b"\x03%d dfA%03dbenchhost\n" % (len(data), job), data + b"\x00"]


class IppConnection(asyncio.Protocol):
    def __init__(self):
        self.parser = HttpResponseParser()
        self.waiter = None
        self.lost = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            result = self.parser.feed(data)
        except Exception as exc:  # noqa: BLE001
            result = exc
        if result is not None and self.waiter and not self.waiter.done():
            if isinstance(result, Exception):
                self.waiter.set_exception(result)
            else:
                self.waiter.set_result(result)

    def connection_lost(self, exc):
        self.lost = exc or ConnectionError("closed")
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(JobFailed(f"IPP connection lost: {self.lost}"))

    async def request(self, payload: list[bytes]):
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.writelines(payload)
        return await self.waiter


async def run_small(args) -> dict:
    loop = asyncio.get_running_loop()
    data = make_document(args.size)
    latencies: list[float] = []
    errors: list[str] = []
    counter = itertools.count(1)
    t_start = time.time()
    start = time.perf_counter()
    deadline = start + args.duration
    last_done = start
    host_port = f"{args.host}:{args.port}"

    async def one_raw():
        done = loop.create_future()
        await loop.create_connection(lambda: RawJob(data, done), args.host, args.port)
        await done

    async def one_lpd(n):
        done = loop.create_future()
        await loop.create_connection(lambda: LpdJob(lpd_steps(args.queue, data, n % 1000), done),
                                     args.host, args.port)
        await done

    busy = 0

    async def worker():
        nonlocal last_done, busy
        conn = None
        while time.perf_counter() < deadline:
            n = next(counter)
            if n > args.max_jobs:
                return
            t0 = time.perf_counter()
            try:
                if args.proto == "raw":
                    await asyncio.wait_for(one_raw(), args.timeout)
                elif args.proto == "lpd":
                    await asyncio.wait_for(one_lpd(n), args.timeout)
                else:
                    while True:
                        if conn is None or conn.lost is not None:
                            _, conn = await loop.create_connection(IppConnection, args.host, args.port)
                        body_head = ipp_print_job_header(args.printer_uri, n, document_format=args.document_format)
                        head = http_post_head(host_port, args.resource, len(body_head) + len(data))
                        status, body, close = await asyncio.wait_for(conn.request([head, body_head, data]),
                                                                     args.timeout)
                        if close:
                            conn.transport.close()
                            conn = None
                        if ipp_ok(status, body):
                            break
                        code = struct.unpack(">H", body[2:4])[0] if len(body) >= 4 else None
                        if code == IPP_BUSY and time.perf_counter() < min(t0 + args.timeout, deadline + 5):
                            busy += 1  # ippeveprinter takes one job at a time: retry like a client would
                            await asyncio.sleep(0.001)
                            continue
                        raise JobFailed(f"IPP HTTP {status} status {code if code is None else hex(code)}")
            except (OSError, JobFailed, asyncio.TimeoutError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.transport.abort()
                    conn = None
                if len(errors) > 50:
                    return
                await asyncio.sleep(0.01)
                continue
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            last_done = t1
        if conn is not None:
            conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    result = _result(latencies, errors, last_done - start, args.size, t_start)
    result["busy_retries"] = busy
    return result


# -- large jobs (blocking, no copies) -------------------------------------------------

def _recv_exact_ack(sock) -> None:
    b = sock.recv(1)
    if b != b"\x00":
        raise JobFailed(f"LPD acknowledgement {b!r}")


def large_job(args, data: bytes, n: int) -> None:
    with socket.create_connection((args.host, args.port), timeout=args.timeout) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        if args.proto == "raw":
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        elif args.proto == "lpd":
            steps = lpd_steps(args.queue, b"", n)
            control = steps[2]
            sock.sendall(steps[0]); _recv_exact_ack(sock)
            sock.sendall(steps[1]); _recv_exact_ack(sock)
            sock.sendall(control); _recv_exact_ack(sock)
            sock.sendall(b"\x03%d dfA%03dbenchhost\n" % (len(data), n)); _recv_exact_ack(sock)
            sock.sendall(data)
            sock.sendall(b"\x00")
            _recv_exact_ack(sock)
        else:
            body_head = ipp_print_job_header(args.printer_uri, n, document_format=args.document_format)
            sock.sendall(http_post_head(f"{args.host}:{args.port}", args.resource, len(body_head) + len(data)) + body_head)
            sock.sendall(data)
            parser = HttpResponseParser()
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise JobFailed("IPP connection closed before the response")
                result = parser.feed(chunk)
                if result is not None:
                    status, body, _ = result
                    if not ipp_ok(status, body):
                        code = struct.unpack(">H", body[2:4])[0] if len(body) >= 4 else None
                        if code == IPP_BUSY:
                            raise Busy()
                        raise JobFailed(f"IPP HTTP {status} body {body[:8].hex()}")
                    return


class Busy(Exception):
    pass


def run_large(args) -> dict:
    data = make_document(args.size)
    latencies, errors = [], []
    t_start = time.time()
    start = time.perf_counter()
    for n in range(1, args.jobs + 1):
        t0 = time.perf_counter()
        try:
            for _ in range(1000):
                try:
                    large_job(args, data, n)
                    break
                except Busy:  # ippeveprinter still processing the previous job
                    time.sleep(0.01)
            else:
                raise JobFailed("server-error-busy 1000 times")
        except (OSError, JobFailed) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        latencies.append(time.perf_counter() - t0)
    result = _result(latencies, errors, time.perf_counter() - start, args.size, t_start)
    result["latencies"] = latencies
    return result


def _result(latencies, errors, elapsed, size, t_start) -> dict:
    lat = sorted(latencies)

    def pct(p):
        return lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] if lat else None

    return {"jobs": len(lat), "errors": len(errors), "first_errors": errors[:3], "elapsed": elapsed,
            "size": size, "p50": pct(0.50), "p99": pct(0.99),
            "t_start": t_start}


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("proto", choices=("raw", "lpd", "ipp"))
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--size", type=int, default=10 * 1024)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--max-jobs", type=int, default=100000)
    p.add_argument("--queue", default="secure")
    p.add_argument("--resource", default="/printers/secure")
    p.add_argument("--printer-uri", default=None)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--document-format", default="application/octet-stream",
                   help="ippeveprinter refuses octet-stream it cannot auto-type (PJL): it gets application/vnd.hp-PCL")
    p.add_argument("--large", action="store_true")
    p.add_argument("--jobs", type=int, default=1)
    args = p.parse_args(argv)
    if args.printer_uri is None:
        args.printer_uri = f"ipp://{args.host}:{args.port}{args.resource}"
    if args.large:
        result = run_large(args)
    else:
        result = asyncio.run(run_small(args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
