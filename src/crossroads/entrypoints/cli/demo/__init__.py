"""`crossroads demo` (a synthetic country, its authentic sources and a hub, with a tour) and
`crossroads providers` (the demo's authentic sources alone, in their own process)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..hub_client import DEFAULT_DATA_DIR


def demo(
    persons: int = typer.Option(
        10_000, min=1, help="Persons in the synthetic country (fewer seed faster)."
    ),
    port: int = typer.Option(8000, help="Port of the hub."),
    provider_port_base: int | None = typer.Option(
        None,
        show_default=False,
        help="Providers listen on this port + 1, + 2, … (default: the hub's port + 100).",
    ),
    data_dir: Path = typer.Option(
        DEFAULT_DATA_DIR, help="Where the demo keeps its store and keys."
    ),
    seed_only: bool = typer.Option(
        False, "--seed-only", help="Seed the store and keys, say how to start the hub, and exit."
    ),
    store_url: str | None = typer.Option(
        None, help="Store to seed and serve (default: SQLite in data_dir)."
    ),
    publish_every: float = typer.Option(
        1.0, min=0, help="Seconds between two mutations the registers publish (0: none)."
    ),
    second_hub: bool = typer.Option(
        False,
        "--second-hub",
        help="Also start a federated second hub (a neighbouring country's, under the Estonian "
        "scheme, on port + 50) and show one exchange and one mutation across the two "
        "(docs/federation.md).",
    ),
) -> None:
    """Seed a synthetic country, start its authentic sources and the hub, and show how to ask.

    The ports are checked first; the tour is printed once the hub answers.

    Ctrl-C (or SIGTERM) stops the hub and the sources' process.
    """
    from .run import run_demo

    run_demo(
        persons=persons,
        port=port,
        provider_port_base=port + 100 if provider_port_base is None else provider_port_base,
        data_dir=data_dir,
        seed_only=seed_only,
        store_url=store_url,
        publish_every=publish_every,
        second_hub=second_hub,
    )


def providers(
    jwks: Path = typer.Option(
        ..., help="The hub's public JWKS file (the demo writes data_dir/hub-jwks.json)."
    ),
    host: str = typer.Option("127.0.0.1"),
    port_base: int = typer.Option(8100),
    publish_every: float = typer.Option(
        0.0, min=0, help="Seconds between two mutations the registers publish to --hub (0: none)."
    ),
    hub: str = typer.Option(
        "http://127.0.0.1:8000",
        help="The hub the registers publish to, and whose JWKS the sources fetch again.",
    ),
    data_dir: Path = typer.Option(
        DEFAULT_DATA_DIR, help="Where the registers' application keys are (the demo's data_dir)."
    ),
    persons: int = typer.Option(
        10_000, help="The demo country's persons (as `crossroads demo --persons`)."
    ),
    country: str = typer.Option(
        "BE",
        help="The demo country whose persons the sources answer for: BE, or EE (an Estonian hub, "
        "CROSSROADS_COUNTRY=EE).",
    ),
    stop_with: int | None = typer.Option(
        None, hidden=True, help="Stop when the process with this id ends (the demo's)."
    ),
    witness_port: int | None = typer.Option(
        None,
        help="Also run a witness of --hub on this port, its key and ledger in DATA_DIR/witness "
        "(the demo's, so that the operator's audit page shows cosignatures).",
    ),
) -> None:
    """Run the demo's simulated authentic sources (one port each) in this process."""
    from ....demo.launch import stop_with_parent
    from .run import serve_demo_providers

    if stop_with is not None:
        stop_with_parent(stop_with)
    from ....demo.estonia import demo_country

    try:
        land = demo_country(country)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--country") from None
    serve_demo_providers(
        jwks, host, port_base, publish_every, hub, data_dir, persons, land, witness_port
    )
