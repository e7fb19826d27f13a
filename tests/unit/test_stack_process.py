"""Background-process helpers of the local stack, exercised with ``sleep`` as the service."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.stack import process
from streams.stack.process import StackError


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A detached ``sleep`` and its pid file; stopped at the end if the test left it running."""
    pid_file = tmp_path / "sleep.pid"
    pid = process.spawn_detached(
        ["sleep", "60"], log_file=tmp_path / "logs" / "sleep.log", pid_file=pid_file
    )
    yield pid, pid_file
    if process.is_alive(pid):
        process.stop(pid, name="sleep", timeout=5)


def test_spawned_process_runs_in_its_own_session(sleeper: tuple[int, Path]) -> None:
    pid, pid_file = sleeper
    assert process.read_pid(pid_file, "sleep") == pid
    assert os.getsid(pid) == pid


def test_pid_of_another_program_counts_as_stale(sleeper: tuple[int, Path]) -> None:
    _, pid_file = sleeper
    assert process.read_pid(pid_file, "kafka.Kafka") is None
    assert not pid_file.exists()


def test_pid_of_a_dead_process_counts_as_stale(sleeper: tuple[int, Path]) -> None:
    pid, pid_file = sleeper
    process.stop(pid, name="sleep", timeout=5)
    assert not process.is_alive(pid)
    assert process.read_pid(pid_file, "sleep") is None
    assert not pid_file.exists()


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    # An ignored signal stays ignored across exec, so `sleep` itself ignores SIGTERM.
    stubborn = ["sh", "-c", "trap '' TERM; echo ready; exec sleep 60"]
    log = tmp_path / "log"
    pid = process.spawn_detached(stubborn, log_file=log, pid_file=tmp_path / "pid")
    process.wait_until(lambda: process.tail(log) == "ready\n", what="sh", timeout=5, interval=0.05)
    process.stop(pid, name="stubborn", timeout=0.5)
    assert not process.is_alive(pid)


def test_an_exited_child_of_another_parent_is_not_alive(tmp_path: Path) -> None:
    # The shell starts `true`, then becomes `sleep`, which never reaps it: a zombie.
    parent = ["sh", "-c", "true & echo $!; exec sleep 60"]
    log = tmp_path / "log"
    pid = process.spawn_detached(parent, log_file=log, pid_file=tmp_path / "pid")
    try:
        process.wait_until(lambda: process.tail(log).endswith("\n"), what="sh", timeout=5)
        zombie = int(process.tail(log))
        process.wait_until(lambda: not process.is_alive(zombie), what="zombie", timeout=5)
    finally:
        process.stop(pid, name="parent", timeout=5)


def test_wait_until_gives_up_when_the_process_exits() -> None:
    with pytest.raises(StackError, match="exited"):
        process.wait_until(lambda: False, what="x", timeout=5, alive=lambda: False)


def test_wait_until_gives_up_after_the_timeout() -> None:
    with pytest.raises(StackError, match="not ready"):
        process.wait_until(lambda: False, what="x", timeout=0.2, interval=0.05)


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert process.port_in_use("127.0.0.1", port)
    assert not process.port_in_use("127.0.0.1", port)


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert process.tail(log, lines=2) == "line 98\nline 99\n"
    assert process.tail(tmp_path / "missing.log") == ""
