"""Load benchmark of the decision service (issue 17): N concurrent clients over loopback.

    python benchmarks/service_load.py                      # store off: throughput, p50/p99, errors
    python benchmarks/service_load.py --store sqlite       # + SIGKILL mid-load, restart, check records

Starts `cspolicy serve` itself on a free 127.0.0.1 port (never any other address), drives
`POST /v1/policies/wisconsin/decisions` with the example Wisconsin cases for at most `--seconds`
and at most `--max-requests`, then stops the server. With `--store sqlite` every request saves a
record; the server is killed with SIGKILL half-way, restarted on the same store, the load goes
on, and afterwards every record id that came back with a 200 is read back with GET.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from cspolicy import CaseSnapshot

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("cspolicy")
HOST = "127.0.0.1"  # loopback only


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    record_ids: list[str] = field(default_factory=list)
    sent: int = 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(port: int, workers: int, store: Path | None, log: Path) -> subprocess.Popen[bytes]:
    command = [str(CLI), "serve", "--policies", str(ROOT / "policies"), "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning"]
    if store is not None:
        command += ["--store", str(store)]
    process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: see {log}")
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready")


def bodies() -> list[bytes]:
    cases = sorted((ROOT / "examples" / "cases").glob("*.yaml"))
    out = []
    for case in cases:
        snapshot = CaseSnapshot.from_file(case)
        if snapshot.jurisdiction.state == "WI":
            out.append(json.dumps(snapshot.model_dump(mode="json")).encode())
    return out


async def client(
    url: str, payloads: list[bytes], tally: Tally, stop_at: float, budget: list[int], store: bool
) -> None:
    path = "/v1/policies/wisconsin/decisions" + ("?store=true" if store else "")
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        index = 0
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            tally.sent += 1
            body = payloads[index % len(payloads)]
            index += 1
            start = time.perf_counter()
            try:
                response = await http.post(path, content=body, headers={"content-type": "application/json"})
            except httpx.HTTPError as exc:
                tally.errors += 1
                tally.statuses[type(exc).__name__] = tally.statuses.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(0.05)  # the server is down (SIGKILL): do not spin
                continue
            tally.latencies.append(time.perf_counter() - start)
            key = str(response.status_code)
            tally.statuses[key] = tally.statuses.get(key, 0) + 1
            if response.status_code != 200:
                tally.errors += 1
            elif store:
                tally.record_ids.append(response.headers["x-record-id"])


async def drive(
    url: str, clients: int, seconds: float, budget: list[int], store: bool, tally: Tally
) -> float:
    payloads = bodies()
    stop_at = time.monotonic() + seconds
    begun = time.perf_counter()
    await asyncio.gather(*(client(url, payloads, tally, stop_at, budget, store) for _ in range(clients)))
    return time.perf_counter() - begun


def report(title: str, tally: Tally, elapsed: float) -> dict[str, object]:
    ok = sum(1 for _ in tally.latencies)
    lat = sorted(tally.latencies)
    p50 = statistics.median(lat) * 1000 if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
    result = {
        "run": title,
        "requests": tally.sent,
        "answered": ok,
        "seconds": round(elapsed, 2),
        "decisions_per_second": round(ok / elapsed, 1) if elapsed else 0,
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "errors": tally.errors,
        "statuses": tally.statuses,
    }
    print(json.dumps(result))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--store", choices=["off", "sqlite"], default="off")
    args = parser.parse_args()
    print(f"# {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="cspolicy-load-") as tmp:
        log = Path(tmp) / "server.log"
        store = Path(tmp) / "store.db" if args.store == "sqlite" else None
        port = free_port()
        url = f"http://{HOST}:{port}"
        server = start(port, args.workers, store, log)
        budget = [args.max_requests]
        tally = Tally()
        try:
            if store is None:
                asyncio.run(drive(url, 4, 2, [2_000], False, Tally()))  # warm-up, not counted
                elapsed = asyncio.run(drive(url, args.clients, args.seconds, budget, False, tally))
                report("store off", tally, elapsed)
                return 0 if tally.errors == 0 else 1

            async def with_kill() -> float:
                nonlocal server
                load = asyncio.create_task(drive(url, args.clients, args.seconds, budget, True, tally))
                await asyncio.sleep(args.seconds / 2)
                for child in _children(server.pid):  # the workers first, then their parent
                    os.kill(child, signal.SIGKILL)
                server.send_signal(signal.SIGKILL)  # mid-load, no warning
                server.wait()
                server = await asyncio.to_thread(start, port, args.workers, store, log)
                return await load

            elapsed = asyncio.run(with_kill())
            report("sqlite store, SIGKILL mid-load", tally, elapsed)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        # Restart once more (the store as the crash left it) and read every acknowledged record.
        server = start(port, args.workers, store, log)
        try:
            missing = _missing(url, tally.record_ids)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
        print(json.dumps({"acknowledged_records": len(tally.record_ids), "missing_after_restart": missing}))
        return 0 if missing == 0 else 1


def _children(pid: int) -> list[int]:
    """The worker processes of a uvicorn parent (so SIGKILL reaches the process that decides)."""
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [int(line) for line in out.split()]


def _missing(url: str, record_ids: list[str]) -> int:
    missing = 0
    with httpx.Client(base_url=url, timeout=10) as http:
        for record_id in record_ids:
            if http.get(f"/v1/records/{record_id}").status_code != 200:
                missing += 1
    return missing


if __name__ == "__main__":
    sys.exit(main())
