"""What the browser tests share: `crossroads demo` running as its own
process (with its development identity provider) for the browser to visit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from crossroads.demo.launch import free_port_block, wait_ready

from .chromium import PERSONS


@pytest.fixture
def demo_process(tmp_path):
    with running_demo(tmp_path / "demo") as running:
        yield running


@pytest.fixture(scope="module")
def shared_demo_process(tmp_path_factory):
    """One demo for a module whose tests only read (the portal's public pages)."""
    with running_demo(tmp_path_factory.mktemp("shared") / "demo") as running:
        yield running


@contextmanager
def running_demo(data_dir: Path):
    port = free_port_block(8)
    env = {**os.environ, "CROSSROADS_TREE_HEAD_EVERY_SECONDS": "0.2"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crossroads.entrypoints.cli",
            "demo",
            "--persons",
            str(PERSONS),
            "--port",
            str(port),
            "--provider-port-base",
            str(port + 1),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir.parent / "demo.log").open("w"),
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/ready", process, timeout=60)
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)
