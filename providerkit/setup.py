"""Builds the provider kit from the hub's own sources (../src), taking only the modules the kit
imports, so that the kit and the hub never drift apart. setuptools takes no package directory
outside the project, so the modules are copied into `kit/` first (ignored by git). The list is
checked by tests/test_providerkit_distribution.py, which builds this distribution and imports it
alone."""

import shutil
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
MODULES = [
    "crossroads/__init__.py",
    "crossroads/domain/__init__.py",
    "crossroads/domain/errors.py",
    "crossroads/domain/unique_keys.py",
    "crossroads/providerkit/__init__.py",
    "crossroads/providerkit/hub_keys.py",
    "crossroads/providerkit/signatures.py",
]

if SRC.is_dir():  # from the repository; an sdist already carries its copy
    shutil.rmtree(HERE / "kit", ignore_errors=True)
    for module in MODULES:
        (HERE / "kit" / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SRC / module, HERE / "kit" / module)

setup(
    packages=["crossroads", "crossroads.domain", "crossroads.providerkit"], package_dir={"": "kit"}
)
