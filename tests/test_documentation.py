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
    assert set(schema["components"]["schemas"]["Error"]["properties"]["code"]["enum"]) == set(CATALOGUE)
    exchange = schema["paths"]["/v1/exchange/{service}"]["post"]["responses"]
    described = " ".join(r.get("description", "") for r in exchange.values())
    for code in ("no_authorization", "subject_not_in_directory", "provider_timeout", "invalid_provider_response"):
        assert f"`{code}`" in described


def test_every_setting_is_in_docs_configuration_md():
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`CROSSROADS_{name.upper()}`" not in text]
    assert not missing, f"undocumented settings: {missing}"
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} describes nothing"


def test_readme_opens_with_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.+?)\n```", readme)
    assert "crossroads demo" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_docs_openapi_json_is_current(tmp_path):
    import json

    from tests.conftest import make_settings

    current = json.dumps(create_app(make_settings(tmp_path)).openapi(), indent=2, sort_keys=True) + "\n"
    assert (ROOT / "docs" / "openapi.json").read_text() == current, "regenerate: crossroads openapi --output docs/openapi.json"


def test_building_the_app_for_its_openapi_document_writes_nothing(tmp_path):
    from tests.conftest import make_settings

    data_dir = tmp_path / "data"
    create_app(make_settings(data_dir, store_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}")).openapi()
    assert not data_dir.exists()
