"""The folder tree is the architecture: packages say what they hold and may import, imports
go one way, and the README's layout names every package and top-level module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "streams"

#: package -> the project packages and modules it must not import (besides itself).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # the pure core: nothing of the project but itself
    "streams.domain": ("streams.",),
    "streams.kafka": ("streams.worker", "streams.cli", "streams.sinks", "streams.alerting",
                      "streams.stack", "streams.simulate", "streams.bench", "streams.dashboards"),
    "streams.alerting": ("streams.worker", "streams.cli", "streams.stack", "streams.simulate",
                         "streams.bench", "streams.dashboards"),
    "streams.sinks": ("streams.worker", "streams.cli", "streams.stack", "streams.simulate",
                      "streams.bench", "streams.dashboards"),
    "streams.worker": ("streams.cli", "streams.stack", "streams.simulate", "streams.bench",
                       "streams.dashboards"),
    "streams.simulate": ("streams.worker", "streams.cli", "streams.sinks", "streams.alerting",
                         "streams.bench", "streams.dashboards"),
    "streams.dashboards": ("streams.worker", "streams.cli", "streams.stack", "streams.simulate",
                           "streams.bench"),
    "streams.db": ("streams.worker", "streams.cli", "streams.simulate", "streams.bench"),
    "streams.stack": ("streams.worker", "streams.cli", "streams.bench"),
    "streams.bench": ("streams.cli",),
    "streams.logistics": ("streams.worker", "streams.cli", "streams.stack", "streams.simulate",
                          "streams.bench"),
}
#: the few modules a package may still import from a forbidden one, and why.
ALLOWED = {
    # the pure core's own modules import each other
    ("streams.domain", "streams.domain"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "streams" or name.startswith("streams.")}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package: str) -> None:
    broken = []
    for path in sorted((PACKAGE / package.split(".")[1]).rglob("*.py")):
        module = _module_name(path)
        for imported in _imports(path):
            if _in(imported, package):
                continue
            for forbidden in FORBIDDEN[package]:
                hit = imported.startswith(forbidden) or imported == forbidden.rstrip(".")
                if hit and (package, forbidden.rstrip(".")) not in ALLOWED:
                    broken.append(f"{module} imports {imported}")
    assert not broken, f"{package} must not import: " + "; ".join(broken)


def test_only_the_cli_imports_the_cli() -> None:
    broken = [f"{_module_name(path)} imports {imported}"
              for path in sorted(PACKAGE.rglob("*.py"))
              if not _in(_module_name(path), "streams.cli")
              for imported in _imports(path) if _in(imported, "streams.cli")]
    assert not broken, "; ".join(broken)


def test_every_package_says_what_it_holds_and_may_import() -> None:
    missing = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if "import" not in doc.lower():
            missing.append(str(init.relative_to(REPO_ROOT)))
    assert not missing, "package docstrings must say what the package may import: " + ", ".join(
        missing)


def _layout_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def test_the_readme_layout_names_every_package_and_top_level_module() -> None:
    block = _layout_block()
    listed = set(re.findall(r"^\s{2}(\S+)", block, flags=re.MULTILINE))
    listed |= {name for line in re.findall(r"^\s{2}(\S.*?)\s{2,}", block, flags=re.MULTILINE)
               for name in re.split(r",\s*", line)}
    wanted = {f"{path.name}/" for path in PACKAGE.iterdir()
              if path.is_dir() and (path / "__init__.py").exists()}
    wanted |= {path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    missing = sorted(wanted - listed)
    assert not missing, f"README.md's layout does not name: {', '.join(missing)}"
