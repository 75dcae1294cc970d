"""The code-quality checks, run as tests so that `pytest` alone holds every change to them.

mypy, strict, over domain/ and services/ (its settings, and which packages it covers, are the
`[tool.mypy]` section of pyproject.toml).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_passes_on_domain_and_services() -> None:
    # From the repository root, so that mypy reads pyproject.toml's settings and file list.
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"mypy found errors:\n{done.stdout}{done.stderr}"
