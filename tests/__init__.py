"""Tests of the nezlam pipeline."""

from pathlib import Path

#: The checkout the tests run from (for files that are not package data: docs, tools, README).
REPO_ROOT = Path(__file__).resolve().parent.parent
