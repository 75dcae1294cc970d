"""Hostile values, and requests that carry them into every field of every operation of an OpenAPI
document: what property-based generators rarely produce (NaN, ±inf, integers beyond 64 bits,
year 9999 and 10000, control characters, lone surrogates, deep nesting, wrong types).

`requests(document, baseline)` yields one request per (operation, field, hostile value): the
operation's other fields keep a plausible value (from `baseline` by field name, else one made
from the field's schema), so that each hostile value travels as far into the hub as it can.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

# JSON text, spliced into a body as is. Values that no JSON reader of the hub may take whatever
# the field (NaN and Infinity are not JSON, though Python's json module reads them; \ud800 is
# valid JSON text for a string no UTF-8 can encode; PostgreSQL's text cannot hold U+0000) go once
# per operation, as the whole body and in its first field: they are refused where the body is
# read, or not at all. The others go into every field, whose meaning they test.
READER_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "99999999999999999999999",
    "-9223372036854775809",
    '"\\ud800"',
    '"x\\udc00y"',
    '"a\\u0000b"',
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
]
FIELD_VALUES = [
    "-1",
    "0.5",
    "1e23",
    "9223372036854775807",
    "true",
    "null",
    "[]",
    "{}",
    '"9999-12-31"',
    '"10000-01-01"',
    '"\\u0001\\u001f\\u007f"',
    '"' + "x" * 5000 + '"',
]
# Query and path values, percent-encoded where they need it: %ED%A0%80 is \ud800 as (invalid) UTF-8.
TEXT_VALUES = [
    "NaN",
    "1e999",
    "99999999999999999999999",
    "9223372036854775807",
    "-1",
    "0.5",
    "9999-12-31",
    "10000-01-01",
    "%00",
    "a%01b",
    "%ED%A0%80",
    "x" * 3000,
]


@dataclass
class HostileRequest:
    method: str
    path: str  # with the hostile value in place, percent-encoded
    template: str  # the operation's path template, to group findings
    where: str  # "path:name", "query:name", "body:name", "body:name.sub" or "body"
    value: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        shown = self.value if len(self.value) < 40 else self.value[:30] + f"…({len(self.value)})"
        return f"{self.method} {self.template} {self.where}={shown}"


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            chosen = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _resolve(document, chosen[0])
    return schema


def plausible(document: dict, schema: dict, name: str, baseline: dict[str, Any]) -> Any:
    """A value that a valid request could hold for this field."""
    if name in baseline:
        return baseline[name]
    schema = _resolve(document, schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if kind == "array":
        item = plausible(document, schema.get("items", {}), name + "[]", baseline)
        return [item] if schema.get("minItems", 0) else []
    if kind == "object" or "properties" in schema:
        return _object(document, schema, baseline)
    if schema.get("format") == "date":
        return "2025-01-01"
    return "x"


def _object(document: dict, schema: dict, baseline: dict[str, Any]) -> dict:
    required = set(schema.get("required", ()))
    return {
        name: plausible(document, sub, name, baseline)
        for name, sub in schema.get("properties", {}).items()
        if name in required or name in baseline
    }


def _json_with(body: Any, path: list[str | int], raw: str) -> bytes:
    """`body` as JSON text with the value at `path` (keys) replaced by the raw JSON text `raw`."""
    if not path:
        return raw.encode()
    marker = "\x1ehostile\x1e"
    copy = json.loads(json.dumps(body))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = marker
    return json.dumps(copy).replace(json.dumps(marker), raw, 1).encode()


def requests(
    document: dict, baseline: dict[str, Any], path_baseline: dict[str, str]
) -> Iterator[HostileRequest]:
    """Every operation × every field (path, query, JSON body and its objects' fields) × every
    hostile value."""
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            path_values = {
                p["name"]: str(
                    path_baseline.get(
                        p["name"], plausible(document, p.get("schema", {}), p["name"], {})
                    )
                )
                for p in params
                if p["in"] == "path"
            }
            query_values = {
                p["name"]: str(plausible(document, p.get("schema", {}), p["name"], baseline))
                for p in params
                if p["in"] == "query" and p.get("required")
            }
            headers = {
                p["name"]: str(baseline.get(p["name"], "x"))
                for p in params
                if p["in"] == "header" and p.get("required")
            }
            content = operation.get("requestBody", {}).get("content", {})
            json_schema = content.get("application/json", {}).get("schema")
            body = (
                _object(document, _resolve(document, json_schema), baseline)
                if json_schema
                else None
            )
            plain = json.dumps(body).encode() if json_schema else None

            def url(template: str, paths: dict[str, str], query: dict[str, str]) -> str:
                path = template
                for name, value in paths.items():
                    path = path.replace(
                        "{" + name + "}", value if "%" in value else quote(value, safe="")
                    )
                if query:
                    path += "?" + "&".join(
                        f"{quote(k)}={v if '%' in v else quote(v, safe='')}"
                        for k, v in query.items()
                    )
                return path

            json_headers = (
                {**headers, "Content-Type": "application/json"} if json_schema else headers
            )
            for param in params:
                where = param["in"]
                if where not in ("path", "query"):
                    continue
                for value in TEXT_VALUES:
                    paths = {**path_values, **({param["name"]: value} if where == "path" else {})}
                    query = {**query_values, **({param["name"]: value} if where == "query" else {})}
                    yield HostileRequest(
                        method.upper(),
                        url(template, paths, query),
                        template,
                        f"{where}:{param['name']}",
                        value,
                        plain,
                        json_headers,
                    )
            if json_schema is None:
                continue
            fields = _fields(document, _resolve(document, json_schema), body)
            for keys in fields:
                for value in FIELD_VALUES + (
                    READER_VALUES if len(keys) < 2 and keys in fields[:2] else []
                ):
                    yield HostileRequest(
                        method.upper(),
                        url(template, path_values, query_values),
                        template,
                        "body" + (":" + ".".join(map(str, keys)) if keys else ""),
                        value,
                        _json_with(body, keys, value),
                        json_headers,
                    )


def _fields(document: dict, schema: dict, body: Any) -> list[list[str | int]]:
    """The body itself, each field its schema names, and one level in: the fields of an object
    field, or of the first item of an array of objects (as the baseline body holds them)."""
    fields: list[list[str | int]] = [[]]
    for name, sub in schema.get("properties", {}).items():
        fields.append([name])
        value = body.get(name) if isinstance(body, dict) else None
        sub = _resolve(document, sub)
        if isinstance(value, dict):
            inner = set(_resolve(document, sub).get("properties", {})) | set(value)
            fields.extend([name, key] for key in sorted(inner))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            fields.extend([name, 0, key] for key in sorted(value[0]))
    return fields
