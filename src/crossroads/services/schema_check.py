"""Checking documents against registered JSON Schemas on the busy paths (exchanges, mutations).

jsonschema-rs, compiled, checks in about a microsecond; the registry checks the schemas themselves
with `jsonschema` at administration time, whose messages explain a bad schema better. A compiled
validator is kept per schema *content*, so a schema changed in the registry is used as soon as a
process reads it, in every hub process alike (a cache by service or type code kept the old one
until restart).

An error's sentence is jsonschema's, which begins with the offending value, whole. Two kinds of
document come here: what the caller sent (a request's parameters, a mutation's payload), whose
value is quoted back abbreviated, and what another member sent about a person (a provider's
answer, a publisher's state), whose values the reader may not be allowed to see: the consumer
receives only the fields its authorization allows, and the audit log holds no personal data. Its
sentence names the rule the value breaks, never the value.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema_rs
import orjson

# The longest sentence quoted back to a caller about its own document: its start (the value's
# start) and its end (the rule), with an ellipsis between.
MAX_MESSAGE = 240
# What an error kind holds that comes from the schema, not the document: safe to name.
_SCHEMA_SIDE = ("types", "property", "limit", "pattern", "options", "multiple_of", "format")


def first_error(
    schema: dict[str, Any], document: object, *, quote: bool = True, formats: bool = False
) -> tuple[list[str | int], str] | None:
    """None when `document` matches `schema`; else the path to its first error and a sentence:
    with `quote`, jsonschema's, abbreviated to MAX_MESSAGE characters; without, one that names
    the rule broken and no value of the document. `formats`: `format` is a rule too (a "date"
    must be a day of the calendar), not only an annotation."""
    key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    validator = _compiled(key, formats)
    if validator.is_valid(document):
        return None
    # `validate` stops at the first error; `iter_errors` built them all before handing out the
    # first, quadratic in the items that break a rule (40,000 wrong items: 0.8 s of a process).
    try:
        validator.validate(document)
    except jsonschema_rs.ValidationError as found:
        error = found
    else:  # is_valid and validate disagree: not seen, but no error to name is no refusal
        return None
    path = list(error.instance_path)
    if quote:
        return path, _abbreviated(error.message)
    # The path's keys are the document's too (an `additionalProperties` answer's own keys): only
    # those the schema names, and item positions, are given; any other key is `*`.
    named = _property_names(key)
    return [p if isinstance(p, int) or p in named else "*" for p in path], _rule(error)


def _abbreviated(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    head = MAX_MESSAGE // 3
    return f"{message[:head]}…{message[head + 1 - MAX_MESSAGE :]}"


def _rule(error: jsonschema_rs.ValidationError) -> str:
    keyword = str(error.schema_path[-1]) if error.schema_path else "schema"
    held = error.kind.as_dict() if hasattr(error.kind, "as_dict") else {}
    named = ", ".join(
        f"{key} {orjson.dumps(held[key]).decode()}" for key in _SCHEMA_SIDE if key in held
    )
    return f"breaks its {keyword!r} rule" + (f" ({_abbreviated(named)})" if named else "")


@lru_cache(maxsize=1024)
def _property_names(schema: bytes) -> frozenset[str]:
    """Every name a schema gives under `properties` (or `required`), at any depth."""
    names: set[str] = set()
    stack: list[object] = [orjson.loads(schema)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                names.update(k for k in node["properties"] if isinstance(k, str))
            if isinstance(node.get("required"), list):
                names.update(k for k in node["required"] if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(names)


@lru_cache(maxsize=1024)
def _compiled(schema: bytes, formats: bool) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(orjson.loads(schema), validate_formats=formats)
