"""Checking documents against registered JSON Schemas on the busy paths (exchanges, mutations).

jsonschema-rs, compiled, checks in about a microsecond; the registry checks the schemas themselves
with `jsonschema` at administration time, whose messages explain a bad schema better. A compiled
validator is kept per schema *content*, so a schema changed in the registry is used as soon as a
process reads it, in every hub process alike (a cache by service or type code kept the old one
until restart).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema_rs
import orjson


def first_error(schema: dict[str, Any], document: object) -> tuple[list[str | int], str] | None:
    """None when `document` matches `schema`; else the path to its first error and the message."""
    validator = _compiled(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    if validator.is_valid(document):
        return None
    error = next(iter(validator.iter_errors(document)))
    return list(error.instance_path), error.message


@lru_cache(maxsize=1024)
def _compiled(schema: bytes) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(orjson.loads(schema))
