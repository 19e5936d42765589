"""Reloading policies while serving: a changed file is served, a broken one refused."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from service_helpers import Server, start_server

WI = "/v1/policies/wisconsin"


def _digest(server: Server) -> str:
    with server.client(key=None) as client:
        return str(client.get(WI).json()["digest"])


def _title(server: Server) -> str:
    with server.client(key=None) as client:
        return str(client.get(WI).json()["title"])


def _until(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_changed_file_is_served_and_broken_one_refused(copied_policies: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path, copied_policies, "--reload-on-change", "--poll-seconds", "0.2")
    try:
        before = _digest(server)
        policy = copied_policies / "wisconsin" / "2025.1" / "policy.yaml"
        text = policy.read_text(encoding="utf-8")
        policy.write_text(
            text.replace("title: Wisconsin child support enforcement", "title: Wisconsin, reloaded")
        )
        assert _until(lambda: _title(server) == "Wisconsin, reloaded"), server.log_text()
        changed = _digest(server)
        assert changed != before
        assert '"event": "policy_reloaded"' in server.log_text()

        # A broken change: an unknown key. Refused, logged with file:line:col; the old set serves.
        broken = text.replace("title: Wisconsin child support enforcement", "title: Broken\nbogus_key: 1")
        policy.write_text(broken)
        assert _until(lambda: "policy_reload_refused" in server.log_text()), server.log_text()
        refused = [line for line in server.log_text().splitlines() if "policy_reload_refused" in line][-1]
        assert re.search(r"wisconsin/2025\.1/policy\.yaml:5:1: .*bogus_key.*\[CSP104\]", refused), refused
        assert _digest(server) == changed and _title(server) == "Wisconsin, reloaded"
        with server.client(key=None) as client:
            assert client.get("/readyz").json()["refused_reloads"] == 1
    finally:
        server.stop()


def test_sighup_reloads(copied_policies: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path, copied_policies)
    try:
        policy = copied_policies / "wisconsin" / "2025.1" / "policy.yaml"
        text = policy.read_text(encoding="utf-8")
        policy.write_text(
            text.replace("title: Wisconsin child support enforcement", "title: Wisconsin, by SIGHUP")
        )
        time.sleep(0.5)
        assert _title(server) == "Wisconsin child support enforcement"  # no polling: not yet
        server.process.send_signal(signal.SIGHUP)
        assert _until(lambda: _title(server) == "Wisconsin, by SIGHUP"), server.log_text()
    finally:
        server.stop()


def test_a_policy_that_does_not_load_stops_the_start(copied_policies: Path, tmp_path: Path) -> None:
    policy = copied_policies / "wisconsin" / "2025.1" / "policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("title:", "bogus_key: 1\ntitle:", 1))
    try:
        start_server(tmp_path, copied_policies)
    except AssertionError as exc:
        assert "bogus_key" in str(exc) and "CSP104" in str(exc)
    else:
        raise AssertionError("the server started with a broken policy")
