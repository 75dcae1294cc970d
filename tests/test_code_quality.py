"""The code-quality checks, run as tests so that `pytest` alone holds every change to them.

- ruff, the linter and the formatter, over every Python file of the repository (its rules and
  the 100-column limit are the `[tool.ruff]` section of pyproject.toml);
- mypy, strict, over domain/ and services/ (the `[tool.mypy]` section says which packages).
"""

from __future__ import annotations

import subprocess
import sys
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


def test_mypy_strict_passes_on_domain_and_services() -> None:
    done = _run("mypy")
    assert done.returncode == 0, f"mypy found errors:\n{done.stdout}{done.stderr}"
