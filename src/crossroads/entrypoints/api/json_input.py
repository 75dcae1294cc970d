"""The JSON the hub reads: only what every part of it can write back.

Python's `json` module reads more than JSON: `NaN` and `Infinity`, integers of any size, strings
holding a lone surrogate (`"\\ud800"`, valid JSON text that no UTF-8 can encode), and it recurses
until the interpreter's stack gives out. Each of these once reached a 500 further in (orjson, the
audit record's canonical form, SQLite's and PostgreSQL's 64-bit integers, PostgreSQL's text, which
cannot hold U+0000). `read_json` refuses them all where the body is read, naming the field:

- pydantic-core parses (its Rust parser refuses NaN, Infinity, lone surrogates and nesting deeper
  than its recursion limit, and keeps integers exact);
- a walk over the result refuses what parsed but cannot be stored: a number that overflowed to
  infinity (`1e999`), an integer outside the signed 64-bit range, text holding U+0000;
- an object naming a key twice is refused (domain/unique_keys.py): pydantic-core keeps the last,
  other parsers the first, and a body read two ways is how a value gets past a check.

Every route of the API reads its body through `JSONRoute`, which hands FastAPI a request whose
`json()` is `read_json`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

import pydantic_core
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from ...domain import unique_keys
from ...domain.errors import Refusal

INT64 = range(-(2**63), 2**63)


# The JSON values one body may hold. A request the hub answers itself holds tens of values; a
# batch of 1,000 mutations or directory changes about ten thousand. The bound is what keeps one
# member's body from holding a hub process: a 1 MiB list of 340,000 zeros took 1.8 s to walk
# (a path string per value) while every other request waited.
MAX_VALUES = 50_000


def read_json(raw: bytes, max_values: int = MAX_VALUES) -> Any:
    """The JSON value in `raw`, or a `malformed_request` refusal naming what cannot be read (a
    key written twice in an object included), or `payload_too_large` when it holds more than
    `max_values` values."""
    try:
        value = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        why = str(exc)
        if "escape" in why:  # the parser's words for a lone surrogate are about hex escapes
            why += (
                " (a \\u escape names a Unicode character; a lone surrogate, \\ud800 to \\udfff,"
                " names none)"
            )
        raise Refusal("malformed_request", f"the body is not valid JSON: {why}.") from None
    check_storable(value, max_values=max_values)
    # After check_storable: its bound on the values is what bounds this check's cost.
    try:
        unique_keys.check(raw, value)
    except unique_keys.DuplicateKey as exc:
        raise Refusal("malformed_request", f"{exc}.", exc.path) from None
    return value


def check_storable(value: Any, where: str = "", max_values: int = MAX_VALUES) -> None:
    """Refuse a non-finite number, an integer beyond 64 bits or text with U+0000 anywhere in
    `value`, or more than `max_values` values in all.

    Iterative, so that a deeply nested value costs no stack. A first walk counts and looks,
    building nothing; only a value with something to refuse is walked again to name where."""
    if not _has_unstorable(value, max_values):
        return
    _refuse_unstorable(value, where)


def _has_unstorable(value: Any, max_values: int) -> bool:
    pending = [value]
    count = 1
    found = False
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            count += len(item)
            if count > max_values:
                break
            if not found and "\x00" in "".join(item):
                found = True
            pending.extend(item.values())
        elif kind is list:
            count += len(item)
            if count > max_values:
                break
            pending.extend(item)
        elif kind is str:
            found = found or "\x00" in item
        elif kind is int:
            found = found or item not in INT64
        elif kind is float:
            found = found or not math.isfinite(item)
    if count > max_values:
        raise Refusal(
            "payload_too_large",
            f"the body holds more than {max_values:,} JSON values; send fewer at a time.",
        )
    return found


def _refuse_unstorable(value: Any, where: str) -> None:
    pending: list[tuple[str, Any]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if "\x00" in key:
                    raise Refusal(
                        "malformed_request",
                        f"{_name(path)}: a key holds the character U+0000.",
                        path or None,
                    )
                pending.append((f"{path}.{key}" if path else key, sub))
        elif isinstance(item, list):
            pending.extend((f"{path}[{i}]", sub) for i, sub in enumerate(item))
        elif isinstance(item, str):
            if "\x00" in item:
                raise Refusal(
                    "malformed_request",
                    f"{_name(path)}: text may not hold the character U+0000.",
                    path or None,
                )
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if item not in INT64:
                raise Refusal(
                    "malformed_request",
                    f"{_name(path)}: integers are within the signed 64-bit range.",
                    path or None,
                )
        elif isinstance(item, float) and not math.isfinite(item):
            raise Refusal(
                "malformed_request",
                f"{_name(path)}: numbers are finite (this one overflows a double).",
                path or None,
            )


def _name(path: str) -> str:
    return path or "the body"


class _StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class JSONRoute(APIRoute):
    """A FastAPI route whose JSON body is read by `read_json` (FastAPI's documented way to change
    how a route reads its request: a route class that wraps the request)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictRequest(request.scope, request.receive))

        return strict
