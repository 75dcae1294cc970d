"""Documentation that cannot drift: every error code and every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from crossroads.config import Settings
from crossroads.domain.errors import CATALOGUE
from crossroads.entrypoints.api.app import create_app

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "crossroads"


def codes_used_in_source() -> set[str]:
    pattern = re.compile(r"Refusal\(\s*\"([a-z_]+)\"")
    found = set()
    for path in SOURCE.rglob("*.py"):
        found |= set(pattern.findall(path.read_text()))
    return found


def test_every_code_raised_is_in_the_catalogue():
    used = codes_used_in_source()
    assert used, "the pattern found no Refusal at all"
    assert used <= set(CATALOGUE), used - set(CATALOGUE)


def test_every_code_is_in_docs_errors_md():
    text = (ROOT / "docs" / "errors.md").read_text()
    missing = [code for code in CATALOGUE if f"`{code}`" not in text]
    assert not missing, f"undocumented in docs/errors.md: {missing}"


def test_every_code_is_in_the_openapi_document(tmp_path):
    from tests.conftest import make_settings

    schema = create_app(make_settings(tmp_path)).openapi()
    assert set(schema["x-error-codes"]) == set(CATALOGUE)
    assert set(schema["components"]["schemas"]["Error"]["properties"]["code"]["enum"]) == set(
        CATALOGUE
    )
    exchange = schema["paths"]["/v1/exchange/{service}"]["post"]["responses"]
    described = " ".join(r.get("description", "") for r in exchange.values())
    for code in (
        "no_authorization",
        "subject_not_in_directory",
        "provider_timeout",
        "invalid_provider_response",
    ):
        assert f"`{code}`" in described


def test_every_setting_is_in_docs_configuration_md():
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`CROSSROADS_{name.upper()}`" not in text]
    assert not missing, f"undocumented settings: {missing}"
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} describes nothing"


# Variables named in prose that are deliberately no setting: placeholders, a stream's default
# name, and the misspellings the docs show the hub reporting.
NOT_VARIABLES = {
    "CROSSROADS_X",
    "CROSSROADS_X_FILE",
    "CROSSROADS_DELIVERIES",
    "CROSSROADS_SESION_SECRET",
    "CROSSROADS_TOKEN_TL_SECONDS",
}


def known_variables() -> set[str]:
    """Every `CROSSROADS_*` variable something reads: the settings, their `_FILE` forms, the
    client commands' own."""
    from crossroads import config_sources

    names = {config_sources.variable(name) for name in Settings.model_fields}
    names |= {
        config_sources.variable(name) + config_sources.FILE_SUFFIX
        for name in config_sources.file_settings(Settings)
    }
    return names | set(config_sources.CLIENT_VARIABLES)


def test_every_variable_the_docs_name_is_read_by_something():
    from crossroads import config_sources

    known = known_variables()
    assert not NOT_VARIABLES & known, "an exception above names a real variable"
    wrong = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for found in re.findall(r"CROSSROADS_[A-Z0-9_]+", path.read_text()):
            if found.endswith("_"):  # CROSSROADS_CITIZEN_OIDC_…: a family of variables
                if not found.startswith(config_sources.NOT_SETTINGS) and not any(
                    k.startswith(found) for k in known
                ):
                    wrong.append(f"{path.name}: {found}…")
            elif found not in known | NOT_VARIABLES and not found.startswith(
                config_sources.NOT_SETTINGS
            ):
                wrong.append(f"{path.name}: {found}")
    assert not wrong, f"variables no setting has (config.py): {wrong}"


def test_readme_opens_with_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.+?)\n```", readme)
    assert "crossroads demo" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_docs_openapi_json_is_current(tmp_path):
    import json

    from tests.conftest import make_settings

    current = (
        json.dumps(create_app(make_settings(tmp_path)).openapi(), indent=2, sort_keys=True) + "\n"
    )
    assert (ROOT / "docs" / "openapi.json").read_text() == current, (
        "regenerate: crossroads openapi --output docs/openapi.json"
    )


def test_building_the_app_for_its_openapi_document_writes_nothing(tmp_path):
    from tests.conftest import make_settings

    data_dir = tmp_path / "data"
    create_app(make_settings(data_dir, store_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}")).openapi()
    assert not data_dir.exists()


# Repository paths named in prose ----------------------------------------------------------------

# Top folders of the repository and of the package: a name that starts with one is a path.
_TOP = (
    "src",
    "tests",
    "docs",
    "bench",
    ".ci",
    "domain",
    "services",
    "adapters",
    "entrypoints",
    "demo",
    "reference",
    "templates",
    "providerkit",
    "crossroads",
)
_EXTENSIONS = (
    "py",
    "md",
    "sql",
    "xsd",
    "xml",
    "json",
    "html",
    "toml",
    "sh",
    "txt",
    "yml",
    "yaml",
    "css",
    "js",
)
_PATH = re.compile(
    r"(?<![\w/:.@{$-])"  # not the middle of a URL, an address, another path or a template
    r"((?:\.?[\w-]+/)+[\w.*-]*|[\w-]+\.(?:" + "|".join(_EXTENSIONS) + r"))(?![\w/])"
)
# Named as examples (a user's own files, placeholders in capitals) or made at run time.
_NOT_IN_THE_REPOSITORY = (
    "var/",
    "DATA_DIR/",
    "data_dir/",
    "in.json",
    "quarter.xml",
    "report.json",
    "CONFIG.json",
    "tree-head-SIZE.json",
    "hub.json",
)
_SKIPPED_DIRS = {".venv", ".git", "__pycache__", "var", "node_modules"}


def _repository_paths() -> set[str]:
    """Every file and folder of the repository, relative to its root."""
    found: set[str] = set()
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for entry in folder.iterdir():
            if entry.name in _SKIPPED_DIRS or entry.name.endswith(".egg-info"):
                continue
            relative = entry.relative_to(ROOT).as_posix()
            found.add(relative)
            if entry.is_dir():
                stack.append(entry)
    return found


def _names_a_repository_path(word: str) -> bool:
    word = word.rstrip(".")
    if word.rstrip("/").endswith(tuple(f".{e}" for e in _EXTENSIONS)):
        return True
    return "/" in word and word.lstrip("./").split("/", 1)[0] in _TOP


def _exists(word: str, paths: set[str]) -> bool:
    from fnmatch import fnmatch

    word = word.rstrip(".").rstrip("/").removeprefix("./")
    if word.startswith(_NOT_IN_THE_REPOSITORY):
        return True
    module, _, function = word.rpartition(".")
    if (
        "/" in module and function not in _EXTENSIONS
    ):  # a function: `entrypoints/api/json_input.read_json`
        source = SOURCE / f"{module}.py"
        return source.is_file() and f"def {function}(" in source.read_text()
    if "/" not in word:
        return any(p.rsplit("/", 1)[-1] == word for p in paths)
    return any(p == word or p.endswith("/" + word) or fnmatch(p, f"*{word}") for p in paths)


def _prose_of_source(path: Path) -> str:
    """The docstrings and comments of a Python module: what a reader is told, not what runs."""
    import ast
    import io
    import tokenize

    text = path.read_text()
    parts = [
        token.string
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            parts.append(ast.get_docstring(node) or "")
    return "\n".join(parts)


def named_paths() -> list[tuple[str, str]]:
    """(where, path) for every repository path named in the docs and in the code's prose."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"^[a-z]+:", link):
                target = (doc.parent / link).resolve()
                found.append(
                    (
                        doc.name,
                        target.relative_to(ROOT).as_posix()
                        if target.is_relative_to(ROOT)
                        else link,
                    )
                )
        text = re.sub(r"\]\([^)]*\)|https?://\S+", " ", text)
        found += [
            (doc.name, word) for word in _PATH.findall(text) if _names_a_repository_path(word)
        ]
    for module in sorted([*SOURCE.rglob("*.py"), *(ROOT / "bench").glob("*.py")]):
        where = module.relative_to(ROOT).as_posix()
        text = re.sub(r"https?://\S+", " ", _prose_of_source(module))
        found += [(where, word) for word in _PATH.findall(text) if _names_a_repository_path(word)]
    return found


def test_every_repository_path_named_in_the_docs_and_the_code_exists():
    named = named_paths()
    assert ("README.md", "docs/concepts.md") in named and len(named) > 50, (
        "the pattern found too little"
    )
    paths = _repository_paths()
    missing = sorted({f"{where}: {word}" for where, word in named if not _exists(word, paths)})
    assert missing == []


def test_the_verifier_imports_what_the_readme_says_it_does():
    """verifier.py is the one file an auditor copies: the standard library and `cryptography`."""
    import ast
    import sys

    tree = ast.parse((SOURCE / "verifier.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert "cryptography" in imported and imported - set(sys.stdlib_module_names) == {
        "cryptography"
    }
    readme = (ROOT / "README.md").read_text()
    line = next(
        line for line in readme.splitlines() if "verifier.py" in line and "standard" in line
    )
    assert "only" not in line and "cryptography" in readme[readme.index(line) :][:300]


def test_every_migration_says_whether_old_processes_may_run_beside_it():
    """docs/operations.md's table of migrations names each one (alone, in a list, or in a range
    `0001–0010`), so that an operator planning a rolling upgrade knows what to stop first."""
    folder = ROOT / "src" / "crossroads" / "adapters" / "sql" / "migrations"
    numbers = {int(path.name[:4]) for path in folder.glob("[0-9][0-9][0-9][0-9]_*.sql")}
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text[text.index("| migration | old processes may run beside it |") :]
    table = table[: table.index("\n\n")]
    named: set[int] = set()
    for line in table.splitlines()[2:]:
        first_cell = line.split("|")[1]
        for low, high in re.findall(r"(\d{4})(?:–(\d{4}))?", first_cell):
            named.update(range(int(low), int(high or low) + 1))
    assert numbers - named == set(), (
        f"migrations missing from docs/operations.md: {numbers - named}"
    )
