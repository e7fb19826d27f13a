"""Files of generated secrets (the local stack's passwords), readable by their owner only."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def write_private(path: Path, lines: Iterable[str]) -> None:
    """Replace ``path`` with ``lines`` atomically, mode 0600 from the start: the secrets are
    never readable by anyone else, and a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".new")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(staging, 0o600)  # an older staging file may have had another mode
    os.replace(staging, path)
