"""`crossroads bench NAME`: run one of the benchmarks in the repository's bench/ folder.

The catalogue below is what `crossroads bench --help` lists; a test checks it against the
scripts in bench/ (each names itself `crossroads bench NAME` in its docstring), so that a new
benchmark cannot be missing from the help. docs/benchmarks.md describes their figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from .output import fail

BENCHMARKS = {
    "audit": "appends, sequencing, inclusion proofs, `audit verify` and the citizen's list",
    "declarations": "a whole DmfA batch file, and DIMONA forms through the API",
    "directory": "bulk integration of persons into the directory, then the exchange's access check",
    "exchange": "HTTP load through `crossroads serve` and straight at the provider, side by side",
    "federation": "cross-hub exchanges through two federated hubs, and one hub's own, side by side",
    "mutations": "mutations published and delivered to webhooks and a mailbox (outbox or NATS)",
    "provider_calls": "the CPU a call to a provider costs, through each outbound client",
    "signature": "the CPU of the signature on an exchange's forward, libsodium against OpenSSL",
    "portal": "signed-in page views (the citizen's page, the operator's overview) under load",
    "rights": "the rights engine: a population's eligibility, re-evaluation, simulations",
    "statistics": "extraction of declarations and exchanges into the warehouse, then aggregates",
    "sizing": (
        "storage per exchange, database connections and memory per worker (docs/operations.md)"
    ),
}
BENCH_FOLDER = Path(__file__).resolve().parents[4] / "bench"  # beside src/ in a clone

HELP = (
    "Run a benchmark from the repository's bench/ folder; the arguments after NAME pass through "
    "(`crossroads bench NAME -- --help` shows its own options).\n\n"
    + "\n\n".join(f"{name}: {what}" for name, what in BENCHMARKS.items())
)


def bench(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=f"One of: {', '.join(BENCHMARKS)}.", show_default=False),
) -> None:
    script = BENCH_FOLDER / f"{name}.py"
    if name not in BENCHMARKS:
        fail(f"unknown benchmark {name!r}, try one of: {', '.join(BENCHMARKS)}", 2)
    if not script.exists():
        fail(
            f"no {script}: the benchmarks run from a clone of the repository (pip install -e .)", 2
        )
    raise typer.Exit(subprocess.call([sys.executable, str(script), *ctx.args]))
