"""Where a partition's records may be written: Faust files a table key under the partition of
the event being processed, and only the partition's owner may write it."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol


class PartitionScope(Protocol):
    """The partitions this worker owns, and the scope their table writes run in."""

    def __call__(self, partition: int) -> AbstractContextManager[None]:
        """Run the block as if processing a message of ``partition``."""

    def covers(self, partition: int) -> bool:
        """Whether this worker can write ``partition``'s records now."""

    def assigned(self) -> Collection[int]:
        """The input partition numbers this worker owns now."""

    def generation(self) -> int:
        """A number that changes at every rebalance (the table may have been restored)."""


class OneProcessScope:
    """Every partition is this process's and is never rebalanced: a state table held in one
    process (the in-process tests and benchmark)."""

    def covers(self, partition: int) -> bool:
        """Always."""
        return True

    def assigned(self) -> Collection[int]:
        """None known beforehand: each task is built when its first message comes."""
        return ()

    def generation(self) -> int:
        """No rebalance ever happens."""
        return 0

    def __call__(self, partition: int) -> AbstractContextManager[None]:
        """Nothing to set up."""
        return nullcontext()
