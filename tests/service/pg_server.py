"""A throwaway PostgreSQL server on a loopback port, for the service's pooled-store test.

As tests/store/test_store_postgres.py does: Debian's `initdb`/`pg_ctl` (on PATH or under
/usr/lib/postgresql/*/bin), run as `postgres` when the tests run as root; CSPOLICY_TEST_PG_URL
names a server of your own instead. `postgres()` yields None when no PostgreSQL is installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(directory, "pg_ctl").exists():
            return Path(directory)
    return None


@contextmanager
def postgres() -> Iterator[str | None]:
    """The URL of a running PostgreSQL (started here and stopped afterwards), or None."""
    given = os.environ.get("CSPOLICY_TEST_PG_URL")
    if given:
        yield given
        return
    found = binaries()
    if found is None:
        yield None
        return
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="cspolicy-service-pg-"))
    if as_postgres:
        shutil.chown(home, user="postgres")
    data = home / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, timeout=180)

    try:
        run(str(found / "initdb"), "-D", str(data), "-U", "cspolicy", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(found / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
        yield f"postgresql://cspolicy@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(found / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=180,
        )
        shutil.rmtree(home, ignore_errors=True)
