"""What the settings are read from besides plain variables, and what is said about the rest of
the environment: secrets read from files, misspelt variable names, errors that name the variable.

Secrets from files (`CROSSROADS_ADMIN_TOKEN_FILE=/run/credentials/crossroads.service/admin`)
keep them out of the process environment, which `ps e`, crash reports and container
inspection show; systemd's `LoadCredential=`, Docker and Kubernetes secrets all hand a secret
over as a file. A misspelt variable is otherwise ignored in silence, and the hub runs on a
default the operator thought they had changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from pydantic_settings.exceptions import SettingsError

PREFIX = "CROSSROADS_"
FILE_SUFFIX = "_FILE"
# The test suite's and the benchmarks' own variables, which the hub does not read.
NOT_SETTINGS = ("CROSSROADS_TEST_", "CROSSROADS_BENCH_")
# Read by the client commands (`crossroads ask`, `token`...), not by the hub.
CLIENT_VARIABLES = frozenset({"CROSSROADS_HUB"})
# Settings that are not secrets in type but often carry a password (postgresql://u:p@…).
ALSO_FROM_FILES = frozenset({"store_url", "nats_url"})


def variable(name: str) -> str:
    return f"{PREFIX}{name.upper()}"


def is_secret(field: FieldInfo) -> bool:
    return SecretStr in (getattr(field.annotation, "__args__", None) or (field.annotation,))


def file_settings(settings_cls: type[BaseSettings]) -> list[str]:
    """The settings that may be given as `CROSSROADS_X_FILE`: every secret, and URLs that may
    hold a password."""
    return [
        name
        for name, field in settings_cls.model_fields.items()
        if is_secret(field) or name in ALSO_FROM_FILES
    ]


class SecretFiles(PydanticBaseSettingsSource):
    """`CROSSROADS_X_FILE=PATH` gives setting X the file's content, less its final line break.
    Giving both `CROSSROADS_X` and `CROSSROADS_X_FILE` is an error: one of them would be ignored."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in file_settings(self.settings_cls):
            plain = variable(name)
            path = self._environ.get(plain + FILE_SUFFIX)
            if path is None:
                continue
            if plain in self._environ:
                raise SettingsError(f"{plain} and {plain}{FILE_SUFFIX} are both set: keep one")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or exc.__class__.__name__
                raise SettingsError(
                    f"{plain}{FILE_SUFFIX}: cannot read {path} ({reason})"
                ) from None
            values[name] = text.removesuffix("\n").removesuffix("\r")
        return values


def secret_file(name: str, environ: Mapping[str, str]) -> Path | None:
    """The file `CROSSROADS_X_FILE` names for setting `name`, when it is given that way (the
    admin token is read again from it when it changes)."""
    path = environ.get(variable(name) + FILE_SUFFIX)
    return Path(path) if path else None


def unknown_variables(environ: Mapping[str, str], settings_cls: type[BaseSettings]) -> list[str]:
    """One sentence per `CROSSROADS_*` variable that names no setting, with the nearest name
    that does when one is close (difflib)."""
    known = {variable(name) for name in settings_cls.model_fields} | CLIENT_VARIABLES
    known |= {variable(name) + FILE_SUFFIX for name in file_settings(settings_cls)}
    found = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name.startswith(NOT_SETTINGS) or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        found.append(f"{name} is not a setting of the hub and is ignored{hint}")
    return found


def naming_variables(error: ValidationError, settings_cls: type[BaseSettings]) -> ValidationError:
    """The same errors, located by environment variable (`CROSSROADS_PORT`, not `port`), and
    with the value left out where the setting is a secret (a too short key is still a key)."""
    fields = settings_cls.model_fields
    line_errors = []
    for each in error.errors(include_url=False):
        loc = each["loc"]
        field = fields.get(str(loc[0])) if loc else None
        named = (variable(str(loc[0])), *loc[1:]) if field is not None else loc
        entry: dict[str, Any] = {
            "type": each["type"],
            "loc": named,
            "input": "[hidden]" if field is not None and is_secret(field) else each.get("input"),
        }
        if "ctx" in each:
            entry["ctx"] = each["ctx"]
        line_errors.append(entry)
    return ValidationError.from_exception_data(error.title, line_errors)


def naming_the_variable(error: SettingsError) -> SettingsError:
    """pydantic-settings says `error parsing value for field "witness_urls"`: say which variable
    and what was expected."""
    message = str(error)
    if message.startswith('error parsing value for field "'):
        name = message.split('"')[1]
        return SettingsError(
            f"{variable(name)} is not valid JSON (a JSON list or object is expected)"
        )
    return error
