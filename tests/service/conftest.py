"""Fixtures of the decision service tests: servers started with `cspolicy serve`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import MAX_BODY, POLICIES, Server, start_server, write_keys


@pytest.fixture(scope="session")
def service_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="session")
def server(service_tmp: Path) -> Iterator[Server]:
    """One server for the read and decide tests: shipped policies, keys, a SQLite store."""
    keys = write_keys(service_tmp / "keys.yaml")
    running = start_server(
        service_tmp,
        POLICIES,
        "--api-keys",
        str(keys),
        "--store",
        str(service_tmp / "store.db"),
        "--max-body",
        str(MAX_BODY),
    )
    yield running
    running.stop()


@pytest.fixture
def copied_policies(tmp_path: Path) -> Path:
    """federal + wisconsin copied where the test may change them."""
    target = tmp_path / "policies"
    for name in ("federal", "wisconsin"):
        shutil.copytree(POLICIES / name, target / name)
    return target
