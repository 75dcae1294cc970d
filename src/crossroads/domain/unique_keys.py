"""JSON objects name each key once (RFC 7493, I-JSON §2.3): text that repeats one is refused.

Python's `json`, orjson and pydantic-core keep the last of two equal keys; other parsers keep the
first, or refuse. Text read one way where a signature or a schema is checked and another where it
is used lets a member smuggle a value past the check (`{"amount": 1, "amount": 1000}`). Every
JSON the hub reads from outside its process is checked here: `loads` parses and checks; a caller
with its own parser (entrypoints/api/json_input.py) calls `check` on what it parsed.

The check is cheap because it rarely parses again. Each member of an object is written with one
`:` outside strings; the only other colons in JSON text are inside strings, written as such or as
the escape `\\u003a`. So, for text that parsed to `value`:

    colons in the text + `\\u003a` escapes in it  >=  members + colons in the strings of `value`

with equality exactly when no member was lost, that is when no key was repeated: a lost member
took its `:` and its strings' colons out of `value` but not out of the text. (An escape counted
that was not one, a literal backslash before `u003a`, only makes the sides differ.) Counting is
a byte count in C and one walk over `value`; only when the sides differ is the text parsed again
with `object_pairs_hook`, which costs several times the first parse, to name the repeated key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any


def _dump_stdlib(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _parse_stdlib(text: bytes | str) -> Any:
    # UTF-8 only (RFC 8259 §8.1), as orjson reads it: the standard library also takes UTF-16 and
    # UTF-32 bytes, where an escaped colon is not the bytes `check` counts, so one of them could
    # hide a repeated key. A text that is not UTF-8 is a UnicodeDecodeError (a ValueError).
    return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)


_parse: Callable[[bytes | str], Any] = _parse_stdlib
_dump: Callable[[Any], bytes] = _dump_stdlib
try:
    import orjson

    _parse, _dump = orjson.loads, orjson.dumps
except ImportError:  # the provider kit ships without orjson (providerkit/setup.py)
    pass


class DuplicateKey(ValueError):
    """JSON text names a key twice in one object. `path` is where, as `payload.items[2].amount`
    (the key itself last); `str()` is a sentence saying so."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: the key appears twice in its object (each key is written once)")


def loads(text: bytes | str) -> Any:
    """The JSON value of `text` (orjson's reading), or json.JSONDecodeError when it is not JSON,
    or DuplicateKey when an object in it names a key twice (both ValueErrors)."""
    value = _parse(text)
    check(text, value)
    return value


def loads_b64url(segment: str | bytes) -> Any:
    """`loads` of a base64url segment, as in a JWS or JWT (padding optional); ValueError when it is
    not base64url or not JSON, DuplicateKey when it repeats a key."""
    if isinstance(segment, str):
        segment = segment.encode("ascii")
    return loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))


def check_jws(compact: str) -> None:
    """Check the protected header of a compact JWS, and its payload when attached (a JWT's
    claims, a federation document), before a JOSE library reads them: joserfc reads JSON with
    the standard library, which keeps the last of two equal keys. DuplicateKey when one repeats
    a key, ValueError when one is not base64url JSON."""
    protected, _, rest = compact.partition(".")
    loads_b64url(protected)
    payload = rest.partition(".")[0]
    if payload:
        loads_b64url(payload)


def check(text: bytes | str, value: Any, where: str = "") -> None:
    """Raise DuplicateKey when `text`, which parsed to `value`, repeats a key in an object.
    `where` prefixes the path named (a value parsed from inside a larger one)."""
    raw = text.encode() if isinstance(text, str) else text
    colons = raw.count(b":")
    if b"\\" in raw:  # one memchr; the escapes are searched for only in text holding escapes
        colons += raw.count(b"\\u003a") + raw.count(b"\\u003A")
    if colons == tally(value):
        return
    _name_duplicate(raw, where)


def tally(value: Any) -> int:
    """The members of every object in `value` plus the colons in every key and string: the
    right-hand side of the module docstring's equality.

    Counted in `value` written out again, whose only colons are those: orjson writes 1 KiB in
    about a microsecond, where a walk in Python took five times as long, as much again as the
    parse. A value orjson does not write (nested beyond its 254 levels) is walked."""
    try:
        return _dump(value).count(b":")
    except (TypeError, ValueError, RecursionError):
        return _walk(value)


def _walk(value: Any) -> int:
    """`tally` by walking `value`: iterative, so deep nesting costs no stack."""
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            total += len(item) + "".join(item).count(":")
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
        elif kind is str:
            total += item.count(":")
    return total


class _Repeated(dict):  # type: ignore[type-arg]
    """An object whose text repeated `key`: marked while parsing, found by the walk after."""

    key = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    marked = _Repeated(found)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.key = key
            break
        seen.add(key)
    return marked


def _name_duplicate(raw: bytes, where: str) -> None:
    try:
        value = json.loads(raw, object_pairs_hook=_pairs)
    except RecursionError:
        # orjson reads 1,024 levels, the standard library's recursion fewer: refused unread.
        raise ValueError("the JSON nests too deeply to be checked for repeated keys") from None
    pending: list[tuple[str, Any]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            if isinstance(item, _Repeated):
                raise DuplicateKey(_join(path, item.key))
            pending.extend((_join(path, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
