"""The code-quality checks, run as tests so that `pytest` alone holds every change to them.

- ruff, the linter and the formatter, over every Python file of the repository (its rules and
  the 100-column limit are the `[tool.ruff]` section of pyproject.toml);
- mypy, strict, over domain/ and services/ (the `[tool.mypy]` section says which packages).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TREES = ["src", "tests", "bench", "providerkit", "deploy"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    # From the repository root, so that the tools read pyproject.toml's settings and file list.
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_finds_nothing_to_fix() -> None:
    done = _run("ruff", "check", "--no-cache", *PYTHON_TREES)
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"


def test_every_python_file_is_formatted_as_ruff_formats_it() -> None:
    done = _run("ruff", "format", "--check", "--no-cache", *PYTHON_TREES)
    assert done.returncode == 0, f"ruff format would change:\n{done.stdout}{done.stderr}"


def test_no_python_file_compiles_with_a_warning() -> None:
    # ruff parses `("a" "b")("c")` as a call; the compiler warns that a str is not callable.
    # Such a line is a fault a formatter or a hand split made, whatever the linters say.
    found = []
    for tree in PYTHON_TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    compile(path.read_text(encoding="utf-8"), str(path), "exec")
                except (SyntaxError, SyntaxWarning) as problem:
                    found.append(f"{path.relative_to(ROOT)}: {problem}")
    assert found == []


def test_mypy_strict_passes_on_domain_and_services() -> None:
    done = _run("mypy")
    assert done.returncode == 0, f"mypy found errors:\n{done.stdout}{done.stderr}"
