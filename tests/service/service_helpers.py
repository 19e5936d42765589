"""Helpers of the decision service tests: real `cspolicy serve` processes on loopback ports.

Imported as `from service_helpers import ...` (not from conftest: see tests/helpers.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from cspolicy import CaseSnapshot

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
CASES = ROOT / "examples" / "cases"
CLI = Path(sys.executable).with_name("cspolicy")
KEYS = {"decider": "csk_test_decider", "reader": "csk_test_reader", "admin": "csk_test_admin"}
SCOPES = {"decider": "decide", "reader": "records:read", "admin": "admin"}
MAX_BODY = 200_000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running `cspolicy serve` process, its base URL and its log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def client(self, key: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {KEYS[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_server(tmp: Path, policies: Path, *extra: str) -> Server:
    """Start `cspolicy serve` on a free loopback port and wait until /readyz answers 200."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        [str(CLI), "serve", "--policies", str(policies), "--host", "127.0.0.1", "--port", str(port), *extra],
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(server.url + "/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server did not become ready:\n{server.log_text()}")


def write_keys(path: Path) -> Path:
    """A keys file holding the hashes of the test keys, written by `cspolicy serve-key --key`."""
    lines = ["keys:"]
    for name, key in KEYS.items():
        out = subprocess.run(
            [str(CLI), "serve-key", "--name", name, "--scopes", SCOPES[name], "--key", key],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines += ["  " + line for line in out.splitlines() if not line.startswith("#")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot_json(case: str) -> str:
    """An example case as JSON text (amounts as exact strings), the body the tests send."""
    data = CaseSnapshot.from_file(CASES / case).model_dump(mode="json")
    return json.dumps(data, indent=2)
