"""Several worker processes, each accepting connections on its own listening socket.

Uvicorn's own `--workers` mode hands one listening socket to every worker; whichever worker is
awake accepts, and a burst of keep-alive connections can all land on one of them while the other
idles. Here the parent binds one socket per worker to the same address with `SO_REUSEPORT`, and
the kernel spreads new connections over them by a hash of each connection's addresses.

The parent only supervises: it starts the workers (spawned, so each compiles its own policies),
restarts one that dies after it started serving, stops everything when one fails to start,
replaces them one by one on SIGHUP (each replacement must be serving before the worker it
replaces is stopped, so a policy change that does not load leaves the old workers serving), and
stops them on SIGINT/SIGTERM. It keeps every socket open, so a connection that arrives while a
worker is being replaced waits in that socket's queue instead of being refused. On Linux each
worker is also told to stop when the parent dies, even by SIGKILL, so none is left orphaned.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import multiprocessing
import os
import signal
import socket
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

import structlog
import uvicorn

log = structlog.get_logger("cspolicy.service")
spawn = multiprocessing.get_context("spawn")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends
_UNSUPPORTED = {errno.ENOPROTOOPT, errno.EINVAL, errno.EOPNOTSUPP}


def reuse_port_sockets(host: str, port: int, count: int) -> list[socket.socket] | None:
    """`count` listening sockets on one address, bound with SO_REUSEPORT; None where the system
    does not spread connections over such sockets (only Linux does: on macOS and the BSDs one of
    them gets every connection). OSError when the address is in use or cannot be bound."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # First bind without SO_REUSEPORT: it fails when anything listens on the port already, where
    # a SO_REUSEPORT socket would silently share the port with another server of the same user.
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # port 0: the kernel's choice, then shared by every socket
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno in _UNSUPPORTED:
            return None
        raise
    return sockets


class _Server(uvicorn.Server):
    """A uvicorn server that tells its parent once it accepts connections."""

    def __init__(self, config: uvicorn.Config, ready: Connection) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            with contextlib.suppress(OSError):
                self.ready.send_bytes(b"ready")


def _run_worker(config: uvicorn.Config, sock: socket.socket, ready: Connection, parent: int) -> None:
    """A worker process: serve on `sock` until SIGINT/SIGTERM (or the parent's end)."""
    if sys.platform == "linux":  # the parent may die without stopping us (SIGKILL): stop then too
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before we asked
        return
    # A hangup of the terminal's process group reaches the workers too: only the parent acts on
    # it (it replaces the workers one by one), so a worker ignores it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    config.configure_logging()  # spawned: uvicorn's logging is set up again in each process
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config, ready).run(sockets=[sock])


@dataclass
class _Worker:
    slot: int
    process: BaseProcess
    ready: Connection
    serving: bool = False


class Supervisor:
    """Runs one worker process per socket and keeps them running (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.workers: list[_Worker] = []
        self.signals: list[int] = []
        self.stopping = False
        self.failed = False

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM; 1 when a worker failed to start, else 0."""
        previous = {s: signal.signal(s, self._queue) for s in (*STOP_SIGNALS, signal.SIGHUP)}
        try:
            self.workers = [self._start(slot) for slot in range(len(self.sockets))]
            log.info(
                "workers_started",
                workers=[w.process.pid for w in self.workers],
                sockets="SO_REUSEPORT, one per worker",
            )
            while not self.stopping:
                self._handle_signals()
                if self.stopping:
                    break
                self._watch(0.5)
        finally:
            self._stop_all()
            for sock in self.sockets:
                sock.close()
            for number, handler in previous.items():
                signal.signal(number, handler)
        return 1 if self.failed else 0

    def _queue(self, number: int, _: FrameType | None) -> None:
        self.signals.append(number)

    def _start(self, slot: int) -> _Worker:
        ours, theirs = spawn.Pipe(duplex=False)
        process = spawn.Process(
            target=_run_worker,
            args=(self.config, self.sockets[slot], theirs, os.getpid()),
            name=f"cspolicy-worker-{slot}",
        )
        process.start()
        theirs.close()  # the child holds its own end: ours then reads EOF when it is gone
        return _Worker(slot, process, ours)

    def _handle_signals(self) -> None:
        while self.signals:
            number = self.signals.pop(0)
            if number in STOP_SIGNALS:
                log.info("workers_stopping", signal=signal.Signals(number).name)
                self.stopping = True
                return
            if number == signal.SIGHUP:
                log.info("workers_restarting", signal="SIGHUP")
                self._restart_all()

    def _watch(self, timeout: float) -> None:
        """Wait up to `timeout` for a worker to say it serves or to end; restart one that ended."""
        waiting = {w.ready: w for w in self.workers if not (w.serving or w.ready.closed)}
        with contextlib.suppress(InterruptedError):
            for handle in wait([*waiting, *(w.process.sentinel for w in self.workers)], timeout):
                if isinstance(handle, Connection) and handle in waiting:
                    self._read_ready(waiting[handle])
        if self.signals:  # a stop signal that also reached the workers is not a crash
            return
        for index, worker in enumerate(self.workers):
            if worker.process.is_alive():
                continue
            worker.process.join()
            if not worker.ready.closed and worker.ready.poll():  # it served, then ended at once
                self._read_ready(worker)
            worker.ready.close()
            if not worker.serving:
                log.error("worker_failed_to_start", pid=worker.process.pid, exitcode=worker.process.exitcode)
                self.failed = self.stopping = True
                return
            log.warning("worker_exited", pid=worker.process.pid, exitcode=worker.process.exitcode)
            self.workers[index] = self._start(worker.slot)

    def _read_ready(self, worker: _Worker) -> None:
        try:
            worker.serving = worker.ready.recv_bytes() == b"ready"
        except (EOFError, OSError):  # it ended before serving; `_watch` sees to it
            worker.ready.close()
            return
        log.info("worker_serving", pid=worker.process.pid, slot=worker.slot)

    def _restart_all(self) -> None:
        """Replace each worker by a new one (which loads the policies afresh), one at a time."""
        for index, old in enumerate(list(self.workers)):
            new = self._start(old.slot)
            if not self._wait_serving(new):
                _end(new.process)
                log.error("workers_restart_aborted", pid=new.process.pid, kept=old.process.pid)
                return
            _end(old.process, self.config.timeout_graceful_shutdown)
            old.ready.close()
            self.workers[index] = new
        log.info("workers_restarted", workers=[w.process.pid for w in self.workers])

    def _wait_serving(self, worker: _Worker) -> bool:
        """Wait until `worker` serves; False when it ends first or a stop signal comes."""
        while not worker.serving:
            if worker.ready.closed or any(s in STOP_SIGNALS for s in self.signals):
                return False
            with contextlib.suppress(InterruptedError):
                if wait([worker.ready], 0.5):  # its word, or EOF when it ended
                    self._read_ready(worker)
        return True

    def _stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive() and worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)
        for worker in self.workers:
            _end(worker.process, self.config.timeout_graceful_shutdown, signalled=True)
            worker.ready.close()


def _end(process: BaseProcess, grace: int | None = None, signalled: bool = False) -> None:
    """Stop `process` (SIGTERM, then SIGKILL after `grace` seconds and a little more) and reap it."""
    if not signalled and process.is_alive():
        process.terminate()
    process.join((grace or 0) + 5)
    if process.is_alive():
        process.kill()
        process.join()
