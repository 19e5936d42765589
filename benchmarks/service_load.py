"""Load benchmark of the decision service (issue 17): N concurrent clients over loopback.

    python benchmarks/service_load.py                      # store off: throughput, p50/p99, errors
    python benchmarks/service_load.py --repeat 3           # three runs: each, the best, the spread
    python benchmarks/service_load.py --batch 50           # decisions:batch, 50 snapshots a request
    python benchmarks/service_load.py --store sqlite       # + SIGKILL mid-load, restart, check records

Starts `cspolicy serve` itself on a free 127.0.0.1 port (never any other address), drives
`POST /v1/policies/wisconsin/decisions` with the example Wisconsin cases for at most `--seconds`
and at most `--max-requests`, then stops the server.

The load generator is lean on purpose, because it shares the machine's cores with the server:
one process, the uvloop event loop, one keep-alive HTTP/1.1 connection per client written as a
bare asyncio Protocol (the request bytes are built once; a response is read by its
Content-Length, or its chunks for a batch). Its own CPU time is reported with the server's, so
the reader can see who used the cores.

With `--store sqlite` every request saves a record; the server (and its workers) is killed with
SIGKILL half-way, restarted on the same store, the load goes on, and afterwards every record id
that came back with a 200 is read back with `GET /v1/records/{id}` from a fresh server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx

from cspolicy import CaseSnapshot, load_policy

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("cspolicy")
HOST = "127.0.0.1"  # loopback only
PATH = "/v1/policies/wisconsin/decisions"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    record_ids: list[str] = field(default_factory=list)
    decisions: int = 0  # decision lines received (one per request, or one per batch line)
    sent: int = 0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(
    port: int, workers: int, store: Path | None, log: Path, extra: list[str]
) -> subprocess.Popen[bytes]:
    command = [str(CLI), "serve", "--policies", str(ROOT / "policies"), "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", *extra]
    if store is not None:
        command += ["--store", str(store)]
    process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: see {log}")
        try:
            # With several workers /readyz answers as soon as one is up. Each worker has its own
            # SO_REUSEPORT socket and the kernel picks one per new connection (a connection to a
            # worker still starting waits, and times out here): 8 answers in a row on 8 new
            # connections mean every worker serves, but for a chance of 2**-7 with two.
            if all(_ready(port) for _ in range(1 if workers == 1 else 8)) and (
                workers == 1 or len(_children(process.pid)) >= workers
            ):
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready")


def _ready(port: int) -> bool:
    with httpx.Client(timeout=1) as http:  # a new connection each time
        return http.get(f"http://{HOST}:{port}/readyz").status_code == 200


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def snapshots() -> list[bytes]:
    """The Wisconsin example cases, each as compact JSON (amounts as exact strings)."""
    out = []
    for case in sorted((ROOT / "examples" / "cases").glob("*.yaml")):
        snapshot = CaseSnapshot.from_file(case)
        if snapshot.jurisdiction.state == "WI":
            out.append(json.dumps(snapshot.model_dump(mode="json")).encode())
    return out


def requests(port: int, store: bool, batch: int) -> list[bytes]:
    """Every request the clients send, in turn: whole HTTP/1.1 messages, built once."""
    items = snapshots()
    if batch:
        path, kind = PATH + ":batch", b"application/x-ndjson"
        bodies = [
            b"\n".join(items[(i + k) % len(items)] for k in range(batch)) + b"\n" for i in range(len(items))
        ]
    else:
        path, kind = PATH + ("?store=true" if store else ""), b"application/json"
        bodies = items
    head = f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n".encode()
    return [
        head
        + b"Content-Type: "
        + kind
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
        for body in bodies
    ]


class Connection(asyncio.Protocol):
    """One keep-alive connection; `send` writes a request and returns (status, headers, body)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, dict[bytes, bytes], bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed mid-response"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if b"content-length" in headers:
            stop = start + int(headers[b"content-length"])
            if len(self.buffer) < stop:
                return
            body = bytes(self.buffer[start:stop])
        else:  # chunked (a streamed batch): complete once the last, empty chunk is in
            if not self.buffer.endswith(b"0\r\n\r\n"):
                return
            body, stop = _dechunk(self.buffer, start)
        del self.buffer[:stop]
        self.waiter.set_result((status, headers, body))

    async def send(self, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        if self.transport is None:
            raise ConnectionError("not connected")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def _dechunk(buffer: bytearray, at: int) -> tuple[bytes, int]:
    parts = []
    while True:
        line_end = buffer.index(b"\r\n", at)
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            return b"".join(parts), at + 2
        parts.append(bytes(buffer[at : at + size]))
        at += size + 2


async def connect(port: int) -> Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(Connection, HOST, port)
    return protocol


async def client(
    port: int, messages: list[bytes], tally: Tally, until: float, budget: list[int], offset: int
) -> None:
    connection: Connection | None = None
    index = offset
    while time.monotonic() < until and budget[0] > 0:
        budget[0] -= 1
        tally.sent += 1
        message = messages[index % len(messages)]
        index += 1
        start = time.perf_counter()
        try:
            if connection is None or connection.transport is None:
                connection = await connect(port)
            status, headers, body = await connection.send(message)
        except OSError as exc:  # refused or reset: the server is down (SIGKILL) — do not spin
            connection = None
            tally.errors += 1
            tally.count(type(exc).__name__)
            await asyncio.sleep(0.05)
            continue
        tally.latencies.append(time.perf_counter() - start)
        tally.count(str(status))
        if status != 200:
            tally.errors += 1
            continue
        if b"x-record-id" in headers:
            tally.record_ids.append(headers[b"x-record-id"].decode())
        if b"content-length" in headers:
            tally.decisions += 1
        else:  # a batch: one line per input, a decision or {"line": N, "error": ...}
            lines = body.splitlines()
            refused = sum(1 for line in lines if line.startswith(b'{"line":'))
            tally.decisions += len(lines) - refused
            tally.errors += refused
    if connection is not None and connection.transport is not None:
        connection.transport.close()


async def drive(
    port: int, clients: int, seconds: float, budget: list[int], messages: list[bytes], tally: Tally
) -> float:
    until = time.monotonic() + seconds
    begun = time.perf_counter()
    await asyncio.gather(*(client(port, messages, tally, until, budget, n) for n in range(clients)))
    return time.perf_counter() - begun


def cpu_seconds(pids: list[int], system_only: bool = False) -> float:
    """User + system CPU (or system only) of these processes so far (from /proc)."""
    return sum(cpu_by_process(pids, system_only).values())


def cpu_by_process(pids: list[int], system_only: bool = False) -> dict[int, float]:
    """User + system CPU (or system only) of each of these processes so far (from /proc)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[12]) + (0 if system_only else int(fields[11]))) / CLOCK_TICKS
    return out


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(title: str, tally: Tally, elapsed: float, batch: int, cpu: dict[str, float]) -> dict[str, object]:
    lat = sorted(tally.latencies)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    result: dict[str, object] = {
        "run": title,
        "requests": tally.sent,
        "answered": len(lat),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(lat) / elapsed, 1) if elapsed else 0,
        "decisions_per_second": round(tally.decisions / elapsed, 1) if elapsed else 0,
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "errors": tally.errors,
        "statuses": tally.statuses,
    }
    if batch:
        result["snapshots_per_request"] = batch
    result.update({f"{who}_cpu_percent": round(100 * used / elapsed, 1) for who, used in cpu.items()})
    if lat:  # CPU per answered request: steadier than throughput on a shared machine
        result.update(
            {f"{who}_cpu_ms_per_request": round(1000 * used / len(lat), 3) for who, used in cpu.items()}
        )
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result), flush=True)
    return result


def library_cpu_ms() -> float:
    """CPU per decision of the library alone on the same snapshots (parse, evaluate, to_json),
    in this process just before a run: what a request costs the server before any HTTP."""
    bodies = snapshots()
    parsed = [CaseSnapshot.parse(json.loads(body, parse_float=Decimal)) for body in bodies]
    policies = {s.as_of: load_policy(ROOT / "policies" / "wisconsin", s.as_of) for s in parsed}
    for snapshot in parsed:  # warm
        policies[snapshot.as_of].evaluate(snapshot).to_json()
    best = float("inf")
    for _ in range(3):
        begun = time.process_time()
        for _ in range(10):
            for body in bodies:
                snapshot = CaseSnapshot.parse(json.loads(body, parse_float=Decimal))
                policies[snapshot.as_of].evaluate(snapshot).to_json()
        best = min(best, (time.process_time() - begun) / (10 * len(bodies)))
    return round(best * 1000, 3)


def measure(
    port: int, args: argparse.Namespace, server: subprocess.Popen[bytes], title: str
) -> dict[str, object]:
    messages = requests(port, False, args.batch)
    library = library_cpu_ms()
    asyncio.run(drive(port, 4, 2, [2_000], messages, Tally()))  # warm-up, not counted
    pids = [server.pid, *_children(server.pid)]
    tally = Tally()
    by_process, client_before = cpu_by_process(pids), own_cpu()
    kernel_before = cpu_seconds(pids, system_only=True)
    elapsed = asyncio.run(drive(port, args.clients, args.seconds, [args.max_requests], messages, tally))
    used = {pid: cpu - by_process.get(pid, 0.0) for pid, cpu in cpu_by_process(pids).items()}
    cpu = {"server": sum(used.values()), "client": own_cpu() - client_before}
    cpu["server_kernel"] = cpu_seconds(pids, system_only=True) - kernel_before
    result = report(title, tally, elapsed, args.batch, cpu)
    # Did every worker take work? (The supervisor and multiprocessing's resource tracker,
    # also children of the server, use next to nothing.)
    workers = sorted((round(100 * c / elapsed, 1) for p, c in used.items() if p != server.pid), reverse=True)
    server_ms = 1000 * cpu["server"] / len(tally.latencies) if tally.latencies else float("nan")
    per_decision = (
        (cpu["server"] + cpu["client"]) * 1000 / tally.decisions if tally.decisions else float("nan")
    )
    print(
        json.dumps(
            {
                "server_cpu_percent_by_child_process": workers,
                "library_cpu_ms_per_decision": library,
                # Both measured in the same minute, so other jobs on the machine inflate both:
                # the ratio is what the service adds to the library's own work, per request.
                "server_cpu_per_request_over_library": round(server_ms / library, 2)
                if tally.latencies and library
                else None,
                "server_and_client_cpu_ms_per_decision": round(per_decision, 3),
                # What 2 idle cores would give at this CPU cost (no other jobs on the machine).
                "decisions_per_second_on_2_idle_cores": round(2000 / per_decision, 1)
                if tally.decisions
                else 0,
            }
        ),
        flush=True,
    )
    return result


def summary(results: list[dict[str, object]]) -> None:
    rates = [float(str(r["decisions_per_second"])) for r in results]
    p99s = [float(str(r["p99_ms"])) for r in results]
    best = max(range(len(results)), key=lambda i: rates[i])
    print(
        json.dumps(
            {
                "runs": len(results),
                "best_decisions_per_second": rates[best],
                "best_run_p99_ms": p99s[best],
                "decisions_per_second_range": [min(rates), max(rates)],
                "p99_ms_range": [min(p99s), max(p99s)],
                "errors_total": sum(int(str(r["errors"])) for r in results),
            }
        )
    )


def store_run(port: int, args: argparse.Namespace, tmp: Path, log: Path, extra: list[str]) -> int:
    store = tmp / "store.db"
    server = start(port, args.workers, store, log, extra)
    budget = [args.max_requests]
    tally = Tally()
    killed_at: list[float] = []

    async def with_kill() -> float:
        nonlocal server
        messages = requests(port, True, 0)
        load = asyncio.create_task(drive(port, args.clients, args.seconds, budget, messages, tally))
        await asyncio.sleep(args.seconds / 2)
        acknowledged = len(tally.record_ids)
        for child in _children(server.pid):  # the workers first, then their parent
            os.kill(child, signal.SIGKILL)
        server.send_signal(signal.SIGKILL)  # mid-load, no warning
        server.wait()
        killed_at.append(acknowledged)
        server = await asyncio.to_thread(start, port, args.workers, store, log, extra)
        return await load

    try:
        begun = own_cpu()
        elapsed = asyncio.run(with_kill())
        report("sqlite store, SIGKILL mid-load", tally, elapsed, 0, {"client": own_cpu() - begun})
    finally:
        stop(server)
    # Restart once more (the store as the crash left it) and read every acknowledged record.
    server = start(port, args.workers, store, log, extra)
    try:
        missing = _missing(port, tally.record_ids)
    finally:
        stop(server)
    print(
        json.dumps(
            {
                "acknowledged_records": len(tally.record_ids),
                "acknowledged_before_kill": killed_at[0] if killed_at else None,
                "missing_after_restart": missing,
            }
        )
    )
    return 0 if missing == 0 and tally.record_ids else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--batch", type=int, default=0, help="snapshots per decisions:batch request (0: single)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs against the same server")
    parser.add_argument("--store", choices=["off", "sqlite"], default="off")
    parser.add_argument("--serve-args", default="", help="more `cspolicy serve` options, space-separated")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the standard loop works; it only costs the client more CPU
        pass
    print(f"# {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}", flush=True)
    print(f"# load average before: {[round(x, 2) for x in os.getloadavg()]}", flush=True)
    extra = args.serve_args.split()
    with tempfile.TemporaryDirectory(prefix="cspolicy-load-") as tmp:
        log = Path(tmp) / "server.log"
        port = free_port()
        if args.store == "sqlite":
            return store_run(port, args, Path(tmp), log, extra)
        server = start(port, args.workers, None, log, extra)
        try:
            results = [
                measure(
                    port,
                    args,
                    server,
                    f"store off, run {n + 1}" + (f", batch {args.batch}" if args.batch else ""),
                )
                for n in range(args.repeat)
            ]
        finally:
            stop(server)
        if args.repeat > 1:
            summary(results)
        return 0 if all(r["errors"] == 0 for r in results) else 1


def _children(pid: int) -> list[int]:
    """The worker processes of a uvicorn parent (so SIGKILL reaches the process that decides)."""
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [int(line) for line in out.split()]


def _missing(port: int, record_ids: list[str]) -> int:
    missing = 0
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10) as http:
        for record_id in record_ids:
            if http.get(f"/v1/records/{record_id}").status_code != 200:
                missing += 1
    return missing


if __name__ == "__main__":
    sys.exit(main())
