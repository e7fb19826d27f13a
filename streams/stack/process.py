"""Background processes of the local stack: start detached, pid files, readiness, clean stop.

A service started here outlives the ``nezlam`` command that started it: it runs in its own
session with stdin closed and stdout/stderr appended to a log file, and its pid is recorded in a
pid file. A pid file is trusted only while the process it names is alive *and* its command line
still carries the service's marker, so a pid reused after a reboot is never signalled. Process
state and command lines come from psutil; every service of the stack (Kafka, Alertmanager,
Prometheus, the webhook receiver) and the tests' Alertmanager start and stop through here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import psutil


class StackError(click.ClickException):
    """A local service could not be prepared, started, reached or stopped; says what to do."""


def spawn_detached(argv: Sequence[str], *, log_file: Path, pid_file: Path) -> int:
    """Start ``argv`` in a new session, output appended to ``log_file``; record and return its pid.

    ``posix_spawnp`` rather than ``subprocess.Popen``: the child must outlive this process, and a
    Popen object dropped while its child runs warns and queues the child for reaping.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        pid = os.posix_spawnp(
            argv[0],
            list(argv),
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)
    _wait_for_exec(pid)
    pid_file.write_text(f"{pid}\n")
    return pid


def _wait_for_exec(pid: int, timeout: float = 2.0) -> None:
    """Return once the kernel shows the new program's command line, so ``read_pid`` knows it.

    ``posix_spawn`` returns while exec is still setting up the process; in that window its
    command line reads empty.
    """
    deadline = time.monotonic() + timeout
    while not _cmdline(pid) and is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def read_pid(pid_file: Path, marker: str) -> int | None:
    """The live pid recorded in ``pid_file`` whose command line contains ``marker``, else None.

    A stale pid file (process gone, or the pid now belongs to something else) is removed.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        pid = None
    if pid is not None and is_alive(pid) and any(marker in arg for arg in _cmdline(pid)):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (not exited, not a zombie waiting to be reaped)."""
    with contextlib.suppress(ChildProcessError):
        # Our own exited child stays a zombie until reaped; reaping it here means "dead".
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(pid: int) -> list[str]:
    """The command line of ``pid``; empty for kernel threads, zombies and vanished processes."""
    try:
        return psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def stop(pid: int, *, name: str, timeout: float = 30.0) -> None:
    """Stop ``pid`` with SIGTERM; SIGKILL it if it has not exited after ``timeout`` seconds."""
    click.echo(f"{name}: stopping pid {pid} (SIGTERM)")
    started = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_exit(pid, timeout):
        click.echo(f"{name}: stopped in {time.monotonic() - started:.1f} s")
        return
    click.echo(f"{name}: still running after {timeout:.0f} s, sending SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_exit(pid, 10.0):
        raise StackError(f"{name}: pid {pid} survived SIGKILL")
    click.echo(f"{name}: killed")


def kill(pid: int, *, name: str) -> None:
    """SIGKILL ``pid`` (a crash, for fault tests) and wait until it is gone."""
    click.echo(f"{name}: killing pid {pid} (SIGKILL)")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_exit(pid, 10.0):
        raise StackError(f"{name}: pid {pid} survived SIGKILL")


def stop_child(
    proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 30.0
) -> None:
    """Stop a child this process started: ``sig``, then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


def wait_until(
    probe: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.5,
) -> float:
    """Call ``probe`` until it returns True; return the seconds it took.

    Raises StackError after ``timeout`` seconds, or as soon as ``alive()`` turns False (the
    process being waited for has exited, so waiting longer cannot help).
    """
    started = time.monotonic()
    next_note = started + 10.0
    while not probe():
        now = time.monotonic()
        if not alive():
            raise StackError(f"{what}: the process exited while starting")
        if now - started > timeout:
            raise StackError(f"{what}: not ready after {timeout:.0f} s")
        if now >= next_note:
            click.echo(f"{what}: still waiting ({now - started:.0f} s)")
            next_note = now + 10.0
        time.sleep(interval)
    return time.monotonic() - started


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path`` (empty when it does not exist)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return ""
