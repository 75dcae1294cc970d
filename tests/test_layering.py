"""The layers, checked by reading every module's imports under src/ (with `ast`, nothing runs).

domain/ imports no framework, database, adapter, service or entrypoint; services/ import no
adapter, entrypoint or demo; nothing imports the demo but the demo itself and the CLI's `demo`
command module; and no two packages import each other, directly or around a longer loop.
Imports inside functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "crossroads"

# Third-party modules that are frameworks, databases or I/O: the domain stays free of them.
FRAMEWORKS = (
    "fastapi",
    "starlette",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "psycopg",
    "psycopg_pool",
    "aiohttp",
    "httpx",
    "nats",
    "uvicorn",
    "typer",
    "rich",
    "jinja2",
    "lxml",
    "authlib",
    "prometheus_client",
    "sqlite3",
    "asyncio",
    "urllib.request",
    "socket",
    "subprocess",
)
# The modules that may import crossroads.demo: the demo's own modules, and the CLI's demo command.
DEMO_IMPORTERS = ("crossroads.entrypoints.cli.demo",)  # the CLI's demo command: its run and its tour


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The absolute names of every module `path` imports (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from . import x` and `from .pkg import module` import submodules too
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def modules() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offending(importer_prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in modules().items()
        if _under(module, importer_prefix)
        for target in targets
        if _under(target, *forbidden)
    )


def test_the_domain_imports_no_framework_database_adapter_service_or_entrypoint():
    inner = tuple(
        f"crossroads.{p}"
        for p in (
            "services",
            "adapters",
            "entrypoints",
            "demo",
            "bootstrap",
            "config",
            "providerkit",
            "templates",
        )
    )
    assert _offending("crossroads.domain", inner + FRAMEWORKS) == []


def test_services_import_no_adapter_entrypoint_or_demo():
    outer = tuple(
        f"crossroads.{p}" for p in ("adapters", "entrypoints", "demo", "bootstrap", "providerkit")
    )
    assert _offending("crossroads.services", outer) == []


def test_nothing_imports_the_demo_but_the_demo_and_the_clis_demo_command():
    found = sorted(
        f"{module} imports {target}"
        for module, targets in modules().items()
        if not _under(module, "crossroads.demo", *DEMO_IMPORTERS)
        for target in targets
        if _under(target, "crossroads.demo")
    )
    assert found == []


# Read the hub from the application's state: the API's wiring (app.py's lifespan), its typed
# accessors (dependencies.py), and the two ASGI pieces no route dependency reaches (the session
# middleware and the mounted declarations source).
HUB_READERS = {"app", "dependencies", "sessions", "declarations_source"}


def _attributes(path: Path) -> list[ast.Attribute]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Attribute)]


def test_the_apis_routes_reach_use_cases_through_typed_dependencies_not_the_hub_or_its_store():
    api = sorted((PACKAGE / "entrypoints" / "api").glob("*.py"))
    hub_readers = sorted(
        path.stem
        for path in api
        for node in _attributes(path)
        if node.attr == "hub"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "state"
    )
    assert set(hub_readers) <= HUB_READERS, hub_readers
    store_readers = sorted(
        {
            path.stem
            for path in api
            if path.stem != "app"
            for node in _attributes(path)
            if node.attr == "store"
        }
    )
    assert store_readers == []


def unit(name: str) -> str | None:
    """The package a module belongs to, for the cycle check: crossroads' top-level packages and
    modules, except entrypoints, whose members are separate doors (the API, the CLI, the witness…)
    and count one by one."""
    parts = name.split(".")
    if parts[0] != "crossroads" or len(parts) < 2:
        return None
    if parts[1] == "entrypoints" and len(parts) > 2:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in modules().items():
        source = unit(module)
        if source is None:
            continue
        graph.setdefault(source, set())
        for target in targets:
            to = unit(target)
            if to is not None and to != source and to != "crossroads.__init__":
                graph[source].add(to)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_packages_import_each_other():
    assert cycles(package_graph()) == []


def test_the_cycle_check_finds_a_loop():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_reader_resolves_relative_imports():
    found = imports_of(PACKAGE / "demo" / "wiring.py")
    assert "crossroads.bootstrap" in found and "crossroads.demo.identity_provider" in found
