"""What a process has spent, read from the kernel: CPU seconds and peak memory.

CPU time (user + system, the process's own, from ``/proc/<pid>/stat`` through psutil) is the
benchmark's stable figure: on a machine shared with other work, wall-clock rates vary with
the neighbours' load while the CPU a process spends per event barely does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far (its own, not its children's)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (``VmHWM``) in MiB; 0 when the kernel has none."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Drain:
    """One consumer group working through a backlog: events, wall seconds, CPU seconds."""

    events: int
    seconds: float
    cpu_seconds: float
    # CPU the process spends per second with no input (timers that scan every point): a cost
    # per second, not per event, so it weighs more on a slow drain than on a fast one
    idle_cpu_per_second: float = 0.0

    @property
    def rate(self) -> float:
        """Events per wall-clock second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_1000(self) -> float:
        """CPU milliseconds per 1,000 events: the figure sizing is computed from."""
        return 1e6 * self.cpu_seconds / self.events if self.events else float("nan")

    @property
    def rate_per_core(self) -> float:
        """Events one fully busy core would process at this CPU cost."""
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    @property
    def net_cpu_ms_per_1000(self) -> float:
        """CPU-ms per 1,000 events without the idle cost over the drain: what the events
        themselves cost, the same whether the machine let the drain run fast or slowly."""
        net = self.cpu_seconds - self.idle_cpu_per_second * self.seconds
        return 1e6 * net / self.events if self.events else float("nan")
