"""Check real answers against the hub's published OpenAPI document (docs/openapi.json).

`AnswerChecker.check` finds the operation a response answered (method, path template, status),
validates its JSON body against the schema the document declares for it, and records the
operation as checked; an answer the document does not describe is a failure too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


class AnswerChecker:
    def __init__(self, document: dict | None = None) -> None:
        self.document = document or json.loads(DOCUMENT.read_text())
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource("urn:openapi", resource)
        # A parameter is one segment, except where no template matches so (`{reference:path}`
        # is documented as `{reference}` and takes slashes): those are tried last.
        by_literals = sorted(self.document["paths"], key=lambda p: (-len(_literal(p)), p))
        self._templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", segment, path) + "$"), path)
            for segment in ("[^/]+", ".+")
            for path in by_literals
        ]
        self.checked: set[tuple[str, str, str]] = set()
        self.failures: list[str] = []

    def operation(self, method: str, path: str) -> str | None:
        for pattern, template in self._templates:
            if pattern.match(path) and method.lower() in self.document["paths"][template]:
                return template
        return None

    def check(self, response: httpx.Response) -> None:
        method, path = response.request.method, response.request.url.path
        template = self.operation(method, path)
        status = str(response.status_code)
        where = f"{method} {path} {status}"
        if template is None:
            self.failures.append(f"{where}: no operation in the document")
            return
        answers = self.document["paths"][template][method.lower()]["responses"]
        if status not in answers:
            self.failures.append(f"{where}: status not documented for {template}")
            return
        self.checked.add((method, template, status))
        media = response.headers.get("content-type", "").split(";")[0]
        content = answers[status].get("content", {})
        if media != "application/json" or not response.content:
            if content and media not in content:
                self.failures.append(
                    f"{where}: answered {media or 'nothing'}, documented {list(content)}"
                )
            return
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            self.failures.append(f"{where}: a JSON body where the document declares none")
            return
        validator = Draft202012Validator(_rebase(schema), registry=self._registry)
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: e.path)
        if errors:
            first = errors[0]
            self.failures.append(
                f"{where}: {first.message[:300]} at /{'/'.join(map(str, first.path))}"
            )


def _literal(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "", path)


def _rebase(schema):
    """Local references (#/components/…) made absolute to the document's resource."""
    if isinstance(schema, dict):
        return {
            k: ("urn:openapi" + v if k == "$ref" and v.startswith("#") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema
