"""Settings read from the environment: secrets from files, misspelt variables reported, and bad
values that name their variable (one case per kind of bad value)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crossroads.config import Settings
from crossroads.config_sources import file_settings


@pytest.fixture
def environ(monkeypatch):
    """A clean slate: no CROSSROADS_* variable but the test suite's own."""
    for name in list(os.environ):
        if name.startswith("CROSSROADS_") and not name.startswith("CROSSROADS_TEST_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_a_misspelt_variable_is_reported_with_the_name_it_resembles(environ):
    environ.setenv("CROSSROADS_SESION_SECRET", "x" * 40)
    environ.setenv("CROSSROADS_STORE_ULR", "postgresql://db/crossroads")
    environ.setenv("CROSSROADS_ADMIN_TOKEN_FIEL", "/run/credentials/admin")
    environ.setenv("CROSSROADS_SOMETHING_ELSE", "1")
    environ.setenv("CROSSROADS_BENCH_POSTGRES_DSN", "postgresql://bench")  # the benchmarks' own
    environ.setenv("CROSSROADS_HUB", "https://hub.example")  # the client commands' own
    environ.setenv("CROSSROADS_PORT", "8001")
    environ.setenv("CROSSROADS_ADMIN_TOKEN_FILE", "/run/credentials/admin")
    ignored = "is not a setting of the hub and is ignored"
    assert Settings.unknown_variables() == [
        f"CROSSROADS_ADMIN_TOKEN_FIEL {ignored}; did you mean CROSSROADS_ADMIN_TOKEN_FILE?",
        f"CROSSROADS_SESION_SECRET {ignored}; did you mean CROSSROADS_SESSION_SECRET?",
        f"CROSSROADS_SOMETHING_ELSE {ignored}",
        f"CROSSROADS_STORE_ULR {ignored}; did you mean CROSSROADS_STORE_URL?",
    ]


def test_the_hub_logs_misspelt_variables_when_it_starts(environ, tmp_path):
    env = {
        **os.environ,
        "CROSSROADS_DATA_DIR": str(tmp_path),
        "CROSSROADS_STORE_URL": f"sqlite:///{tmp_path}/h.db",
        "CROSSROADS_TOKEN_TL_SECONDS": "60",
    }
    started = subprocess.run(
        [sys.executable, "-c", "import crossroads.entrypoints.api.asgi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    assert "did you mean CROSSROADS_TOKEN_TTL_SECONDS?" in started.stdout + started.stderr


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("CROSSROADS_PORT", "eighty", "valid integer"),  # not a number
        ("CROSSROADS_PORT", "70000", "less than or equal to 65535"),  # out of range
        ("CROSSROADS_PROVIDER_READ_TIMEOUT", "-1", "greater than 0"),  # a float out of range
        ("CROSSROADS_PROPOSAL_LIFETIME_SECONDS", "0", "greater than 0"),  # expires at once
        ("CROSSROADS_COUNTRY", "FR", "'BE' or 'EE'"),  # not one of the choices
        ("CROSSROADS_INSTANCE", "B E", "should match pattern"),  # not the pattern
        ("CROSSROADS_ALLOW_INTERNAL_WEBHOOKS", "perhaps", "valid boolean"),
        ("CROSSROADS_ISSUER", "hub.example.org", "http(s) URL"),  # our own check
        ("CROSSROADS_STORE_URL", "mysql://db", "sqlite:/// or postgresql://"),
        ("CROSSROADS_WITNESS_URLS", "https://witness.example", "not valid JSON"),  # JSON expected
        ("CROSSROADS_PROVIDER_CA_FILE", "/nonexistent/ca.pem", "no usable CA certificate"),
    ],
)
def test_a_bad_value_names_its_variable(environ, variable, value, says):
    environ.setenv(variable, value)
    with pytest.raises(ValueError) as refused:
        Settings()
    assert variable in str(refused.value) and says in str(refused.value)


def test_a_bad_secret_names_its_variable_but_not_its_value(environ):
    environ.setenv("CROSSROADS_SESSION_SECRET", "too-short-but-secret")
    with pytest.raises(ValueError) as refused:
        Settings()
    assert "CROSSROADS_SESSION_SECRET" in str(refused.value) and "at least 32" in str(refused.value)
    assert "too-short-but-secret" not in str(refused.value)


def test_every_secret_and_every_url_with_a_password_can_come_from_a_file(environ, tmp_path):
    names = file_settings(Settings)
    assert {
        "admin_token",
        "subject_hash_secret",
        "session_secret",
        "citizen_oidc_client_secret",
        "nats_token",
        "store_url",
        "nats_url",
    } <= set(names)
    values = {
        "store_url": "postgresql://hub:pa55@db:5432/crossroads",
        "nats_url": "tls://u:p@nats:4222",
    }
    for name in names:
        path = tmp_path / name
        path.write_text(values.get(name, f"{name}-from-a-file-" + "x" * 32) + "\n")
        environ.setenv(f"CROSSROADS_{name.upper()}_FILE", str(path))
    settings = Settings()
    for name in names:
        value = getattr(settings, name)
        value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        assert value == values.get(name, f"{name}-from-a-file-" + "x" * 32), name


def test_a_secret_given_twice_or_from_an_unreadable_file_is_refused_by_name(environ, tmp_path):
    secret = tmp_path / "admin"
    secret.write_text("a-token-of-sufficient-length")
    environ.setenv("CROSSROADS_ADMIN_TOKEN_FILE", str(secret))
    environ.setenv("CROSSROADS_ADMIN_TOKEN", "another-token-of-sufficient-length")
    with pytest.raises(
        ValueError, match="CROSSROADS_ADMIN_TOKEN and CROSSROADS_ADMIN_TOKEN_FILE are both set"
    ):
        Settings()
    environ.delenv("CROSSROADS_ADMIN_TOKEN")
    environ.setenv("CROSSROADS_ADMIN_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"CROSSROADS_ADMIN_TOKEN_FILE: cannot read .*missing"):
        Settings()
