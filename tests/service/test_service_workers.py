"""Several worker processes: one SO_REUSEPORT socket each, all of them answering, supervised.

And the decision endpoint's fast path (`cspolicy.service.fastpath`) answering exactly as the
FastAPI route it stands in front of."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from service_helpers import Server, snapshot_json, start_server

WI = "/v1/policies/wisconsin"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _until(condition: Callable[[], bool], seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _events(server: Server, event: str) -> list[dict[str, object]]:
    found = []
    for line in server.log_text().splitlines():
        if f'"event": "{event}"' in line:
            found.append(json.loads(line))
    return found


def _serving(server: Server) -> list[int]:
    """The pids of the workers that said they serve, in order."""
    return [int(str(entry["pid"])) for entry in _events(server, "worker_serving")]


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _connections_by_process(port: int, pids: list[int]) -> dict[int, int]:
    """How many established connections to `port` each process holds (from /proc)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with_header = Path(table).read_text().splitlines() if Path(table).exists() else []
        for line in with_header[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                established.add(fields[9])
    counts = {}
    for pid in pids:
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            held += target.startswith("socket:[") and target[8:-1] in established
        counts[pid] = held
    return counts


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@linux_only
def test_two_workers_each_accept_on_their_own_socket_and_both_decide(
    copied_policies: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path, copied_policies, "--workers", "2")
    try:
        assert _until(lambda: len(_serving(server)) == 2), server.log_text()
        workers = _serving(server)
        assert sorted(_events(server, "workers_started")[0]["workers"]) == sorted(
            workers
        )  # ready in any order
        port = int(server.url.rsplit(":", 1)[1])
        before = {pid: _cpu_ticks(pid) for pid in workers}
        body = snapshot_json("04-passport-level.yaml")
        # 32 keep-alive connections: the kernel hashes each to one of the two sockets, so all
        # of them landing on one worker has a chance of 2**-31.
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(32)]
        for _ in range(4):
            for connection in connections:
                connection.request("POST", f"{WI}/decisions", body=body)
                response = connection.getresponse()
                assert response.status == 200
                response.read()
        held = _connections_by_process(port, [server.process.pid, *workers])
        for connection in connections:
            connection.close()
        assert held[server.process.pid] == 0  # the parent listens, never accepts
        assert all(held[pid] > 0 for pid in workers), held
        assert sum(held.values()) == 32, held
        # Each worker did decision work (CPU time, in clock ticks, went up in both).
        assert all(_cpu_ticks(pid) > before[pid] for pid in workers), (before, workers)
    finally:
        server.stop()
    assert not any(_alive(pid) for pid in workers)


@linux_only
def test_sighup_replaces_workers_one_by_one_and_keeps_them_when_the_change_is_broken(
    copied_policies: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path, copied_policies, "--workers", "2")
    try:
        assert _until(lambda: len(_serving(server)) == 2), server.log_text()
        first = _serving(server)
        policy = copied_policies / "wisconsin" / "2025.1" / "policy.yaml"
        text = policy.read_text(encoding="utf-8")
        policy.write_text(text.replace("title: Wisconsin child support enforcement", "title: Wisconsin, v2"))
        server.process.send_signal(signal.SIGHUP)
        assert _until(lambda: bool(_events(server, "workers_restarted"))), server.log_text()
        second = _serving(server)[2:]
        assert len(second) == 2 and not set(second) & set(first)
        assert not any(_alive(pid) for pid in first)  # each replaced worker was stopped
        for _ in range(8):  # new connections each time: both new workers serve the new title
            with server.client(key=None) as client:
                assert client.get(WI).json()["title"] == "Wisconsin, v2"

        # A change that does not load: the first replacement fails, the old workers stay.
        policy.write_text(text.replace("title:", "bogus_key: 1\ntitle:", 1))
        server.process.send_signal(signal.SIGHUP)
        assert _until(lambda: bool(_events(server, "workers_restart_aborted"))), server.log_text()
        refused = str(_events(server, "worker_start_refused")[0]["error"])
        assert re.search(r"wisconsin/2025\.1/policy\.yaml:\d+:\d+: .*bogus_key.*\[CSP104\]", refused), refused
        assert "Traceback" not in server.log_text()
        assert all(_alive(pid) for pid in second)
        assert server.process.poll() is None
        with server.client(key=None) as client:
            assert client.get(WI).json()["title"] == "Wisconsin, v2"
    finally:
        server.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's prctl")
def test_workers_stop_when_the_parent_is_killed(copied_policies: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path, copied_policies, "--workers", "2")
    assert _until(lambda: len(_serving(server)) == 2), server.log_text()
    workers = _serving(server)
    server.process.send_signal(signal.SIGKILL)  # the parent only: no chance to stop anyone
    server.process.wait(timeout=10)
    assert _until(lambda: not any(_alive(pid) for pid in workers), seconds=30), workers
    with socket.socket() as probe:  # and the port is free again (nothing listens on it)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))


def test_a_port_in_use_stops_the_start(copied_policies: Path, tmp_path: Path) -> None:
    """SO_REUSEPORT must not let a second server share a port another one listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AssertionError, match="server exited with 1"):
            start_server(tmp_path, copied_policies, "--workers", "2", port=port)
    log = next(tmp_path.glob(f"server-{port}.log")).read_text(encoding="utf-8")
    assert '"event": "bind_failed"' in log and "Traceback" not in log


def test_shared_socket_mode_still_serves(copied_policies: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path, copied_policies, "--workers", "2", "--no-reuse-port")
    try:
        with server.client(key=None) as client:
            response = client.post(f"{WI}/decisions", content=snapshot_json("04-passport-level.yaml"))
        assert response.status_code == 200 and response.json()["case_id"]
        assert not _events(server, "workers_started")  # uvicorn's supervisor, not ours
    finally:
        server.stop()


# -- the fast path answers as the route does -----------------------------------------------------
def _answer(
    server: Server, key: str | None, query: str, body: str, policy: str = "wisconsin"
) -> tuple[int, dict[str, str], bytes]:
    with server.client(key) as client:
        response = client.post(f"/v1/policies/{policy}/decisions{query}", content=body)
    headers = {k: v for k, v in response.headers.items() if k != "date"}
    return response.status_code, headers, response.content


@pytest.mark.parametrize(
    ("key", "body", "policy", "status"),
    [
        ("decider", "04-passport-level.yaml", "wisconsin", 200),
        ("decider", "09-job-loss-2024.yaml", "wisconsin", 200),
        (None, "04-passport-level.yaml", "wisconsin", 401),
        ("reader", "04-passport-level.yaml", "wisconsin", 403),
        ("decider", "04-passport-level.yaml", "wisconsn", 404),
        ("decider", "{not json", "wisconsin", 422),
        ("decider", '{"case_id": 3}', "wisconsin", 422),
    ],
)
def test_plain_decision_calls_answer_exactly_as_the_route(
    server: Server, key: str | None, body: str, policy: str, status: int
) -> None:
    text = snapshot_json(body) if body.endswith(".yaml") else body
    plain = _answer(server, key, "", text, policy)  # the fast path
    routed = _answer(server, key, "?store=false", text, policy)  # FastAPI's route
    assert plain[0] == status
    assert plain == routed


def test_the_fast_path_is_counted_and_logged_as_the_route(server: Server) -> None:
    route = 'route="/v1/policies/{policy_id}/decisions",status="200"'

    def answered() -> float:
        with server.client(key=None) as client:
            text = client.get("/metrics").text
        found = re.search(
            r"cspolicy_http_requests_total\{method=\"POST\"," + re.escape(route) + r"\} (\S+)", text
        )
        return float(found.group(1)) if found else 0.0

    before, logged = answered(), len(_events(server, "decision"))
    assert _answer(server, "decider", "", snapshot_json("04-passport-level.yaml"))[0] == 200
    assert answered() == before + 1
    assert _until(lambda: len(_events(server, "decision")) == logged + 1, seconds=10)
    assert _events(server, "decision")[-1]["key"] == "decider"
