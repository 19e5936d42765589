"""Reloading policies while serving: polling the files (`--reload-on-change`) or SIGHUP.

Either way the work is `PolicyRegistry.reload()` in a worker thread: the new catalog is built
completely and swapped in with one assignment, or refused (the old one keeps serving and the
located problems are logged). With several worker processes each process polls on its own;
SIGHUP then goes to the parent process, which replaces the workers one by one (see `workers`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import anyio
import structlog

from cspolicy.service.registry import PolicyRegistry

log = structlog.get_logger("cspolicy.service")


async def reload_now(registry: PolicyRegistry) -> bool:
    """Reload in a worker thread (a reload compiles every set: CPU work, off the event loop)."""
    return await anyio.to_thread.run_sync(registry.reload)


async def watch(registry: PolicyRegistry, every: float) -> None:
    """Poll the policy files every `every` seconds and reload when one changed; runs until cancelled."""
    while True:
        await anyio.sleep(every)
        try:
            if await anyio.to_thread.run_sync(registry.changed):
                await reload_now(registry)
        except OSError as exc:  # a file vanished mid-walk: look again next time
            log.warning("policy_watch_failed", error=str(exc))


def on_sighup(registry: PolicyRegistry) -> Callable[[], None] | None:
    """Reload on SIGHUP (main thread of a single-process server only); returns the remover."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[bool]] = set()

    def handle() -> None:
        log.info("policy_reload_requested", signal="SIGHUP")
        task = loop.create_task(_run(reload_now(registry)))
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, handle)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no SIGHUP
        return None

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return remove


async def _run(work: Awaitable[bool]) -> bool:
    return await work
